"""A real index damaged in every way listed in issue 19, and what search, status, verify, repair and
serve then do.

Each case copies one clean index (photos and texts embedded with the bundled encoder), damages a
file of it, and checks the promised outcome (README, "What happens when things go wrong"):
- catalog deleted, truncated or garbled: search, status and serve fail with one line naming
  `searchengine repair`; verify reports it and exits 1; repair brings every file back;
- vectors deleted, truncated or garbled: search and serve rebuild them from the catalog (a warning);
  verify reports it; repair writes a good file;
- manifest deleted, truncated or garbled: search and status fail naming repair; repair rewrites it
  from the catalog;
- calibration deleted or garbled: search recomputes it; verify reports a garbled one; repair removes it;
- a read-only folder (mounted read-only, or mode 555 for other users than root): search, status,
  verify and serve work and write nothing; repair refuses in one line.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from searchengine.cli.app import app as cli
from searchengine.config import cache_dir
from searchengine.errors import CatalogMissing, IndexFormatError, ManifestMissing
from searchengine.ingest.run import sync_folder
from searchengine.ingest.settings import IngestSettings
from searchengine.query import Filters, Query, Searcher
from searchengine.status import index_status
from searchengine.verify import repair, verify

from conftest import PHOTOS, REPO, TEXTS

SETTINGS = IngestSettings(device="cpu", workers=2)
PHOTO_NAMES = ("cat_chelsea.jpg", "coffee_cup.jpg", "rocket_launch_pad.jpg", "dahlia_flower.jpg")
TEXT_NAMES = ("bicycle_repair_guide.md", "cats_and_sleep.md", "coin_collecting.txt")
FILES = len(PHOTO_NAMES) + len(TEXT_NAMES)


@pytest.fixture(scope="module")
def clean(tmp_path_factory, bundled):
    """(media folder, a clean index of it)."""
    base = tmp_path_factory.mktemp("damage")
    media = base / "media"
    media.mkdir()
    for name in PHOTO_NAMES:
        shutil.copy2(PHOTOS / name, media / name)
    for name in TEXT_NAMES:
        shutil.copy2(TEXTS / name, media / name)
    index_dir = base / "clean"
    sync_folder(media, index_dir, SETTINGS, encoder=bundled, cache_dir=cache_dir())
    return media, index_dir


@pytest.fixture
def index(clean, tmp_path) -> Path:
    """A fresh copy of the clean index to damage."""
    copy = tmp_path / "index"
    shutil.copytree(clean[1], copy)
    return copy


def _search(index_dir: Path, bundled, text="a cat sleeping"):
    searcher = Searcher.open(index_dir, encoder=bundled)
    try:
        return searcher.search(Query(text=text), Filters(kind="image", min_score=None), k=1)
    finally:
        searcher.close()


def _cli(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def _all_back(index_dir: Path, bundled) -> None:
    report = verify(index_dir)
    assert report.ok, report
    assert index_status(index_dir)["counts"]["items"] == FILES
    assert _search(index_dir, bundled)[0].path.endswith("cat_chelsea.jpg")


def _garble(path: Path, at: float = 0.5, size: int = 4096) -> None:
    data = bytearray(path.read_bytes())
    start = int(len(data) * at)
    data[start : start + size] = os.urandom(len(data[start : start + size]))
    path.write_bytes(bytes(data))


def _damage_catalog(index_dir: Path, how: str) -> None:
    catalog = index_dir / "catalog.sqlite"
    for suffix in ("-wal", "-shm"):
        (index_dir / f"catalog.sqlite{suffix}").unlink(missing_ok=True)
    if how == "deleted":
        catalog.unlink()
    elif how == "truncated":
        os.truncate(catalog, catalog.stat().st_size // 2)
    else:
        pages = catalog.stat().st_size // 4096
        with open(catalog, "r+b") as fh:
            for page in (1, 2, 3, pages // 5, pages // 3, pages // 2, 2 * pages // 3, pages - 2, pages - 1):
                fh.seek(page * 4096)
                fh.write(os.urandom(4096))


# --- the catalog ------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["deleted", "truncated", "garbled"])
def test_damaged_catalog(index, bundled, how):
    _damage_catalog(index, how)
    expected = CatalogMissing if how == "deleted" else IndexFormatError
    with pytest.raises(expected, match="repair the index"):
        _search(index, bundled)
    with pytest.raises(expected, match="repair the index"):
        index_status(index)
    assert not (index / "catalog.sqlite").exists() or how != "deleted"  # nothing read-only made a new one
    result = _cli("status", "--index", index)
    assert result.exit_code == 1 and "searchengine repair" in result.output
    assert len(result.output.strip().splitlines()) == 1
    result = _cli("verify", "--index", index)
    assert result.exit_code == 1 and "NOT ok" in result.output and "Traceback" not in result.output
    fixed = repair(index, encoder=bundled, cache_dir=cache_dir())
    assert fixed.ok and fixed.repaired, fixed
    _all_back(index, bundled)


def test_serve_refuses_a_damaged_catalog_in_one_line(index, bundled):
    from searchengine.server import create_app

    _damage_catalog(index, "deleted")
    with pytest.raises(CatalogMissing, match="repair the index"):
        create_app(index, encoder=bundled)


# --- the vector file -------------------------------------------------------------------------------
def _damage_vectors(index_dir: Path, how: str) -> None:
    vectors = index_dir / "vectors.faiss"
    if how == "deleted":
        vectors.unlink()
    elif how == "truncated":
        os.truncate(vectors, vectors.stat().st_size // 2)
    else:
        _garble(vectors, at=0.4, size=2048)


@pytest.mark.parametrize("how", ["deleted", "truncated", "garbled"])
def test_damaged_vectors_are_rebuilt_from_the_catalog(index, bundled, how, caplog):
    _damage_vectors(index, how)
    before = (index / "vectors.faiss").read_bytes() if how != "deleted" else None
    assert _search(index, bundled)[0].path.endswith("cat_chelsea.jpg")  # rebuilt in memory
    assert "rebuilding it from the catalog" in caplog.text
    if before is not None:
        assert (index / "vectors.faiss").read_bytes() == before  # a search writes nothing
    assert index_status(index)["counts"]["items"] == FILES
    report = verify(index)
    assert not report.ok and "vector file" in " ".join(report.problems)
    assert _cli("verify", "--index", index).exit_code == 1
    fixed = repair(index, encoder=bundled, cache_dir=cache_dir())
    assert fixed.ok, fixed
    _all_back(index, bundled)


def test_an_index_run_replaces_a_truncated_vector_file(index, clean, bundled):
    """Item 8: it said "run index again", which then found everything unchanged and kept the bad file."""
    _damage_vectors(index, "truncated")
    summary = sync_folder(clean[0], index, SETTINGS, encoder=bundled, cache_dir=cache_dir())
    assert summary.unchanged == FILES
    assert verify(index).ok


# --- the manifest ----------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["deleted", "truncated", "garbled"])
def test_damaged_manifest_is_rewritten_from_the_catalog(index, bundled, how):
    manifest = index / "manifest.json"
    if how == "deleted":
        manifest.unlink()
    elif how == "truncated":
        manifest.write_bytes(manifest.read_bytes()[:40])
    else:
        manifest.write_bytes(os.urandom(300))
    with pytest.raises(ManifestMissing, match="repair the index"):
        _search(index, bundled)
    result = _cli("status", "--index", index)
    assert result.exit_code == 1 and "searchengine repair" in result.output
    assert _cli("verify", "--index", index).exit_code == 1
    fixed = repair(index, encoder=bundled, cache_dir=cache_dir())
    assert fixed.ok and any("rewrote manifest.json" in line for line in fixed.repaired), fixed
    assert json.loads(manifest.read_text())["encoder_id"] == bundled.id
    _all_back(index, bundled)


# --- the calibration --------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["deleted", "garbled", "older format"])
def test_damaged_calibration_is_recomputed(index, bundled, how):
    calibration = index / "calibration.npz"
    if how == "deleted":
        calibration.unlink()
    elif how == "older format":  # kept from before an upgrade: not damage, and not used
        from searchengine.calibration import Calibration

        kept = Calibration.read(index)
        kept.version -= 1
        kept.write(index)
        assert Calibration.read(index) is None and verify(index).ok
    else:
        _garble(calibration, at=0.3, size=5000)
        assert not verify(index).ok
        assert repair(index, encoder=bundled, cache_dir=cache_dir()).ok
    assert _search(index, bundled)[0].path.endswith("cat_chelsea.jpg")
    assert verify(index).ok


# --- damage under a running server -------------------------------------------------------------------
def test_server_survives_damage_under_it(index, bundled, tmp_path):
    """Item 6: the vector file cut short under a server that had mapped it killed it with SIGBUS."""
    from fastapi.testclient import TestClient

    from searchengine.server import create_app

    web = create_app(index, encoder=bundled, thumbnail_dir=tmp_path / "thumbnails")
    with TestClient(web, base_url="http://127.0.0.1") as client:
        query = {"q": "a cat sleeping", "type": "image"}
        assert client.get("/api/search", params=query).json()["hits"][0]["name"] == "cat_chelsea.jpg"
        os.truncate(index / "vectors.faiss", 100)  # in place, not replaced
        response = client.get("/api/search", params=query)
        assert response.status_code == 200 and response.json()["hits"][0]["name"] == "cat_chelsea.jpg"
        _damage_catalog(index, "garbled")
        for path in ("/api/status", "/api/search?q=a+cat"):
            response = client.get(path)
            assert response.status_code in (200, 503), (path, response.text)
            if response.status_code == 503:
                detail = response.json()["detail"]
                assert "searchengine repair" in detail and "\n" not in detail


# --- a read-only folder ------------------------------------------------------------------------------
def _read_only(index_dir: Path) -> list[str]:
    """A command prefix under which index_dir cannot be written: a read-only bind mount of it in a
    mount namespace of its own (root ignores file modes), or mode 555 for another user."""
    if os.geteuid() != 0:
        for folder in (index_dir, *index_dir.iterdir()):
            folder.chmod(0o555 if folder.is_dir() else 0o444)
        return []
    if shutil.which("unshare") is None:
        pytest.skip("root needs unshare(1) to mount the index read-only")
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount --bind -o ro '{index_dir}' '{index_dir}'"], capture_output=True
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot mount read-only here: {probe.stderr.decode().strip()}")
    return ["unshare", "-m", "sh", "-c", 'mount --bind -o ro "$0" "$0" && exec "$@"', str(index_dir)]


def _snapshot(folder: Path) -> dict:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


def _env(session_home) -> dict:
    return {**os.environ, "SEARCHENGINE_HOME": str(session_home), "HF_HUB_OFFLINE": "1"}


def test_read_only_index_is_searched_not_written(index, session_home):
    """Item 7: a folder at mode 555 was called damaged ("attempt to write a readonly database")."""
    for suffix in ("-wal", "-shm"):
        (index / f"catalog.sqlite{suffix}").unlink(missing_ok=True)
    (index / "calibration.npz").unlink()  # a search would want to write it
    before = _snapshot(index)
    prefix = _read_only(index)
    cli_ = [*prefix, sys.executable, "-m", "searchengine"]

    def run(*args):
        return subprocess.run(
            [*cli_, *map(str, args)], capture_output=True, text=True, env=_env(session_home), cwd=REPO, timeout=300
        )

    hits = run("search", "a cat sleeping", "--index", index, "--type", "image", "--json")
    assert hits.returncode == 0, hits.stderr
    assert json.loads(hits.stdout)[0]["path"].endswith("cat_chelsea.jpg")
    status = run("status", "--index", index, "--json")
    assert status.returncode == 0 and json.loads(status.stdout)["counts"]["items"] == FILES, status.stderr
    checked = run("verify", "--index", index)
    assert checked.returncode == 0 and "ok" in checked.stdout, checked.stdout + checked.stderr
    refused = run("repair", "--index", index)
    assert refused.returncode == 1 and "read-only" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1

    port = _free_port()
    server = subprocess.Popen(
        [*cli_, "serve", "--index", str(index), "--port", str(port)],
        env=_env(session_home),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        body = _get_json(f"http://127.0.0.1:{port}/api/search?q=a+cat&type=image", server)
        assert body["hits"][0]["name"] == "cat_chelsea.jpg"
        assert _get_json(f"http://127.0.0.1:{port}/api/status", server)["counts"]["items"] == FILES
    finally:
        server.terminate()
        server.wait(30)
    assert _snapshot(index) == before  # nothing created, nothing rewritten


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get_json(url: str, server: subprocess.Popen, wait: float = 120) -> dict:
    deadline = time.monotonic() + wait
    while True:
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                return json.loads(response.read())
        except OSError:
            if server.poll() is not None:
                raise AssertionError(f"serve exited {server.returncode}: {server.stderr.read()}") from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
