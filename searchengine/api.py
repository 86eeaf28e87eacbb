"""searchengine.Index: one index folder, opened once, that a program syncs with folders, adds files
to, searches and keeps sound. The command line and the web server are shells over it.

    from searchengine import Index
    with Index.open("~/pictures-index", model="bundled") as ix:    # made on the first sync when missing
        ix.sync("~/Pictures")                                      # -> RunSummary (added, updated, …)
        hits = ix.search("a cat on a sofa", kind="image", k=10)    # -> list[Hit]

What it decides for the layers below: where the model cache is (`cache_dir`, else the one
SEARCHENGINE_HOME says), which encoder an index is searched and extended with (its own, even after
the default changed), when the encoder loads (on the first search, or the first sync that has
something to embed) and that one encoder serves every search and sync of this object. A search
follows the index as another process updates it (the manifest changes when a writer saves): the
next search reopens it, while searches already running finish on what they opened. A calibration a
search had to compute (missing, or older than the catalog) is kept for the next one where the
folder can be written.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path

import numpy as np

from searchengine import config
from searchengine.duplicates import DuplicateGroup, find_duplicates
from searchengine.encoders.base import Encoder
from searchengine.encoders.registry import DEFAULT_MODEL, load_encoder
from searchengine.errors import IndexFormatError, IndexNotFound, UsageError
from searchengine.hits import Hit
from searchengine.ingest.executor import Executor
from searchengine.ingest.progress import Progress
from searchengine.ingest.run import add_files, apply_changes, remove_files, sync_folder
from searchengine.ingest.settings import IngestSettings, default_workers
from searchengine.ingest.summary import RunSummary
from searchengine.ingest.upgrades import model_to_load
from searchengine.paths import printable
from searchengine.query import HYBRID, MEANING, WORDS, Filters, Query, Searcher, copies_of, split_words
from searchengine.status import empty_status, index_status
from searchengine.store.folder import CATALOG, IndexFolder, check_model, existing_manifest
from searchengine.store.manifest import MANIFEST, Manifest
from searchengine.store.records import SegmentRecord
from searchengine.verify import Report, repair, verify

log = logging.getLogger(__name__)

RECENT_QUERIES = 256  # word queries whose vectors are remembered (a page asks again on each filter change)


def _present(folder: Path) -> bool:
    return (folder / MANIFEST).is_file() or (folder / CATALOG).is_file()


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


class Index:
    """An index folder: open it with `Index.open`, use it as a context manager (or `close()` it)."""

    def __init__(
        self,
        path: Path,
        model: str | None,
        *,
        device: str,
        backend: str,
        cache_dir: Path,
        encoder: Encoder | Future | None,
        read_whole: bool,
    ):
        self.path = path
        self.cache_dir = cache_dir
        self.device = device
        self.backend = backend
        self._model = model
        self._encoder = encoder  # an Encoder, or a Future of one being loaded elsewhere
        self._read_whole = read_whole
        self._searcher: Searcher | None = None
        self._stamp: tuple | None = None
        self._open_lock = threading.Lock()  # one thread (re)opens the index; the others use what is open
        self._encoder_lock = threading.Lock()
        self._embed_lock = threading.Lock()  # one query embedding at a time: tokenizers are not thread-safe
        self._recent: OrderedDict[Query, tuple[np.ndarray, str]] = OrderedDict()
        self._recent_lock = threading.Lock()

    @classmethod
    def open(
        cls,
        path: str | Path | None = None,
        model: str | None = None,
        *,
        create: bool = True,
        device: str = "auto",
        backend: str | None = None,
        cache_dir: str | Path | None = None,
        encoder: Encoder | Future | None = None,
        read_whole: bool = False,
    ) -> Index:
        """The index at `path` (None: $SEARCHENGINE_HOME/default).

        model: the encoder to build a new index with (default "bundled"); for an existing index it
        must be the index's own (by name or exact id) or is refused with ModelMismatch, and None
        means the index's own. create=False refuses a missing index (IndexNotFound) instead of
        preparing one: the folder is written by the first sync or add. device (auto, cpu, cuda),
        backend (auto, onnx, torch; None: $SEARCHENGINE_BACKEND, else auto) and cache_dir (the
        model cache; None: $SEARCHENGINE_HOME/cache) say how the encoder runs; `encoder` is one
        already loaded (or a Future of it), which must be the index's. read_whole: read the vector
        file into memory rather than map it (a long-running server survives the file being
        damaged under it).
        """
        folder = Path(path).expanduser() if path is not None else config.default_index_dir()
        folder = folder.absolute()
        if not create and not _present(folder):
            raise IndexNotFound("no index at {folder}: {@index}", folder=printable(str(folder)))
        if model is not None and (folder / MANIFEST).is_file():
            try:
                manifest = Manifest.read(folder)
            except IndexFormatError:
                pass  # half an index: what is done with it next says so (verify, repair, …)
            else:
                check_model(manifest, folder, model=model)
        return cls(
            folder,
            model,
            device=device,
            backend=backend or config.default_backend(),
            cache_dir=Path(cache_dir).expanduser() if cache_dir is not None else config.cache_dir(),
            encoder=encoder,
            read_whole=read_whole,
        )

    def close(self) -> None:
        with self._open_lock:
            if self._searcher is not None:
                self._searcher.close()
                self._searcher = None

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- what it is ---------------------------------------------------------------------------
    @property
    def exists(self) -> bool:
        """Whether the folder holds an index (or what is left of one) yet."""
        return _present(self.path)

    def manifest(self) -> Manifest | None:
        """What the index folder records about itself (None before the first sync)."""
        return existing_manifest(self.path) if self.path.is_dir() else None

    @property
    def model(self) -> str:
        """The model name that loads this index's encoder (or the one a new index is built with)."""
        return model_to_load(self._model or self._built_with() or DEFAULT_MODEL, self.manifest())

    def _built_with(self) -> str | None:
        manifest = self.manifest()
        return manifest.model if manifest else None

    @property
    def encoder(self) -> Encoder:
        """The index's encoder, loaded on first use and then shared by every search and sync."""
        with self._encoder_lock:
            if isinstance(self._encoder, Future):
                self._encoder = self._encoder.result()
            if self._encoder is None:
                self._encoder = load_encoder(self.model, self.device, self.backend, cache_dir=self.cache_dir)
            return self._encoder

    def _loaded_encoder(self) -> Encoder | None:
        return self.encoder if self._encoder is not None else None

    def _loader(self, model: str, device: str) -> Encoder:
        """What an indexing run loads its encoder with: this object's, when it runs where asked."""
        if device == self.device or self._encoder is not None:
            return self.encoder
        return load_encoder(model, device, self.backend, cache_dir=self.cache_dir)

    # --- changing what it holds ----------------------------------------------------------------
    def sync(
        self,
        folder: str | Path,
        progress: Progress | None = None,
        *,
        exclude: Sequence[str] = (),
        follow_outside_links: bool = False,
        executor: Executor | None = None,
        **options,
    ) -> RunSummary:
        """Bring the index up to date with `folder`: new and changed files are embedded, renamed and
        touched ones keep their vectors, files gone from it are removed. The folder is recorded as
        the index's own. `exclude`: gitignore-style patterns (on top of the folder's
        .searchengineignore); `follow_outside_links`: index what symlinks lead to outside the
        index's folders; options: see `IngestSettings` (workers, index_type, max_memory,
        asr_model, language, batch_size, commit_every, ocr=False to leave the text in pictures and
        scanned pages unread, ocr_video=True to read it in video keyframes too)."""
        settings = self._settings(exclude=tuple(exclude), follow_outside_links=follow_outside_links, **options)
        return self._write(
            lambda: sync_folder(
                Path(folder).expanduser(),
                self.path,
                settings,
                progress,
                self._loaded_encoder(),
                cache_dir=self.cache_dir,
                executor=executor,
                loader=self._loader,
            )
        )

    def add(self, paths: Iterable[str | Path], progress: Progress | None = None, **options) -> RunSummary:
        """Add the given files (and the files under given folders), or update the ones that
        changed; nothing else is touched. For programs that keep track of their own files."""
        settings = self._settings(**options)
        return self._write(
            lambda: add_files(
                list(paths),
                self.path,
                settings,
                progress,
                self._loaded_encoder(),
                cache_dir=self.cache_dir,
                loader=self._loader,
            )
        )

    def apply(
        self,
        changed: Iterable[str | Path],
        gone: Iterable[str | Path],
        progress: Progress | None = None,
        **options,
    ) -> RunSummary:
        """Apply changes seen on disk in one run: `changed` files (and folders) are added or
        updated, `gone` paths that no longer exist are dropped (a folder: everything under it),
        and a file gone from one path and found under another keeps its vectors (renamed). What a
        watcher calls; options as for `add`."""
        settings = self._settings(**options)
        return self._write(
            lambda: apply_changes(
                list(changed),
                list(gone),
                self.path,
                settings,
                progress,
                self._loaded_encoder(),
                cache_dir=self.cache_dir,
                loader=self._loader,
            )
        )

    def remove(self, paths: Iterable[str | Path]) -> RunSummary:
        """Drop the given files, and every file under the given folders, from the index."""
        return self._write(lambda: remove_files(list(paths), self.path))

    def _settings(self, **options) -> IngestSettings:
        options.setdefault("workers", default_workers())
        return IngestSettings(
            model=self._model or self._built_with() or DEFAULT_MODEL,
            device=self.device,
            backend=self.backend,
            **options,
        )

    def _write(self, run):
        self.close()  # the next search opens what this wrote
        try:
            return run()
        finally:
            self._recent.clear()

    # --- searching ------------------------------------------------------------------------------
    def search(
        self,
        text: str | Query | None = None,
        *,
        image: str | Path | None = None,
        like: int | None = None,
        negative: Sequence[str] = (),
        image_weight: float = 1.0,
        kind: str = "any",
        k: int = 10,
        glob: str | None = None,
        glob_case: bool = False,
        after: datetime | None = None,
        before: datetime | None = None,
        min_score: float | None = None,
        per_kind: int | None = None,
        segments: bool = False,
        lexical_only: bool = False,
        semantic_only: bool = False,
    ) -> list[Hit]:
        """The k best files (or segments) for words, an image, both, or more like an indexed segment
        (`like`: a Hit's segment_id), best first, each with its calibrated score and confidence.

        negative: words to push results away from; kind: any, image, text, audio, video; glob: a
        path pattern ('*.jpg', 'holidays/*'), in any case unless glob_case; after/before: the file's date (a photo's capture
        date); min_score: leave out hits whose calibrated score is below it (off by default: the k
        best are listed whatever their confidence); per_kind: at most so many of each kind;
        segments: every matching segment instead of one per file. A Query may be given instead of
        text, image, like, negative and image_weight.

        Words are searched by meaning and as words (the word index finds codes, numbers, names
        and file names as typed); `"a phrase"` must occur in a hit's text or file name,
        `name:STEM` in its file name, `path:WORD` in its path. lexical_only / semantic_only
        search by words alone or by meaning alone. Each hit says why it `matched`."""
        query = (
            text
            if isinstance(text, Query)
            else Query(
                text=text,
                image=Path(image).expanduser() if image is not None else None,
                like=like,
                negative=tuple(negative),
                image_weight=image_weight,
            )
        )
        filters = Filters(
            kind=kind,
            path_glob=glob,
            glob_case=glob_case,
            after=after,
            before=before,
            min_score=min_score,
            per_kind=per_kind,
        )
        if lexical_only and semantic_only:
            raise UsageError("{-lexical_only} and {-semantic_only} exclude each other: give one")
        mode = WORDS if lexical_only else MEANING if semantic_only else HYBRID
        query.validate()  # a bad query is refused before any model loads
        word_query, meant = split_words(query, mode)
        searcher = self._current()
        if searcher is None:
            return []
        vector, query_kind = self._embed(searcher, meant) if meant is not None else (None, "text")
        exclude = {query.like} if query.like is not None else set()
        assessed = searcher.assessed(
            vector, query_kind, filters, k, segments, exclude, copies_of(query, query_kind), word_query, mode
        )
        self._keep_calibration(searcher)
        return [hit for hit, _ in assessed]

    def _embed(self, searcher: Searcher, query: Query) -> tuple[np.ndarray, str]:
        """The query's vector; those of word queries are remembered."""
        words_only = query.image is None and query.like is None
        if words_only:
            with self._recent_lock:
                if query in self._recent:
                    self._recent.move_to_end(query)
                    return self._recent[query]
        with self._embed_lock:
            embedded = searcher.embed_query(query)
        if words_only:
            with self._recent_lock:
                self._recent[query] = embedded
                while len(self._recent) > RECENT_QUERIES:
                    self._recent.popitem(last=False)
        return embedded

    def _current(self) -> Searcher | None:
        """The open index, reopened (by one thread, the others carry on) when a writer saved since;
        None while nothing is indexed yet."""
        stamp = _stamp(self.path / MANIFEST)
        if self._searcher is not None and (stamp is None or stamp == self._stamp):
            return self._searcher
        if not self._open_lock.acquire(blocking=self._searcher is None):
            return self._searcher
        try:
            if self._searcher is None or stamp != self._stamp:
                self._reopen(stamp)
        finally:
            self._open_lock.release()
        return self._searcher

    def _reopen(self, stamp) -> None:
        if self._searcher is None and not self.exists:
            return  # nothing indexed yet (an index opened to be made, before its first sync)
        index = IndexFolder.open(self.path, map_vectors=not self._read_whole, upgrade=True)
        try:
            check_model(index.manifest, index.folder, model=self._model)
            _ = index.vectors  # FAISS and the vector file load (or rebuild) now, while an encoder may still be loading
            encoder = self.encoder
            check_model(index.manifest, index.folder, encoder_id=encoder.id)
            fresh = Searcher(index, encoder, self.cache_dir)
        except BaseException:
            index.close()
            raise
        old, self._searcher, self._stamp = self._searcher, fresh, stamp
        self._recent.clear()
        if old is not None:
            log.info("reopened %s (%s vectors)", printable(str(self.path)), fresh.index.vectors.ntotal)
            old.close()  # safe with searches in flight: their reads finish on their own connection

    def _keep_calibration(self, searcher: Searcher) -> None:
        """A calibration the search had to compute is kept for the next one (replaced atomically,
        tagged with its generation: a concurrent writer is never misled)."""
        if searcher.calibration_computed and os.access(self.path, os.W_OK):
            try:
                searcher.calibration.write(self.path)
            except OSError:
                pass  # a read-only place after all: computed again next time
            searcher.calibration_computed = False

    # --- what it holds --------------------------------------------------------------------------
    def status(self, errors: bool = False) -> dict:
        """Counts by kind, model, index type, size on disk, the last run; with `errors`, the files
        that failed, were skipped or indexed in part, and why. (An index not made yet: all zero.)"""
        if not self.exists:
            return empty_status(self.path, self.model, errors)
        return index_status(self.path, with_errors=errors, upgrade=True)

    def files_match(self, glob: str, glob_case: bool = False) -> bool:
        """Whether any indexed file's path matches `glob` (as search's glob does)."""
        searcher = self._current()
        return searcher is not None and not searcher.glob_matches_no_file(Filters(path_glob=glob, glob_case=glob_case))

    def segments_of(self, path: str | Path) -> list[SegmentRecord] | None:
        """The stored segments of one indexed file, in order (None when it is not in the index)."""
        with IndexFolder.open(self.path, upgrade=True) as index:
            return index.catalog.segments_of(str(Path(path).expanduser().absolute()))

    def item(self, item_id: int) -> tuple[str, str, int, int, str | None] | None:
        """(path, kind, size, mtime_ns, content hash) of an indexed file by its id (a Hit's item_id)."""
        searcher = self._current()
        return None if searcher is None else searcher.index.catalog.item(item_id)

    def duplicates(self, kind: str = "any", threshold: float | None = None, near: bool = True) -> list[DuplicateGroup]:
        """Groups of duplicate files, largest first, from what the index stores (nothing is
        re-embedded, nothing deleted): files of one content hash, and near-duplicates (photos
        resized, re-encoded, cropped, brightened, converted; texts nearly the same) found with the
        stored vectors and confirmed with a perceptual fingerprint (photos) or shared wording
        (texts). kind: any, image, text, audio, video; threshold: how alike near-duplicates must
        be, 0-1 (None: the measured default; lower finds burst shots and look-alikes too);
        near=False: exact copies only. Each group names the file to keep (largest resolution,
        then oldest, then shortest path)."""
        if not self.exists:
            return []
        with IndexFolder.open(self.path, upgrade=True) as index:
            return find_duplicates(
                index.catalog, index.manifest.dim, kind=kind, threshold=threshold, near=near, folder=self.path
            )

    def roots(self) -> list[str]:
        """The folders the index was synced with."""
        manifest = self.manifest()
        return list(manifest.roots) if manifest else []

    # --- keeping it sound -----------------------------------------------------------------------
    def verify(self) -> Report:
        """Whether the catalog, the vector index, the manifest and the files on disk agree."""
        return verify(self.path)

    def repair(self) -> Report:
        """Make them agree again (salvage the catalog, rewrite the manifest, rebuild the vectors,
        re-index what was lost or changed); returns what was found and done."""
        return self._write(lambda: repair(self.path, self._loaded_encoder(), cache_dir=self.cache_dir))
