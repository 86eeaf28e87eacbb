"""What the catalog takes in (drafts) and hands back to searches, and the plain SQL that reads it.

These reads run on a DB-API sqlite3 connection, so the read-only catalog (reader.py) answers them
without importing SQLAlchemy, and the full Catalog shares the very same statements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Sequence

import numpy as np

from searchengine.kinds import segment_group
from searchengine.paths import from_catalog


@dataclass
class SegmentDraft:
    """A segment ready to be stored: its place in the item, its text if any, its vector."""

    ordinal: int
    vector: np.ndarray
    text: str | None = None
    char_start: int | None = None
    char_end: int | None = None
    t_start: float | None = None
    t_end: float | None = None


@dataclass
class ItemDraft:
    """A file whose segments were embedded (or that failed, with `error` set)."""

    path: str
    kind: str
    size: int
    mtime_ns: int
    content_hash: str | None
    segments: list[SegmentDraft] = field(default_factory=list)
    error: str | None = None
    taken_at: datetime | None = None  # photos: EXIF capture date
    note: str | None = None  # indexed with a caveat, e.g. a long text cut at its first MiB


SCHEMA_VERSION = 4  # PRAGMA user_version of a current catalog; migrations.py holds the steps
GENERATION_KEY = "generation"
CHUNK = 500  # ids per IN (...) list


@dataclass(frozen=True)
class SegmentRecord:
    """A stored segment joined with its item, as search results need it."""

    segment_id: int
    item_id: int
    path: str
    kind: str
    ordinal: int
    text: str | None
    char_start: int | None
    char_end: int | None
    t_start: float | None
    t_end: float | None
    mtime_ns: int
    taken_at: datetime | None = None  # photos: EXIF capture date

    @property
    def date(self) -> datetime:
        """The item's date for filters: when a photo was taken, else the file's modification time (local)."""
        return self.taken_at or datetime.fromtimestamp(self.mtime_ns / 1e9)


def _rows(conn, sql: str, params: Sequence = ()) -> list[tuple]:
    cursor = conn.cursor()
    try:
        cursor.execute(sql, tuple(params))
        return cursor.fetchall()
    finally:
        cursor.close()


def read_generation(conn) -> int:
    rows = _rows(conn, "SELECT value FROM meta WHERE key = ?", (GENERATION_KEY,))
    return int(rows[0][0]) if rows else 0


MAX_ID = 2**63 - 1  # SQLite's largest integer: ids beyond it cannot name a row


def valid_id(value: int) -> bool:
    return 0 < int(value) <= MAX_ID


def _chunks(ids: Sequence[int]):
    ids = [int(i) for i in ids if valid_id(i)]
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        yield part, ",".join("?" * len(part))


def read_segment_records(conn, ids: Sequence[int]) -> dict[int, SegmentRecord]:
    """The records of segment ids (unknown ids are left out); no vector blobs are read."""
    out: dict[int, SegmentRecord] = {}
    for part, marks in _chunks(ids):
        for row in _rows(conn, "SELECT s.id, s.item_id, i.path, i.kind, s.ordinal, s.text, s.char_start, s.char_end, "
                               "s.t_start, s.t_end, i.mtime_ns, i.taken_at FROM segments s JOIN items i "
                               f"ON s.item_id = i.id WHERE s.id IN ({marks})", part):
            taken = row[11]
            if isinstance(taken, str):  # SQLAlchemy's DateTime column: ISO text
                taken = datetime.fromisoformat(taken)
            out[row[0]] = SegmentRecord(*row[:2], from_catalog(row[2]), *row[3:11], taken)
    return out


def read_segment_groups(conn) -> dict[str, np.ndarray]:
    """Every segment id, sorted, by segment_group."""
    groups: dict[str, list[int]] = {}
    for sid, kind, has_text in _rows(conn, "SELECT s.id, i.kind, s.text IS NOT NULL FROM segments s "
                                           "JOIN items i ON s.item_id = i.id ORDER BY s.id"):
        groups.setdefault(segment_group(kind, bool(has_text)), []).append(sid)
    return {group: np.asarray(ids, dtype=np.int64) for group, ids in groups.items()}


def read_vectors(conn, ids: Sequence[int], dim: int) -> np.ndarray:
    """The stored vectors of segment ids, in the order given (every id must exist)."""
    blobs: dict[int, bytes] = {}
    for part, marks in _chunks(ids):
        blobs.update(_rows(conn, f"SELECT id, vector FROM segments WHERE id IN ({marks})", part))
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    return np.stack([np.frombuffer(blobs[int(i)], dtype=np.float32, count=dim) for i in ids])
