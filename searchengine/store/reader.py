"""Reading the catalog: every read, in plain SQL on the standard library's sqlite3.

`CatalogReader` is the catalog opened for reading, and the one place that reads it: the writer
(catalog.py) inherits these reads and runs them on its own connection. Importing SQLAlchemy costs
more than all of a cold query's own work (0.4-0.6 s here), so nothing here needs it.

A reader never writes: the file is opened read-only (a missing catalog is an error, never a new
empty one), in a folder nobody can write to immutable (no locks, no -shm file to create), and a
catalog of another schema version is refused (an older one with `CatalogOutdated`: the writer
upgrades it, see folder.IndexFolder.upgrade).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import numpy as np

from searchengine.errors import CatalogMissing, IndexFormatError
from searchengine.kinds import calibration_kind, segment_group
from searchengine.paths import from_catalog, printable, to_catalog
from searchengine.store.records import (
    GENERATION_KEY,
    SCHEMA_VERSION,
    KnownFile,
    RunRecord,
    SegmentRecord,
    valid_id,
)
from searchengine.store.words import FILE_WORDS, SEGMENT_WORDS, VOCAB

CHUNK = 500  # ids per IN (...) list
_KNOWN = "SELECT id, path, size, mtime_ns, content_hash, status FROM items"
_RECORD = (
    "SELECT s.id, s.item_id, i.path, i.kind, s.ordinal, s.text, s.char_start, s.char_end, s.t_start, s.t_end, "
    "i.mtime_ns, i.taken_at, s.page, s.source FROM segments s JOIN items i ON s.item_id = i.id"
)


class CatalogOutdated(IndexFormatError):
    """The catalog has an older schema: only a writer may upgrade it (`path`, `version`, `writable`)."""


def damaged(path: Path, reason) -> IndexFormatError:
    return IndexFormatError(
        "catalog {path} is damaged ({reason}): {@repair} (it keeps what is readable and re-indexes the rest)",
        path=printable(str(path)),
        reason=reason,
    )


def missing(path: Path) -> CatalogMissing:
    return CatalogMissing(
        "catalog {path} is missing: {@repair} to re-index the folders this index was built from",
        path=printable(str(path)),
    )


def too_new(path: Path, version: int) -> IndexFormatError:
    return IndexFormatError(
        "catalog {path} has schema version {version}, newer than this searchengine understands "
        "({known}): upgrade searchengine (pip install -U searchengine)",
        path=printable(str(path)),
        version=version,
        known=SCHEMA_VERSION,
    )


def outdated(path: Path, version: int) -> CatalogOutdated:
    writable = writable_folder(path.parent)
    where = "" if writable else ", and its folder is read-only: open it once where it can be written, to upgrade it"
    return CatalogOutdated(
        "catalog {path} has schema version {version}, older than this searchengine's ({known})" + where,
        path=printable(str(path)),
        version=version,
        known=SCHEMA_VERSION,
        writable=writable,
    )


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


def path_prefix(root: Path) -> str:
    """The stored form of every path under `root` starts with this."""
    return to_catalog(str(root).rstrip(os.sep) + os.sep)


def _marks(ids: Sequence[int]) -> Iterator[tuple[list[int], str]]:
    ids = [int(i) for i in ids if valid_id(i)]
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        yield part, ",".join("?" * len(part))


def _when(value) -> datetime | None:
    """A DateTime column as SQLAlchemy writes it (ISO text) read back."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _vectors(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dim)


