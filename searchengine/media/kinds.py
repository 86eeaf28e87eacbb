"""Which files are which kind, by extension."""

from __future__ import annotations

from pathlib import Path

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
TEXT_EXTENSIONS = frozenset({".txt", ".md", ".markdown", ".rst"})

# kind -> extensions; other modules (audio, video) add their own kinds here as they land.
KINDS: dict[str, frozenset[str]] = {
    "image": IMAGE_EXTENSIONS,
    "text": TEXT_EXTENSIONS,
}


def kind_of(path: Path) -> str | None:
    suffix = path.suffix.lower()
    for kind, extensions in KINDS.items():
        if suffix in extensions:
            return kind
    return None
