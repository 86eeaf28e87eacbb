"""The ImageNet label space as sentences: one text embedding per class, cached on disk."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from searchengine.atomic import atomic_path, atomic_write
from searchengine.encoders.bundled.text import TEXT_MODEL_ID, embed_sentences
from searchengine.encoders.onnx_towers import TowerCache
from searchengine.preparing import preparing

log = logging.getLogger(__name__)

PROMPT = "a photo of a {}."


def class_descriptions() -> list[str]:
    """The 1000 ImageNet-1k class lemmas ("tabby, tabby cat"), in classifier order, from timm's metadata.

    The files are read where timm keeps them, without importing timm (which imports torch: 5 s and
    600 MB more for `searchengine tags`); timm.data.ImageNetInfo reads the same two files."""
    import csv
    import importlib.util

    spec = importlib.util.find_spec("timm")
    folder = (
        Path(spec.submodule_search_locations[0]) / "data" / "_info"
        if spec and spec.submodule_search_locations
        else None
    )
    try:
        synsets = (folder / "imagenet_synsets.txt").read_text(encoding="utf-8").splitlines()
        lemmas = dict(
            csv.reader(
                (folder / "imagenet_synset_to_lemma.txt").read_text(encoding="utf-8").splitlines(), delimiter="\t"
            )
        )
        return [lemmas[synset] for synset in synsets]
    except (TypeError, OSError, KeyError, ValueError):  # laid out otherwise: ask timm itself
        from timm.data import ImageNetInfo

        info = ImageNetInfo()
        return [info.index_to_description(i) for i in range(info.num_classes())]


def class_prompts() -> list[str]:
    return [PROMPT.format(desc) for desc in class_descriptions()]


def class_text_bank(towers: TowerCache, device: str = "cpu", backend: str = "auto") -> np.ndarray:
    """[1000, 384] unit vectors, one per class prompt; computed once and cached by content (in the
    model cache, beside the towers' exports).

    The cache is found by the prompts' source (timm's version) without importing timm, which
    would import torch: a cold query with `bundled:bridge` needs only the cached bank.
    """
    from importlib.metadata import version

    cache_dir = towers.root
    index_path = cache_dir / "bundled" / f"class-text-index-{_digest(PROMPT + TEXT_MODEL_ID + version('timm'))}.txt"
    if index_path.exists():
        path = cache_dir / "bundled" / index_path.read_text().strip()
        if path.exists():
            return np.load(path)
    prompts = class_prompts()
    key = _digest("\n".join(prompts) + TEXT_MODEL_ID)
    path = cache_dir / "bundled" / f"class-text-{key}.npy"
    if path.exists():
        atomic_write(index_path, path.name)
        return np.load(path)
    with preparing(f"embedding the {len(prompts)} ImageNet class names"):
        bank = embed_sentences(prompts, towers, device=device, backend=backend)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, bank)
    atomic_write(index_path, path.name)
    return bank


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
