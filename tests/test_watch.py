"""`searchengine watch` in a subprocess against real file-system events: create, modify, delete,
rename, a half-written file taken only once complete, a catch-up on start, Ctrl-C."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from searchengine import Index

from conftest import PHOTOS, REPO, TEXTS, run_cli

WAIT = 30.0  # seconds a change may take to show up here (the watcher's own latency is benchmarked)
# Each test has its own SEARCHENGINE_HOME: the demo model's caches stay out of the session's.


def _indexed(index_dir: Path) -> dict[str, int]:
    """Indexed paths -> size."""
    from searchengine.store.reader import CatalogReader

    reader = CatalogReader(index_dir / "catalog.sqlite")
    try:
        return {path: size for _, path, _, size, *_ in reader.ok_items(["image", "text", "audio", "video"])}
    finally:
        reader.close()


def _until(check, what: str, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"not seen within {timeout:.0f} s: {what}")


@pytest.fixture
def watched(tmp_path):
    folder = tmp_path / "media"
    folder.mkdir()
    shutil.copy2(PHOTOS / "cat_chelsea.jpg", folder / "cat.jpg")
    (folder / ".searchengineignore").write_text("drafts/\n")
    (folder / "drafts").mkdir()
    index_dir = tmp_path / "index"
    run_cli("index", folder, "--index", index_dir, "--model", "demo", home=tmp_path / "home")
    shutil.copy2(TEXTS / "cats_and_sleep.md", folder / "while-away.md")  # changed while not watching
    env = {**os.environ, "SEARCHENGINE_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}
    log = open(tmp_path / "watch.log", "w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "searchengine", "watch", str(folder), "--index", str(index_dir), "--debounce", "0.3"],
        stdout=subprocess.DEVNULL,
        stderr=log,
        env=env,
        cwd=REPO,
    )
    try:
        _until(lambda: "caught up" in Path(log.name).read_text(), "the catch-up run", timeout=120)
        yield folder, index_dir, proc, Path(log.name)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def test_watch_applies_changes_and_stops_cleanly(watched):
    folder, index_dir, proc, log = watched
    assert str(folder / "while-away.md") in _indexed(index_dir)  # caught up on start

    shutil.copy2(PHOTOS / "coffee_cup.jpg", folder / "coffee.jpg")  # create
    _until(lambda: str(folder / "coffee.jpg") in _indexed(index_dir), "a new photo")

    (folder / "while-away.md").write_text("A different note about cats, rewritten.\n")  # modify
    _until(lambda: _indexed(index_dir).get(str(folder / "while-away.md")) == 40, "a changed text")

    (folder / "coffee.jpg").rename(folder / "cup.jpg")  # rename
    _until(
        lambda: (
            str(folder / "cup.jpg") in _indexed(index_dir) and str(folder / "coffee.jpg") not in _indexed(index_dir)
        ),
        "a renamed photo",
    )

    _until(lambda: "1 renamed" in log.read_text(), "the rename reported (vectors kept, nothing embedded)")

    # what a sync leaves out, watching leaves out too: an ignored folder, a hidden one
    (folder / "drafts" / "draft.md").write_text("A draft about cats, not to be indexed.\n")
    (folder / ".notes").mkdir()
    (folder / ".notes" / "hidden.md").write_text("A hidden note about cats.\n")

    (folder / "cat.jpg").unlink()  # delete
    _until(lambda: str(folder / "cat.jpg") not in _indexed(index_dir), "a deleted photo")

    # half-written: the first half, a pause longer than the watcher's settle time, then the rest
    data = (PHOTOS / "rocket_launch_pad.jpg").read_bytes()
    target = folder / "rocket.jpg"
    with open(target, "wb") as fh:
        fh.write(data[: len(data) // 2])
        fh.flush()
        time.sleep(3)
        assert str(target) not in _indexed(index_dir), "indexed while still being written"
        fh.write(data[len(data) // 2 :])
    _until(lambda: _indexed(index_dir).get(str(target)) == len(data), "the completed photo")
    assert "failed" not in log.read_text()
    indexed = _indexed(index_dir)
    assert str(folder / "drafts" / "draft.md") not in indexed and str(folder / ".notes" / "hidden.md") not in indexed

    proc.send_signal(signal.SIGINT)  # Ctrl-C
    assert proc.wait(timeout=30) == 0
    assert "stopped" in log.read_text()
    with Index.open(index_dir, create=False) as ix:
        assert ix.verify().ok


@pytest.mark.slow
def test_serve_watch_makes_a_new_photo_searchable(tmp_path):
    """`serve --watch`: the served index follows the folder; a photo copied in is found by the API."""
    import json
    import socket
    import urllib.request

    pytest.importorskip("uvicorn", reason="serve needs the serve extra")
    folder = tmp_path / "media"
    folder.mkdir()
    shutil.copy2(PHOTOS / "cat_chelsea.jpg", folder / "cat.jpg")
    (folder / ".searchengineignore").write_text("drafts/\n")
    (folder / "drafts").mkdir()
    index_dir = tmp_path / "index"
    run_cli("index", folder, "--index", index_dir, "--model", "demo", home=tmp_path / "home")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "SEARCHENGINE_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}
    log = open(tmp_path / "serve.log", "w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "searchengine", "serve", "--index", str(index_dir), "--port", str(port), "--watch"],
        stdout=subprocess.DEVNULL,
        stderr=log,
        env=env,
        cwd=REPO,
    )

    def names() -> set[str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/search?q=photo&k=50", timeout=5) as r:
                return {hit["name"] for hit in json.load(r)["hits"]}
        except OSError:
            return set()

    try:
        _until(lambda: "cat.jpg" in names() and "caught up" in Path(log.name).read_text(), "the server", 120)
        shutil.copy2(PHOTOS / "coffee_cup.jpg", folder / "coffee.jpg")
        _until(lambda: "coffee.jpg" in names(), "the new photo in the served index")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_the_watcher_leaves_out_what_a_sync_leaves_out(tmp_path):
    from searchengine.media.discover import ignore_spec, left_out

    root = tmp_path / "media"
    root.mkdir()
    (root / ".searchengineignore").write_text("drafts/\n*.tmp.md\n")
    spec = ignore_spec(root, ["private/"])
    assert left_out(root / "drafts" / "a" / "note.md", root, spec)  # under an ignored folder
    assert left_out(root / "private" / "note.md", root, spec)  # an exclude pattern
    assert left_out(root / "x.tmp.md", root, spec)
    assert left_out(root / ".cache" / "thumb.png", root, spec)  # hidden on the way
    assert left_out(root / "drafts", root, spec, is_dir=True)
    assert not left_out(root / "notes" / "note.md", root, spec)
    assert not left_out(tmp_path / "elsewhere.md", root, spec)  # not under root: not for these rules
