"""flat: exact inner-product search over every vector (IndexFlatIP in an id map)."""

from __future__ import annotations

import numpy as np

from searchengine.vectors.base import IdMapped


class FlatIndex(IdMapped):
    kind = "flat"

    @classmethod
    def build(cls, dim: int, ids: np.ndarray, vectors: np.ndarray, is_text, params: dict) -> FlatIndex:
        import faiss

        return cls(dim, faiss.IndexIDMap2(faiss.IndexFlatIP(dim)), {})
