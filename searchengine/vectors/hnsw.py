"""hnsw: an HNSW graph (M=32) in an id map. FAISS cannot delete from a graph, so removing
vectors builds it again from the ones that stay."""

from __future__ import annotations

import numpy as np

from searchengine.vectors.base import IdMapped, Subset, faiss_inner

M = 32
EF_CONSTRUCTION = 80
EF_SEARCH = 128


class HnswIndex(IdMapped):
    kind = "hnsw"

    @classmethod
    def build(cls, dim: int, ids: np.ndarray, vectors: np.ndarray, is_text, params: dict) -> HnswIndex:
        import faiss

        inner = faiss.IndexHNSWFlat(dim, M, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = EF_CONSTRUCTION
        return cls(dim, faiss.IndexIDMap2(inner), {"M": M, "efConstruction": EF_CONSTRUCTION, "efSearch": EF_SEARCH})

    def _apply_search_params(self) -> None:
        faiss_inner(self.index).hnsw.efSearch = self._params["efSearch"]

    def _search_params(self, subset: Subset, k: int):
        import faiss

        return faiss.SearchParametersHNSW(sel=subset.selector, efSearch=max(self._params["efSearch"], k))

    def _search(self, queries: np.ndarray, k: int, params):
        # the beam must be at least as wide as the number of results asked for
        faiss_inner(self.index).hnsw.efSearch = max(self._params["efSearch"], k)
        return self.index.search(queries, k, params=params)

    def remove(self, ids: np.ndarray) -> None:
        import faiss

        if not len(ids):
            return
        all_ids = faiss.vector_to_array(self.index.id_map).astype(np.int64)
        keep = ~np.isin(all_ids, np.asarray(ids, dtype=np.int64))
        vectors = self.index.index.reconstruct_n(0, self.index.ntotal) if self.ntotal else np.zeros((0, self.dim))
        rebuilt = self.build(self.dim, all_ids[keep], vectors, None, {})
        rebuilt.add(all_ids[keep], np.asarray(vectors, dtype=np.float32)[keep])
        self.index = rebuilt.index
        self._apply_search_params()
