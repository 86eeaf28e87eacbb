"""Dataset builders in benchmarks/datasets: real files, real subprocess runs.

The Tux Paint and Open Clip Art tests need Debian packages; without them they
skip. Install them with:
    apt-get update && apt-get install -y tuxpaint-stamps-default openclipart-svg librsvg2-bin
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT / "benchmarks" / "datasets"
sys.path.insert(0, str(ROOT))

from benchmarks.datasets import common  # noqa: E402

TUX = Path("/usr/share/tuxpaint/stamps")
OPENCLIPART = Path("/usr/share/openclipart/svg")
APT_HINT = "apt-get update && apt-get install -y tuxpaint-stamps-default openclipart-svg librsvg2-bin"


def run_builder(name: str, *args, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, str(DATASETS / f"{name}.py"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def counts_of(proc) -> dict:
    return json.loads(proc.stdout.strip().splitlines()[-1])


def read_split(folder: Path) -> dict:
    return json.loads((folder / "split.json").read_text(encoding="utf-8"))


def check_folder(folder: Path) -> list[dict]:
    """Every pair is well-formed and every path it names is a readable file."""
    pairs = common.read_jsonl(folder / "pairs.jsonl")
    assert pairs
    for pair in pairs:
        assert not Path(pair["image"]).is_absolute()
        assert pair["captions"] and all(isinstance(c, str) and c.strip() == c and c for c in pair["captions"])
        with Image.open(folder / pair["image"]) as im:
            im.load()
        if "audio" in pair:
            assert (folder / pair["audio"]).stat().st_size > 0
    return pairs


# ---------------------------------------------------------------- common


def test_splits_are_seeded_and_disjoint():
    keys = [f"images/{i:03d}.png" for i in range(100)]
    a = common.random_split(keys, 0.2, seed=0)
    assert a == common.random_split(reversed(keys), 0.2, seed=0)
    assert len(a) == 20 and a != common.random_split(keys, 0.2, seed=1)
    sizes = {"a": 50, "b": 30, "c": 10, "d": 5, "e": 5}
    groups = common.group_split(sizes, 0.2, seed=0)
    assert groups == common.group_split(dict(reversed(sizes.items())), 0.2, seed=0)
    assert 0 < sum(sizes[g] for g in groups) < 100
    # --limit draws independently of the split, and stays sorted
    sample = common.sample_limit(keys, 10, seed=0)
    assert sample == sorted(sample) and len(sample) == 10


def test_render_svg_trims_margins(tmp_path):
    if not common.have_rsvg():
        pytest.skip(f"rsvg-convert missing: {APT_HINT}")
    svg = tmp_path / "dot.svg"
    svg.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="1000" height="1000">'
        '<rect x="450" y="480" width="100" height="40" fill="#ff0000"/></svg>'
    )
    out = tmp_path / "dot.png"
    assert common.render_svg(svg, out, 64, trim=True) is None
    with Image.open(out) as im:
        assert im.size == (64, 64) and im.mode == "RGB"
        # the 100×40 rectangle now spans most of the width
        row = [im.getpixel((x, 32)) for x in range(64)]
        assert sum(1 for p in row if p[0] > 200 and p[1] < 80) >= 55
    blank = tmp_path / "blank.svg"
    blank.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
    assert common.render_svg(blank, tmp_path / "blank.png", 32) == "blank render"
    assert not (tmp_path / "blank.png").exists()


# ---------------------------------------------------------------- karpathy


@pytest.fixture()
def karpathy_source(tmp_path):
    images = tmp_path / "originals"
    (images / "val2014").mkdir(parents=True)
    entries = []
    colours = ["red", "green", "blue", "yellow", "purple", "orange"]
    splits = ["train", "restval", "val", "test", "test", "test"]
    for i, (colour, split) in enumerate(zip(colours, splits)):
        coco_style = i % 2 == 0
        name = f"{i:04d}.jpg"
        path = images / "val2014" / name if coco_style else images / name
        Image.new("RGB", (32, 24), colour).save(path)
        entry = {
            "filename": name,
            "split": split,
            "imgid": i,
            "sentences": [
                {"raw": f"  A {colour} square. ", "tokens": ["a", colour, "square"]},
                {"raw": f"a plain {colour}\nrectangle"},
                {"raw": f"A {colour} square."},  # duplicate: dropped
            ],
        }
        if coco_style:
            entry["filepath"] = "val2014"
            entry["cocoid"] = 1000 + i
        entries.append(entry)
    data = tmp_path / "dataset_synthetic.json"
    data.write_text(json.dumps({"images": entries, "dataset": "synthetic"}))
    return data, images


def test_karpathy_test_split_symlinks(tmp_path, karpathy_source):
    data, images = karpathy_source
    out = tmp_path / "flickr-test"
    counts = counts_of(run_builder("karpathy", out, "--json", data, "--images", images, "--split", "test"))
    assert counts["images"] == 3 and counts["captions"] == 6
    pairs = check_folder(out)
    assert [p["id"] for p in pairs] == [3, 1004, 5]
    assert pairs[0] == {
        "image": "images/0003.jpg",
        "captions": ["A yellow square.", "a plain yellow rectangle"],
        "id": 3,
    }
    assert pairs[1]["image"] == "images/val2014/0004.jpg"
    link = out / pairs[1]["image"]
    assert link.is_symlink() and link.resolve() == (images / "val2014" / "0004.jpg").resolve()
    split = read_split(out)
    assert split["written"] == "test" and split["builder"] == "karpathy"
    assert split["train"] == ["images/0001.jpg", "images/val2014/0000.jpg"]  # restval is train
    assert split["val"] == ["images/val2014/0002.jpg"]
    assert set(split["test"]) == {p["image"] for p in pairs}
    assert not (out / "train.jsonl").exists()
    assert common.load_pairs(out, "test") == pairs
    with pytest.raises(FileNotFoundError):
        common.load_pairs(out, "train")


def test_karpathy_all_copy_limit_and_missing(tmp_path, karpathy_source):
    data, images = karpathy_source
    out = tmp_path / "all"
    run_builder("karpathy", out, "--json", data, "--images", images, "--split", "all", "--mode", "copy")
    pairs = check_folder(out)
    assert len(pairs) == 6
    assert not any((out / p["image"]).is_symlink() for p in pairs)
    train, val, test = (common.load_pairs(out, s) for s in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (2, 1, 3)
    assert not {p["image"] for p in train} & {p["image"] for p in test}

    # rebuilding the same folder smaller prunes the images it no longer lists
    run_builder("karpathy", out, "--json", data, "--images", images, "--split", "test", "--limit", "1")
    assert len(check_folder(out)) == 1
    assert len([p for p in (out / "images").rglob("*") if p.is_file()]) == 1
    assert not (out / "train.jsonl").exists()

    (images / "0005.jpg").unlink()
    proc = run_builder("karpathy", tmp_path / "m", "--json", data, "--images", images, check=False)
    assert proc.returncode != 0 and "not found" in proc.stderr
    counts = counts_of(run_builder("karpathy", tmp_path / "m", "--json", data, "--images", images, "--allow-missing"))
    assert counts["images"] == 2 and counts["missing"] == 1


def test_builders_refuse_foreign_nonempty_folder(tmp_path, karpathy_source):
    data, images = karpathy_source
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    proc = run_builder("karpathy", out, "--json", data, "--images", images, check=False)
    assert proc.returncode != 0 and "not empty" in proc.stderr
    assert (out / "notes.txt").read_text() == "keep me"


# ---------------------------------------------------------------- tux paint


def test_tuxpaint_caption_file(tmp_path):
    from benchmarks.datasets import tuxpaint

    txt = tmp_path / "crow.txt"
    txt.write_text(
        "  A  crow. \nfr.utf8=Un corbeau.\nhi.utf8=एक कौवा|\n"
        "pt_BR.utf8=Um corvo.\nca@valencia.utf8=Un corb.\nzz.utf8=\n",
        encoding="utf-8",
    )
    english, tr = tuxpaint.parse_caption_file(txt)
    assert english == "A crow."
    assert tr == {"fr": "Un corbeau.", "hi": "एक कौवा", "pt_BR": "Um corvo.", "ca@valencia": "Un corb."}


@pytest.mark.skipif(not TUX.is_dir(), reason=f"Tux Paint stamps missing: {APT_HINT}")
def test_tuxpaint_split_is_stable_and_disjoint(tmp_path):
    a, b, t = tmp_path / "a", tmp_path / "b", tmp_path / "t"
    ca = counts_of(run_builder("tuxpaint", a, "--limit", 40))
    run_builder("tuxpaint", b, "--limit", 40)
    counts_of(run_builder("tuxpaint", t, "--split", "test", "--no-translations"))

    sa, sb, st = read_split(a), read_split(b), read_split(t)
    for key in ("train", "test"):
        assert sa[key] == sb[key] == st[key]  # stable across runs, --limit and --split
    train, test = set(sa["train"]), set(sa["test"])
    assert not train & test
    n = len(train) + len(test)
    assert n > 400 and abs(len(test) - round(0.2 * n)) == 0
    assert not any(p.startswith("images/symbols/") for p in train | test)

    pairs = check_folder(a)
    assert len(pairs) == ca["images"] == 40
    assert (a / "pairs.jsonl").read_bytes() == (b / "pairs.jsonl").read_bytes()
    assert {p["image"] for p in common.load_pairs(a, "test")} <= test
    assert {p["image"] for p in common.load_pairs(a, "train")} <= train
    assert all("translations" in p and p["category"] for p in pairs)

    test_pairs = check_folder(t)
    assert {p["image"] for p in test_pairs} == test
    assert all("translations" not in p for p in test_pairs)
    assert any("audio" in p for p in test_pairs)
    on_disk = {p.relative_to(t).as_posix() for p in (t / "images").rglob("*.png")}
    assert on_disk == test  # a test-only folder holds no training image
    assert "GNU General Public License" in (t / "LICENSE.txt").read_text()


# ---------------------------------------------------------------- openclipart


@pytest.mark.skipif(
    not (OPENCLIPART.is_dir() and shutil.which("rsvg-convert")),
    reason=f"openclipart-svg or rsvg-convert missing: {APT_HINT}",
)
def test_openclipart_small_build(tmp_path):
    out = tmp_path / "oc"
    counts = counts_of(run_builder("openclipart", out, "--limit", 12, "--workers", 2, "--size", 96))
    assert counts["rendered"] + counts["render_failed"] == 12
    pairs = check_folder(out)
    assert len(pairs) == counts["rendered"]
    for pair in pairs:
        with Image.open(out / pair["image"]) as im:
            assert im.size == (96, 96) and im.mode == "RGB"
        assert pair["group"] == pair["source"].split("/")[0]
    split = read_split(out)
    group = lambda img: img.split("/")[1]  # noqa: E731  images/<group>/...
    train_groups = {group(i) for i in split["train"]}
    test_groups = {group(i) for i in split["test"]}
    assert not train_groups & test_groups  # split by top-level folder
    assert test_groups == set(split["test_groups"])
    assert 0.1 < len(split["test"]) / (len(split["train"]) + len(split["test"])) < 0.3
