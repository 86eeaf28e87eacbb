"""Encoders by name: "bundled", "clip:ARCH/PRETRAINED", "clip:ARCH@/path/to/weights", "demo" (no
weights, not semantic: tests and trying things out), …

A family is a prefix and a factory; `load_encoder(name)` finds the family by the part before the
first ':' (or the whole name) and passes it the rest. The built-in families are listed here (their
modules import torch only when a model loads); `register` adds another (a plugin, a test model).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from searchengine.encoders.base import Encoder, Runtime
from searchengine.errors import UnknownModel

log = logging.getLogger(__name__)

DEFAULT_MODEL = "bundled"

# family -> factory(spec, runtime); spec is the text after "family:" ("" when absent)
Factory = Callable[[str, Runtime], Encoder]
_REGISTERED: dict[str, Factory] = {}
# encoder id -> the id of the better model that replaced it as a default (see `successor`)
SUCCESSORS: dict[str, str] = {
    "bundled:lit-v1": "bundled:lit-v2",
}


def register(family: str, factory: Factory) -> None:
    """Make `family:SPEC` names load through `factory(spec, runtime)`."""
    _REGISTERED[family] = factory


def _factories() -> dict[str, Factory]:
    from searchengine.encoders.bundled.encoder import load_bundled, load_bundled_multilingual
    from searchengine.encoders.demo import load_demo
    from searchengine.encoders.openclip import load_clip

    return {
        "bundled": load_bundled,
        "bundled-multilingual": load_bundled_multilingual,
        "clip": load_clip,
        "demo": load_demo,
        **_REGISTERED,
    }


def families() -> list[str]:
    return sorted(_factories())


def successor(encoder_id: str) -> str | None:
    """The encoder that replaced `encoder_id` as the default of its family, if one did.

    Indexes built with the old one keep it (they are searched and extended with it); this only
    lets `searchengine index` say that rebuilding would give better results."""
    return SUCCESSORS.get(encoder_id)


def split_name(name: str) -> tuple[str, str]:
    family, _, spec = name.partition(":")
    return family, spec


def load_encoder(
    name: str = DEFAULT_MODEL,
    device: str = "auto",
    backend: str | None = None,
    *,
    cache_dir: Path,
    quick_start: bool = False,
) -> Encoder:
    """The encoder `name` on `device`; `backend` (auto|onnx|torch; None: auto) chooses the runtime
    of its towers (see backend.py); `cache_dir` keeps what is derived from its weights (exports,
    text banks). A name ending in "+int8" is that model with int8 towers (ONNX Runtime, CPU), an
    encoder of its own id. quick_start: see base.Runtime."""
    from searchengine.encoders.backend import check_backend, int8_backend, split_int8

    backend = check_backend(backend or "auto")
    base, int8 = split_int8(name.strip())
    if int8:  # "MODEL+int8": the model with dynamically quantised int8 towers, on ONNX Runtime
        from searchengine.encoders.device import resolve_device

        device = resolve_device(device)
        backend = int8_backend(backend, device)
    factories = _factories()
    family, spec = split_name(base)
    factory = factories.get(family)
    if factory is None:
        raise UnknownModel(
            "unknown model {name}: use 'bundled' or 'clip:ARCH/PRETRAINED' (families: {families})",
            name=repr(name),
            families=", ".join(sorted(factories)),
        )
    started = time.perf_counter()
    encoder = factory(spec, Runtime(Path(cache_dir), device, backend, quick_start))
    log.info(
        "model %s on %s, ready in %.1f s",
        encoder.id,
        getattr(encoder, "runtime", encoder.device),
        time.perf_counter() - started,
    )
    return encoder
