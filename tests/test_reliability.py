"""Reliability: a corpus of bad files, one writer at a time, verify and repair, searching while indexing."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest
from PIL import Image

from searchengine.config import cache_dir
from searchengine.errors import IndexLocked
from searchengine.ingest.run import sync_folder
from searchengine.ingest.settings import IngestSettings
from searchengine.query import Filters, Query, Searcher
from searchengine.store.folder import IndexFolder
from searchengine.verify import repair, verify

from conftest import PHOTOS, REPO, TEXTS

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
    summary = sync_folder(folder, index_dir, SETTINGS, encoder=bundled, cache_dir=cache_dir())
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
    sync_folder(media_folder, index_dir, SETTINGS, encoder=bundled, cache_dir=cache_dir())
    with IndexFolder.open_for_writing(index_dir, "bundled", bundled.id, bundled.dim, "auto"):
        with pytest.raises(IndexLocked, match="wait for it"):
            sync_folder(media_folder, index_dir, SETTINGS, encoder=bundled, cache_dir=cache_dir())
    # released when the writer ends (also when it dies: the lock is the kernel's)
    assert sync_folder(media_folder, index_dir, SETTINGS, encoder=bundled, cache_dir=cache_dir()).unchanged == 7


def test_verify_and_repair(tmp_path, bundled, media_folder):
    index_dir = tmp_path / "index"
    sync_folder(media_folder, index_dir, SETTINGS, encoder=bundled, cache_dir=cache_dir())
    assert verify(index_dir).ok

    (index_dir / "vectors.faiss").unlink()
    report = verify(index_dir)
    assert not report.ok and "missing" in report.problems[0]
    (media_folder / "photos" / "coffee_cup.jpg").unlink()
    report = verify(index_dir)
    assert report.missing_files == [str(media_folder / "photos" / "coffee_cup.jpg")]
    fixed = repair(index_dir, cache_dir=cache_dir())
    assert fixed.ok and not fixed.missing_files and fixed.repaired

    catalog = index_dir / "catalog.sqlite"
    for suffix in ("-wal", "-shm"):
        (index_dir / f"catalog.sqlite{suffix}").unlink(missing_ok=True)
    os.truncate(catalog, catalog.stat().st_size // 2)
    broken = verify(index_dir)
    assert not broken.ok and "damaged" in broken.problems[0]
    restored = repair(index_dir, cache_dir=cache_dir())
    assert restored.ok
    searcher = Searcher.open(index_dir, device="cpu", cache_dir=cache_dir())
    assert searcher.search(Query(text="a cat"), Filters(kind="image", min_score=None), k=1)[0].path.endswith(
        "cat_chelsea.jpg"
    )
    searcher.close()


def test_searches_keep_working_while_indexing(tmp_path, bundled, media_folder):
    index_dir = tmp_path / "index"
    sync_folder(media_folder, index_dir, SETTINGS, encoder=bundled, cache_dir=cache_dir())
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
    sync_folder(
        media_folder,
        index_dir,
        IngestSettings(device="cpu", workers=2, commit_every=4),
        encoder=bundled,
        cache_dir=cache_dir(),
    )
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
        proc = subprocess.Popen(
            command + ["--index", str(index_dir)],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
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


# --- issue 19: damaged indexes, hostile files and odd names -------------------------------------------
# (the damaged-index cases, items 2, 3, 6, 7 and 8, are in test_damage.py)
def _cli_json(*args, home, check=True):
    env = {**os.environ, "SEARCHENGINE_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "searchengine", *map(str, args)], capture_output=True, env=env, cwd=REPO, timeout=300
    )
    if check:
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc


def test_file_names_that_are_not_utf8_are_indexed_and_shown(tmp_path, bundled, session_home):
    """Item 1: `cp photo.jpg $'caf\\xe9.jpg'` stopped every run with UnicodeEncodeError."""
    import base64

    from fastapi.testclient import TestClient

    from searchengine.server import create_app

    folder = tmp_path / "odd"
    folder.mkdir()
    raw = os.fsencode(folder) + b"/caf\xe9 \x01 100%.jpg"
    shutil.copy2(PHOTOS / "cat_chelsea.jpg", raw)
    (folder / "notes.txt").write_text("A note about sourdough bread.")
    index_dir = tmp_path / "index"
    summary = sync_folder(folder, index_dir, SETTINGS, encoder=bundled, cache_dir=cache_dir())
    assert (summary.added, summary.failed) == (2, 0)
    assert (
        sync_folder(folder, index_dir, SETTINGS, encoder=bundled, cache_dir=cache_dir()).unchanged == 2
    )  # found again, exactly

    out = _cli_json("search", "a cat", "--index", index_dir, "--type", "image", "--json", home=session_home).stdout
    hit = json.loads(out.decode("utf-8"))[0]  # valid UTF-8
    assert hit["path"].endswith("/caf\ufffd \x01 100%.jpg")
    assert base64.b64decode(hit["path_bytes"]) == raw
    status = _cli_json("status", "--index", index_dir, "--errors", home=session_home).stdout
    status.decode("utf-8")

    with TestClient(
        create_app(index_dir, encoder=bundled, thumbnail_dir=tmp_path / "t"), base_url="http://127.0.0.1"
    ) as client:
        found = client.get("/api/search", params={"q": "a cat", "type": "image"}).json()["hits"][0]
        assert found["name"] == "caf\ufffd \x01 100%.jpg"
        served = client.get(found["file_url"])
        assert served.status_code == 200 and served.content == (PHOTOS / "cat_chelsea.jpg").read_bytes()
        assert client.get(found["thumbnail_url"]).status_code == 200
    os.remove(raw)
    assert sync_folder(folder, index_dir, SETTINGS, encoder=bundled, cache_dir=cache_dir()).removed == 1


def test_symlinks_leading_outside_are_skipped_unless_asked(tmp_path, bundled):
    """Item 4: a link to /etc/passwd inside the folder was indexed and its text returned by search."""
    folder, outside = tmp_path / "media", tmp_path / "outside"
    for made in (folder, outside / "secrets"):
        made.mkdir(parents=True)
    (outside / "passwd.txt").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (outside / "secrets" / "plans.md").write_text("The secret plans for the harbour.")
    (folder / "passwd.txt").symlink_to(outside / "passwd.txt")
    (folder / "elsewhere").symlink_to(outside / "secrets")
    (folder / "inside.txt").symlink_to(folder / "real.txt")  # within the folder: fine
    (folder / "real.txt").write_text("A note about coins.")
    index_dir = tmp_path / "index"
    summary = sync_folder(folder, index_dir, SETTINGS, encoder=bundled, cache_dir=cache_dir())
    assert summary.added == 2 and summary.skipped == 2
    reasons = dict(summary.skipped_files)
    assert "outside the indexed folders" in reasons[str(folder / "passwd.txt")]
    assert "outside the indexed folders" in reasons[str(folder / "elsewhere")]
    searcher = Searcher(IndexFolder.open(index_dir), bundled)
    hits = searcher.search(Query(text="root bin bash"), Filters(kind="text", min_score=None), k=10)
    assert all("passwd" not in h.path for h in hits)
    searcher.close()
    with IndexFolder.open(index_dir) as index:
        assert {p for p, _ in index.catalog.skipped_files()} == {str(folder / "passwd.txt"), str(folder / "elsewhere")}
    opted = sync_folder(
        folder,
        index_dir,
        IngestSettings(device="cpu", workers=2, follow_outside_links=True),
        encoder=bundled,
        cache_dir=cache_dir(),
    )
    assert opted.added == 2 and opted.skipped == 0


def test_images_of_extreme_proportions_are_cut_or_refused_in_one_line(tmp_path, bundled):
    """Item 5: a 112-byte 1x8000 PNG took 2.3 GB; a 9400x9400 PNG with alpha 2.2 GB (memory: benchmarks/image_memory.py)."""
    from fastapi.testclient import TestClient

    from searchengine.errors import QueryError
    from searchengine.server import create_app

    folder = tmp_path / "shapes"
    folder.mkdir()
    for name, size in (("tall.png", (1, 8000)), ("wide.png", (8000, 1)), ("line.png", (1, 100_000))):
        Image.new("RGB", size, "white").save(folder / name)
    Image.new("RGBA", (9400, 9400), (0, 0, 0, 0)).save(folder / "huge-alpha.png", optimize=True)
    Image.open(PHOTOS / "dune_grass_by_the_sea.jpg").resize((2000, 80)).save(folder / "banner.png")  # 25:1
    index_dir = tmp_path / "index"
    summary = sync_folder(folder, index_dir, SETTINGS, encoder=bundled, cache_dir=cache_dir())
    reasons = {os.path.basename(p): r for p, r in summary.errors}
    assert set(reasons) == {"tall.png", "wide.png", "line.png", "huge-alpha.png"} and summary.added == 1
    assert "proportions beyond 100:1" in reasons["tall.png"] and "MB to decode" in reasons["huge-alpha.png"]
    assert all("\n" not in r for r in reasons.values())
    with pytest.raises(QueryError, match="proportions"):
        Query(image=folder / "tall.png").validate()
    with TestClient(
        create_app(index_dir, encoder=bundled, thumbnail_dir=tmp_path / "t"), base_url="http://127.0.0.1"
    ) as client:
        with open(folder / "line.png", "rb") as fh:
            response = client.post("/api/search", files={"image": ("line.png", fh, "image/png")})
        assert response.status_code == 400 and "proportions" in response.json()["detail"]


def test_a_lost_manifest_cannot_relabel_another_models_vectors(tmp_path, media_folder, bundled):
    """Item 9: without manifest.json, `index` with the default model relabelled bundled:bridge vectors."""
    from searchengine.config import cache_dir
    from searchengine.encoders.registry import load_encoder
    from searchengine.errors import ManifestMissing, ModelMismatch

    bridge = load_encoder("bundled:bridge", "cpu", cache_dir=cache_dir())
    index_dir = tmp_path / "index"
    sync_folder(
        media_folder,
        index_dir,
        IngestSettings(model="bundled:bridge", device="cpu", workers=2),
        encoder=bridge,
        cache_dir=cache_dir(),
    )
    (index_dir / "manifest.json").unlink()
    with pytest.raises(ManifestMissing, match=f"{bridge.id}.*repair the index"):
        sync_folder(media_folder, index_dir, SETTINGS, encoder=bundled, cache_dir=cache_dir())
    fixed = repair(index_dir, cache_dir=cache_dir())
    assert fixed.ok and json.loads((index_dir / "manifest.json").read_text())["encoder_id"] == bridge.id
    with pytest.raises(ModelMismatch, match=bridge.id):
        sync_folder(media_folder, index_dir, SETTINGS, encoder=bundled, cache_dir=cache_dir())
    assert (
        sync_folder(
            media_folder,
            index_dir,
            IngestSettings(model="bundled:bridge", device="cpu", workers=2),
            encoder=bridge,
            cache_dir=cache_dir(),
        ).unchanged
        == 7
    )


def test_thumbnail_of_a_reused_item_id_shows_the_new_file(tmp_path, bundled):
    """Item 10: a new file given the id of a deleted one, with its size and mtime, showed the old picture."""
    from fastapi.testclient import TestClient

    from searchengine.server import create_app

    folder = tmp_path / "media"
    folder.mkdir()
    (folder / "a-note.txt").write_text("A note about coins.")
    red, blue = folder / "z-red.jpg", tmp_path / "blue.jpg"
    Image.new("RGB", (200, 200), (220, 20, 20)).save(red)
    Image.new("RGB", (200, 200), (20, 20, 220)).save(blue)
    data = [red.read_bytes(), blue.read_bytes()]
    width = max(map(len, data))
    red.write_bytes(data[0] + b"\0" * (width - len(data[0])))  # the same size (JPEG readers stop at its end)
    os.utime(red, ns=(10**18, 10**18))
    index_dir = tmp_path / "index"
    sync_folder(folder, index_dir, SETTINGS, encoder=bundled, cache_dir=cache_dir())

    def thumbnail_colour(client) -> tuple:
        hit = client.get("/api/search", params={"q": "a colour", "type": "image"}).json()["hits"][0]
        body = client.get(hit["thumbnail_url"]).content
        return hit["item_id"], np.asarray(Image.open(io.BytesIO(body)).convert("RGB")).reshape(-1, 3).mean(axis=0)

    web = create_app(index_dir, encoder=bundled, thumbnail_dir=tmp_path / "thumbnails")
    with TestClient(web, base_url="http://127.0.0.1") as client:
        first_id, colour = thumbnail_colour(client)
        assert colour[0] > colour[2]
        red.unlink()
        replacement = folder / "z-blue.jpg"
        replacement.write_bytes(data[1] + b"\0" * (width - len(data[1])))
        os.utime(replacement, ns=(10**18, 10**18))
        sync_folder(folder, index_dir, SETTINGS, encoder=bundled, cache_dir=cache_dir())
        second_id, colour = thumbnail_colour(client)
        assert second_id == first_id  # SQLite gave the new file the freed id
        assert colour[2] > colour[0]


def test_edge_values_are_refused_not_500s(tmp_path, media_folder, bundled, session_home):
    """Item 11: ids of 2^63 and more, t=inf or 1e20 gave 500s and tracebacks."""
    from fastapi.testclient import TestClient

    from searchengine.server import create_app

    index_dir = tmp_path / "index"
    sync_folder(media_folder, index_dir, SETTINGS, encoder=bundled, cache_dir=cache_dir())
    with TestClient(
        create_app(index_dir, encoder=bundled, thumbnail_dir=tmp_path / "t"), base_url="http://127.0.0.1"
    ) as client:
        for path in (
            f"/api/items/{2**63}/file",
            f"/api/items/{2**64}/thumbnail",
            f"/api/search?like={2**63}",
            "/api/items/1/thumbnail?t=inf",
            "/api/items/1/thumbnail?t=1e20",
            "/api/items/1/thumbnail?t=nan",
        ):
            response = client.get(path)
            assert response.status_code in (400, 404, 422), (path, response.status_code, response.text)
    with IndexFolder.open(index_dir) as index:
        assert index.catalog.item(2**64) is None and index.catalog.segment_records([2**64]) == {}
    proc = _cli_json("search", "--like", 2**63, "--index", index_dir, home=session_home, check=False)
    lines = proc.stderr.decode().strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "--like" in lines[0]


@pytest.mark.parametrize("bind", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_any_loopback_bind_refuses_other_host_names(bind):
    """Item 12: `serve --host 127.0.0.2` accepted Host: evil.example (DNS rebinding)."""
    from fastapi.testclient import TestClient
    from starlette.applications import Starlette
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from searchengine.server import allowed_hosts_for

    allowed = allowed_hosts_for(bind)
    assert "*" not in allowed
    web = Starlette(routes=[Route("/", lambda request: PlainTextResponse("ok"))])
    web.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed)
    client = TestClient(web)
    assert client.get("/", headers={"host": "evil.example"}).status_code == 400
    own = f"[{bind}]:8000" if ":" in bind else f"{bind}:8000"
    assert client.get("/", headers={"host": own}).status_code == 200
    assert allowed_hosts_for("0.0.0.0") == ["*"]


def test_verify_exits_1_when_indexed_files_are_gone(tmp_path, media_folder, bundled):
    """Item 13: "10 indexed files are gone … ok", exit 0."""
    from typer.testing import CliRunner

    from searchengine.cli.app import app as cli

    index_dir = tmp_path / "index"
    sync_folder(media_folder, index_dir, SETTINGS, encoder=bundled, cache_dir=cache_dir())
    (media_folder / "photos" / "coffee_cup.jpg").unlink()
    result = CliRunner().invoke(cli, ["verify", "--index", str(index_dir)])
    assert result.exit_code == 1 and "1 indexed files are gone" in result.output and "NOT ok" in result.output
    assert repair(index_dir, cache_dir=cache_dir()).ok
    assert CliRunner().invoke(cli, ["verify", "--index", str(index_dir)]).exit_code == 0


def test_skipped_entries_are_listed_with_their_reasons(tmp_path, bundled):
    """Item 14: dangling links, loops, unreadable folders and FIFOs went unreported (or to stderr only)."""
    from typer.testing import CliRunner

    from searchengine.cli.app import app as cli

    folder = tmp_path / "media"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "note.txt").write_text("A note about coins.")
    (folder / "dangling.jpg").symlink_to(folder / "gone.jpg")
    (folder / "sub" / "loop").symlink_to(folder)
    os.mkfifo(folder / "pipe.txt")
    expected = {"dangling.jpg": "dangling symlink", "sub/loop": "already indexed", "pipe.txt": "a FIFO"}
    if os.geteuid() != 0:  # root reads any folder
        (folder / "locked").mkdir()
        (folder / "locked").chmod(0)
        expected["locked"] = "cannot list"
    index_dir = tmp_path / "index"
    summary = sync_folder(folder, index_dir, SETTINGS, encoder=bundled, cache_dir=cache_dir())
    assert summary.added == 1 and summary.skipped == len(expected)
    result = CliRunner().invoke(cli, ["status", "--index", str(index_dir), "--errors", "--json"])
    info = json.loads(result.output)
    listed = {os.path.relpath(e["path"], folder): e["reason"] for e in info["skipped"]}
    assert set(listed) == set(expected) and info["counts"]["skipped"] == len(expected)
    for name, words in expected.items():
        assert words in listed[name] and "\n" not in listed[name]
    text = CliRunner().invoke(cli, ["status", "--index", str(index_dir), "--errors"]).output
    assert text.count("skipped: ") == len(expected)


def test_smaller_things(tmp_path, media_folder, bundled, session_home):
    """Item 15: --index a file; a --queries file with a bad line; the video thumbnail cache; a text cut at 1 MiB."""
    from searchengine.server.thumbnails import _prune

    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    proc = _cli_json("index", media_folder, "--index", a_file, home=session_home, check=False)
    lines = proc.stderr.decode().strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "is a file, not an index folder" in lines[0]

    # 50 MiB: one paragraph then blank lines, to keep the test quick (the first MiB is one passage)
    (media_folder / "texts" / "long.txt").write_text("A long note about tomatoes. " * 20 + "\n" * (50 << 20))
    index_dir = tmp_path / "index"
    summary = sync_folder(media_folder, index_dir, SETTINGS, encoder=bundled, cache_dir=cache_dir())
    assert summary.notes == [(str(media_folder / "texts" / "long.txt"), "indexed in part: the first 1 MiB of 50.0 MiB")]
    info = json.loads(_cli_json("status", "--index", index_dir, "--errors", "--json", home=session_home).stdout)
    assert info["counts"]["indexed_in_part"] == 1 and info["notes"][0]["note"].startswith("indexed in part")

    queries = tmp_path / "queries.txt"
    queries.write_text(f"a cat\nimage:{tmp_path / 'missing.jpg'}\na rocket\n")
    proc = _cli_json(
        "search", "--queries", queries, "--index", index_dir, "--type", "image", home=session_home, check=False
    )
    results = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert [bool(r["hits"]) for r in results] == [True, False, True] and "does not exist" in results[1]["error"]
    assert proc.returncode == 2 and len(proc.stderr.decode().strip().splitlines()) == 1

    thumbs = tmp_path / "thumbs"
    thumbs.mkdir()
    for i in range(120):
        (thumbs / f"{i}.jpg").write_bytes(b"x")
        os.utime(thumbs / f"{i}.jpg", ns=(i * 10**9, i * 10**9))
    _prune(thumbs, limit=100)
    assert sorted(int(p.stem) for p in thumbs.iterdir()) == list(range(20, 120))  # the oldest went


def test_concurrent_writers_never_share_a_temporary_file(tmp_path):
    """Also: concurrent cold searches wrote calibration.npz through one fixed temporary name."""
    from searchengine.atomic import atomic_write

    target = tmp_path / "calibration.npz"
    payloads = [bytes([i]) * 200_000 for i in range(8)]
    threads = [threading.Thread(target=atomic_write, args=(target, p)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert target.read_bytes() in payloads
    assert [p.name for p in tmp_path.iterdir()] == ["calibration.npz"]  # no temporary file left
