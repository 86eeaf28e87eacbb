"""One index = one folder: manifest.json + catalog.sqlite + vectors.faiss.

The catalog is the source of truth (it stores every vector); vectors.faiss is derived from it
and tagged with the catalog generation it matches. Writes go catalog first, then vectors, then
manifest, so a crash at any point leaves either a consistent folder or a stale vector file,
which the next open rebuilds from the catalog.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from searchengine.errors import IndexLocked, IndexNotFound, ModelMismatch
from searchengine.index.faiss_index import FaissIndex, build_index, choose_kind, load_index
from searchengine.manifest import MANIFEST, Manifest, encoder_name  # noqa: F401 (re-exported)
from searchengine.store.catalog import BatchResult, Catalog, ItemDraft

log = logging.getLogger(__name__)

CATALOG = "catalog.sqlite"
VECTORS = "vectors.faiss"
LOCK = "write.lock"


def exists(folder: Path) -> bool:
    return (folder / MANIFEST).is_file()


class IndexFolder:
    def __init__(self, folder: Path, manifest: Manifest, catalog: Catalog, writable: bool):
        self.folder = folder
        self.manifest = manifest
        self.catalog = catalog
        self.writable = writable
        self._vectors: FaissIndex | None = None
        self._lock_fd: int | None = None

    # --- opening ---------------------------------------------------------------------------
    @classmethod
    def open(cls, folder: Path) -> "IndexFolder":
        """Open an existing index for searching (no lock; sees the last committed state)."""
        folder = Path(folder).expanduser().resolve()
        if not exists(folder):
            raise IndexNotFound(f"no index at {folder}: build one with `searchengine index FOLDER --index {folder}`")
        manifest = Manifest.read(folder)
        return cls(folder, manifest, Catalog(folder / CATALOG), writable=False)

    @classmethod
    def open_for_writing(cls, folder: Path, model: str, encoder_id: str, dim: int, index_type: str) -> "IndexFolder":
        """Open (or create) an index to add to it, holding the writer lock until close()."""
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
            return load_index(path, self.manifest.index_type, self.manifest.dim, self.manifest.index_params)
        if generation:
            log.warning("vector file of %s is missing or stale: rebuilding it from the catalog", self.folder)
        index = self._rebuild(self.manifest.index_type)
        if self.writable:
            self._vectors = index
            self.save()
        return index

    def _rebuild(self, kind: str) -> FaissIndex:
        chunks = list(self.catalog.iter_vectors(self.manifest.dim))
        ids = np.concatenate([c[0] for c in chunks]) if chunks else np.zeros(0, np.int64)
        vectors = np.concatenate([c[1] for c in chunks]) if chunks else np.zeros((0, self.manifest.dim), np.float32)
        if kind == "ivf" and not len(ids):
            kind = "flat"
        return build_index(kind, self.manifest.dim, ids, vectors)

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
            wanted = self.manifest.index_type_requested
            kind = choose_kind(self._vectors.ntotal) if wanted == "auto" else wanted
            if kind != self._vectors.kind:
                log.info("switching vector index from %s to %s", self._vectors.kind, kind)
                self._vectors = self._rebuild(kind)
            self._vectors.save(self.folder / VECTORS)
            self.manifest.index_type = self._vectors.kind
            self.manifest.index_params = self._vectors.params()
        self.manifest.vectors_generation = self.catalog.generation()
        self.manifest.counts = self.catalog.counts()
        self.manifest.write(self.folder)

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
