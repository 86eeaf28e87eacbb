"""The Ray engine: the same catalog and search results as the in-process pipeline, shards left by
an interrupted run committed instead of embedded again, a clear message without Ray."""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from searchengine.config import cache_dir
from searchengine.errors import UsageError
from searchengine.ingest.run import sync_folder
from searchengine.ingest.settings import IngestSettings

from conftest import PHOTOS, REPO, TEXTS, run_cli

SETTINGS = IngestSettings(model="bundled", device="cpu", workers=2, commit_every=4)


def test_without_ray_the_engine_says_how_to_install_it(monkeypatch):
    from searchengine.distributed import require_ray

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(UsageError, match=r"pip install 'searchengine\[scale\]'"):
        require_ray()


def test_address_needs_the_ray_engine(tmp_path):
    from typer.testing import CliRunner

    from searchengine.cli.app import app

    result = CliRunner().invoke(app, ["index", str(tmp_path), "--address", "auto", "--index", str(tmp_path / "i")])
    assert result.exit_code != 0 and "--engine ray" in result.output


ray = pytest.importorskip("ray", reason="the Ray engine needs the scale extra: pip install 'searchengine[scale]'")


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the module (starting it takes seconds); the engine joins it."""
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture
def photos_and_texts(tmp_path) -> Path:
    """Ten of the sample photos and three texts: four chunks of four files."""
    folder = tmp_path / "media"
    (folder / "photos").mkdir(parents=True)
    for photo in sorted(PHOTOS.iterdir())[:10]:
        shutil.copy2(photo, folder / "photos" / photo.name)
    (folder / "texts").mkdir()
    for name in ("bicycle_repair_guide.md", "household_budget_meeting.txt", "recette_creme_brulee_latin1.txt"):
        shutil.copy2(TEXTS / name, folder / "texts" / name)
    return folder


def _catalog(index_dir: Path) -> tuple[list, list]:
    with sqlite3.connect(index_dir / "catalog.sqlite") as db:
        items = db.execute(
            "SELECT id, path, kind, size, mtime_ns, content_hash, status, error FROM items ORDER BY id"
        ).fetchall()
        segments = db.execute(
            "SELECT id, item_id, ordinal, char_start, char_end, t_start, t_end, text, vector FROM segments ORDER BY id"
        ).fetchall()
    return items, segments


def _hits(index_dir: Path, encoder) -> list:
    from searchengine.query import Filters, Query, Searcher
    from searchengine.store.folder import IndexFolder

    searcher = Searcher(IndexFolder.open(index_dir), encoder)
    try:
        queries = [Query(text="a cat"), Query(text="fixing a flat tyre"), Query(image=PHOTOS / "coffee_cup.jpg")]
        return [[h.as_json() for h in searcher.search(q, Filters(min_score=None), k=5)] for q in queries]
    finally:
        searcher.close()


def test_ray_run_gives_the_catalog_and_results_of_the_in_process_pipeline(
    local_ray, photos_and_texts, tmp_path, bundled
):
    from searchengine.distributed.executor import RayExecutor
    from searchengine.ingest.run import sync_folder

    local = sync_folder(photos_and_texts, tmp_path / "local", SETTINGS, encoder=bundled, cache_dir=cache_dir())
    distributed = sync_folder(
        photos_and_texts, tmp_path / "ray", SETTINGS, cache_dir=cache_dir(), executor=RayExecutor()
    )
    assert distributed.chunks > 1 and distributed.resumed == 0
    assert (distributed.added, distributed.segments, distributed.failed) == (local.added, local.segments, local.failed)
    assert _catalog(tmp_path / "ray") == _catalog(tmp_path / "local")  # ids, records and vector bytes
    assert _hits(tmp_path / "ray", bundled) == _hits(tmp_path / "local", bundled)
    assert not list((tmp_path / "ray" / "shards").glob("*"))  # committed shards are gone

    again = sync_folder(
        photos_and_texts, tmp_path / "ray", SETTINGS, cache_dir=cache_dir(), executor=RayExecutor()
    )  # nothing changed: Ray not needed
    assert again.unchanged == local.added and again.chunks == 0


def test_interrupted_run_commits_its_shards_instead_of_embedding_again(local_ray, photos_and_texts, tmp_path, bundled):
    """What a killed run leaves: the shard an actor wrote for the first chunk, not yet committed."""
    from searchengine.config import cache_dir
    from searchengine.distributed.executor import RayExecutor
    from searchengine.distributed.stages import EmbedShards, decode_chunk
    from searchengine.ingest.plan import plan_folder
    from searchengine.ingest.run import sync_folder
    from searchengine.media.discover import discover
    from searchengine.store.catalog import Catalog

    index_dir = tmp_path / "ray"
    index_dir.mkdir()
    root = photos_and_texts.resolve()
    plan = plan_folder(Catalog(tmp_path / "scratch.sqlite"), root, list(discover(root)), 2)
    first = plan.embed[: SETTINGS.commit_every]
    decoded = decode_chunk(
        {"position": [0], "files": [pickle.dumps(first)]}, "bundled", None, None, None, str(cache_dir())
    )
    EmbedShards("bundled", "cpu", None, SETTINGS.batch_size, str(index_dir / "shards"), str(cache_dir()))(decoded)
    assert len(list((index_dir / "shards").glob("*.parquet"))) == 1

    resumed = sync_folder(photos_and_texts, index_dir, SETTINGS, cache_dir=cache_dir(), executor=RayExecutor())
    assert resumed.resumed == len(first)  # committed from the shard, not embedded again
    assert resumed.added == len(plan.embed)
    sync_folder(photos_and_texts, tmp_path / "local", SETTINGS, encoder=bundled, cache_dir=cache_dir())
    assert _catalog(index_dir) == _catalog(tmp_path / "local")


@pytest.mark.slow
def test_killed_ray_run_resumes_without_embedding_twice(photos_and_texts, tmp_path, bundled):
    """SIGKILL a real `searchengine index --engine ray` (driver and the Ray it started) mid-run."""
    index_dir = tmp_path / "index"
    script = (
        "import sys; from pathlib import Path\n"
        "from searchengine.config import cache_dir\n"
        "from searchengine.distributed.executor import RayExecutor\n"
        "from searchengine.ingest.run import sync_folder\n"
        "from searchengine.ingest.settings import IngestSettings\n"
        "sync_folder(Path(sys.argv[1]), Path(sys.argv[2]), "
        "IngestSettings(model='bundled', device='cpu', workers=2, commit_every=2), cache_dir=cache_dir(), executor=RayExecutor())\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(photos_and_texts), str(index_dir)],
        cwd=REPO,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and child.poll() is None:
            if len(list((index_dir / "shards").glob("*.parquet"))) + _committed(index_dir) >= 4:
                break
            time.sleep(0.05)
        assert child.poll() is None, "the run ended before it could be killed"
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # the driver and the local Ray it started
        child.wait()
    committed, left = _committed(index_dir), len(list((index_dir / "shards").glob("*.parquet")))
    assert committed + left > 0

    from searchengine.distributed.executor import RayExecutor

    total = len(list(photos_and_texts.rglob("*.*")))
    settings = IngestSettings(model="bundled", device="cpu", workers=2, commit_every=2)
    resumed = sync_folder(photos_and_texts, index_dir, settings, cache_dir=cache_dir(), executor=RayExecutor())
    embedded_now = resumed.added - resumed.resumed
    assert resumed.unchanged == committed and resumed.resumed >= 0
    assert embedded_now == total - committed - resumed.resumed < total  # nothing embedded twice
    items, segments = _catalog(index_dir)
    assert len(items) == total and len({i[1] for i in items}) == total


def _committed(index_dir: Path) -> int:
    try:
        with sqlite3.connect(index_dir / "catalog.sqlite", timeout=1) as db:
            return db.execute("SELECT count(*) FROM items").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_ivfpq_shards_encoded_on_ray_tasks(local_ray):
    from searchengine.distributed.executor import ray_map
    from searchengine.vectors.factory import add_chunks
    from searchengine.vectors.ivfpq import IvfPqIndex

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(3_000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(3_000, dtype=np.int64)
    chunks = [(ids[i : i + 1_000], vectors[i : i + 1_000]) for i in range(0, 3_000, 1_000)]
    local = IvfPqIndex.train(32, 3_000, lambda rows: vectors[rows], None, {"opq": False})
    add_chunks(local, chunks)
    on_ray = IvfPqIndex.train(32, 3_000, lambda rows: vectors[rows], None, {"opq": False})
    add_chunks(on_ray, chunks, map_shards=ray_map)
    np.testing.assert_array_equal(on_ray.ids(), ids)
    np.testing.assert_array_equal(on_ray.search(vectors[:20], 5)[1], local.search(vectors[:20], 5)[1])


@pytest.mark.slow
def test_a_ray_run_from_the_command_line_prints_only_our_lines(photos_and_texts, tmp_path, session_home):
    """Quiet by default with --engine ray too: no Ray C++ log lines, token notes or deprecation warnings."""
    done = run_cli("index", photos_and_texts, "--index", tmp_path / "index", "--engine", "ray", home=session_home)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines and "added" in lines[-1]
    assert [line for line in lines if not line.endswith("(once)…")] == lines[-1:], done.stderr
