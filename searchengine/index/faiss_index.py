"""FAISS backends behind the VectorIndex interface, chosen by name through a registry.

- flat: exact inner-product search (IndexIDMap2 over IndexFlatIP).
- hnsw: HNSW graph (M=32); FAISS cannot delete from it, so removal rebuilds from the stored vectors.
- ivf: inverted lists trained on the collection itself (images and texts together, so the
  modality gap does not leave text queries in empty cells); it stores segment ids natively.
- ivfpq: IVF with product-quantised codes (OPQ where it helps, see ivfpq.py), for collections
  past the single-machine thresholds or a memory budget; its candidates are re-ranked exactly
  with the stored vectors (`rerank_with`), and its lists may live on disk, memory-mapped.
Flat and HNSW sit in an IndexIDMap2 that maps FAISS positions to catalog segment ids.
Which kind `auto` builds: choice.py.
"""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from searchengine.atomic import atomic_path
from searchengine.errors import IndexFormatError, UsageError
from searchengine.index import ivfpq
from searchengine.index.choice import FLAT_MAX, HNSW_MAX, choose, choose_kind  # noqa: F401 (re-exported)

INDEX_TYPES = ("auto", "flat", "hnsw", "ivf", "ivfpq")
IVF_KINDS = ("ivf", "ivfpq")
COMPRESSED = ("ivfpq",)  # scores are approximate: re-ranked with the exact vectors when given them
# Fetches the stored vectors of segment ids, in the order asked.
VectorSource = Callable[[np.ndarray], np.ndarray]


class FaissIndex:
    """One FAISS index of unit vectors, searched by inner product."""

    def __init__(self, kind: str, dim: int, index, params: dict):
        self.kind = kind
        self.dim = dim
        self.index = index
        self._params = params
        self._rerank: VectorSource | None = None
        self.trained: bytes | None = None  # IVF-PQ just trained: the empty index, serialised, for shards
        self._sealed = True  # on-disk lists: the data file belongs to a saved index, copy before writing
        self._apply_search_params()

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def params(self) -> dict:
        return dict(self._params)

    @property
    def ondisk(self) -> bool:
        """Inverted lists in a data file of their own (not: an index merely mapped read-only)."""
        return bool(self._params.get("ondisk"))

    @property
    def exact_scores(self) -> bool:
        """Whether search returns exact inner products: every kind that stores the vectors
        themselves (flat, HNSW, IVF-Flat), and IVF-PQ once it re-ranks with the stored vectors."""
        return self.kind not in COMPRESSED or self._rerank is not None

    def rerank_with(self, source: VectorSource | None) -> None:
        """Where the exact vectors are (the catalog): compressed kinds re-score their candidates with them."""
        self._rerank = source

    def _ivf(self):
        import faiss

        return faiss.extract_index_ivf(self.index)

    def _apply_search_params(self) -> None:
        inner = faiss_inner(self.index)
        if self.kind == "hnsw":
            inner.hnsw.efSearch = self._params["efSearch"]
        elif self.kind in IVF_KINDS:
            self._ivf().nprobe = self._params["nprobe"]

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self._before_write()
            with ivfpq.quiet_stdout() if self.ondisk else _nothing():
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
        self._before_write()
        self.index.remove_ids(faiss.IDSelectorBatch(ids))

    def _before_write(self) -> None:
        """On-disk lists: the first change after loading or saving goes to a copy of the data file,
        so the saved index (and searchers that mapped it) never see a half-written list."""
        if self.ondisk and self._sealed:
            ivfpq.move_lists_to(self.index, ivfpq.sibling_data_file(ivfpq.ondisk_file(self._ivf())))
            self._sealed = False

    def ids(self) -> np.ndarray:
        """Every segment id held, sorted."""
        import faiss

        if isinstance(self.index, faiss.IndexIDMap):
            return np.sort(faiss.vector_to_array(self.index.id_map).astype(np.int64))
        invlists = self._ivf().invlists
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

    def search(self, queries: np.ndarray, k: int, subset: "Subset | None" = None) -> tuple[np.ndarray, np.ndarray]:
        """The k best of each query by inner product; among `subset`'s ids only when given (FAISS
        skips the others while it searches, so the k it returns are the subset's best)."""
        queries = _as_vectors(queries, self.dim)
        k = max(1, min(k, self.ntotal))
        if self.ntotal == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        if self.kind == "hnsw":  # the beam must be at least as wide as the number of results asked for
            inner = faiss_inner(self.index)
            inner.hnsw.efSearch = max(self._params["efSearch"], k)
        params = None if subset is None else self._restricted(subset, k)
        with _one_thread() if len(queries) == 1 else _nothing():
            if self.kind in COMPRESSED and self._rerank is not None:
                fetch = min(self.ntotal, max(k * self._params.get("rerank", 4), self._params.get("min_candidates", 100)))
                _, candidates = self.index.search(queries, fetch, params=params)
                return rerank(queries, candidates, self._rerank, k)
            return self.index.search(queries, k, params=params)

    def _restricted(self, subset: "Subset", k: int):
        """FAISS search parameters that keep to `subset`, with this index's own search settings
        (parameters given to a search replace the index's: efSearch and nprobe must be repeated)."""
        import faiss

        if self.kind == "hnsw":
            return faiss.SearchParametersHNSW(sel=subset.selector, efSearch=max(self._params["efSearch"], k))
        if self.kind in IVF_KINDS:
            return faiss.SearchParametersIVF(sel=subset.selector, nprobe=self._params["nprobe"])
        return faiss.SearchParameters(sel=subset.selector)

    def save(self, path: Path) -> None:
        import faiss

        ondisk = self.ondisk
        if ondisk and ivfpq.ondisk_file(self._ivf()).parent != path.parent:
            ivfpq.move_lists_to(self.index, ivfpq.new_data_file(path))  # built elsewhere: bring the data along
        if ondisk:
            with open(ivfpq.ondisk_file(self._ivf()), "rb") as fh:  # the lists were written through a mapping
                os.fsync(fh.fileno())
        with atomic_path(path) as tmp:
            faiss.write_index(self.index, str(tmp))
        ivfpq.remove_stale_data_files(path, ivfpq.ondisk_file(self._ivf()) if ondisk else None)
        self._sealed = True


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


