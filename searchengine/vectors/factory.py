"""Vector indexes by kind: one class each (flat, hnsw, ivf, ivfpq), built or loaded by name.
Which kind `auto` builds: choice.py."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from searchengine.errors import IndexFormatError, UsageError
from searchengine.vectors import pq
from searchengine.vectors.base import VectorIndex
from searchengine.vectors.choice import choose
from searchengine.vectors.flat import FlatIndex
from searchengine.vectors.hnsw import HnswIndex
from searchengine.vectors.ivf import Inverted, IvfIndex
from searchengine.vectors.ivfpq import IvfPqIndex

KINDS: dict[str, type[VectorIndex]] = {cls.kind: cls for cls in (FlatIndex, HnswIndex, IvfIndex, IvfPqIndex)}
INDEX_TYPES = ("auto", *KINDS)


def index_class(kind: str) -> type[VectorIndex]:
    try:
        return KINDS[kind]
    except KeyError:
        raise UsageError(
            "unknown {-index_type=$kind}: use one of {choices}", kind=kind, choices=", ".join(INDEX_TYPES)
        ) from None


def build_index(
    kind: str,
    dim: int,
    ids: np.ndarray,
    vectors: np.ndarray,
    *,
    is_text: np.ndarray | None = None,
    params: dict | None = None,
    max_memory: int | None = None,
    data_dir: Path | None = None,
) -> VectorIndex:
    """A new index of `kind` ('auto' picks by size and memory budget) holding the given vectors.

    is_text marks text vectors (IVF training samples both modalities); params overrides the
    build parameters of IVF-PQ; data_dir is where on-disk inverted lists go."""
    params = dict(params or {})
    if kind == "auto":
        choice = choose(len(ids), dim, max_memory)
        kind, params = choice.kind, {**choice.params, **params}
    cls = index_class(kind)
    if cls is IvfPqIndex:
        data_file = pq.new_data_file(Path(data_dir) / "vectors.faiss") if data_dir is not None else None
        index = IvfPqIndex.train(dim, len(vectors), lambda rows: vectors[rows], is_text, params, data_file)
        add_chunks(index, _chunked(ids, vectors))
        return index
    index = cls.build(dim, ids, vectors, is_text, params)
    index.add(ids, vectors)
    return index


def add_chunks(index: VectorIndex, chunks: Iterable[tuple[np.ndarray, np.ndarray]], map_shards=None) -> None:
    """Fill a freshly trained index chunk by chunk (IVF-PQ: in shards encoded apart with map_shards)."""
    if not isinstance(index, Inverted):
        for ids, vectors in chunks:
            index.add(ids, vectors)
        return
    pq.add_in_shards(index.index, chunks, getattr(index, "trained", None), map_shards)


def _chunked(ids: np.ndarray, vectors: np.ndarray, size: int = 100_000):
    for start in range(0, len(ids), size):
        yield ids[start : start + size], vectors[start : start + size]


def load_index(path: Path, kind: str, dim: int, params: dict, mmap: bool = False) -> VectorIndex:
    """Read a saved index. mmap: map it read-only instead of reading it (for searching: inverted
    lists and flat vectors stay in the page cache, shared between processes, loaded on demand)."""
    import faiss

    cls = index_class(kind)
    flags = faiss.IO_FLAG_ONDISK_SAME_DIR  # on-disk lists are found beside the index file
    if mmap:  # (on-disk lists are mapped whatever the flags; IO_FLAG_MMAP on them crashes FAISS 1.15)
        flags |= faiss.IO_FLAG_READ_ONLY
        if not params.get("ondisk"):
            flags |= faiss.IO_FLAG_MMAP if issubclass(cls, Inverted) else faiss.IO_FLAG_MMAP_IFC
    try:
        with pq.quiet_stdout():
            raw = faiss.read_index(str(path), flags)
    except RuntimeError as exc:
        raise IndexFormatError(
            "vector file {path} is unreadable ({reason}): {@repair} to rebuild it from the catalog",
            path=path,
            reason=exc,
        ) from exc
    if raw.d != dim:
        raise IndexFormatError(
            "vector file {path} holds {held}-d vectors, the manifest says {dim}", path=path, held=raw.d, dim=dim
        )
    return cls(dim, raw, params)
