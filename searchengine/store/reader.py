"""The catalog opened for searching, on the standard library's sqlite3.

A search reads three things from the catalog: its generation, the records of the hits and, for
approximate indexes or --like, exact vectors. Importing SQLAlchemy costs more than all of a cold
query's own work (0.4-0.6 s here), so those reads go through sqlite3 with the same SQL as the full
Catalog (records.py). Anything else asked of a reader (status counts, calibration samples, an
older schema that needs migrating) opens the full Catalog on first use and is served by it.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from searchengine.errors import IndexFormatError
from searchengine.store.records import (
    SCHEMA_VERSION, SegmentRecord, read_generation, read_segment_records, read_vectors,
)


def damaged(path: Path, reason) -> IndexFormatError:
    return IndexFormatError(
        f"catalog {path} is damaged ({reason}): run `searchengine repair`, or re-index into a new --index folder"
    )


def too_new(path: Path, version: int) -> IndexFormatError:
    return IndexFormatError(
        f"catalog {path} has schema version {version}, newer than this searchengine understands "
        f"({SCHEMA_VERSION}): upgrade searchengine (pip install -U searchengine)"
    )


class CatalogReader:
    """Read-only catalog: search reads on sqlite3, everything else through the full Catalog."""

    def __init__(self, path: Path):
        self.path = path
        self._full = None
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # one connection, shared by a server's threads
        if not path.is_file():
            self._open_full()  # creates the schema, as the full Catalog always has
            return
        try:
            conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA busy_timeout=10000")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise damaged(path, exc) from exc
        if version > SCHEMA_VERSION:
            conn.close()
            raise too_new(path, version)
        if version < SCHEMA_VERSION:  # an older catalog: the full Catalog migrates it
            conn.close()
            self._open_full()
            return
        self._conn = conn

    def _open_full(self):
        if self._full is None:
            from searchengine.store.catalog import Catalog

            self._full = Catalog(self.path)
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
        # Not a search read: the full Catalog answers (opened once, then kept).
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
