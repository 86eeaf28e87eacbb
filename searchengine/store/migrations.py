"""Forward-only schema migrations, each applied in its own transaction.

The schema version lives in SQLite's `PRAGMA user_version`. A catalog newer than this code
knows is refused rather than guessed at.
"""

from __future__ import annotations

from typing import Callable

from sqlalchemy import Connection, text

from searchengine.store.models import Base
from searchengine.store.records import SCHEMA_VERSION


def _v1_initial(conn: Connection) -> None:
    Base.metadata.create_all(conn)


def _v2_taken_at(conn: Connection) -> None:
    """Photos' capture date (EXIF), which date filters prefer to the file time. Catalogs created by
    this code already have the column (create_all); older ones get it empty, filled on re-index."""
    columns = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(items)")}
    if "taken_at" not in columns:
        conn.exec_driver_sql("ALTER TABLE items ADD COLUMN taken_at DATETIME")


# index i holds the migration from version i to i + 1
MIGRATIONS: list[tuple[str, Callable[[Connection], None]]] = [
    ("initial schema: items, segments, runs, errors, meta", _v1_initial),
    ("items.taken_at: EXIF capture date of photos", _v2_taken_at),
]
assert len(MIGRATIONS) == SCHEMA_VERSION, "records.SCHEMA_VERSION is the number of migrations"


def current_version(conn: Connection) -> int:
    return int(conn.exec_driver_sql("PRAGMA user_version").scalar_one())


def migrate(engine, path: str) -> int:
    """Bring the catalog up to SCHEMA_VERSION; returns the number of migrations applied."""
    with engine.connect() as conn:
        version = current_version(conn)
    if version > SCHEMA_VERSION:
        from searchengine.store.reader import too_new

        raise too_new(path, version)
    applied = 0
    for target in range(version + 1, SCHEMA_VERSION + 1):
        _name, step = MIGRATIONS[target - 1]
        with engine.begin() as conn:
            step(conn)
            conn.execute(text(f"PRAGMA user_version = {target}"))
        applied += 1
    return applied
