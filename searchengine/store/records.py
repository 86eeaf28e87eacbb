"""What the catalog takes in (drafts) and hands back (records)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np


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
    page: int | None = None  # documents: the PDF page
    source: str | None = None  # passages: "text" (the file's own words) or "ocr" (read in a picture)
    boxes: tuple | None = None  # OCR: the line boxes the passage was read from (pixels of the picture)


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


SCHEMA_VERSION = 6  # PRAGMA user_version of a current catalog; migrations.py holds the steps
GENERATION_KEY = "generation"
MAX_ID = 2**63 - 1  # SQLite's largest integer: ids beyond it cannot name a row


def valid_id(value: int) -> bool:
    return 0 < int(value) <= MAX_ID


@dataclass(frozen=True)
class KnownFile:
    """What the catalog remembers of a file, enough to tell whether it changed."""

    id: int
    path: str
    size: int
    mtime_ns: int
    content_hash: str | None
    status: str


@dataclass(frozen=True)
class RunRecord:
    """One recorded run (an index or repair) and what it changed."""

    root: str
    model: str
    started_at: datetime
    finished_at: datetime | None
    added: int
    updated: int
    unchanged: int
    renamed: int
    removed: int
    failed: int


@dataclass(frozen=True)
class BatchResult:
    """What one committed batch changed in the catalog, for the vector index to follow."""

    added_ids: np.ndarray  # segment ids whose vectors must be added to the index
    added_vectors: np.ndarray
    removed_ids: np.ndarray  # segment ids whose vectors must leave the index
    generation: int


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
    page: int | None = None  # documents: the PDF page the passage is on
    source: str | None = None  # passages: "text" or "ocr"

    @property
    def date(self) -> datetime:
        """The item's date for filters: when a photo was taken, else the file's modification time (local)."""
        return self.taken_at or datetime.fromtimestamp(self.mtime_ns / 1e9)
