"""The catalog opened for searching, on the standard library's sqlite3.

A search reads three things from the catalog: its generation, the records of the hits and, for
approximate indexes or --like, exact vectors. Importing SQLAlchemy costs more than all of a cold
query's own work (0.4-0.6 s here), so those reads go through sqlite3 with the same SQL as the full
Catalog (records.py). Anything else asked of a reader (status counts, calibration samples) opens
the full Catalog, read-only, on first use and is served by it.

A reader never writes: the file is opened read-only (a missing catalog is an error, never a new
empty one), and in a folder nobody can write to, immutable (no locks, no -shm file to create).
Only a catalog of an older schema is upgraded once, where the folder can be written.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Sequence
from urllib.parse import quote

import numpy as np

from searchengine.errors import CatalogMissing, IndexFormatError
from searchengine.paths import printable
from searchengine.store.records import (
    SCHEMA_VERSION, SegmentRecord, read_generation, read_segment_records, read_vectors,
)


def damaged(path: Path, reason) -> IndexFormatError:
    return IndexFormatError("catalog {path} is damaged ({reason}): {@repair} (it keeps what is readable and re-indexes "
                            "the rest)", path=printable(str(path)), reason=reason)


def missing(path: Path) -> CatalogMissing:
    return CatalogMissing("catalog {path} is missing: {@repair} to re-index the folders this index was built from",
                          path=printable(str(path)))


def writable_folder(folder: Path) -> bool:
    return os.access(folder, os.W_OK)


def connect(path: Path, read_only: bool) -> sqlite3.Connection:
    """A sqlite3 connection to the catalog file. Read-only: never creates the file; immutable when
    its folder cannot be written and no write-ahead log is left (then nothing can be writing it:
    a writer needs the folder for its log and lock), so no -shm file has to be made."""
    if not read_only:
        return sqlite3.connect(os.fsencode(path), check_same_thread=False)
    uri = "file:" + quote(os.fsencode(Path(path).absolute())) + "?mode=ro"
    if not writable_folder(path.parent) and not Path(f"{path}-wal").exists():
        uri += "&immutable=1"
    return sqlite3.connect(uri, uri=True, check_same_thread=False)


def too_new(path: Path, version: int) -> IndexFormatError:
    return IndexFormatError(
        f"catalog {printable(str(path))} has schema version {version}, newer than this searchengine understands "
        f"({SCHEMA_VERSION}): upgrade searchengine (pip install -U searchengine)"
    )


class CatalogReader:
    """Read-only catalog: search reads on sqlite3, everything else through the full Catalog."""

    def __init__(self, path: Path):
        self.path = path
        self._full = None
        self._lock = threading.Lock()  # one connection, shared by a server's threads
        if not path.is_file():
            raise missing(path)
        conn, version = self._connect()
        if version != SCHEMA_VERSION:
            conn.close()
            if version > SCHEMA_VERSION:
                raise too_new(path, version)
            self._upgrade(version)
            conn, _ = self._connect()
        self._conn: sqlite3.Connection | None = conn

    def _connect(self) -> tuple[sqlite3.Connection, int]:
        """A read-only connection and the schema version (reading it tells a damaged file)."""
        try:
            conn = connect(self.path, read_only=True)
            conn.isolation_level = None
            conn.execute("PRAGMA busy_timeout=10000")
            return conn, conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise damaged(self.path, exc) from exc

    def _upgrade(self, version: int) -> None:
        """An older catalog is migrated once by the full Catalog, which needs to write."""
        if not writable_folder(self.path.parent):
            raise IndexFormatError(
                f"catalog {printable(str(self.path))} has schema version {version}, older than this searchengine's "
                f"({SCHEMA_VERSION}), and its folder is read-only: run `searchengine status` on it once where it "
                "can be written, to upgrade it")
        from searchengine.store.catalog import Catalog

        Catalog(self.path).close()

    def _open_full(self):
        if self._full is None:
            from searchengine.store.catalog import Catalog

            self._full = Catalog(self.path, read_only=True)
        return self._full

    def _read(self, fn, *args):
        with self._lock:
            try:
                return fn(self._conn, *args)
            except sqlite3.DatabaseError as exc:
                raise damaged(self.path, exc) from exc

    def generation(self) -> int:
        if self._conn is None:
            return self._open_full().generation()
        return self._read(read_generation)

    def segment_records(self, ids: Sequence[int]) -> dict[int, SegmentRecord]:
        if self._conn is None:
            return self._open_full().segment_records(ids)
        return self._read(read_segment_records, ids)

    def vectors_of(self, ids: Sequence[int], dim: int) -> np.ndarray:
        if self._conn is None:
            return self._open_full().vectors_of(ids, dim)
        return self._read(read_vectors, ids, dim)

    def __getattr__(self, name: str):
        # Not a search read: the full Catalog answers (opened once, then kept; it reports a
        # damaged file with the same one-line error as the search reads).
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._open_full(), name)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._full is not None:
            self._full.close()
            self._full = None
