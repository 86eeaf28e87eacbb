"""Encoders by name: "bundled", "clip:ARCH/PRETRAINED", "clip:ARCH@/path/to/weights", …

A family registers a prefix and a factory; `load_encoder(name)` finds the family by the part
before the first ':' (or the whole name) and passes it the rest.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from searchengine.encoders.base import Encoder
from searchengine.errors import UnknownModel

log = logging.getLogger(__name__)

DEFAULT_MODEL = "bundled"

# family -> factory(spec, device, backend) ; spec is the text after "family:" ("" when absent)
Factory = Callable[[str, str, str], Encoder]
_FACTORIES: dict[str, Factory] = {}
# encoder id -> the id of the better model that replaced it as a default (see `successor`)
SUCCESSORS: dict[str, str] = {
    "bundled:lit-v1": "bundled:lit-v2",
}


def register(family: str):
    def decorator(factory: Factory) -> Factory:
        _FACTORIES[family] = factory
        return factory

    return decorator


def _builtin_families() -> None:
    # Importing a family's module registers it; the modules themselves import torch lazily.
    from searchengine.encoders import openclip  # noqa: F401
    from searchengine.encoders.bundled import encoder  # noqa: F401


def families() -> list[str]:
    _builtin_families()
    return sorted(_FACTORIES)


def successor(encoder_id: str) -> str | None:
    """The encoder that replaced `encoder_id` as the default of its family, if one did.

    Indexes built with the old one keep it (they are searched and extended with it); this only
    lets `searchengine index` say that rebuilding would give better results."""
    return SUCCESSORS.get(encoder_id)


def split_name(name: str) -> tuple[str, str]:
    family, _, spec = name.partition(":")
    return family, spec


def load_encoder(name: str = DEFAULT_MODEL, device: str = "auto", backend: str | None = None) -> Encoder:
    """The encoder `name` on `device`; `backend` (auto|onnx|torch, default $SEARCHENGINE_BACKEND or auto)
    chooses the runtime of its towers (see backend.py). A name ending in "+int8" is that model with
    int8 towers (ONNX Runtime, CPU), an encoder of its own id."""
    from searchengine.encoders.backend import check_backend, default_backend, int8_backend, split_int8

    backend = check_backend(backend or default_backend())
    base, int8 = split_int8(name.strip())
    if int8:  # "MODEL+int8": the model with dynamically quantised int8 towers, on ONNX Runtime
        from searchengine.encoders.device import resolve_device

        device = resolve_device(device)
        backend = int8_backend(backend, device)
    _builtin_families()
    family, spec = split_name(base)
    factory = _FACTORIES.get(family)
    if factory is None:
        raise UnknownModel(
            f"unknown model {name!r}: use 'bundled' or 'clip:ARCH/PRETRAINED' (families: {', '.join(sorted(_FACTORIES))})"
        )
    started = time.perf_counter()
    encoder = factory(spec, device, backend)
    log.info("model %s on %s, ready in %.1f s", encoder.id, getattr(encoder, "runtime", encoder.device),
             time.perf_counter() - started)
    return encoder
