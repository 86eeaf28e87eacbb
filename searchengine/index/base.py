"""The vector index interface: add, remove, search, save. Inner product on unit vectors."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np


class VectorIndex(Protocol):
    kind: str  # "flat" | "hnsw" | "ivf"
    dim: int

    @property
    def ntotal(self) -> int: ...

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    def remove(self, ids: np.ndarray) -> None: ...

    def search(self, queries: np.ndarray, k: int, subset=None) -> tuple[np.ndarray, np.ndarray]:
        """(scores [nq, k], ids [nq, k]) best first; missing results have id -1. With a subset
        (faiss_index.Subset), only its ids are considered."""
        ...

    def save(self, path: Path) -> None: ...

    def params(self) -> dict: ...
