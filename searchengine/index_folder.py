"""One index = one folder: manifest.json + catalog.sqlite + vectors.faiss (+ vectors.*.ivfdata).

The catalog is the source of truth (it stores every vector); vectors.faiss is derived from it
and tagged with the catalog generation it matches. Writes go catalog first, then vectors, then
manifest, so a crash at any point leaves either a consistent folder or a stale vector file,
which the next open rebuilds from the catalog.

The kind of vector index follows the collection (choice.py): `auto` re-chooses at every save from
the number of vectors and the memory budget (--max-memory, kept in the manifest). Searchers map
the vector file read-only; IVF-PQ re-ranks its candidates with the catalog's exact vectors.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from searchengine.errors import IndexLocked, IndexNotFound, ModelMismatch
from searchengine.index import ivfpq
from searchengine.index.choice import IndexChoice, choose, ivfpq_choice
from searchengine.index.faiss_index import FaissIndex, add_chunks, build_index, load_index, train_ivfpq
from searchengine.manifest import MANIFEST, Manifest, encoder_name  # noqa: F401 (re-exported)
from searchengine.store.reader import CatalogReader

if TYPE_CHECKING:  # the full catalog (SQLAlchemy) is imported only by writers: searches read with sqlite3
    from searchengine.store.catalog import BatchResult, Catalog, ItemDraft

log = logging.getLogger(__name__)

CATALOG = "catalog.sqlite"
VECTORS = "vectors.faiss"
LOCK = "write.lock"
RETRAIN_GROWTH = 4  # auto retrains IVF-PQ once the collection is this many times what it was trained on
MIN_PQ_VECTORS = 1_000  # fewer than this: an explicit ivfpq is built flat until there is enough to train on


def exists(folder: Path) -> bool:
    return (folder / MANIFEST).is_file()


class IndexFolder:
    def __init__(self, folder: Path, manifest: Manifest, catalog: Catalog | CatalogReader, writable: bool):
        self.folder = folder
        self.manifest = manifest
        self.catalog = catalog
        self.writable = writable
        self._vectors: FaissIndex | None = None
        self._lock_fd: int | None = None
        # How IVF-PQ shards are encoded when the index is (re)built: None in process; the Ray
        # engine passes a map over Ray tasks (see ivfpq.add_in_shards).
        self.map_shards: Callable | None = None

    # --- opening ---------------------------------------------------------------------------
    @classmethod
    def open(cls, folder: Path) -> "IndexFolder":
        """Open an existing index for searching (no lock; sees the last committed state)."""
        folder = Path(folder).expanduser().resolve()
        if not exists(folder):
            raise IndexNotFound(f"no index at {folder}: build one with `searchengine index FOLDER --index {folder}`")
        manifest = Manifest.read(folder)
        return cls(folder, manifest, CatalogReader(folder / CATALOG), writable=False)

    @classmethod
    def open_for_writing(cls, folder: Path, model: str, encoder_id: str, dim: int, index_type: str,
                         max_memory: int | None = None) -> "IndexFolder":
        """Open (or create) an index to add to it, holding the writer lock until close().
        max_memory (bytes), when given, becomes the index's memory budget from now on."""
        from searchengine.store.catalog import Catalog

        folder = Path(folder).expanduser().resolve()
        folder.mkdir(parents=True, exist_ok=True)
        lock_fd = _acquire_lock(folder)
        try:
            if exists(folder):
                manifest = Manifest.read(folder)
                check_model(manifest, folder, encoder_id=encoder_id)
                if index_type != "auto":
                    manifest.index_type_requested = index_type
            else:
                kind = index_type if index_type != "auto" else "flat"
                manifest = Manifest(model=model, encoder_id=encoder_id, dim=dim, index_type=kind,
                                    index_type_requested=index_type)
            if max_memory is not None:
                manifest.max_memory = int(max_memory)
            index = cls(folder, manifest, Catalog(folder / CATALOG), writable=True)
        except BaseException:
            os.close(lock_fd)
            raise
        index._lock_fd = lock_fd
        if not exists(folder):
            index.save()
        return index

    def close(self) -> None:
        self.catalog.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> "IndexFolder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- vectors ---------------------------------------------------------------------------
    @property
    def vectors(self) -> FaissIndex:
        if self._vectors is None:
            self._vectors = self._load_vectors()
        return self._vectors

    def _load_vectors(self) -> FaissIndex:
        path = self.folder / VECTORS
        generation = self.catalog.generation()
        if path.is_file() and self.manifest.vectors_generation == generation:
            loaded = load_index(path, self.manifest.index_type, self.manifest.dim, self.manifest.index_params,
                                mmap=not self.writable)
            loaded.rerank_with(self._stored_vectors)
            return loaded
        if generation:
            log.warning("vector file of %s is missing or stale: rebuilding it from the catalog", self.folder)
        index = self._rebuild(self.manifest.index_type, self.manifest.index_params)
        if self.writable:
            self._vectors = index
            self.save()
        return index

    def _rebuild(self, kind: str, params: dict | None = None) -> FaissIndex:
        """A new vector index of `kind` from the catalog's vectors (IVF-PQ: streamed, never all in memory)."""
        if params is None and kind == self.manifest.index_type:
            params = self.manifest.index_params
        n = self.catalog.segment_count()
        if (kind == "ivf" and not n) or (kind == "ivfpq" and n < MIN_PQ_VECTORS):
            kind = "flat"
        if kind == "ivfpq":
            index = self._build_ivfpq(n, params or {})
        else:
            chunks = list(self.catalog.iter_vectors(self.manifest.dim))
            ids = np.concatenate([c[0] for c in chunks]) if chunks else np.zeros(0, np.int64)
            vectors = np.concatenate([c[1] for c in chunks]) if chunks else np.zeros((0, self.manifest.dim), np.float32)
            is_text = np.isin(ids, self._text_ids()) if kind == "ivf" else None
            index = build_index(kind, self.manifest.dim, ids, vectors, is_text=is_text)
        index.rerank_with(self._stored_vectors)
        return index

    def _build_ivfpq(self, n: int, params: dict) -> FaissIndex:
        ids = self.catalog.segment_ids()
        is_text = np.isin(ids, self._text_ids())
        build = {k: params[k] for k in ("m", "nbits", "nlist", "ondisk", "fastscan", "opq", "nprobe", "rerank")
                 if k in params}
        if "nlist" in build and params.get("trained_on") != n:  # sized for another collection: size it anew
            del build["nlist"]
        data_file = ivfpq.new_data_file(self.folder / VECTORS) if build.get("ondisk") else None
        index = train_ivfpq(self.manifest.dim, n, lambda rows: self._stored_vectors(ids[rows]), is_text, build,
                            data_file)
        add_chunks(index, self.catalog.iter_vectors(self.manifest.dim, chunk=50_000), self.map_shards)
        return index

    def _stored_vectors(self, ids: np.ndarray) -> np.ndarray:
        """Exact vectors of segment ids from the catalog, in the order given."""
        if len(ids) <= 10_000:
            return self.catalog.vectors_of(ids, self.manifest.dim)
        return np.concatenate([self.catalog.vectors_of(ids[i : i + 10_000], self.manifest.dim)
                               for i in range(0, len(ids), 10_000)])

    def _text_ids(self) -> np.ndarray:
        """Segment ids of text vectors (passages, transcripts): IVF training samples both modalities."""
        from sqlalchemy import select

        from searchengine.store.models import Segment

        with self.catalog.session() as s:
            return np.asarray(s.scalars(select(Segment.id).where(Segment.text.is_not(None))).all(), dtype=np.int64)

    def commit(self, run_id: int, drafts: Sequence[ItemDraft], removed_paths: Sequence[str] = ()) -> BatchResult:
        """Commit files to the catalog (one transaction), then bring the vector index level with it."""
        vectors = self.vectors  # loaded (or rebuilt) from the state before this batch
        batch = self.catalog.commit_batch(run_id, drafts, removed_paths)
        vectors.remove(batch.removed_ids)
        vectors.add(batch.added_ids, batch.added_vectors)
        return batch

    def save(self) -> None:
        """Write vectors (switching index type when 'auto' asks for another) and the manifest."""
        if self._vectors is not None:
            wanted = self._wanted_index(self._vectors.ntotal)
            if self._needs_rebuild(wanted):
                log.info("switching vector index from %s to %s", self._vectors.kind, wanted.kind)
                self._vectors = self._rebuild(wanted.kind, wanted.params)
            self._vectors.save(self.folder / VECTORS)
            self.manifest.index_type = self._vectors.kind
            self.manifest.index_params = self._vectors.params()
        self.manifest.vectors_generation = self.catalog.generation()
        self.manifest.counts = self.catalog.counts()
        self.manifest.write(self.folder)

    def _wanted_index(self, n: int) -> IndexChoice:
        """The kind (and IVF-PQ sizing) the manifest asks for at n vectors, within its memory budget."""
        requested, budget, dim = self.manifest.index_type_requested, self.manifest.max_memory, self.manifest.dim
        if requested == "auto":
            return choose(n, dim, budget)
        if requested == "ivfpq":
            return ivfpq_choice(n, dim, budget)
        return IndexChoice(requested)

    def _needs_rebuild(self, wanted: IndexChoice) -> bool:
        current = self._vectors
        if wanted.kind != current.kind:
            return not (wanted.kind == "ivfpq" and current.kind == "flat" and current.ntotal < MIN_PQ_VECTORS)
        if current.kind != "ivfpq" or self.manifest.index_type_requested not in ("auto", "ivfpq"):
            return False
        params = current.params()
        grown = current.ntotal > RETRAIN_GROWTH * max(params.get("trained_on", 0), 1)
        return grown or bool(wanted.params.get("ondisk")) != bool(params.get("ondisk"))

    def size_on_disk(self) -> int:
        return sum(p.stat().st_size for p in self.folder.iterdir() if p.is_file())


def check_model(manifest: Manifest, folder: Path, model: str | None = None, encoder_id: str | None = None) -> None:
    """Refuse to mix encoders: by exact id when known, else by model family (cheap, before loading)."""
    if encoder_id is not None:
        same = manifest.encoder_id == encoder_id
    else:
        same = model is None or model.partition(":")[0] == manifest.model.partition(":")[0]
    if not same:
        asked = encoder_id or model
        raise ModelMismatch(
            f"index {folder} was built with {manifest.encoder_id}, not {asked}: "
            f"use --model {encoder_name(manifest)} or a new --index folder"
        )


def _acquire_lock(folder: Path) -> int:
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise IndexLocked(f"another `searchengine index` is writing to {folder}: wait for it to finish") from None
    return fd
