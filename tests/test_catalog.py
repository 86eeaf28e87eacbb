"""Catalog: migrations (fresh, idempotent, newer refused) and batch commits."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from searchengine.errors import IndexFormatError
from searchengine.store.catalog import Catalog, ItemDraft, SegmentDraft
from searchengine.store.migrations import SCHEMA_VERSION
from searchengine.store.reader import CatalogReader


def test_fresh_catalog_is_migrated_and_reopens(tmp_path):
    path = tmp_path / "catalog.sqlite"
    Catalog(path).close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    Catalog(path).close()  # re-opening applies nothing and keeps working


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "catalog.sqlite"
    Catalog(path).close()
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.commit()
    con.close()
    with pytest.raises(IndexFormatError, match="upgrade searchengine"):
        Catalog(path)


def test_commit_batch_replaces_and_removes(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    run = catalog.start_run(tmp_path, "test")
    vec = np.eye(4, dtype=np.float32)
    first = catalog.commit_batch(run, [
        ItemDraft(str(tmp_path / "a.txt"), "text", 1, 1, "h1", [SegmentDraft(0, vec[0], "a"), SegmentDraft(1, vec[1], "b")]),
        ItemDraft(str(tmp_path / "b.jpg"), "image", 1, 1, "h2", [SegmentDraft(0, vec[2])]),
        ItemDraft(str(tmp_path / "bad.jpg"), "image", 1, 1, "h3", error="bad.jpg: broken"),
    ])
    assert len(first.added_ids) == 3 and len(first.removed_ids) == 0
    second = catalog.commit_batch(run, [
        ItemDraft(str(tmp_path / "a.txt"), "text", 2, 2, "h4", [SegmentDraft(0, vec[3], "c")]),
    ], removed_paths=[str(tmp_path / "b.jpg")])
    assert sorted(second.removed_ids.tolist()) == sorted(first.added_ids.tolist()[:3])
    assert catalog.segment_count() == 1
    ids, vectors = next(catalog.iter_vectors(4))
    np.testing.assert_array_equal(vectors[0], vec[3])
    assert catalog.failed_files() == [(str(tmp_path / "bad.jpg"), "bad.jpg: broken")]
    assert catalog.generation() == 2
    catalog.close()


def _two_files(tmp_path):
    from datetime import datetime

    catalog = Catalog(tmp_path / "catalog.sqlite")
    run = catalog.start_run(tmp_path, "test")
    vec = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    batch = catalog.commit_batch(run, [
        ItemDraft(str(tmp_path / "a.txt"), "text", 1, 10, "h1", [SegmentDraft(0, vec[0], "a", 0, 1), SegmentDraft(1, vec[1], "b", 1, 2)]),
        ItemDraft(str(tmp_path / "b.jpg"), "image", 1, 20, "h2", [SegmentDraft(0, vec[2])],
                  taken_at=datetime(2021, 7, 4, 12, 30, 5)),
    ])
    return catalog, batch.added_ids


def test_the_search_reader_reads_what_the_catalog_does(tmp_path):
    catalog, ids = _two_files(tmp_path)
    reader = CatalogReader(tmp_path / "catalog.sqlite")
    try:
        assert reader.generation() == catalog.generation() == 1
        records = reader.segment_records([*ids, 999])
        assert records == catalog.segment_records(ids) and set(records) == set(ids.tolist())
        assert records[int(ids[2])].taken_at.isoformat() == "2021-07-04T12:30:05"
        order = ids[::-1]
        np.testing.assert_array_equal(reader.vectors_of(order, 4), catalog.vectors_of(order, 4))
        assert reader._full is None  # the search reads needed no SQLAlchemy
        assert reader.counts() == catalog.counts()  # anything else is served by the full catalog
        assert reader._full is not None
    finally:
        reader.close()
        catalog.close()


def test_the_reader_refuses_newer_and_damaged_catalogs_and_migrates_older_ones(tmp_path):
    catalog, ids = _two_files(tmp_path)
    catalog.close()
    path = tmp_path / "catalog.sqlite"
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.commit()
    with pytest.raises(IndexFormatError, match="upgrade searchengine"):
        CatalogReader(path)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")  # as if made before the last migration
    con.commit()
    con.close()
    reader = CatalogReader(path)  # the full catalog migrates it, then serves the reads
    assert set(reader.segment_records(ids)) == set(ids.tolist())
    reader.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION

    damaged = tmp_path / "damaged.sqlite"
    damaged.write_bytes(b"this is not a database" * 100)
    with pytest.raises(IndexFormatError, match="damaged"):
        CatalogReader(damaged)