class CatalogReader:
    """The catalog, read-only: one sqlite3 connection, shared by a server's threads."""

    def __init__(self, path: Path, any_schema: bool = False):
        """any_schema: open a catalog of an older or newer schema too, for reads that every schema
        answers alike (recorded_runs, stored_dim, integrity_problems)."""
        self.path = Path(path)
        self._lock = threading.Lock()
        if not self.path.is_file():
            raise missing(self.path)
        self._conn: sqlite3.Connection | None = None
        try:
            conn = connect(self.path, read_only=True)
            conn.isolation_level = None
            conn.execute("PRAGMA busy_timeout=10000")
            version = conn.execute("PRAGMA user_version").fetchone()[0]  # reading it tells a damaged file
        except sqlite3.DatabaseError as exc:
            raise damaged(self.path, exc) from exc
        if version != SCHEMA_VERSION and not any_schema:
            conn.close()
            raise too_new(self.path, version) if version > SCHEMA_VERSION else outdated(self.path, version)
        self._conn = conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # --- how a read runs -------------------------------------------------------------------------
    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._conn

    def _failed(self, exc: sqlite3.DatabaseError) -> Exception:
        """The library's error for a read that SQLite failed."""
        return damaged(self.path, exc)

    def _rows(self, sql: str, params: Sequence = ()) -> list[tuple]:
        try:
            with self._connection() as conn:
                cursor = conn.cursor()
                try:
                    cursor.execute(sql, tuple(params))
                    return cursor.fetchall()
                finally:
                    cursor.close()
        except sqlite3.DatabaseError as exc:
            raise self._failed(exc) from exc

    def _scalar(self, sql: str, params: Sequence = ()):
        rows = self._rows(sql, params)
        return rows[0][0] if rows else None

    # --- reads -------------------------------------------------------------------------------------
    def generation(self) -> int:
        value = self._scalar("SELECT value FROM meta WHERE key = ?", (GENERATION_KEY,))
        return int(value) if value is not None else 0

    def segment_records(self, ids: Sequence[int]) -> dict[int, SegmentRecord]:
        """The records of segment ids (unknown ids are left out); no vector blobs are read."""
        out: dict[int, SegmentRecord] = {}
        for part, marks in _marks(ids):
            for row in self._rows(f"{_RECORD} WHERE s.id IN ({marks})", part):
                out[row[0]] = SegmentRecord(*row[:2], from_catalog(row[2]), *row[3:11], _when(row[11]), *row[12:14])
        return out

    def segments_of(self, path: str) -> list[SegmentRecord] | None:
        """The segments of one file in order, or None when the file is not in the catalog."""
        if self._scalar("SELECT id FROM items WHERE path = ?", (to_catalog(path),)) is None:
            return None
        rows = self._rows(f"{_RECORD} WHERE i.path = ? ORDER BY s.ordinal", (to_catalog(path),))
        return [SegmentRecord(*row[:2], from_catalog(row[2]), *row[3:11], _when(row[11]), *row[12:14]) for row in rows]

    def vectors_of(self, ids: Sequence[int], dim: int) -> np.ndarray:
        """The stored vectors of segment ids, in the order given (every id must exist)."""
        blobs: dict[int, bytes] = {}
        for part, marks in _marks(ids):
            blobs.update(self._rows(f"SELECT id, vector FROM segments WHERE id IN ({marks})", part))
        if not blobs:
            return np.zeros((0, dim), dtype=np.float32)
        return np.stack([np.frombuffer(blobs[int(i)], dtype=np.float32, count=dim) for i in ids])

    def iter_vectors(self, dim: int, chunk: int = 10_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All stored (segment ids, vectors), in chunks, ordered by id."""
        last = 0
        while True:
            rows = self._rows("SELECT id, vector FROM segments WHERE id > ? ORDER BY id LIMIT ?", (last, chunk))
            if not rows:
                return
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            yield ids, _vectors([r[1] for r in rows], dim)
            last = int(ids[-1])

    def segment_ids(self) -> np.ndarray:
        return np.asarray([r[0] for r in self._rows("SELECT id FROM segments ORDER BY id")], dtype=np.int64)

    def text_segment_ids(self) -> np.ndarray:
        """Segment ids of text vectors (passages, transcripts)."""
        rows = self._rows("SELECT id FROM segments WHERE text IS NOT NULL ORDER BY id")
        return np.asarray([r[0] for r in rows], dtype=np.int64)

    def segment_groups(self) -> dict[str, np.ndarray]:
        """Every segment id, sorted, by kinds.segment_group."""
        groups: dict[str, list[int]] = {}
        for sid, kind, has_text in self._rows(
            "SELECT s.id, i.kind, s.text IS NOT NULL FROM segments s JOIN items i ON s.item_id = i.id ORDER BY s.id"
        ):
            groups.setdefault(segment_group(kind, bool(has_text)), []).append(sid)
        return {group: np.asarray(ids, dtype=np.int64) for group, ids in groups.items()}

    def sample_by_kind(self, dim: int, per_kind: int, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Up to `per_kind` (item ids, vectors) of each calibration kind's segments, a seeded random sample."""
        rng = np.random.default_rng(seed)
        by_kind: dict[str, list[int]] = {}
        for kind, sid, has_text in self._rows(
            "SELECT i.kind, s.id, s.text IS NOT NULL FROM items i JOIN segments s ON i.id = s.item_id ORDER BY s.id"
        ):
            by_kind.setdefault(calibration_kind(kind, bool(has_text)), []).append(sid)
        out = {}
        for kind, ids in by_kind.items():
            chosen = sorted(rng.choice(ids, size=min(per_kind, len(ids)), replace=False).tolist())
            picked = [
                row
                for part, marks in _marks(chosen)
                for row in self._rows(
                    f"SELECT id, item_id, vector FROM segments WHERE id IN ({marks}) ORDER BY id", part
                )
            ]
            out[kind] = (np.array([r[1] for r in picked], dtype=np.int64), _vectors([r[2] for r in picked], dim))
        return out

    def files_under(self, root: Path) -> dict[str, KnownFile]:
        prefix = path_prefix(root)
        rows = self._rows(f"{_KNOWN} WHERE substr(path, 1, ?) = ?", (len(prefix), prefix))
        return {file.path: file for file in map(_known, rows)}

    def files_at(self, paths: Sequence[str]) -> dict[str, KnownFile]:
        """What the catalog has at these paths (paths it does not know are left out)."""
        stored = sorted({to_catalog(p) for p in paths})
        out: dict[str, KnownFile] = {}
        for start in range(0, len(stored), CHUNK):
            part = stored[start : start + CHUNK]
            out.update(
                (f.path, f)
                for f in map(_known, self._rows(f"{_KNOWN} WHERE path IN ({','.join('?' * len(part))})", part))
            )
        return out

    def all_files(self) -> dict[str, KnownFile]:
        return {file.path: file for file in map(_known, self._rows(_KNOWN))}

    def files_with_hashes(self, hashes: Iterable[str]) -> dict[str, list[KnownFile]]:
        found: dict[str, list[KnownFile]] = {}
        hashes = sorted(set(hashes))
        for start in range(0, len(hashes), CHUNK):
            part = hashes[start : start + CHUNK]
            for row in self._rows(
                f"{_KNOWN} WHERE content_hash IN ({','.join('?' * len(part))}) AND status = 'ok'", part
            ):
                found.setdefault(row[4], []).append(_known(row))
        return found

    def ok_items(self, kinds: Sequence[str]) -> list[tuple[int, str, str, int, int, str | None, datetime | None]]:
        """(id, path, kind, size, mtime_ns, content hash, taken_at) of every indexed file of these kinds."""
        marks = ",".join("?" * len(kinds))
        rows = self._rows(
            f"SELECT id, path, kind, size, mtime_ns, content_hash, taken_at FROM items "
            f"WHERE status = 'ok' AND kind IN ({marks}) ORDER BY id",
            tuple(kinds),
        )
        return [(r[0], from_catalog(r[1]), *r[2:6], _when(r[6])) for r in rows]

    def picture_vectors(self, kind: str, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(item ids, vectors): each indexed file's first picture vector (a photo's own, not its
        text's), ordered by item id."""
        rows = self._rows(
            "SELECT s.item_id, s.vector FROM segments s JOIN items i ON s.item_id = i.id "
            "WHERE i.kind = ? AND i.status = 'ok' AND s.text IS NULL ORDER BY s.item_id, s.ordinal",
            (kind,),
        )
        first: dict[int, bytes] = {}
        for item_id, blob in rows:
            first.setdefault(item_id, blob)
        ids = np.fromiter(first, dtype=np.int64, count=len(first))
        return ids, _vectors(list(first.values()), dim)

    def passages(self, kind: str, dim: int) -> tuple[np.ndarray, list[str], np.ndarray]:
        """(item ids, texts, vectors) of every stored passage of files of a kind, in file order."""
        rows = self._rows(
            "SELECT s.item_id, s.text, s.vector FROM segments s JOIN items i ON s.item_id = i.id "
            "WHERE i.kind = ? AND i.status = 'ok' AND s.text IS NOT NULL ORDER BY s.item_id, s.ordinal",
            (kind,),
        )
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        return ids, [r[1] for r in rows], _vectors([r[2] for r in rows], dim)

    def item(self, item_id: int) -> tuple[str, str, int, int, str | None] | None:
        """(path, kind, size, mtime_ns, content hash) of one indexed file, or None when no item has that id."""
        if not valid_id(item_id):
            return None
        rows = self._rows(
            "SELECT path, kind, size, mtime_ns, content_hash FROM items WHERE id = ? AND status = 'ok'", (int(item_id),)
        )
        return None if not rows else (from_catalog(rows[0][0]), *rows[0][1:])

    def counts(self) -> dict:
        by_kind = dict(self._rows("SELECT kind, count(*) FROM items WHERE status = 'ok' GROUP BY kind"))
        segments = dict(
            self._rows("SELECT i.kind, count(s.id) FROM items i JOIN segments s ON i.id = s.item_id GROUP BY i.kind")
        )
        return {
            "items": sum(by_kind.values()),
            "segments": sum(segments.values()),
            "failed": self._scalar("SELECT count(*) FROM items WHERE status = 'failed'") or 0,
            "skipped": self._scalar("SELECT count(*) FROM skipped") or 0,
            "indexed_in_part": self._scalar("SELECT count(*) FROM items WHERE note IS NOT NULL") or 0,
            "by_kind": {k: {"items": by_kind.get(k, 0), "segments": segments.get(k, 0)} for k in sorted(by_kind)},
        }

    def segment_count(self) -> int:
        return self._scalar("SELECT count(*) FROM segments") or 0

    def stored_dim(self) -> int | None:
        """The dimension of the stored vectors (None when there are none)."""
        size = self._scalar("SELECT length(vector) FROM segments LIMIT 1")
        return None if size is None else size // 4

    def bad_vector_items(self, dim: int) -> list[str]:
        """Paths of files with a stored vector of the wrong size (re-embedding fixes them)."""
        rows = self._rows(
            "SELECT DISTINCT i.path FROM items i JOIN segments s ON i.id = s.item_id WHERE length(s.vector) != ?",
            (dim * 4,),
        )
        return [from_catalog(r[0]) for r in rows]

    def failed_files(self) -> list[tuple[str, str]]:
        rows = self._rows("SELECT path, error FROM items WHERE status = 'failed' ORDER BY path")
        return [(from_catalog(p), e or "") for p, e in rows]

    def skipped_files(self) -> list[tuple[str, str]]:
        """(path, reason) of entries the last runs left out on purpose."""
        return [(from_catalog(p), r) for p, r in self._rows("SELECT path, reason FROM skipped ORDER BY path")]

    def noted_files(self) -> list[tuple[str, str]]:
        """(path, note) of files indexed with a caveat (in part)."""
        rows = self._rows("SELECT path, note FROM items WHERE note IS NOT NULL ORDER BY path")
        return [(from_catalog(p), n) for p, n in rows]

    def recorded_runs(self) -> list[tuple[str, str]]:
        """(root, model) of every run, newest first: what built this catalog, should the manifest be
        lost (none in a catalog not made yet: an empty file)."""
        if not self._rows("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'runs'"):
            return []
        return [(from_catalog(r), m) for r, m in self._rows("SELECT root, model FROM runs ORDER BY id DESC")]

    def last_run(self) -> RunRecord | None:
        rows = self._rows(
            "SELECT root, model, started_at, finished_at, added, updated, unchanged, renamed, removed, "
            "failed FROM runs ORDER BY id DESC LIMIT 1"
        )
        if not rows:
            return None
        root, model, started, finished, *counts = rows[0]
        return RunRecord(from_catalog(root), model, _when(started), _when(finished), *counts)

    # --- the word index (store/words.py) -----------------------------------------------------------
    def has_words(self) -> bool:
        """Whether the catalog has a word index (one made before it, read where it cannot be
        upgraded, has none: searches then go by meaning alone)."""
        rows = self._rows("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (SEGMENT_WORDS,))
        return bool(rows)

    def word_index_problems(self) -> list[str]:
        """Where the word index and the catalog disagree: texts or files it does not hold, or holds
        and the catalog does not (SQLite's integrity check reads only its pages, not its content;
        FTS5's own check needs a writable connection)."""
        if not self.has_words():
            return []
        (missing_texts, extra_texts, missing_files, extra_files), *_ = self._rows(
            f"""SELECT
            (SELECT count(*) FROM segments s WHERE s.text IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM {SEGMENT_WORDS}_docsize d WHERE d.id = s.id)),
            (SELECT count(*) FROM {SEGMENT_WORDS}_docsize d
                WHERE NOT EXISTS (SELECT 1 FROM segments s WHERE s.id = d.id AND s.text IS NOT NULL)),
            (SELECT count(*) FROM items i WHERE NOT EXISTS (SELECT 1 FROM {FILE_WORDS} f WHERE f.rowid = i.id)),
            (SELECT count(*) FROM {FILE_WORDS} f WHERE NOT EXISTS (SELECT 1 FROM items i WHERE i.id = f.rowid))"""
        )
        problems = []
        if missing_texts or extra_texts:
            problems.append(f"the word index lacks {missing_texts} texts and holds {extra_texts} the catalog does not")
        if missing_files or extra_files:
            problems.append(
                f"the word index lacks {missing_files} file names and holds {extra_files} the catalog does not"
            )
        return problems

    def text_count(self) -> int:
        """How many segments the word index holds (those with text)."""
        return self._scalar(f"SELECT count(*) FROM {SEGMENT_WORDS}_docsize") or 0

    def word_counts(self, words: Iterable[str]) -> dict[str, int]:
        """How many segments hold each word (words that none holds are left out)."""
        wanted = sorted(set(words))
        if not wanted:
            return {}
        return dict(self._rows(f"SELECT term, doc FROM {VOCAB} WHERE term IN ({','.join('?' * len(wanted))})", wanted))

    def text_matches(self, match: str, limit: int) -> list[int]:
        """Segment ids whose text matches an FTS5 expression, best (BM25) first."""
        rows = self._rows(
            f"SELECT rowid FROM {SEGMENT_WORDS} WHERE {SEGMENT_WORDS} MATCH ? ORDER BY rank LIMIT ?", (match, limit)
        )
        return [r[0] for r in rows]

    def text_match_count(self, match: str) -> int:
        """How many segments' texts match an FTS5 expression."""
        return self._scalar(f"SELECT count(*) FROM {SEGMENT_WORDS} WHERE {SEGMENT_WORDS} MATCH ?", (match,)) or 0

    def name_matches(self, match: str, limit: int) -> list[int]:
        """The first segment of each file whose name or folder matches an FTS5 expression, best first."""
        rows = self._rows(
            f"SELECT (SELECT s.id FROM segments s WHERE s.item_id = f.rowid ORDER BY s.ordinal LIMIT 1) "
            f"FROM {FILE_WORDS} f WHERE {FILE_WORDS} MATCH ? ORDER BY rank LIMIT ?",
            (match, limit),
        )
        return [r[0] for r in rows if r[0] is not None]

    def integrity_problems(self) -> list[str]:
        """SQLite's own consistency check: [] when the database file is sound (a file too damaged
        for the check to run is one problem, said in SQLite's words)."""
        try:
            rows = [r[0] for r in self._rows("PRAGMA integrity_check")]
        except IndexFormatError as exc:
            return [str(exc.__cause__ or exc)]
        return [] if rows == ["ok"] else rows


def _known(row: tuple) -> KnownFile:
    return KnownFile(row[0], from_catalog(row[1]), *row[2:])
