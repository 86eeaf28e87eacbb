"""What every vector index does: add and remove vectors by segment id, search by inner product
(optionally within a subset of ids), save. One subclass per kind of index (flat.py, hnsw.py,
ivf.py, ivfpq.py) says how it is built and what it does differently; factory.py chooses by name.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import numpy as np

from searchengine.atomic import atomic_path

# Fetches the stored vectors of segment ids, in the order asked.
VectorSource = Callable[[np.ndarray], np.ndarray]


class VectorIndex:
    """One FAISS index of unit vectors, searched by inner product."""

    kind: ClassVar[str]
    exact: ClassVar[bool] = True  # search returns exact inner products (the index stores the vectors)

    def __init__(self, dim: int, index, params: dict):
        self.dim = dim
        self.index = index
        self._params = params
        self._rerank: VectorSource | None = None
        self._apply_search_params()

    @classmethod
    def build(
        cls, dim: int, ids: np.ndarray, vectors: np.ndarray, is_text: np.ndarray | None, params: dict
    ) -> VectorIndex:
        """An empty index of this kind for these vectors (trained on them where the kind needs it)."""
        raise NotImplementedError

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def params(self) -> dict:
        return dict(self._params)

    @property
    def exact_scores(self) -> bool:
        """Whether search returns exact inner products: every kind that stores the vectors
        themselves, and a compressed one once it re-ranks with the stored vectors."""
        return self.exact or self._rerank is not None

    def rerank_with(self, source: VectorSource | None) -> None:
        """Where the exact vectors are (the catalog): compressed kinds re-score their candidates with them."""
        self._rerank = source

    def _apply_search_params(self) -> None:
        """Set the index's own search settings (efSearch, nprobe) on the FAISS object."""

    def _search_params(self, subset: Subset, k: int):
        """FAISS search parameters that keep to `subset`, with this index's own search settings
        (parameters given to a search replace the index's: efSearch and nprobe must be repeated)."""
        import faiss

        return faiss.SearchParameters(sel=subset.selector)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(as_vectors(vectors, self.dim), np.asarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> None:
        import faiss

        if len(ids):
            self.index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64)))

    def ids(self) -> np.ndarray:
        """Every segment id held, sorted."""
        raise NotImplementedError

    def search(self, queries: np.ndarray, k: int, subset: Subset | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores [nq, k], ids [nq, k]) best first, missing results with id -1; among `subset`'s ids
        only when given (FAISS skips the others while it searches, so the k it returns are the
        subset's best)."""
        queries = as_vectors(queries, self.dim)
        k = max(1, min(k, self.ntotal))
        if self.ntotal == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        params = None if subset is None else self._search_params(subset, k)
        with one_thread() if len(queries) == 1 else contextlib.nullcontext():
            return self._search(queries, k, params)

    def _search(self, queries: np.ndarray, k: int, params) -> tuple[np.ndarray, np.ndarray]:
        return self.index.search(queries, k, params=params)

    def save(self, path: Path) -> None:
        import faiss

        with atomic_path(path) as tmp:
            faiss.write_index(self.index, str(tmp))


class IdMapped(VectorIndex):
    """An index that keeps no ids of its own, in an IndexIDMap2 from FAISS positions to segment ids."""

    def ids(self) -> np.ndarray:
        import faiss

        return np.sort(faiss.vector_to_array(self.index.id_map).astype(np.int64))


class Subset:
    """A set of segment ids a search keeps to, as a FAISS bitmap selector (one bit per id up to
    the largest: 12.5 kB for 100k ids, built in about a millisecond)."""

    def __init__(self, ids: np.ndarray):
        import faiss

        ids = np.asarray(ids, dtype=np.int64)
        self.size = len(ids)
        self._bitmap = np.zeros(int(ids.max()) // 8 + 1 if len(ids) else 1, dtype=np.uint8)  # kept: FAISS reads it
        np.bitwise_or.at(self._bitmap, ids >> 3, np.left_shift(1, ids & 7).astype(np.uint8))
        self.selector = faiss.IDSelectorBitmap(len(self._bitmap), faiss.swig_ptr(self._bitmap))


def rerank(queries: np.ndarray, candidates: np.ndarray, source: VectorSource, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best of each query's candidates by exact inner product with their stored vectors."""
    scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    ids = np.full((len(queries), k), -1, dtype=np.int64)
    for q, row in enumerate(candidates):
        row = row[row >= 0]
        if not len(row):
            continue
        exact = np.asarray(source(row), dtype=np.float32) @ queries[q]
        top = np.argsort(-exact, kind="stable")[:k]
        scores[q, : len(top)], ids[q, : len(top)] = exact[top], row[top]
    return scores, ids


def faiss_inner(index):
    """The index that does the searching (inside the id map where there is one), as its concrete class."""
    import faiss

    return faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap) else index


def as_vectors(vectors: np.ndarray, dim: int) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[1] != dim:
        raise ValueError(f"expected vectors of shape [n, {dim}], got {vectors.shape}")
    return vectors


@contextlib.contextmanager
def one_thread():
    """One query on one OpenMP thread: FAISS parallelises even a single query's id translation
    and list scans, and on a busy machine the fork/join waits milliseconds for the other core
    (benchmarks/README.md, "Vector search": 12 ms vs 0.9 ms for the same HNSW search)."""
    import faiss

    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(threads)
