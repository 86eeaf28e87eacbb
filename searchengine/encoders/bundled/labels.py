"""The ImageNet label space as sentences: one text embedding per class, cached on disk."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from searchengine.encoders.bundled.text import TEXT_MODEL_ID, embed_sentences

log = logging.getLogger(__name__)

PROMPT = "a photo of a {}."


def class_descriptions() -> list[str]:
    """The 1000 ImageNet-1k class lemmas ("tabby, tabby cat"), in classifier order, from timm's metadata."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return [info.index_to_description(i) for i in range(info.num_classes())]


def class_prompts() -> list[str]:
    return [PROMPT.format(desc) for desc in class_descriptions()]


def class_text_bank(cache_dir: Path, device: str = "cpu", backend: str = "auto") -> np.ndarray:
    """[1000, 384] unit vectors, one per class prompt; computed once and cached by content."""
    prompts = class_prompts()
    key = hashlib.sha256(("\n".join(prompts) + TEXT_MODEL_ID).encode()).hexdigest()[:16]
    path = cache_dir / "bundled" / f"class-text-{key}.npy"
    if path.exists():
        return np.load(path)
    log.info("embedding %d class prompts once (cached in %s)", len(prompts), path)
    bank = embed_sentences(prompts, device=device, backend=backend)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, bank)
    tmp.replace(path)
    return bank
