"""The catalog: SQLite (WAL) through SQLAlchemy. The source of truth for what is indexed."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
from sqlalchemy import create_engine, delete, event, func, select, update
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session
from sqlalchemy.pool import QueuePool

from searchengine.errors import IndexFormatError, IndexWriteFailed
from searchengine.kinds import calibration_kind
from searchengine.paths import one_line, printable
from searchengine.store.migrations import check_version, migrate
from searchengine.store.models import FileError, Item, Meta, Run, Segment, Skipped
from searchengine.store.reader import connect, damaged
from searchengine.store.records import (  # noqa: F401 (drafts and SegmentRecord re-exported)
    GENERATION_KEY, SCHEMA_VERSION, ItemDraft, SegmentDraft, SegmentRecord, read_generation, read_segment_groups,
    read_segment_records, read_vectors, valid_id,
)


def now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


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
class BatchResult:
    added_ids: np.ndarray  # segment ids whose vectors must be added to the index
    added_vectors: np.ndarray
    removed_ids: np.ndarray  # segment ids whose vectors must leave the index
    generation: int


def _prefix(root: Path) -> str:
    return str(root).rstrip(os.sep) + os.sep


class Catalog:
    """The catalog through SQLAlchemy. read_only: opened as the search reader opens it (never created,
    never written, never migrated: an older schema is refused)."""

    def __init__(self, path: Path, read_only: bool = False):
        self.path = path
        self.read_only = read_only
        self.engine = create_engine("sqlite://", creator=functools.partial(connect, path, read_only),
                                    poolclass=QueuePool, future=True)
        event.listen(self.engine, "connect", _read_only_pragmas if read_only else _sqlite_pragmas)
        event.listen(self.engine, "handle_error", functools.partial(_one_line_error, path))
        try:
            if not read_only:
                migrate(self.engine, path)
            elif check_version(self.engine, path) < SCHEMA_VERSION:  # the reader upgrades before it gets here
                raise IndexFormatError(f"catalog {printable(str(path))} has an older schema: open it once with write access")
        except DatabaseError as exc:
            self.engine.dispose()
            raise damaged(path, exc.orig) from exc
        except BaseException:
            self.engine.dispose()
            raise

    def close(self) -> None:
        self.engine.dispose()

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # --- meta -----------------------------------------------------------------------------
    def _plain(self, read, *args):
        """A read shared with the search-time reader (records.py), on this engine's connection."""
        with self.engine.connect() as conn:
            return read(conn.connection.dbapi_connection, *args)

    def generation(self) -> int:
        return self._plain(read_generation)

    @staticmethod
    def _bump_generation(s: Session) -> int:
        row = s.get(Meta, GENERATION_KEY)
        if row is None:
            row = Meta(key=GENERATION_KEY, value="0")
            s.add(row)
        row.value = str(int(row.value) + 1)
        return int(row.value)

    # --- reading ----------------------------------------------------------------------------
    def files_under(self, root: Path) -> dict[str, KnownFile]:
        with self.session() as s:
            rows = s.execute(
                select(Item.id, Item.path, Item.size, Item.mtime_ns, Item.content_hash, Item.status).where(
                    Item.path.startswith(_prefix(root), autoescape=True)
                )
            )
            return {r.path: KnownFile(*r) for r in rows}

    def files_with_hashes(self, hashes: Iterable[str]) -> dict[str, list[KnownFile]]:
        hashes = list(set(hashes))
        found: dict[str, list[KnownFile]] = {}
        with self.session() as s:
            for start in range(0, len(hashes), 500):
                rows = s.execute(
                    select(Item.id, Item.path, Item.size, Item.mtime_ns, Item.content_hash, Item.status).where(
                        Item.content_hash.in_(hashes[start : start + 500]), Item.status == "ok"
                    )
                )
                for r in rows:
                    found.setdefault(r.content_hash, []).append(KnownFile(*r))
        return found

    def segment_records(self, ids: Sequence[int]) -> dict[int, SegmentRecord]:
        return self._plain(read_segment_records, ids)

    def segments_of(self, path: str) -> list[SegmentRecord] | None:
        """The segments of one file in order, or None when the file is not in the catalog."""
        with self.session() as s:
            item = s.scalars(select(Item).where(Item.path == path)).first()
            if item is None:
                return None
            return [
                SegmentRecord(seg.id, item.id, item.path, item.kind, seg.ordinal, seg.text, seg.char_start,
                              seg.char_end, seg.t_start, seg.t_end, item.mtime_ns, item.taken_at)
                for seg in item.segments
            ]

    def iter_vectors(self, dim: int, chunk: int = 10_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All stored (segment ids, vectors), in chunks, ordered by id."""
        last = 0
        with self.session() as s:
            while True:
                rows = s.execute(
                    select(Segment.id, Segment.vector).where(Segment.id > last).order_by(Segment.id).limit(chunk)
                ).all()
                if not rows:
                    return
                ids = np.fromiter((r.id for r in rows), dtype=np.int64, count=len(rows))
                vectors = np.frombuffer(b"".join(r.vector for r in rows), dtype=np.float32).reshape(len(rows), dim)
                yield ids, vectors
                last = int(ids[-1])

    def sample_by_kind(self, dim: int, per_kind: int, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Up to `per_kind` (item ids, vectors) of each calibration kind's segments, a seeded random sample."""
        rng = np.random.default_rng(seed)
        out = {}
        with self.session() as s:
            rows = s.execute(select(Item.kind, Segment.id, Segment.text.is_not(None)).join(Segment)).all()
            by_kind: dict[str, list[int]] = {}
            for kind, sid, has_text in rows:
                by_kind.setdefault(calibration_kind(kind, has_text), []).append(sid)
            for kind, ids in by_kind.items():
                chosen = sorted(rng.choice(ids, size=min(per_kind, len(ids)), replace=False).tolist())
                picked = s.execute(select(Segment.id, Segment.item_id, Segment.vector).where(Segment.id.in_(chosen))).all()
                items = np.array([r.item_id for r in picked], dtype=np.int64)
                vectors = np.frombuffer(b"".join(r.vector for r in picked), dtype=np.float32).reshape(len(picked), dim)
                out[kind] = (items, vectors)
        return out

    def vectors_of(self, ids: Sequence[int], dim: int) -> np.ndarray:
        return self._plain(read_vectors, ids, dim)

    def segment_groups(self) -> dict[str, np.ndarray]:
        return self._plain(read_segment_groups)

    def counts(self) -> dict:
        with self.session() as s:
            by_kind = dict(s.execute(select(Item.kind, func.count()).where(Item.status == "ok").group_by(Item.kind)).all())
            seg_by_kind = dict(
                s.execute(select(Item.kind, func.count(Segment.id)).join(Segment).group_by(Item.kind)).all()
            )
            failed = s.scalar(select(func.count()).where(Item.status == "failed").select_from(Item))
            noted = s.scalar(select(func.count()).where(Item.note.is_not(None)).select_from(Item))
            skipped = s.scalar(select(func.count()).select_from(Skipped))
        return {
            "items": sum(by_kind.values()),
            "segments": sum(seg_by_kind.values()),
            "failed": failed or 0,
            "skipped": skipped or 0,
            "indexed_in_part": noted or 0,
            "by_kind": {k: {"items": by_kind.get(k, 0), "segments": seg_by_kind.get(k, 0)} for k in sorted(by_kind)},
        }

    def integrity_problems(self) -> list[str]:
        """SQLite's own consistency check: [] when the database file is sound (a file too damaged
        for the check to run is one problem, said in SQLite's words)."""
        try:
            with self.engine.connect() as conn:
                rows = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check")]
        except IndexFormatError as exc:  # SQLite's failure, made one line by _one_line_error
            return [str(exc.__cause__ or exc)]
        return [] if rows == ["ok"] else rows

    def segment_ids(self) -> np.ndarray:
        with self.session() as s:
            return np.asarray(s.scalars(select(Segment.id).order_by(Segment.id)).all(), dtype=np.int64)

    def bad_vector_items(self, dim: int) -> list[str]:
        """Paths of files with a stored vector of the wrong size (re-embedding fixes them)."""
        with self.session() as s:
            return list(s.scalars(
                select(Item.path).join(Segment).where(func.length(Segment.vector) != dim * 4).distinct()
            ))

    def all_files(self) -> dict[str, KnownFile]:
        with self.session() as s:
            rows = s.execute(select(Item.id, Item.path, Item.size, Item.mtime_ns, Item.content_hash, Item.status))
            return {r.path: KnownFile(*r) for r in rows}

    def failed_files(self) -> list[tuple[str, str]]:
        with self.session() as s:
            return [(p, e or "") for p, e in s.execute(select(Item.path, Item.error).where(Item.status == "failed").order_by(Item.path))]

    def skipped_files(self) -> list[tuple[str, str]]:
        """(path, reason) of entries the last runs left out on purpose."""
        with self.session() as s:
            return [tuple(r) for r in s.execute(select(Skipped.path, Skipped.reason).order_by(Skipped.path))]

    def noted_files(self) -> list[tuple[str, str]]:
        """(path, note) of files indexed with a caveat (in part)."""
        with self.session() as s:
            return [tuple(r) for r in s.execute(select(Item.path, Item.note).where(Item.note.is_not(None)).order_by(Item.path))]

    def recorded_runs(self) -> list[tuple[str, str]]:
        """(root, model) of every run, newest first: what built this catalog, should the manifest be lost."""
        with self.session() as s:
            return [tuple(r) for r in s.execute(select(Run.root, Run.model).order_by(Run.id.desc()))]

    def stored_dim(self) -> int | None:
        """The dimension of the stored vectors (None when there are none)."""
        with self.session() as s:
            size = s.scalar(select(func.length(Segment.vector)).limit(1))
        return None if size is None else size // 4

    def segment_count(self) -> int:
        with self.session() as s:
            return s.scalar(select(func.count()).select_from(Segment)) or 0

    def last_run(self) -> Run | None:
        with self.session() as s:
            return s.scalars(select(Run).order_by(Run.id.desc()).limit(1)).first()

    # --- writing ----------------------------------------------------------------------------
    def start_run(self, root: Path, model: str) -> int:
        with self.session() as s, s.begin():
            run = Run(root=str(root), model=model, started_at=now())
            s.add(run)
            s.flush()
            return run.id

    def finish_run(self, run_id: int, counts: dict[str, int]) -> None:
        with self.session() as s, s.begin():
            s.execute(update(Run).where(Run.id == run_id).values(finished_at=now(), **counts))

    def record_skipped(self, root: Path, skipped: Sequence[tuple[str, str]]) -> None:
        """Replace what was skipped under `root` by this run's (path, reason) list."""
        stamp = now()
        with self.session() as s, s.begin():
            s.execute(delete(Skipped).where(Skipped.path.startswith(_prefix(root), autoescape=True)))
            s.add_all(Skipped(path=path, reason=one_line(reason), at=stamp) for path, reason in skipped)

    def record_moves(self, moves: Sequence[tuple[int, str, int, int]]) -> None:
        """Renamed or touched files: (item id, new path, size, mtime_ns); their vectors stay."""
        if not moves:
            return
        with self.session() as s, s.begin():
            for item_id, path, size, mtime_ns in moves:
                s.execute(update(Item).where(Item.id == item_id).values(path=path, size=size, mtime_ns=mtime_ns))

    def commit_batch(self, run_id: int, drafts: Sequence[ItemDraft], removed_paths: Sequence[str] = ()) -> BatchResult:
        """Replace the given files' entries (and drop removed ones) in one transaction."""
        added_ids: list[int] = []
        added_vectors: list[np.ndarray] = []
        stamp = now()
        with self.session() as s, s.begin():
            stale_paths = [d.path for d in drafts] + list(removed_paths)
            removed_ids = self._delete_items(s, stale_paths)
            items = []
            for draft in drafts:
                item = Item(
                    path=draft.path, kind=draft.kind, size=draft.size, mtime_ns=draft.mtime_ns,
                    content_hash=draft.content_hash, status="failed" if draft.error else "ok",
                    error=_shown(draft.error), indexed_at=stamp, taken_at=draft.taken_at, note=_shown(draft.note),
                )
                item.segments = [
                    Segment(
                        ordinal=seg.ordinal, text=seg.text, char_start=seg.char_start, char_end=seg.char_end,
                        t_start=seg.t_start, t_end=seg.t_end,
                        vector=np.ascontiguousarray(seg.vector, dtype=np.float32).tobytes(),
                    )
                    for seg in draft.segments
                ]
                s.add(item)
                items.append(item)
                if draft.error:
                    s.add(FileError(run_id=run_id, path=draft.path, reason=one_line(draft.error), at=stamp))
            s.flush()
            for item in items:
                for seg in item.segments:
                    added_ids.append(seg.id)
                    added_vectors.append(np.frombuffer(seg.vector, dtype=np.float32))
            generation = self._bump_generation(s)
        dim = added_vectors[0].shape[0] if added_vectors else 0
        return BatchResult(
            added_ids=np.asarray(added_ids, dtype=np.int64),
            added_vectors=np.stack(added_vectors) if added_vectors else np.zeros((0, dim), np.float32),
            removed_ids=np.asarray(removed_ids, dtype=np.int64),
            generation=generation,
        )

    @staticmethod
    def _delete_items(s: Session, paths: Sequence[str]) -> list[int]:
        removed: list[int] = []
        for start in range(0, len(paths), 500):
            chunk = list(paths[start : start + 500])
            removed += s.scalars(select(Segment.id).join(Item).where(Item.path.in_(chunk))).all()
            s.execute(delete(Item).where(Item.path.in_(chunk)))
        return removed

    def item(self, item_id: int) -> tuple[str, str, int, int, str | None] | None:
        """(path, kind, size, mtime_ns, content hash) of one indexed file, or None when no item has that id."""
        if not valid_id(item_id):
            return None
        with self.session() as s:
            row = s.execute(
                select(Item.path, Item.kind, Item.size, Item.mtime_ns, Item.content_hash)
                .where(Item.id == int(item_id), Item.status == "ok")
            ).first()
        return None if row is None else tuple(row)


def _shown(message: str | None) -> str | None:
    """A message for people (it may quote a file name that is not UTF-8), storable as text."""
    return None if message is None else one_line(message)


def _one_line_error(path: Path, context) -> None:
    """SQLite's failures as the library's typed one-line errors: a damaged file names repair; a
    full disk, a read-only file or a lock that never came leave the catalog as last committed."""
    import sqlite3

    error = context.original_exception
    if isinstance(error, sqlite3.OperationalError):
        raise IndexWriteFailed(f"catalog {printable(str(path))}: {error}: the index keeps its last committed state; "
                               "free space, fix permissions or wait for the other writer, and run the command again") from error
    if isinstance(error, sqlite3.DatabaseError):
        raise damaged(path, error) from error


def _read_only_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA query_only=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()
