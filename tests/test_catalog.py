"""Catalog: migrations (fresh, idempotent, newer refused) and batch commits."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from searchengine.errors import IndexFormatError
from searchengine.store.catalog import Catalog
from searchengine.store.migrations import SCHEMA_VERSION
from searchengine.store.reader import CatalogOutdated, CatalogReader
from searchengine.store.records import ItemDraft, SegmentDraft


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
    first = catalog.commit_batch(
        run,
        [
            ItemDraft(
                str(tmp_path / "a.txt"),
                "text",
                1,
                1,
                "h1",
                [SegmentDraft(0, vec[0], "a"), SegmentDraft(1, vec[1], "b")],
            ),
            ItemDraft(str(tmp_path / "b.jpg"), "image", 1, 1, "h2", [SegmentDraft(0, vec[2])]),
            ItemDraft(str(tmp_path / "bad.jpg"), "image", 1, 1, "h3", error="bad.jpg: broken"),
        ],
    )
    assert len(first.added_ids) == 3 and len(first.removed_ids) == 0
    second = catalog.commit_batch(
        run,
        [
            ItemDraft(str(tmp_path / "a.txt"), "text", 2, 2, "h4", [SegmentDraft(0, vec[3], "c")]),
        ],
        removed_paths=[str(tmp_path / "b.jpg")],
    )
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
    batch = catalog.commit_batch(
        run,
        [
            ItemDraft(
                str(tmp_path / "a.txt"),
                "text",
                1,
                10,
                "h1",
                [SegmentDraft(0, vec[0], "a", 0, 1), SegmentDraft(1, vec[1], "b", 1, 2)],
            ),
            ItemDraft(
                str(tmp_path / "b.jpg"),
                "image",
                1,
                20,
                "h2",
                [SegmentDraft(0, vec[2])],
                taken_at=datetime(2021, 7, 4, 12, 30, 5),
            ),
        ],
    )
    return catalog, batch.added_ids


def test_the_reader_reads_what_the_catalog_does(tmp_path):
    catalog, ids = _two_files(tmp_path)
    reader = CatalogReader(tmp_path / "catalog.sqlite")
    try:
        assert reader.generation() == catalog.generation() == 1
        records = reader.segment_records([*ids, 999])
        assert records == catalog.segment_records(ids) and set(records) == set(ids.tolist())
        assert records[int(ids[2])].taken_at.isoformat() == "2021-07-04T12:30:05"
        order = ids[::-1]
        np.testing.assert_array_equal(reader.vectors_of(order, 4), catalog.vectors_of(order, 4))
        assert reader.counts() == catalog.counts() and reader.counts()["by_kind"]["text"] == {"items": 1, "segments": 2}
        assert reader.files_under(tmp_path) == catalog.files_under(tmp_path) and len(reader.files_under(tmp_path)) == 2
        assert reader.segments_of(str(tmp_path / "a.txt"))[1].text == "b"
        assert reader.last_run().model == "test" and reader.last_run().started_at is not None
    finally:
        reader.close()
        catalog.close()


def test_files_under_a_folder_are_matched_exactly(tmp_path):
    """A folder's files, not those of a folder whose name differs in case or continues it (LIKE
    would match both: a sync of /x/photos would drop /x/Photos's files as gone)."""
    catalog = Catalog(tmp_path / "catalog.sqlite")
    run = catalog.start_run(tmp_path, "test")
    vector = np.ones(4, np.float32) / 2
    names = ["photos/a.jpg", "Photos/b.jpg", "photos2/c.jpg", "pho_os/d.jpg", "ph%tos/e.jpg"]
    catalog.commit_batch(
        run, [ItemDraft(str(tmp_path / n), "image", 1, 1, n, [SegmentDraft(0, vector)]) for n in names]
    )
    assert list(catalog.files_under(tmp_path / "photos")) == [str(tmp_path / "photos/a.jpg")]
    assert list(catalog.files_under(tmp_path / "pho_os")) == [str(tmp_path / "pho_os/d.jpg")]
    catalog.close()


def test_reading_the_catalog_needs_no_sqlalchemy(tmp_path):
    import subprocess
    import sys

    _two_files(tmp_path)[0].close()
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from searchengine.store.reader import CatalogReader\n"
        f"reader = CatalogReader(Path({str(tmp_path / 'catalog.sqlite')!r}))\n"
        "reader.counts(); reader.segment_records([1, 2]); reader.all_files(); reader.last_run(); reader.segment_groups()\n"
        "reader.sample_by_kind(4, 10); reader.integrity_problems()\n"
        "print('sqlalchemy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_reader_refuses_other_schemas_and_damaged_catalogs_and_never_writes(tmp_path):
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
    before = path.read_bytes()
    with pytest.raises(CatalogOutdated) as refused:  # a reader cannot migrate: only the writer does
        CatalogReader(path)
    assert refused.value.version == SCHEMA_VERSION - 1 and refused.value.writable
    assert path.read_bytes() == before
    Catalog(path).close()  # the writer migrates it
    reader = CatalogReader(path)
    assert set(reader.segment_records(ids)) == set(ids.tolist())
    reader.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION

    damaged = tmp_path / "damaged.sqlite"
    damaged.write_bytes(b"this is not a database" * 100)
    with pytest.raises(IndexFormatError, match="damaged"):
        CatalogReader(damaged)
