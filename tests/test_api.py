"""searchengine.Index, the public library API, on the deterministic `demo` encoder (logic, not quality)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from searchengine import Index
from searchengine.errors import IndexNotFound, ModelMismatch, QueryError, SearchEngineError, UsageError

from conftest import PHOTOS, TEXTS

HEAVY = ("torch", "sqlalchemy", "faiss", "onnxruntime", "open_clip", "timm", "faster_whisper", "PIL", "fastapi")


@pytest.fixture
def files(tmp_path) -> Path:
    """Photos, texts and plain colour pictures (which the demo encoder names)."""
    folder = tmp_path / "files"
    (folder / "photos").mkdir(parents=True)
    (folder / "texts").mkdir()
    for name in ("cat_chelsea.jpg", "coffee_cup.jpg", "dahlia_flower.jpg"):
        shutil.copy2(PHOTOS / name, folder / "photos" / name)
    for name in ("bicycle_repair_guide.md", "household_budget_meeting.txt", "cats_and_sleep.md"):
        shutil.copy2(TEXTS / name, folder / "texts" / name)
    for name, colour in (("red.png", (220, 20, 20)), ("blue.png", (20, 40, 230))):
        Image.new("RGB", (64, 48), colour).save(folder / "photos" / name)
    return folder


@pytest.fixture
def ix(tmp_path):
    with Index.open(tmp_path / "index", model="demo", cache_dir=tmp_path / "cache") as index:
        yield index


def _names(hits) -> list[str]:
    return [Path(h.path).name for h in hits]


def test_importing_the_api_loads_no_heavy_library():
    code = (
        "import sys\nfrom searchengine import Index, Hit, Query\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_open_prepares_a_missing_index_and_sync_makes_it(ix, files, tmp_path):
    assert not ix.exists and ix.status()["counts"]["items"] == 0 and ix.search("anything") == []
    summary = ix.sync(files)
    assert (summary.added, summary.failed, summary.removed) == (8, 0, 0) and ix.exists
    status = ix.status()
    assert status["encoder_id"] == "demo" and status["counts"]["by_kind"]["image"]["items"] == 5
    hit = ix.search("budget meeting", k=3)[0]
    assert Path(hit.path).name == "household_budget_meeting.txt" and hit.kind == "text"
    assert hit.confidence in ("high", "medium", "low") and hit.page is None and hit.text
    assert set(hit.as_json()) >= {"rank", "score", "confidence", "path", "kind", "start", "end", "page", "text"}
    again = ix.sync(files)
    assert (again.added, again.unchanged) == (0, 8)


def test_search_by_image_kind_and_filters(ix, files):
    ix.sync(files)
    assert _names(ix.search(image=files / "photos" / "coffee_cup.jpg", k=1)) == ["coffee_cup.jpg"]
    assert _names(ix.search("red", kind="image", k=1)) == ["red.png"]
    assert {h.kind for h in ix.search("cat", kind="text", k=10)} == {"text"}
    assert set(_names(ix.search("cat", glob="*.md", k=10))) <= {"bicycle_repair_guide.md", "cats_and_sleep.md"}
    mixed = ix.search("cat", per_kind=1, k=10)
    assert len(mixed) == 2 and {h.kind for h in mixed} == {"image", "text"}
    assert ix.search("cat", min_score=1e9) == []
    segments = ix.search("bicycle", kind="text", segments=True, k=50)
    assert len(segments) > len({h.path for h in segments})  # every matching passage, not one per file
    like = ix.search(like=ix.search("red", kind="image", k=1)[0].segment_id, kind="image", k=1)
    assert _names(like) != ["red.png"]  # more like it: not itself


def test_add_and_remove_single_files(ix, files, tmp_path):
    ix.sync(files / "texts")
    extra = tmp_path / "elsewhere"
    extra.mkdir()
    shutil.copy2(PHOTOS / "cat_chelsea.jpg", extra / "cat.jpg")
    (extra / "notes.xyz").write_bytes(b"\x00\x01 binary: not a kind of file searchengine indexes")
    added = ix.add([extra / "cat.jpg", extra / "notes.xyz", extra / "missing.jpg"])
    assert added.added == 1 and added.skipped == 2 and ix.status()["counts"]["items"] == 4
    assert ix.roots() == [str(files / "texts")]  # added files do not make their folder the index's
    assert "cat.jpg" in _names(ix.search(image=extra / "cat.jpg", k=1))
    assert ix.add([extra / "cat.jpg"]).unchanged == 1
    removed = ix.remove([extra / "cat.jpg", files / "texts"])
    assert removed.removed == 4 and ix.status()["counts"]["items"] == 0
    assert ix.sync(files / "texts").added == 3  # a folder synced again is indexed again


def test_an_added_folder_keeps_its_ignore_rules_and_exclude_patterns(ix, tmp_path):
    folder = tmp_path / "drop"
    (folder / "drafts").mkdir(parents=True)
    (folder / "keep.md").write_text("A note to keep.\n")
    (folder / "drafts" / "draft.md").write_text("A draft, ignored.\n")
    (folder / "scratch.tmp.md").write_text("Scratch, excluded.\n")
    (folder / ".searchengineignore").write_text("drafts/\n")
    added = ix.add([folder], exclude=("*.tmp.md",))
    assert added.added == 1 and ix.status()["counts"]["items"] == 1
    assert _names(ix.search("note", k=5)) == ["keep.md"]


def test_an_open_index_follows_another_writer(files, tmp_path):
    with (
        Index.open(tmp_path / "index", model="demo", cache_dir=tmp_path / "cache") as writer,
        Index.open(tmp_path / "index", model="demo", cache_dir=tmp_path / "cache") as reader,
    ):
        writer.sync(files / "texts")
        assert {h.kind for h in reader.search("red", k=10)} == {"text"}
        writer.sync(files)
        assert _names(reader.search("red", kind="image", k=1)) == ["red.png"]


def test_errors_are_typed_and_name_no_flags(ix, files, tmp_path):
    with pytest.raises(IndexNotFound) as missing:
        Index.open(tmp_path / "nothing-here", create=False)
    assert missing.value.folder == str((tmp_path / "nothing-here").absolute())
    ix.sync(files / "texts")
    with pytest.raises(ModelMismatch) as mismatch:
        Index.open(ix.path, model="bundled")
    assert mismatch.value.built_with == "demo" and mismatch.value.model == "demo"
    with pytest.raises(UsageError) as bad_kind:
        ix.search("cat", kind="movie")
    with pytest.raises(QueryError) as empty:
        ix.search("  ")
    for error in (missing.value, mismatch.value, bad_kind.value, empty.value):
        assert "--" not in str(error) and "searchengine " not in str(error), str(error)
    from searchengine.cli.wording import CLI

    assert "--model demo" in mismatch.value.render(CLI) and "--type movie" in bad_kind.value.render(CLI)
    assert "searchengine index FOLDER --index" in missing.value.render(CLI)


def test_verify_and_repair(ix, files):
    ix.sync(files)
    assert ix.verify().ok
    (ix.path / "vectors.faiss").unlink()
    assert not ix.verify().ok
    report = ix.repair()
    assert report.ok and report.repaired and _names(ix.search("red", kind="image", k=1)) == ["red.png"]


def test_the_model_cache_goes_where_it_is_told(files, tmp_path, session_home):
    with Index.open(tmp_path / "index", model="demo", cache_dir=tmp_path / "my-cache") as ix:
        ix.sync(files / "texts")
    assert list((tmp_path / "my-cache" / "calibration").glob("demo-*.npy"))  # the generic queries' vectors
    assert not list((session_home / "cache" / "calibration").glob("demo-*.npy"))


def test_library_errors_are_search_engine_errors(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(SearchEngineError):
        Index.open(tmp_path / "index", model="demo").sync(tmp_path / "file")
