"""FAISS backends behind the VectorIndex interface, chosen by name through a registry.

- flat: exact inner-product search (IndexIDMap2 over IndexFlatIP).
- hnsw: HNSW graph (M=32); FAISS cannot delete from it, so removal rebuilds from the stored vectors.
- ivf: inverted lists trained on the collection itself (images and texts together, so the
  modality gap does not leave text queries in empty cells); it stores segment ids natively.
Flat and HNSW sit in an IndexIDMap2 that maps FAISS positions to catalog segment ids.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Callable

import numpy as np

from searchengine.errors import IndexFormatError, UsageError

INDEX_TYPES = ("auto", "flat", "hnsw", "ivf")
# auto: exact search while it is fast (<~5 ms a query on 2 cores), then a graph, then IVF.
FLAT_MAX = 50_000
HNSW_MAX = 2_000_000


def choose_kind(n_vectors: int) -> str:
    if n_vectors <= FLAT_MAX:
        return "flat"
    if n_vectors <= HNSW_MAX:
        return "hnsw"
    return "ivf"


class FaissIndex:
    """One FAISS index of unit vectors, searched by inner product."""

    def __init__(self, kind: str, dim: int, index, params: dict):
        self.kind = kind
        self.dim = dim
        self.index = index
        self._params = params
        self._apply_search_params()

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def params(self) -> dict:
        return dict(self._params)

    def _apply_search_params(self) -> None:
        inner = faiss_inner(self.index)
        if self.kind == "hnsw":
            inner.hnsw.efSearch = self._params["efSearch"]
        elif self.kind == "ivf":
            inner.nprobe = self._params["nprobe"]

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(_as_vectors(vectors, self.dim), np.asarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> None:
        import faiss

        if not len(ids):
            return
        ids = np.asarray(ids, dtype=np.int64)
        if self.kind == "hnsw":
            keep_ids, keep_vectors = self._remaining(ids)
            rebuilt = build_index("hnsw", self.dim, keep_ids, keep_vectors)
            self.index = rebuilt.index
            self._apply_search_params()
            return
        self.index.remove_ids(faiss.IDSelectorBatch(ids))

    def ids(self) -> np.ndarray:
        """Every segment id held, sorted."""
        import faiss

        if isinstance(self.index, faiss.IndexIDMap):
            return np.sort(faiss.vector_to_array(self.index.id_map).astype(np.int64))
        invlists = self.index.invlists
        lists = [
            faiss.rev_swig_ptr(invlists.get_ids(i), invlists.list_size(i)).copy()
            for i in range(invlists.nlist) if invlists.list_size(i)
        ]
        return np.sort(np.concatenate(lists).astype(np.int64)) if lists else np.zeros(0, np.int64)

    def _remaining(self, removed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        all_ids = faiss.vector_to_array(self.index.id_map).astype(np.int64)
        keep = ~np.isin(all_ids, removed)
        vectors = self.index.index.reconstruct_n(0, self.index.ntotal) if self.ntotal else np.zeros((0, self.dim))
        return all_ids[keep], np.asarray(vectors, dtype=np.float32)[keep]

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = _as_vectors(queries, self.dim)
        k = max(1, min(k, self.ntotal))
        if self.ntotal == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        if self.kind == "hnsw":  # the beam must be at least as wide as the number of results asked for
            inner = faiss_inner(self.index)
            inner.hnsw.efSearch = max(self._params["efSearch"], k)
        return self.index.search(queries, k)

    def save(self, path: Path) -> None:
        import faiss

        tmp = path.with_name(path.name + ".tmp")
        faiss.write_index(self.index, str(tmp))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)


def faiss_inner(index):
    """The index that does the searching (inside the id map where there is one), as its concrete class."""
    import faiss

    return faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap) else index


def _as_vectors(vectors: np.ndarray, dim: int) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[1] != dim:
        raise ValueError(f"expected vectors of shape [n, {dim}], got {vectors.shape}")
    return vectors


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- construction ----------------------------------------------------------------------------


def _flat(dim: int, ids: np.ndarray, vectors: np.ndarray) -> FaissIndex:
    import faiss

    return FaissIndex("flat", dim, faiss.IndexIDMap2(faiss.IndexFlatIP(dim)), {})


def _hnsw(dim: int, ids: np.ndarray, vectors: np.ndarray) -> FaissIndex:
    import faiss

    inner = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
    inner.hnsw.efConstruction = 80
    return FaissIndex("hnsw", dim, faiss.IndexIDMap2(inner), {"M": 32, "efConstruction": 80, "efSearch": 128})


def _ivf(dim: int, ids: np.ndarray, vectors: np.ndarray) -> FaissIndex:
    import faiss

    n = len(vectors)
    nlist = max(1, min(int(4 * math.sqrt(max(n, 1))), n // 39 if n >= 39 else 1))
    quantizer = faiss.IndexFlatIP(dim)
    inner = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    if n == 0:
        raise UsageError("an IVF index needs vectors to train on: index some files first, or use --index-type flat")
    sample = vectors if n <= 256 * nlist else vectors[np.random.default_rng(0).choice(n, 256 * nlist, replace=False)]
    inner.train(np.ascontiguousarray(sample, dtype=np.float32))
    nprobe = max(1, min(nlist, max(8, nlist // 16)))
    # IVF keeps segment ids in its inverted lists itself; an id map around it would lose track on removal.
    return FaissIndex("ivf", dim, inner, {"nlist": nlist, "nprobe": nprobe})


_BUILDERS: dict[str, Callable[[int, np.ndarray, np.ndarray], FaissIndex]] = {
    "flat": _flat,
    "hnsw": _hnsw,
    "ivf": _ivf,
}


def build_index(kind: str, dim: int, ids: np.ndarray, vectors: np.ndarray) -> FaissIndex:
    """A new index of `kind` ('auto' picks by size) holding the given vectors."""
    if kind == "auto":
        kind = choose_kind(len(ids))
    builder = _BUILDERS.get(kind)
    if builder is None:
        raise UsageError(f"unknown index type {kind!r}: use one of {', '.join(INDEX_TYPES)}")
    index = builder(dim, ids, vectors)
    index.add(ids, vectors)
    return index


def load_index(path: Path, kind: str, dim: int, params: dict) -> FaissIndex:
    import faiss

    try:
        raw = faiss.read_index(str(path))
    except RuntimeError as exc:
        raise IndexFormatError(f"vector file {path} is unreadable ({exc}); run `searchengine index` again to rebuild it") from exc
    if raw.d != dim:
        raise IndexFormatError(f"vector file {path} holds {raw.d}-d vectors, the manifest says {dim}")
    return FaissIndex(kind, dim, raw, params)
