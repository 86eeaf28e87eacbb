"""The pipeline on real files: incremental add / modify / delete / rename, bad files, model checks."""

from __future__ import annotations

import shutil

import pytest

from searchengine.config import cache_dir
from searchengine.errors import FolderNotFound, IndexNotFound, ModelMismatch
from searchengine.ingest.run import sync_folder
from searchengine.ingest.settings import IngestSettings
from searchengine.query import Filters, Query, Searcher
from searchengine.store.folder import IndexFolder

from conftest import PHOTOS

SETTINGS = IngestSettings(device="cpu", workers=2)


def _run(folder, index_dir, bundled):
    return sync_folder(folder, index_dir, SETTINGS, encoder=bundled, cache_dir=cache_dir())


def test_incremental_runs(media_folder, tmp_path, bundled):
    index_dir = tmp_path / "index"
    first = _run(media_folder, index_dir, bundled)
    assert (first.added, first.failed) == (7, 0)
    assert first.segments > 7  # long documents become several passages

    again = _run(media_folder, index_dir, bundled)
    assert (again.added, again.updated, again.unchanged, again.removed) == (0, 0, 7, 0)

    # modify one text, delete one photo, rename (move) another, add a new one
    (media_folder / "texts" / "household_budget_meeting.txt").write_text("Notes on a red bicycle and its gears.\n")
    (media_folder / "photos" / "coffee_cup.jpg").unlink()
    (media_folder / "photos" / "moved").mkdir()
    (media_folder / "photos" / "cat_chelsea.jpg").rename(media_folder / "photos" / "moved" / "my cat.jpg")
    shutil.copy2(PHOTOS / "astronaut_eileen_collins.jpg", media_folder / "photos" / "astronaut.jpg")
    with IndexFolder.open(index_dir) as index:
        cat_before = index.catalog.files_under(media_folder)[str(media_folder / "photos" / "cat_chelsea.jpg")]

    third = _run(media_folder, index_dir, bundled)
    assert (third.added, third.updated, third.renamed, third.removed, third.unchanged) == (1, 1, 1, 1, 4)

    with IndexFolder.open(index_dir) as index:
        known = index.catalog.files_under(media_folder)
        assert str(media_folder / "photos" / "coffee_cup.jpg") not in known
        moved = known[str(media_folder / "photos" / "moved" / "my cat.jpg")]
        assert moved.id == cat_before.id  # same item: its vectors were kept, not re-embedded
        assert index.vectors.ntotal == index.catalog.segment_count()

    searcher = Searcher.open(index_dir, device="cpu", cache_dir=cache_dir())
    top = searcher.search(Query(text="a photo of a cat"), Filters(kind="image", min_score=None), k=1)[0]
    assert top.path.endswith("my cat.jpg")
    top_text = searcher.search(Query(text="bicycle gears"), Filters(kind="text", min_score=None), k=1)[0]
    assert top_text.path.endswith("household_budget_meeting.txt")
    searcher.close()


def test_broken_files_are_reported_and_skipped(media_folder, tmp_path, bundled):
    (media_folder / "photos" / "truncated.jpg").write_bytes((PHOTOS / "coffee_cup.jpg").read_bytes()[:300])
    (media_folder / "photos" / "empty.png").write_bytes(b"")
    (media_folder / "photos" / "not-an-image.jpg").write_text("hello")
    (media_folder / "texts" / "binary.txt").write_bytes(b"\x00\x01\x02" * 100)
    summary = _run(media_folder, tmp_path / "index", bundled)
    assert summary.added == 7
    assert summary.failed == 4
    reasons = dict(summary.errors)
    assert all(str(media_folder) in path for path in reasons)
    assert "binary" in reasons[str(media_folder / "texts" / "binary.txt")]
    # failures are not retried while unchanged; a fixed file is picked up
    again = _run(media_folder, tmp_path / "index", bundled)
    assert (again.failed, again.added) == (0, 0)
    shutil.copy2(PHOTOS / "coffee_cup.jpg", media_folder / "photos" / "truncated.jpg")
    fixed = _run(media_folder, tmp_path / "index", bundled)
    assert (fixed.updated, fixed.failed) == (1, 0)


def test_stale_vector_file_is_rebuilt_from_the_catalog(media_folder, tmp_path, bundled):
    index_dir = tmp_path / "index"
    _run(media_folder, index_dir, bundled)
    (index_dir / "vectors.faiss").unlink()
    searcher = Searcher.open(index_dir, device="cpu", cache_dir=cache_dir())
    assert searcher.search(Query(text="a cat"), Filters(kind="image", min_score=None), k=1)[0].path.endswith(
        "cat_chelsea.jpg"
    )
    searcher.close()


def test_hidden_and_ignored_files_are_skipped(media_folder, tmp_path, bundled):
    (media_folder / ".hidden").mkdir()
    shutil.copy2(PHOTOS / "cat_chelsea.jpg", media_folder / ".hidden" / "cat.jpg")
    (media_folder / "notes.txt").write_text("private notes")
    (media_folder / ".searchengineignore").write_text("notes.txt\n")
    (media_folder / "loop").symlink_to(media_folder)  # a symlink loop ends
    summary = _run(media_folder, tmp_path / "index", bundled)
    assert summary.added == 7


def test_errors_for_bad_folders_and_indexes(tmp_path, bundled, media_folder):
    with pytest.raises(FolderNotFound, match="does not exist"):
        _run(tmp_path / "nope", tmp_path / "index", bundled)
    with pytest.raises(IndexNotFound, match="no index at"):
        Searcher.open(tmp_path / "no-index", cache_dir=cache_dir())
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _run(empty, tmp_path / "index", bundled).added == 0


def test_model_mismatch_is_refused(media_folder, tmp_path, bundled):
    index_dir = tmp_path / "index"
    _run(media_folder, index_dir, bundled)
    before = (index_dir / "catalog.sqlite").read_bytes()
    with pytest.raises(ModelMismatch, match="model=.bundled"):
        sync_folder(
            media_folder, index_dir, IngestSettings(model="clip:ViT-B-32/laion2b_s34b_b79k"), cache_dir=cache_dir()
        )
    with IndexFolder.open(index_dir) as index:
        assert index.catalog.counts()["items"] == 7
    assert (index_dir / "catalog.sqlite").read_bytes() == before
