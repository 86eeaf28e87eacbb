"""One index = one folder: manifest.json + catalog.sqlite + vectors.faiss (+ vectors.*.ivfdata).

The catalog is the source of truth (it stores every vector); vectors.faiss is derived from it
and tagged with the catalog generation it matches. Writes go catalog first, then vectors, then
manifest, so a crash at any point leaves either a consistent folder or a stale vector file,
which the next open rebuilds from the catalog.

The kind of vector index follows the collection (choice.py): `auto` re-chooses at every save from
the number of vectors and the memory budget (--max-memory, kept in the manifest). Searchers map
the vector file read-only; IVF-PQ re-ranks its candidates with the catalog's exact vectors.

The manifest records the vector file's size and checksum as written: a file of another size (or,
where it is read whole, another checksum) is damaged, and is rebuilt from the catalog like a
missing one. A folder with half an index (a manifest without catalog or a catalog without
manifest) is never guessed at: readers and writers refuse it, naming repair.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from searchengine.errors import (
    IndexFormatError,
    IndexLocked,
    IndexNotFound,
    IndexReadOnly,
    ManifestMissing,
    ModelMismatch,
    UsageError,
)
from searchengine.paths import printable
from searchengine.store.manifest import MANIFEST, Manifest, encoder_name
from searchengine.store.reader import CatalogOutdated, CatalogReader, missing, writable_folder
from searchengine.store.records import BatchResult, ItemDraft
from searchengine.vectors import pq
from searchengine.vectors.base import VectorIndex
from searchengine.vectors.choice import IndexChoice, choose, ivfpq_choice
from searchengine.vectors.factory import add_chunks, build_index, load_index
from searchengine.vectors.ivfpq import IvfPqIndex

if TYPE_CHECKING:  # the catalog's writer (SQLAlchemy) is imported only by writers: searches read with sqlite3
    from searchengine.store.catalog import Catalog

log = logging.getLogger(__name__)

CATALOG = "catalog.sqlite"
VECTORS = "vectors.faiss"
LOCK = "write.lock"
RETRAIN_GROWTH = 4  # auto retrains IVF-PQ once the collection is this many times what it was trained on
QUICK_CHECKSUM_BYTES = 16 << 20  # mapped vector files up to this size are checksummed on open too (~10 ms)
MIN_PQ_VECTORS = 1_000  # fewer than this: an explicit ivfpq is built flat until there is enough to train on


def exists(folder: Path) -> bool:
    return (folder / MANIFEST).is_file()


def existing_manifest(folder: Path) -> Manifest | None:
    """The manifest of the index at `folder`, or None where there is no index yet. Half an index is
    refused: a manifest whose catalog is gone, or a catalog that recorded runs but lost its manifest
    (building on it could relabel one model's vectors as another's)."""
    folder = Path(folder)
    if exists(folder):
        if not (folder / CATALOG).is_file():
            raise missing(folder / CATALOG)
        return Manifest.read(folder)
    if (folder / CATALOG).is_file():
        catalog = CatalogReader(folder / CATALOG, any_schema=True)  # runs are recorded alike in every schema
        try:
            runs = catalog.recorded_runs()
        finally:
            catalog.close()
        if runs:
            raise ManifestMissing(
                "{path} is missing (the catalog was built with {model}): {@repair} to rewrite it from the catalog",
                path=printable(str(folder / MANIFEST)),
                model=runs[0][1],
            )
    return None


class IndexFolder:
    def __init__(
        self,
        folder: Path,
        manifest: Manifest,
        catalog: Catalog | CatalogReader,
        writable: bool,
        map_vectors: bool = True,
    ):
        self.folder = folder
        self.manifest = manifest
        self.catalog = catalog
        self.writable = writable
        self.map_vectors = map_vectors and not writable  # searchers map the vector file; see open()
        self._vectors: VectorIndex | None = None
        self._lock_fd: int | None = None

    # --- opening ---------------------------------------------------------------------------
    @classmethod
    def open(cls, folder: Path, map_vectors: bool = True, upgrade: bool = False) -> IndexFolder:
        """Open an existing index for searching (no lock, nothing written; sees the last committed
        state). map_vectors=False reads the vector file into memory instead of mapping it: a
        long-running server then survives the file being damaged in place under it (a mapped file
        cut short kills the process that touches it with SIGBUS). upgrade: a catalog of an older
        schema is first brought up to date by a writer (see `upgrade`), where the folder can be
        written; otherwise it is refused with CatalogOutdated."""
        folder = Path(folder).expanduser().resolve()
        manifest = existing_manifest(folder)
        if manifest is None:
            raise IndexNotFound("no index at {folder}: {@index}", folder=printable(str(folder)))
        try:
            catalog = CatalogReader(folder / CATALOG)
        except CatalogOutdated as exc:
            if not (upgrade and exc.writable):
                raise
            cls.upgrade(folder)
            catalog = CatalogReader(folder / CATALOG)
        return cls(folder, manifest, catalog, writable=False, map_vectors=map_vectors)

    @classmethod
    def upgrade(cls, folder: Path) -> None:
        """Migrate the catalog of the index at `folder` to the current schema, as a writer (holding
        the writer lock while it does)."""
        from searchengine.store.catalog import Catalog

        folder = writable_index_folder(folder)
        lock_fd = _acquire_lock(folder)
        try:
            Catalog(folder / CATALOG).close()
        finally:
            os.close(lock_fd)

    @classmethod
    def open_for_writing(
        cls, folder: Path, model: str, encoder_id: str, dim: int, index_type: str, max_memory: int | None = None
    ) -> IndexFolder:
        """Open (or create) an index to add to it, holding the writer lock until close().
        max_memory (bytes), when given, becomes the index's memory budget from now on."""
        from searchengine.store.catalog import Catalog

        folder = writable_index_folder(folder)
        lock_fd = _acquire_lock(folder)
        try:
            manifest = existing_manifest(folder)
            if manifest is not None:
                check_model(manifest, folder, encoder_id=encoder_id)
                if index_type != "auto":
                    manifest.index_type_requested = index_type
            else:
                kind = index_type if index_type != "auto" else "flat"
                manifest = Manifest(
                    model=model, encoder_id=encoder_id, dim=dim, index_type=kind, index_type_requested=index_type
                )
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

    @classmethod
    def open_to_repair(cls, folder: Path, manifest: Manifest) -> IndexFolder:
        """Open an index whose manifest is being rewritten (by repair), holding the writer lock."""
        from searchengine.store.catalog import Catalog

        folder = writable_index_folder(folder)
        lock_fd = _acquire_lock(folder)
        try:
            index = cls(folder, manifest, Catalog(folder / CATALOG), writable=True)
        except BaseException:
            os.close(lock_fd)
            raise
        index._lock_fd = lock_fd
        return index

    def close(self) -> None:
        self.catalog.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> IndexFolder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- vectors ---------------------------------------------------------------------------
    @property
    def vectors(self) -> VectorIndex:
        if self._vectors is None:
            self._vectors = self._load_vectors()
        return self._vectors

    def _load_vectors(self) -> VectorIndex:
        path = self.folder / VECTORS
        generation = self.catalog.generation()
        if path.is_file() and self.manifest.vectors_generation == generation:
            try:
                self.check_vector_file(full=not self.map_vectors)
                loaded = load_index(
                    path, self.manifest.index_type, self.manifest.dim, self.manifest.index_params, mmap=self.map_vectors
                )
            except IndexFormatError as exc:
                log.warning(
                    "%s: rebuilding it from the catalog%s",
                    exc,
                    "" if self.writable else " for this run (repairing the index saves it)",
                )
            else:
                loaded.rerank_with(self._stored_vectors)
                return loaded
        elif generation:
            log.warning(
                "vector file of %s is missing or stale: rebuilding it from the catalog", printable(str(self.folder))
            )
        index = self._rebuild(self.manifest.index_type, self.manifest.index_params)
        if self.writable:
            self._vectors = index
            self.save()
        return index

    def rebuild_vectors(self) -> None:
        """Build the vector index anew from the catalog, whatever the vector file holds (repair)."""
        self._vectors = self._rebuild(self.manifest.index_type)

    def _rebuild(self, kind: str, params: dict | None = None, map_shards: Callable | None = None) -> VectorIndex:
        """A new vector index of `kind` from the catalog's vectors (IVF-PQ: streamed, never all in
        memory; its shards encoded by map_shards, see pq.add_in_shards)."""
        if params is None and kind == self.manifest.index_type:
            params = self.manifest.index_params
        n = self.catalog.segment_count()
        if (kind == "ivf" and not n) or (kind == "ivfpq" and n < MIN_PQ_VECTORS):
            kind = "flat"
        if kind == "ivfpq":
            index = self._build_ivfpq(n, params or {}, map_shards)
        else:
            chunks = list(self.catalog.iter_vectors(self.manifest.dim))
            ids = np.concatenate([c[0] for c in chunks]) if chunks else np.zeros(0, np.int64)
            vectors = np.concatenate([c[1] for c in chunks]) if chunks else np.zeros((0, self.manifest.dim), np.float32)
            is_text = np.isin(ids, self._text_ids()) if kind == "ivf" else None
            index = build_index(kind, self.manifest.dim, ids, vectors, is_text=is_text)
        index.rerank_with(self._stored_vectors)
        return index

    def _build_ivfpq(self, n: int, params: dict, map_shards: Callable | None) -> VectorIndex:
        ids = self.catalog.segment_ids()
        is_text = np.isin(ids, self._text_ids())
        build = {
            k: params[k]
            for k in ("m", "nbits", "nlist", "ondisk", "fastscan", "opq", "nprobe", "rerank")
            if k in params
        }
        if "nlist" in build and params.get("trained_on") != n:  # sized for another collection: size it anew
            del build["nlist"]
        data_file = pq.new_data_file(self.folder / VECTORS) if build.get("ondisk") else None
        index = IvfPqIndex.train(
            self.manifest.dim, n, lambda rows: self._stored_vectors(ids[rows]), is_text, build, data_file
        )
        add_chunks(index, self.catalog.iter_vectors(self.manifest.dim, chunk=50_000), map_shards)
        return index

    def _stored_vectors(self, ids: np.ndarray) -> np.ndarray:
        """Exact vectors of segment ids from the catalog, in the order given."""
        if len(ids) <= 10_000:
            return self.catalog.vectors_of(ids, self.manifest.dim)
        return np.concatenate(
            [self.catalog.vectors_of(ids[i : i + 10_000], self.manifest.dim) for i in range(0, len(ids), 10_000)]
        )

    def _text_ids(self) -> np.ndarray:
        """Segment ids of text vectors (passages, transcripts): IVF training samples both modalities."""
        return self.catalog.text_segment_ids()

    def commit(self, run_id: int, drafts: Sequence[ItemDraft], removed_paths: Sequence[str] = ()) -> BatchResult:
        """Commit files to the catalog (one transaction), then bring the vector index level with it."""
        vectors = self.vectors  # loaded (or rebuilt) from the state before this batch
        batch = self.catalog.commit_batch(run_id, drafts, removed_paths)
        vectors.remove(batch.removed_ids)
        vectors.add(batch.added_ids, batch.added_vectors)
        return batch

    def check_vector_file(self, full: bool) -> None:
        """IndexFormatError when vectors.faiss is not the file the manifest says was written: another
        size, or another checksum (checked when `full`, or when the file is small enough that reading
        it costs a cold search nothing). Manifests from before these were kept pass."""
        path = self.folder / VECTORS
        expected_size, expected_sum = self.manifest.vectors_bytes, self.manifest.vectors_checksum
        size = path.stat().st_size
        if expected_size is not None and size != expected_size:
            raise IndexFormatError(
                f"vector file {printable(str(path))} is damaged ({size} bytes, {expected_size} were written)"
            )
        if (full or size <= QUICK_CHECKSUM_BYTES) and expected_sum is not None and file_checksum(path) != expected_sum:
            raise IndexFormatError(
                f"vector file {printable(str(path))} is damaged (its checksum differs from the one written)"
            )

    def save(self, map_shards: Callable | None = None) -> None:
        """Write vectors (switching index type when 'auto' asks for another) and the manifest. A run
        that changed nothing still replaces a vector file that is missing, stale or damaged.
        map_shards: how IVF-PQ shards are encoded should the index be rebuilt (None: in process;
        the Ray executor passes a map over Ray tasks, see pq.add_in_shards)."""
        if self._vectors is None and not self._vector_file_sound():
            self._vectors = self._load_vectors()
        if self._vectors is not None:
            wanted = self._wanted_index(self._vectors.ntotal)
            if self._needs_rebuild(wanted):
                log.info("switching vector index from %s to %s", self._vectors.kind, wanted.kind)
                self._vectors = self._rebuild(wanted.kind, wanted.params, map_shards)
            self._vectors.save(self.folder / VECTORS)
            self.manifest.index_type = self._vectors.kind
            self.manifest.index_params = self._vectors.params()
            self.manifest.vectors_bytes = (self.folder / VECTORS).stat().st_size
            self.manifest.vectors_checksum = file_checksum(self.folder / VECTORS)
        self.manifest.vectors_generation = self.catalog.generation()
        self.manifest.counts = self.catalog.counts()
        self.manifest.write(self.folder)

    def _vector_file_sound(self) -> bool:
        if not (self.folder / VECTORS).is_file() or self.manifest.vectors_generation != self.catalog.generation():
            return False
        try:
            self.check_vector_file(full=False)
        except IndexFormatError:
            return False
        return True

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
            "index {folder} was built with {built_with}, not {asked}: use {-model=$model} or a new {-index} folder",
            folder=printable(str(folder)),
            built_with=manifest.encoder_id,
            asked=asked,
            model=encoder_name(manifest),
        )


def file_checksum(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def writable_index_folder(folder: Path) -> Path:
    """The index folder, made if needed, that a writer may use: not a file, not read-only."""
    folder = Path(folder).expanduser().resolve()
    if folder.exists() and not folder.is_dir():
        raise UsageError(
            "{folder} is a file, not an index folder: give a folder for the index", folder=printable(str(folder))
        )
    folder.mkdir(parents=True, exist_ok=True)
    if not writable_folder(folder):
        raise IndexReadOnly(
            "index {folder} is read-only: searching it works, but this writes to it; make the folder writable first",
            folder=printable(str(folder)),
        )
    return folder


def _acquire_lock(folder: Path) -> int:
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise IndexLocked(
            "another process is indexing into {folder}: wait for it to finish", folder=printable(str(folder))
        ) from None
    return fd
