"""Image heads: how EfficientNet's outputs land in the text space.

The bundled encoder is EfficientNet-Lite0 (frozen) + a head + MiniLM (frozen). A head takes the
classifier's logits and pooled features for a batch and returns unit vectors in MiniLM's space.
Swapping the head (say, for a learned projection) changes the encoder id and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from searchengine.encoders.base import l2_normalize


class ImageHead(Protocol):
    name: str

    def __call__(self, logits: np.ndarray, features: np.ndarray) -> np.ndarray: ...


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class LabelBridge:
    """ConSE (Norouzi et al. 2014): Σ over the top-k classes of p(class) · text(class prompt)."""

    class_bank: np.ndarray  # [n_classes, d] unit vectors
    top_k: int = 20
    temperature: float = 1.0
    name: str = "bridge-v1"

    def __call__(self, logits: np.ndarray, features: np.ndarray) -> np.ndarray:
        probs = softmax(logits, self.temperature)
        top = np.argpartition(-probs, self.top_k - 1, axis=1)[:, : self.top_k]
        weights = np.zeros_like(probs)
        rows = np.arange(len(probs))[:, None]
        weights[rows, top] = probs[rows, top]
        return l2_normalize(weights @ self.class_bank)
