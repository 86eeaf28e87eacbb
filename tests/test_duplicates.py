"""`duplicates`: copies and edits of real photos are grouped, distinct photos are not; texts; --json shape."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from searchengine import Index
from searchengine.duplicates import close_pairs
from searchengine.errors import UsageError

from conftest import PHOTOS, TEXTS, run_cli


def _edited(source: Path, target: Path, edit: str) -> Path:
    from PIL import Image, ImageEnhance

    with Image.open(source) as opened:
        image = opened.convert("RGB")
    w, h = image.size
    if edit == "resized":
        image = image.resize((w // 3, h // 3), Image.Resampling.LANCZOS)
    elif edit == "cropped":
        image = image.crop((int(w * 0.06), int(h * 0.04), int(w * 0.96), int(h * 0.92)))  # 10 % and 12 % off
    elif edit == "darker":
        image = ImageEnhance.Brightness(image).enhance(0.75)
    target.parent.mkdir(parents=True, exist_ok=True)
    if edit == "png":
        image.save(target.with_suffix(".png"), "PNG")
        return target.with_suffix(".png")
    image.save(target, "JPEG", quality=35 if edit == "jpeg" else 90)
    return target


@pytest.fixture(scope="module")
def library(tmp_path_factory, bundled):
    folder = tmp_path_factory.mktemp("dups") / "photos"
    folder.mkdir()
    for name in (
        "cat_chelsea.jpg",
        "coffee_cup.jpg",
        "dahlia_flower.jpg",
        "grass_texture.jpg",
        "dune_grass_by_the_sea.jpg",
        "brick_wall.jpg",
    ):
        shutil.copy2(PHOTOS / name, folder / name)
    (folder / "copies").mkdir()
    shutil.copy2(PHOTOS / "cat_chelsea.jpg", folder / "copies" / "cat again.jpg")
    edits = {
        edit: _edited(PHOTOS / "coffee_cup.jpg", folder / "exports" / f"coffee-{edit}.jpg", edit)
        for edit in ("resized", "jpeg", "cropped", "darker", "png")
    }
    (folder / "notes").mkdir()
    shutil.copy2(TEXTS / "cats_and_sleep.md", folder / "notes" / "cats.md")
    shutil.copy2(TEXTS / "cats_and_sleep.md", folder / "notes" / "cats (copy).md")
    index_dir = folder.parent / "index"
    with Index.open(index_dir, encoder=bundled) as ix:
        ix.sync(folder, workers=1)
    return folder, index_dir, edits


def test_copies_and_edits_are_one_group_distinct_photos_are_not(library):
    folder, index_dir, edits = library
    with Index.open(index_dir, create=False) as ix:
        groups = ix.duplicates(kind="image")
    by_keep = {Path(g.keep).name: g for g in groups}
    coffee = by_keep["coffee_cup.jpg"]  # the original: largest resolution, then oldest
    edited = {p.name for p in edits.values()}
    assert {Path(f.path).name for f in coffee.files} == {"coffee_cup.jpg", *edited}
    assert coffee.match == "near" and 0 < coffee.similarity <= 1
    cat = by_keep["cat_chelsea.jpg"]
    assert {Path(f.path).name for f in cat.files} == {"cat_chelsea.jpg", "cat again.jpg"} and cat.match == "exact"
    grouped = {Path(f.path).name for g in groups for f in g.files}
    assert not grouped & {"dahlia_flower.jpg", "grass_texture.jpg", "dune_grass_by_the_sea.jpg", "brick_wall.jpg"}
    assert groups[0] is coffee  # largest first
    with Index.open(index_dir, create=False) as ix:  # stricter: the crop (10 % and 12 % off) is left out
        strict = ix.duplicates(kind="image", threshold=0.95)
    coffee = next(g for g in strict if Path(g.keep).name == "coffee_cup.jpg")
    assert edits["cropped"].name not in {Path(f.path).name for f in coffee.files}
    assert edits["resized"].name in {Path(f.path).name for f in coffee.files}


def test_exact_only_and_texts(library):
    _, index_dir, _ = library
    with Index.open(index_dir, create=False) as ix:
        exact = ix.duplicates(near=False)
        texts = ix.duplicates(kind="text")
        with pytest.raises(UsageError):
            ix.duplicates(kind="pictures")
        with pytest.raises(UsageError):
            ix.duplicates(threshold=1.5)
    assert sorted(g.kind for g in exact) == ["image", "text"]
    assert [sorted(Path(f.path).name for f in g.files) for g in texts] == [["cats (copy).md", "cats.md"]]


def test_cli_json_shape(library, session_home):
    _, index_dir, _ = library
    proc = run_cli("duplicates", "--index", index_dir, "--json", home=session_home)
    groups = json.loads(proc.stdout)
    assert isinstance(groups, list) and groups
    for group in groups:
        assert set(group) == {"files", "keep", "kind", "similarity", "match"}
        assert group["keep"] == group["files"][0]["path"]
        for file in group["files"]:
            assert Path(file["path"]).is_absolute()
            assert {"path", "size", "width", "height", "date", "item_id"} <= set(file)
    human = run_cli("duplicates", "--index", index_dir, "--kind", "image", home=session_home).stdout
    assert "keep" in human and "coffee_cup.jpg" in human
    bad = run_cli("duplicates", "--index", index_dir, "--kind", "pictures", home=session_home, check=False)
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1


def test_close_pairs_exact_and_inverted_file_agree():
    import numpy as np

    import searchengine.duplicates as duplicates

    rng = np.random.default_rng(1)
    x = rng.standard_normal((3000, 32)).astype(np.float32)
    x[2000:2100] = x[:100] + 0.01 * rng.standard_normal((100, 32)).astype(np.float32)
    exact = {(i, j) for i, j, _ in close_pairs(x, 0.9)}
    old = duplicates.EXACT_LIMIT
    duplicates.EXACT_LIMIT = 100
    try:
        approx = {(i, j) for i, j, _ in close_pairs(x, 0.9)}
    finally:
        duplicates.EXACT_LIMIT = old
    assert {(i, i + 2000) for i in range(100)} <= exact
    assert len(approx & exact) >= 0.95 * len(exact)


def test_fingerprints_are_kept_and_deleted_files_left_out(library, tmp_path):
    folder, index_dir, edits = library
    assert (index_dir / "fingerprints.npz").is_file()  # kept by the runs above
    copy = tmp_path / "index"
    shutil.copytree(index_dir, copy)
    moved = tmp_path / "aside.jpg"
    shutil.move(edits["resized"], moved)  # deleted since it was indexed
    try:
        with Index.open(copy, create=False) as ix:
            groups = ix.duplicates(kind="image")
    finally:
        shutil.move(moved, edits["resized"])
    names = {Path(f.path).name for g in groups for f in g.files}
    assert edits["resized"].name not in names and edits["jpeg"].name in names


def test_files_sharing_a_long_passage_are_a_group_of_their_own(tmp_path):
    """Two different reports that quote one paragraph: a "passage" group, no file to throw away."""
    shared = " ".join(f"The committee agreed that budget line {n} moves to the spring review." for n in range(4))
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "report-a.txt").write_text(f"Minutes of March.\n\n{shared}\n\nThe rest of March is about roads.\n")
    (folder / "report-b.txt").write_text(f"Minutes of April, a different text.\n\n{shared}\n\nApril ends with parks.\n")
    (folder / "short-a.txt").write_text("Chapter one.\n\nA line too short to count as a copy.\n")
    (folder / "short-b.txt").write_text("Chapter one.\n\nAnother short text.\n")
    with Index.open(tmp_path / "index", model="demo", cache_dir=tmp_path / "cache") as ix:
        ix.sync(folder)
        groups = ix.duplicates(kind="text")
    passages = [g for g in groups if g.match == "passage"]
    assert len(passages) == 1 and passages[0].similarity == 1.0
    assert sorted(Path(f.path).name for f in passages[0].files) == ["report-a.txt", "report-b.txt"]
    shown = passages[0].as_json()
    assert "budget line" in shown["passage"] and shown["keep"] in {f["path"] for f in shown["files"]}