def _as_vectors(vectors: np.ndarray, dim: int) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[1] != dim:
        raise ValueError(f"expected vectors of shape [n, {dim}], got {vectors.shape}")
    return vectors


@contextlib.contextmanager
def _one_thread():
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


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# --- construction ----------------------------------------------------------------------------


def _flat(dim: int, ids: np.ndarray, vectors: np.ndarray, is_text, params: dict) -> FaissIndex:
    import faiss

    return FaissIndex("flat", dim, faiss.IndexIDMap2(faiss.IndexFlatIP(dim)), {})


def _hnsw(dim: int, ids: np.ndarray, vectors: np.ndarray, is_text, params: dict) -> FaissIndex:
    import faiss

    inner = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
    inner.hnsw.efConstruction = 80
    return FaissIndex("hnsw", dim, faiss.IndexIDMap2(inner), {"M": 32, "efConstruction": 80, "efSearch": 128})


def _ivf(dim: int, ids: np.ndarray, vectors: np.ndarray, is_text, params: dict) -> FaissIndex:
    import faiss

    n = len(vectors)
    nlist = max(1, min(int(4 * math.sqrt(max(n, 1))), n // 39 if n >= 39 else 1))
    quantizer = faiss.IndexFlatIP(dim)
    inner = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    if n == 0:
        raise UsageError("an IVF index needs vectors to train on: index some files first, or use {-index_type=flat}")
    rows = ivfpq.sample_rows(n, is_text, 256 * nlist)
    inner.train(np.ascontiguousarray(vectors[rows], dtype=np.float32))
    nprobe = max(1, min(nlist, max(8, nlist // 16)))
    # IVF keeps segment ids in its inverted lists itself; an id map around it would lose track on removal.
    return FaissIndex("ivf", dim, inner, {"nlist": nlist, "nprobe": nprobe})


def _ivfpq(dim: int, ids: np.ndarray, vectors: np.ndarray, is_text, params: dict) -> FaissIndex:
    return train_ivfpq(dim, len(vectors), lambda rows: vectors[rows], is_text, params)


def train_ivfpq(dim: int, n: int, fetch_rows: Callable[[np.ndarray], np.ndarray], is_text: np.ndarray | None,
                params: dict | None = None, data_file: Path | None = None) -> FaissIndex:
    """An empty IVF-PQ index for n vectors, trained on a sample of both modalities.

    fetch_rows(row numbers) → their vectors (rows of an array, or of the catalog's id order);
    is_text marks the text rows. With params['ondisk'], the lists go to `data_file`."""
    if n < 39:
        raise UsageError("an IVF-PQ index needs vectors to train on: index some files first, or use {-index_type=flat}")
    params = ivfpq.make_params(n, dim, params)
    rows = ivfpq.sample_rows(n, is_text, ivfpq.train_size(params["nlist"], n))
    index = ivfpq.train(dim, fetch_rows(rows), params)
    built = FaissIndex("ivfpq", dim, index, params)
    built.trained = _serialize(index)
    if params["ondisk"]:
        if data_file is None:
            raise UsageError("an on-disk IVF-PQ index needs a folder for its inverted lists")
        ivfpq.move_lists_to(index, data_file)
        built._sealed = False
    return built


def _serialize(index) -> bytes:
    import faiss

    return faiss.serialize_index(index).tobytes()


_BUILDERS: dict[str, Callable[..., FaissIndex]] = {
    "flat": _flat,
    "hnsw": _hnsw,
    "ivf": _ivf,
    "ivfpq": _ivfpq,
}


def build_index(kind: str, dim: int, ids: np.ndarray, vectors: np.ndarray, *, is_text: np.ndarray | None = None,
                params: dict | None = None, max_memory: int | None = None, data_dir: Path | None = None) -> FaissIndex:
    """A new index of `kind` ('auto' picks by size and memory budget) holding the given vectors.

    is_text marks text vectors (IVF training samples both modalities); params overrides the
    build parameters of IVF-PQ; data_dir is where on-disk inverted lists go."""
    params = dict(params or {})
    if kind == "auto":
        choice = choose(len(ids), dim, max_memory)
        kind, params = choice.kind, {**choice.params, **params}
    builder = _BUILDERS.get(kind)
    if builder is None:
        raise UsageError("unknown {-index_type=$kind}: use one of {choices}", kind=kind, choices=", ".join(INDEX_TYPES))
    if kind == "ivfpq":
        data_file = ivfpq.new_data_file(Path(data_dir) / "vectors.faiss") if data_dir is not None else None
        index = train_ivfpq(dim, len(vectors), lambda rows: vectors[rows], is_text, params, data_file)
        add_chunks(index, _chunked(ids, vectors))
        return index
    index = builder(dim, ids, vectors, is_text, params)
    index.add(ids, vectors)
    return index


def add_chunks(index: FaissIndex, chunks: Iterable[tuple[np.ndarray, np.ndarray]], map_shards=None) -> None:
    """Fill a freshly trained IVF index chunk by chunk (in shards encoded apart with map_shards)."""
    if index.kind not in IVF_KINDS:
        for ids, vectors in chunks:
            index.add(ids, vectors)
        return
    ivfpq.add_in_shards(index.index, chunks, getattr(index, "trained", None), map_shards)


def _chunked(ids: np.ndarray, vectors: np.ndarray, size: int = 100_000):
    for start in range(0, len(ids), size):
        yield ids[start : start + size], vectors[start : start + size]


def load_index(path: Path, kind: str, dim: int, params: dict, mmap: bool = False) -> FaissIndex:
    """Read a saved index. mmap: map it read-only instead of reading it (for searching: inverted
    lists and flat vectors stay in the page cache, shared between processes, loaded on demand)."""
    import faiss

    flags = faiss.IO_FLAG_ONDISK_SAME_DIR  # on-disk lists are found beside the index file
    if mmap:  # (on-disk lists are mapped whatever the flags; IO_FLAG_MMAP on them crashes FAISS 1.15)
        flags |= faiss.IO_FLAG_READ_ONLY
        if not params.get("ondisk"):
            flags |= faiss.IO_FLAG_MMAP if kind in IVF_KINDS else faiss.IO_FLAG_MMAP_IFC
    try:
        with ivfpq.quiet_stdout():
            raw = faiss.read_index(str(path), flags)
    except RuntimeError as exc:
        raise IndexFormatError("vector file {path} is unreadable ({reason}): {@repair} to rebuild it from the catalog",
                               path=path, reason=exc) from exc
    if raw.d != dim:
        raise IndexFormatError(f"vector file {path} holds {raw.d}-d vectors, the manifest says {dim}")
    return FaissIndex(kind, dim, raw, params)
