"""The catalog, written: SQLite (WAL) through SQLAlchemy. The source of truth for what is indexed.

`Catalog` creates and migrates the file and writes to it; it reads through the very reads of the
read-only catalog (reader.py), which it inherits, on its own connection.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, delete, event, select, text, update
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session
from sqlalchemy.pool import QueuePool

from searchengine.errors import IndexWriteFailed
from searchengine.paths import one_line, printable
from searchengine.store.migrations import migrate
from searchengine.store.models import FileError, Item, Meta, Run, Segment, Skipped
from searchengine.store.reader import CatalogReader, connect, damaged, path_prefix
from searchengine.store.records import GENERATION_KEY, BatchResult, ItemDraft
from searchengine.store.words import REBUILD


def now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Catalog(CatalogReader):
    """The catalog opened for writing: created when missing, migrated to the current schema."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.engine = create_engine(
            "sqlite://", creator=functools.partial(connect, self.path, False), poolclass=QueuePool, future=True
        )
        event.listen(self.engine, "connect", _sqlite_pragmas)
        event.listen(self.engine, "handle_error", functools.partial(_one_line_error, self.path))
        try:
            migrate(self.engine, self.path)
        except DatabaseError as exc:
            self.engine.dispose()
            raise damaged(self.path, exc.orig) from exc
        except BaseException:
            self.engine.dispose()
            raise

    def close(self) -> None:
        self.engine.dispose()

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with self.engine.connect() as conn:
            yield conn.connection.dbapi_connection

    def _failed(self, exc: sqlite3.DatabaseError) -> Exception:
        return _sqlite_failure(self.path, exc)

    @staticmethod
    def _bump_generation(s: Session) -> int:
        row = s.get(Meta, GENERATION_KEY)
        if row is None:
            row = Meta(key=GENERATION_KEY, value="0")
            s.add(row)
        row.value = str(int(row.value) + 1)
        return int(row.value)

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
            prefix = path_prefix(root)
            s.execute(
                text("DELETE FROM skipped WHERE substr(path, 1, :n) = :prefix"), {"n": len(prefix), "prefix": prefix}
            )
            s.add_all(Skipped(path=path, reason=one_line(reason), at=stamp) for path, reason in skipped)

    def record_moves(self, moves: Sequence[tuple[int, str, int, int]]) -> None:
        """Renamed or touched files: (item id, new path, size, mtime_ns); their vectors stay."""
        if not moves:
            return
        with self.session() as s, s.begin():
            for item_id, path, size, mtime_ns in moves:
                s.execute(update(Item).where(Item.id == item_id).values(path=path, size=size, mtime_ns=mtime_ns))

    def rebuild_words(self) -> None:
        """Refill the word index from the catalog's texts and paths (repair)."""
        with self.engine.begin() as conn:
            for statement in REBUILD:
                conn.exec_driver_sql(statement)

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
                    path=draft.path,
                    kind=draft.kind,
                    size=draft.size,
                    mtime_ns=draft.mtime_ns,
                    content_hash=draft.content_hash,
                    status="failed" if draft.error else "ok",
                    error=_shown(draft.error),
                    indexed_at=stamp,
                    taken_at=draft.taken_at,
                    note=_shown(draft.note),
                )
                item.segments = [
                    Segment(
                        ordinal=seg.ordinal,
                        text=seg.text,
                        char_start=seg.char_start,
                        char_end=seg.char_end,
                        t_start=seg.t_start,
                        t_end=seg.t_end,
                        page=seg.page,
                        source=seg.source,
                        boxes=json.dumps([[list(p) for p in box] for box in seg.boxes]) if seg.boxes else None,
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


def _shown(message: str | None) -> str | None:
    """A message for people (it may quote a file name that is not UTF-8), storable as text."""
    return None if message is None else one_line(message)


def _sqlite_failure(path: Path, error: sqlite3.DatabaseError) -> Exception:
    """SQLite's failures as the library's typed one-line errors: a damaged file names repair; a
    full disk, a read-only file or a lock that never came leave the catalog as last committed."""
    if isinstance(error, sqlite3.OperationalError):
        return IndexWriteFailed(
            "catalog {path}: {error}: the index keeps its last committed state; free space, fix "
            "permissions or wait for the other writer, and try again",
            path=printable(str(path)),
            error=error,
        )
    return damaged(path, error)


def _one_line_error(path: Path, context) -> None:
    error = context.original_exception
    if isinstance(error, sqlite3.DatabaseError):
        raise _sqlite_failure(path, error) from error


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()
