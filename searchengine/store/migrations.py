"""Forward-only schema migrations, each applied in its own transaction.

The schema version lives in SQLite's `PRAGMA user_version`. A catalog newer than this code
knows is refused rather than guessed at.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, text

from searchengine.paths import ESCAPE
from searchengine.store.models import Base, Item, Segment, Skipped
from searchengine.store.reader import too_new
from searchengine.store.records import SCHEMA_VERSION
from searchengine.store.words import REBUILD, SCHEMA


def _v1_initial(conn: Connection) -> None:
    Base.metadata.create_all(conn)


def _v2_taken_at(conn: Connection) -> None:
    """Photos' capture date (EXIF), which date filters prefer to the file time. Catalogs created by
    this code already have the column (create_all); older ones get it empty, filled on re-index."""
    columns = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(items)")}
    if "taken_at" not in columns:
        conn.exec_driver_sql("ALTER TABLE items ADD COLUMN taken_at DATETIME")


def _v3_lossless_paths(conn: Connection) -> None:
    """Paths are stored escaped (paths.to_catalog) so names that are not UTF-8 fit. Catalogs before
    this could not hold such names, so only the escape character itself needs escaping."""
    tables = {row[0] for row in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table, column in (("items", "path"), ("runs", "root"), ("errors", "path")):
        if table not in tables:
            continue
        conn.execute(
            text(f"UPDATE {table} SET {column} = replace({column}, :bare, :escaped) WHERE instr({column}, :bare) > 0"),
            {"bare": ESCAPE, "escaped": ESCAPE + "01"},
        )


def _v4_skipped_and_notes(conn: Connection) -> None:
    """Entries skipped with their reason (status --errors lists them) and items.note (indexed in part)."""
    Base.metadata.create_all(conn, tables=[Skipped.__table__])
    columns = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(items)")}
    if "note" not in columns:
        conn.exec_driver_sql("ALTER TABLE items ADD COLUMN note TEXT")


def _v5_passage_pages(conn: Connection) -> None:
    """segments.page (a PDF passage's page), .source ("text" or "ocr": read in a picture) and
    .boxes (the OCR line boxes, JSON). Catalogs created by this code already have them (create_all);
    older ones get them empty: their passages have no pages, their pictures no words read."""
    columns = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(segments)")}
    if not columns:  # no segments table to extend (a catalog made in part)
        return
    for column, sql_type in (("page", "INTEGER"), ("source", "VARCHAR(8)"), ("boxes", "TEXT")):
        if column not in columns:
            conn.exec_driver_sql(f"ALTER TABLE segments ADD COLUMN {column} {sql_type}")


def _v6_word_index(conn: Connection) -> None:
    """The word index beside the vectors (store/words.py): FTS5 tables over segment texts and file
    names, kept in step by triggers, filled here from what the catalog already holds (the tables
    they follow are made first where a catalog lacks them)."""
    Base.metadata.create_all(conn, tables=[Item.__table__, Segment.__table__])
    for statement in SCHEMA + REBUILD:
        conn.exec_driver_sql(statement)


# index i holds the migration from version i to i + 1
MIGRATIONS: list[tuple[str, Callable[[Connection], None]]] = [
    ("initial schema: items, segments, runs, errors, meta", _v1_initial),
    ("items.taken_at: EXIF capture date of photos", _v2_taken_at),
    ("paths stored losslessly: names that are not UTF-8", _v3_lossless_paths),
    ("skipped entries, items.note", _v4_skipped_and_notes),
    ("segments.page, .source, .boxes: document pages and text read in pictures", _v5_passage_pages),
    ("word index: FTS5 over segment texts and file names", _v6_word_index),
]
assert len(MIGRATIONS) == SCHEMA_VERSION, "records.SCHEMA_VERSION is the number of migrations"


def current_version(conn: Connection) -> int:
    return int(conn.exec_driver_sql("PRAGMA user_version").scalar_one())


def check_version(engine, path) -> int:
    """The catalog's schema version; a newer one than this code knows is refused."""
    with engine.connect() as conn:
        version = current_version(conn)
    if version > SCHEMA_VERSION:
        raise too_new(path, version)
    return version


def migrate(engine, path) -> int:
    """Bring the catalog up to SCHEMA_VERSION; returns the number of migrations applied."""
    version = check_version(engine, path)
    applied = 0
    for target in range(version + 1, SCHEMA_VERSION + 1):
        _name, step = MIGRATIONS[target - 1]
        with engine.begin() as conn:
            step(conn)
            conn.execute(text(f"PRAGMA user_version = {target}"))
        applied += 1
    return applied
