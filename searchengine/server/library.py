"""The index as the server sees it: a Searcher that follows the index as another process updates it,
and files handed out by catalog id only, never outside the folders the index was built from.

The index is opened read-only. Each request compares manifest.json's stat with the one it was
opened at (an indexer rewrites the manifest atomically when it saves); when it changed, one
request reopens the index while the others keep using the previous one, so a long index run never
blocks searching.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from searchengine.encoders.base import Encoder
from searchengine.errors import SearchEngineError
from searchengine.store.folder import IndexFolder, check_model
from searchengine.store.manifest import MANIFEST
from searchengine.hits import Hit
from searchengine.query import Filters, Query, Searcher

log = logging.getLogger(__name__)

RECENT_QUERIES = 256


class ItemNotFound(SearchEngineError):
    """No indexed file has that id, or it is gone from disk."""


class FileRefused(SearchEngineError):
    """The indexed path leads outside the indexed folders (a symlink pointing elsewhere)."""


@dataclass(frozen=True)
class ServedFile:
    item_id: int
    path: Path  # resolved: symlinks followed, checked to lie under an indexed root
    kind: str
    size: int
    mtime_ns: int
    content_hash: str | None = None


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


class Library:
    """An open index plus its encoder, shared by all requests (thread-safe)."""

    def __init__(self, index_dir: Path, encoder: Encoder):
        self.index_dir = Path(index_dir).expanduser().resolve()
        self.encoder = encoder
        self._swap_lock = threading.Lock()
        # one query embedding at a time: torch spreads one over the cores, and fast tokenizers are not thread-safe
        self._embed_lock = threading.Lock()
        self._recent: OrderedDict[Query, tuple] = OrderedDict()  # query vectors of the latest word queries
        self._recent_lock = threading.Lock()
        self._stamp = _stamp(self.index_dir / MANIFEST)
        self._searcher = self._open()
        self._roots = _real_roots(self._searcher.index.manifest.roots)
        _warm_up(encoder)

    @classmethod
    def open(cls, index_dir: Path, device: str = "auto", encoder: Encoder | None = None) -> "Library":
        """Open the index; load its encoder unless one is given (it must be the one that built it)."""
        if encoder is None:
            from searchengine.config import cache_dir

            searcher = Searcher.open(index_dir, device, cache_dir=cache_dir())
            encoder = searcher.encoder
            searcher.close()
        return cls(index_dir, encoder)

    def close(self) -> None:
        self._searcher.close()

    def _open(self) -> Searcher:
        index = IndexFolder.open(self.index_dir, map_vectors=False, upgrade=True)  # read whole: safe from damage under it
        try:
            check_model(index.manifest, index.folder, encoder_id=self.encoder.id)
            searcher = Searcher(index, self.encoder)
            searcher.index.vectors  # load (or rebuild) now, not in the first search
            searcher.calibration
        except BaseException:
            index.close()
            raise
        return searcher

    # --- following the index -------------------------------------------------------------------
    def searcher(self) -> Searcher:
        """The current searcher; reopened (by one request, others carry on) when the manifest changed."""
        stamp = _stamp(self.index_dir / MANIFEST)
        if stamp is not None and stamp != self._stamp and self._swap_lock.acquire(blocking=False):
            try:
                if stamp != self._stamp:
                    self._swap(stamp)
            finally:
                self._swap_lock.release()
        return self._searcher

    def _swap(self, stamp) -> None:
        try:
            fresh = self._open()
        except SearchEngineError as exc:
            log.warning("index %s changed but cannot be reopened (%s): still serving the previous state",
                        self.index_dir, exc)
            self._stamp = stamp  # do not retry on every request; the next save changes the stamp again
            return
        old, self._searcher = self._searcher, fresh
        self._roots = _real_roots(fresh.index.manifest.roots)
        self._stamp = stamp
        log.info("reopened %s (%s vectors)", self.index_dir, fresh.index.vectors.ntotal)
        old.close()  # safe with queries in flight: their connections close when they are returned

    # --- searching -------------------------------------------------------------------------------
    def search(self, query: Query, filters: Filters, k: int) -> list[Hit]:
        searcher = self.searcher()
        vector, query_kind = self._embed(searcher, query)
        exclude = {query.like} if query.like is not None else set()
        return searcher.search_vector(vector, query_kind, filters, k, exclude=exclude)

    def _embed(self, searcher: Searcher, query: Query):
        """The query's vector; words alone are remembered, as the page asks again on each filter change."""
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
                if len(self._recent) > RECENT_QUERIES:
                    self._recent.popitem(last=False)
        return embedded

    # --- files -----------------------------------------------------------------------------------
    def file(self, item_id: int) -> ServedFile:
        """The indexed file with this catalog id, if it is still on disk under an indexed root."""
        found = self.searcher().index.catalog.item(item_id)
        if found is None:
            raise ItemNotFound(f"no item {item_id} in this index")
        path, kind, size, mtime_ns, content_hash = found
        real = Path(os.path.realpath(path))
        if not any(real.is_relative_to(root) for root in self._roots):
            raise FileRefused(f"item {item_id} leads outside the indexed folders: not served")
        if not real.is_file():
            raise ItemNotFound("item {item_id} is gone from disk: {@reindex}", item_id=item_id)
        return ServedFile(item_id, real, kind, size, mtime_ns, content_hash)


def _warm_up(encoder: Encoder) -> None:
    """Load both towers now (lazy otherwise): the first query should be as fast as the others."""
    from PIL import Image

    encoder.embed_texts(["warm up"])
    encoder.embed_images([Image.new("RGB", (64, 64), "white")])


def _real_roots(roots: list) -> tuple[Path, ...]:
    return tuple(Path(os.path.realpath(r)) for r in roots)
