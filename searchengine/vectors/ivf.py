"""ivf: inverted lists over the vectors themselves (IVF-Flat), trained on the collection (images and
texts together, so the modality gap does not leave text queries in empty cells). It keeps segment
ids in its lists itself (an id map around it would lose track on removal)."""

from __future__ import annotations

import math

import numpy as np

from searchengine.errors import UsageError
from searchengine.vectors import pq
from searchengine.vectors.base import Subset, VectorIndex


class Inverted(VectorIndex):
    """An index of inverted lists, which hold the segment ids themselves."""

    def _ivf(self):
        import faiss

        return faiss.extract_index_ivf(self.index)

    def _apply_search_params(self) -> None:
        self._ivf().nprobe = self._params["nprobe"]

    def _search_params(self, subset: Subset, k: int):
        import faiss

        return faiss.SearchParametersIVF(sel=subset.selector, nprobe=self._params["nprobe"])

    def ids(self) -> np.ndarray:
        import faiss

        invlists = self._ivf().invlists
        lists = [
            faiss.rev_swig_ptr(invlists.get_ids(i), invlists.list_size(i)).copy()
            for i in range(invlists.nlist)
            if invlists.list_size(i)
        ]
        return np.sort(np.concatenate(lists).astype(np.int64)) if lists else np.zeros(0, np.int64)


class IvfIndex(Inverted):
    kind = "ivf"

    @classmethod
    def build(cls, dim: int, ids: np.ndarray, vectors: np.ndarray, is_text, params: dict) -> IvfIndex:
        import faiss

        n = len(vectors)
        if n == 0:
            raise UsageError(
                "an IVF index needs vectors to train on: index some files first, or use {-index_type=flat}"
            )
        nlist = max(1, min(int(4 * math.sqrt(max(n, 1))), n // 39 if n >= 39 else 1))
        inner = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        rows = pq.sample_rows(n, is_text, 256 * nlist)
        inner.train(np.ascontiguousarray(vectors[rows], dtype=np.float32))
        nprobe = max(1, min(nlist, max(8, nlist // 16)))
        return cls(dim, inner, {"nlist": nlist, "nprobe": nprobe})
