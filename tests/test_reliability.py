"""Reliability: a corpus of bad files, one writer at a time, verify and repair, searching while indexing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest
from PIL import Image

from conftest import PHOTOS, REPO, TEXTS
from searchengine.config import IngestSettings
from searchengine.errors import IndexLocked
from searchengine.index_folder import IndexFolder
from searchengine.ingest import index_folder
from searchengine.query import Filters, Query, Searcher
from searchengine.verify import repair, verify

SETTINGS = IngestSettings(device="cpu", workers=2)


def _bad_corpus(folder):
    """Each case from the reliability issue; returns (good file names, bad file names)."""
    good, bad = [], []
    photo = (PHOTOS / "coffee_cup.jpg").read_bytes()

    def add(name, data, ok):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data) if isinstance(data, bytes) else path.write_text(data, encoding="utf-8")
        (good if ok else bad).append(name)

    add("zero.jpg", b"", False)
    add("truncated.jpg", photo[: len(photo) // 3], False)
    png = (PHOTOS / "horse_silhouette.png").read_bytes()
    add("corrupt.png", png[:60] + b"\x00" * 200 + png[260:], False)
    add("text-named.jpg", "this is not a picture", False)
    add("binary.txt", b"\x00\xff\x10" * 5000, False)
    add("corrupt.ogg", os.urandom(4000), False)
    bomb = folder / "bomb.png"
    Image.new("1", (12_000, 12_000)).save(bomb, optimize=True)
    bad.append("bomb.png")

    add("real-jpeg-named.png", photo, True)  # wrong extension: decoded by content
    Image.open(PHOTOS / "cat_chelsea.jpg").convert("CMYK").save(folder / "cmyk.jpg")
    good.append("cmyk.jpg")
    sixteen = (np.linspace(0, 65535, 64 * 64).reshape(64, 64)).astype(np.uint16)
    Image.fromarray(sixteen).save(folder / "sixteen-bit.png")
    good.append("sixteen-bit.png")
    Image.open(PHOTOS / "dahlia_flower.jpg").convert("P", palette=Image.Palette.ADAPTIVE).save(folder / "palette.gif")
    good.append("palette.gif")
    rgba = Image.open(PHOTOS / "rocket_launch_pad.jpg").convert("RGBA")
    rgba.putalpha(128)
    rgba.save(folder / "transparent.png")
    good.append("transparent.png")
    add("latin1.txt", "Crème brûlée et café au lait, à la française.".encode("latin-1"), True)
    # ~10 MB: indexed up to the first MiB (what follows the paragraph is blank lines, to keep the test quick)
    add("huge.txt", "A long note about gardening and tomatoes. " * 20 + "\n" * (10 * 1024 * 1024), True)
    add("name with spaces and ünïcödé 猫.md", (TEXTS / "cats_and_sleep.md").read_text(), True)
    add("new\nline.txt", "A file whose name has a newline, about sourdough bread.", True)
    deep = "/".join(f"level{i}" for i in range(40))
    add(f"{deep}/deep.txt", "Deep down, a note about coins and numismatics.", True)
    (folder / "dangling.jpg").symlink_to(folder / "does-not-exist.jpg")
    (folder / "loop").symlink_to(folder)
    return good, bad


def test_bad_files_never_stop_a_run(tmp_path, bundled):
    folder = tmp_path / "bad"
    folder.mkdir()
    good, bad = _bad_corpus(folder)
    index_dir = tmp_path / "index"
    summary = index_folder(folder, index_dir, SETTINGS, encoder=bundled)
    failed = {os.path.relpath(path, folder) for path, _ in summary.errors}
    assert failed == set(bad), summary.errors
    assert all(reason.strip() and "\n" not in reason for _, reason in summary.errors)
    assert summary.added == len(good)
    with IndexFolder.open(index_dir) as index:
        listed = {os.path.relpath(p, folder) for p, _ in index.catalog.failed_files()}
    assert listed == set(bad)
    searcher = Searcher(IndexFolder.open(index_dir), bundled)
    hits = searcher.search(Query(text="a cat"), Filters(kind="image", min_score=None), k=3)
    assert any(h.path.endswith("cmyk.jpg") for h in hits)
    texts = searcher.search(Query(text="coins and numismatics"), Filters(kind="text", min_score=None), k=1)
    assert texts[0].path.endswith("deep.txt")
    searcher.close()


def test_one_writer_at_a_time(tmp_path, bundled, media_folder):
    index_dir = tmp_path / "index"
    index_folder(media_folder, index_dir, SETTINGS, encoder=bundled)
    with IndexFolder.open_for_writing(index_dir, "bundled", bundled.id, bundled.dim, "auto"):
        with pytest.raises(IndexLocked, match="wait for it"):
            index_folder(media_folder, index_dir, SETTINGS, encoder=bundled)
    # released when the writer ends (also when it dies: the lock is the kernel's)
    assert index_folder(media_folder, index_dir, SETTINGS, encoder=bundled).unchanged == 7


def test_verify_and_repair(tmp_path, bundled, media_folder):
    index_dir = tmp_path / "index"
    index_folder(media_folder, index_dir, SETTINGS, encoder=bundled)
    assert verify(index_dir).ok

    (index_dir / "vectors.faiss").unlink()
    report = verify(index_dir)
    assert not report.ok and "missing" in report.problems[0]
    (media_folder / "photos" / "coffee_cup.jpg").unlink()
    report = verify(index_dir)
    assert report.missing_files == [str(media_folder / "photos" / "coffee_cup.jpg")]
    fixed = repair(index_dir)
    assert fixed.ok and not fixed.missing_files and fixed.repaired

    catalog = index_dir / "catalog.sqlite"
    for suffix in ("-wal", "-shm"):
        (index_dir / f"catalog.sqlite{suffix}").unlink(missing_ok=True)
    os.truncate(catalog, catalog.stat().st_size // 2)
    broken = verify(index_dir)
    assert not broken.ok and "damaged" in broken.problems[0]
    restored = repair(index_dir)
    assert restored.ok
    searcher = Searcher.open(index_dir, device="cpu")
    assert searcher.search(Query(text="a cat"), Filters(kind="image", min_score=None), k=1)[0].path.endswith("cat_chelsea.jpg")
    searcher.close()


def test_searches_keep_working_while_indexing(tmp_path, bundled, media_folder):
    index_dir = tmp_path / "index"
    index_folder(media_folder, index_dir, SETTINGS, encoder=bundled)
    extra = media_folder / "extra"
    extra.mkdir()
    for i in range(40):
        shutil.copy2(TEXTS / "coin_collecting.txt", extra / f"coins-{i}.txt")
        (extra / f"coins-{i}.txt").write_text(f"Note {i}: " + (TEXTS / "coin_collecting.txt").read_text())
    errors, results = [], []
    done = threading.Event()

    def search_loop():
        searcher = Searcher(IndexFolder.open(index_dir), bundled)
        try:
            while not done.is_set():
                hits = searcher.search(Query(text="a cat"), Filters(min_score=None), k=5)
                results.append(len(hits))
                searcher.index._vectors = None  # look at the newest committed state each time
        except Exception as exc:  # noqa: BLE001 - any failure is the test's finding
            errors.append(exc)
        finally:
            searcher.close()

    thread = threading.Thread(target=search_loop)
    thread.start()
    index_folder(media_folder, index_dir, IngestSettings(device="cpu", workers=2, commit_every=4), encoder=bundled)
    done.set()
    thread.join()
    assert not errors
    assert results and all(n == 5 for n in results)


@pytest.mark.slow
def test_kill_at_random_points_then_resume(tmp_path, session_home):
    """SIGKILL `searchengine index` at seeded random moments, re-run, compare with a clean run."""
    rng = np.random.default_rng(7)
    folder = tmp_path / "many"
    folder.mkdir()
    colours = rng.integers(0, 255, size=(240, 3))
    for i, colour in enumerate(colours):
        Image.new("RGB", (48, 48), tuple(int(c) for c in colour)).save(folder / f"img-{i:03d}.png")
    for i in range(60):
        (folder / f"note-{i:02d}.txt").write_text(f"Note number {i} about topic {i % 7}.")
    env = {**os.environ, "SEARCHENGINE_HOME": str(session_home), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "searchengine", "index", str(folder), "--quiet", "--workers", "2"]

    def run(index_dir, kill_after=None):
        proc = subprocess.Popen(command + ["--index", str(index_dir)], env=env, cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return proc.returncode

    clean = tmp_path / "clean"
    assert run(clean) == 0
    killed = tmp_path / "killed"
    for _ in range(10):
        run(killed, kill_after=float(rng.uniform(4, 20)))
    assert run(killed) == 0

    def state(index_dir):
        with IndexFolder.open(index_dir) as index:
            files = {p: (k.size, k.content_hash, k.status) for p, k in index.catalog.all_files().items()}
            return files, index.catalog.segment_count(), index.vectors.ntotal

    assert state(killed) == state(clean)
    assert verify(killed).ok
