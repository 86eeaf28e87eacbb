"""The encoder interface: images and texts into one L2-normalised vector space."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from PIL import Image


@runtime_checkable
class Encoder(Protocol):
    """Embeds images and texts into one space.

    `id` names the model and its weights exactly: an index built with one id is never searched
    with vectors of another. Both embed methods return float32 arrays of shape [n, dim] whose rows
    have unit L2 norm. `prepare_image` is the CPU-side part of image embedding (resize, crop,
    normalise); it is thread-safe so the pipeline can run it in decode workers, and
    `embed_images` accepts either PIL images or its outputs.
    """

    id: str
    dim: int
    device: str

    def prepare_image(self, image: Image.Image) -> np.ndarray: ...

    def embed_images(self, images: Sequence[Image.Image | np.ndarray]) -> np.ndarray: ...

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Runtime:
    """Where and how an encoder runs, as its caller decides (encoders look nothing up themselves).

    cache_dir: derived files that can always be rebuilt (ONNX exports, text banks); device: auto,
    cpu or cuda; backend: auto, onnx or torch (backend.py); quick_start: the process embeds a
    query or two and ends, so runtime sessions are made to start fast rather than run fast.
    """

    cache_dir: Path
    device: str = "auto"
    backend: str = "auto"
    quick_start: bool = False


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def stack_prepared(
    encoder: Encoder, images: Sequence[Image.Image | np.ndarray], dtype: type | None = np.float32
) -> np.ndarray:
    """One batch (of `dtype`; None: the prepared arrays' own) from a mix of PIL images and
    already prepared arrays."""
    arrays = [im if isinstance(im, np.ndarray) else encoder.prepare_image(im) for im in images]
    batch = np.stack(arrays)
    return batch if dtype is None else batch.astype(dtype, copy=False)
