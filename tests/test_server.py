"""The web app and HTTP API (`searchengine serve`) against a small real index.

The index holds four photos and three texts indexed with the bundled encoder, a symlink inside the
indexed folder that points at a photo outside it (indexed only because the run opts in with
follow_outside_links: the server must still refuse to serve it), and one recording whose transcript
segments are committed directly (no Whisper run), under a second indexed root.
"""

from __future__ import annotations

import http.client
import io
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web app needs the serve extra: pip install -e '.[serve]'")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx")

from fastapi.testclient import TestClient  # noqa: E402

from searchengine.ingest.settings import IngestSettings  # noqa: E402
from searchengine.server import create_app  # noqa: E402

from conftest import PHOTOS, REPO, SAMPLES, TEXTS  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "build" / "test-artifacts"
AUDIO_START, AUDIO_END = 6.0, 11.5
LINKS_FOLLOWED = IngestSettings(device="cpu", workers=2, follow_outside_links=True)


@pytest.fixture(scope="module")
def library(tmp_path_factory, bundled):
    """(index dir, media root, recordings root, secret file outside both) with everything indexed."""
    from searchengine.config import cache_dir
    from searchengine.ingest.run import sync_folder

    base = tmp_path_factory.mktemp("server")
    media, recordings, outside = base / "media", base / "recordings", base / "outside"
    for folder in (media / "photos", media / "texts", recordings, outside):
        folder.mkdir(parents=True)
    for name in ("cat_chelsea.jpg", "coffee_cup.jpg", "rocket_launch_pad.jpg", "dahlia_flower.jpg"):
        shutil.copy2(PHOTOS / name, media / "photos" / name)
    for name in ("cats_and_sleep.md", "rocket_launches.txt", "coffee_brewing_guide.md"):
        shutil.copy2(TEXTS / name, media / "texts" / name)
    _resized_copy(PHOTOS / "coffee_cup.jpg", media / "photos" / "exports" / "coffee_cup_small.jpg")
    shutil.copy2(PHOTOS / "ladybird_on_grass.jpg", outside / "secret.jpg")
    (media / "photos" / "escape.jpg").symlink_to(outside / "secret.jpg")  # indexed, but leads outside
    index_dir = base / "index"
    sync_folder(media, index_dir, LINKS_FOLLOWED, encoder=bundled, cache_dir=cache_dir())
    _add_recording(index_dir, recordings, bundled)
    return index_dir, media, recordings, outside / "secret.jpg"


def _resized_copy(source: Path, target: Path) -> None:
    """An export of a photo: half its size, re-encoded at JPEG quality 40 (a near-duplicate)."""
    from PIL import Image

    target.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(source) as image:
        image.convert("RGB").resize((image.width // 2, image.height // 2)).save(target, "JPEG", quality=40)


def _add_recording(index_dir: Path, root: Path, encoder) -> None:
    """A real recording with a known transcript, committed as the pipeline would after transcribing it."""
    from searchengine.store.records import SegmentDraft

    path = root / "household_budget_meeting.ogg"
    shutil.copy2(SAMPLES / "audio" / path.name, path)
    lines = [
        (0.0, AUDIO_START, "Welcome everyone, let us get started."),
        (AUDIO_START, AUDIO_END, "The household budget: rent, groceries and savings for next month."),
    ]
    vectors = encoder.embed_texts([text for _, _, text in lines])
    segments = [SegmentDraft(i, v, text=t, t_start=a, t_end=b) for i, ((a, b, t), v) in enumerate(zip(lines, vectors))]
    _commit(index_dir, root, encoder, path, "audio", segments)


def _commit(index_dir: Path, root: Path, encoder, path: Path, kind: str, segments) -> None:
    """Add one file's segments to the index as an `index` run over `root` would."""
    from searchengine.calibrate import refresh_calibration
    from searchengine.store.folder import IndexFolder
    from searchengine.store.records import ItemDraft

    st = path.stat()
    draft = ItemDraft(
        path=str(path), kind=kind, size=st.st_size, mtime_ns=st.st_mtime_ns, content_hash=None, segments=segments
    )
    with IndexFolder.open_for_writing(index_dir, "bundled", encoder.id, encoder.dim, "auto") as index:
        run_id = index.catalog.start_run(root, encoder.id)
        index.commit(run_id, [draft])
        if str(root) not in index.manifest.roots:
            index.manifest.roots.append(str(root))
        index.save()
        refresh_calibration(index, encoder, cache_dir=None)
        index.catalog.finish_run(run_id, {"added": 1})


@pytest.fixture(scope="module")
def app(library, bundled, tmp_path_factory):
    return create_app(library[0], encoder=bundled, thumbnail_dir=tmp_path_factory.mktemp("thumbnails"))


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


def item_id(client, name: str, kind: str = "any") -> int:
    hits = client.get("/api/search", params={"q": Path(name).stem.replace("_", " "), "type": kind, "k": 50}).json()[
        "hits"
    ]
    return next(h["item_id"] for h in hits if h["name"] == name)


# --- search ------------------------------------------------------------------------------------------
def test_text_search_returns_the_cat_first_with_a_thumbnail(client):
    response = client.get("/api/search", params={"q": "a cat sleeping", "type": "image"})
    assert response.status_code == 200
    body = response.json()
    first = body["hits"][0]
    assert first["name"] == "cat_chelsea.jpg" and first["kind"] == "image"
    assert first["thumbnail_url"] == f"/api/items/{first['item_id']}/thumbnail"
    assert first["file_url"] == f"/api/items/{first['item_id']}/file"
    assert body["took_ms"] > 0 and body["query"] == "a cat sleeping"


def test_text_results_carry_the_passage(client):
    hits = client.get("/api/search", params={"q": "rocket launch countdown", "type": "text"}).json()["hits"]
    assert hits[0]["name"] == "rocket_launches.txt"
    assert hits[0]["text"] and hits[0]["char_start"] is not None


def test_audio_results_carry_the_segment_time(client):
    hits = client.get("/api/search", params={"q": "the household budget", "type": "audio"}).json()["hits"]
    assert hits[0]["name"] == "household_budget_meeting.ogg"
    assert (hits[0]["start"], hits[0]["end"]) == (AUDIO_START, AUDIO_END)
    assert hits[0]["thumbnail_url"] is None


def test_more_like_this_leaves_out_the_segment_itself(client):
    cat = client.get("/api/search", params={"q": "a cat", "type": "image"}).json()["hits"][0]
    hits = client.get("/api/search", params={"like": cat["segment_id"]}).json()["hits"]
    assert hits and cat["segment_id"] not in [h["segment_id"] for h in hits]
    assert client.get("/api/search", params={"like": 10**9}).status_code == 400


@pytest.mark.parametrize(
    "params, status",
    [
        ({}, 400),
        ({"q": "   "}, 400),
        ({"q": "cat", "type": "bogus"}, 422),
        ({"q": "cat", "k": 0}, 422),
        ({"q": "cat", "k": 100000}, 422),
        ({"like": "x"}, 422),
    ],
)
def test_bad_searches_are_refused_with_one_line(client, params, status):
    response = client.get("/api/search", params=params)
    assert response.status_code == status
    if status == 400:
        detail = response.json()["detail"]
        assert isinstance(detail, str) and "\n" not in detail


def test_image_upload_finds_the_same_photo(client):
    with open(PHOTOS / "rocket_launch_pad.jpg", "rb") as fh:
        response = client.post("/api/search", files={"image": ("query.jpg", fh, "image/jpeg")}, data={"type": "image"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["hits"][0]["name"] == "rocket_launch_pad.jpg"
    assert body["query"] == "image:query.jpg"


def test_upload_that_is_not_an_image_is_a_400(client):
    response = client.post("/api/search", files={"image": ("notes.jpg", b"just some words", "image/jpeg")})
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "not a readable image" in detail and "\n" not in detail and "/tmp" not in detail


def test_upload_over_the_limit_is_a_413(library, bundled, tmp_path):
    small = create_app(library[0], encoder=bundled, thumbnail_dir=tmp_path, max_upload=50_000)
    with TestClient(small, base_url="http://127.0.0.1") as c:
        big = b"\xff\xd8" + os.urandom(60_000)
        declared = c.post("/api/search", files={"image": ("big.jpg", big, "image/jpeg")})
        assert declared.status_code == 413 and "MB at most" in declared.json()["detail"]
        streamed = c.post(
            "/api/search",
            content=iter([b"x" * 20_000] * 4),
            headers={"content-type": "multipart/form-data; boundary=abc"},
        )
        assert streamed.status_code == 413


# --- status, schema, page ------------------------------------------------------------------------
def test_status_and_openapi(client):
    status = client.get("/api/status").json()
    assert status["counts"]["by_kind"]["image"]["items"] == 6  # four photos, a resized copy and the symlink
    assert status["counts"]["by_kind"]["audio"]["items"] == 1
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/search", "/api/status", "/api/items/{item_id}/thumbnail", "/api/items/{item_id}/file"} <= set(paths)
    assert "post" in paths["/api/search"] and client.get("/docs").status_code == 200


def test_page_and_static_files(client):
    page = client.get("/")
    assert page.status_code == 200 and 'id="q"' in page.text
    assert client.get("/static/app.js").status_code == 200


def test_other_host_names_are_refused(client):
    """DNS rebinding: a page on another site resolving its name to 127.0.0.1 gets nothing."""
    assert client.get("/api/status", headers={"host": "evil.example"}).status_code == 400


# --- files and thumbnails ------------------------------------------------------------------------
def test_thumbnail_is_made_once_and_cached(client, app, library):
    from PIL import Image

    from searchengine.media.hashing import content_hash

    cat = item_id(client, "cat_chelsea.jpg", "image")
    first = client.get(f"/api/items/{cat}/thumbnail")
    assert first.status_code == 200 and first.headers["content-type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(first.content)).size) <= 320
    digest = content_hash(library[1] / "photos" / "cat_chelsea.jpg")  # named by content, not by catalog id
    cached = list(app.state.thumbnails.folder.glob(f"{digest}-*.jpg"))
    assert len(cached) == 1
    mtime = cached[0].stat().st_mtime_ns
    assert client.get(f"/api/items/{cat}/thumbnail").content == first.content
    assert cached[0].stat().st_mtime_ns == mtime
    assert client.get(f"/api/items/{item_id(client, 'rocket_launches.txt', 'text')}/thumbnail").status_code == 404


def test_video_thumbnail_is_the_frame_at_t(client, library, bundled):
    """A red second then a blue one: the thumbnail at t shows the frame shown then."""
    av = pytest.importorskip("av", reason="video frames need PyAV")
    import numpy as np
    from PIL import Image

    from searchengine.store.records import SegmentDraft

    index_dir, _, recordings, _ = library
    path = recordings / "red_then_blue.mp4"
    colours = [(220, 30, 30), (30, 30, 220)]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(20):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), colours[i // 10], np.uint8), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    images = [Image.new("RGB", (64, 48), c) for c in colours]
    vectors = bundled.embed_images(images)
    _commit(
        index_dir,
        recordings,
        bundled,
        path,
        "video",
        [SegmentDraft(i, v, t_start=float(i), t_end=float(i + 1)) for i, v in enumerate(vectors)],
    )
    video = item_id(client, path.name, "video")  # the server picked the new state up by itself
    for t, (red, _, blue) in ((0.2, colours[0]), (1.5, colours[1])):
        response = client.get(f"/api/items/{video}/thumbnail", params={"t": t})
        assert response.status_code == 200, response.text
        r, _, b = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB")).reshape(-1, 3).mean(axis=0)
        assert (r > b) == (red > blue), (t, r, b)


def test_file_range_requests(client, library):
    audio = item_id(client, "household_budget_meeting.ogg", "audio")
    data = (library[2] / "household_budget_meeting.ogg").read_bytes()
    whole = client.get(f"/api/items/{audio}/file")
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["accept-ranges"] == "bytes" and whole.headers["content-type"] == "audio/ogg"
    part = client.get(f"/api/items/{audio}/file", headers={"range": "bytes=100-1099"})
    assert part.status_code == 206 and part.content == data[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{len(data)}"
    tail = client.get(f"/api/items/{audio}/file", headers={"range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == data[-10:]
    assert client.get(f"/api/items/{audio}/file", headers={"range": f"bytes={len(data) + 5}-"}).status_code == 416


def test_text_files_are_served_as_inert_plain_text(client):
    response = client.get(f"/api/items/{item_id(client, 'cats_and_sleep.md', 'text')}/file")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == "sandbox"


def test_symlink_leading_outside_the_roots_is_refused(client, library):
    escape = item_id(client, "escape.jpg", "image")
    for what in ("file", "thumbnail"):
        response = client.get(f"/api/items/{escape}/{what}")
        assert response.status_code == 403, what
        assert response.content != library[3].read_bytes()


# --- a live server: raw paths as an attacker would send them, and the browser --------------------
@pytest.fixture(scope="module")
def live(app):
    """The app under uvicorn on a free loopback port; yields its base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)
    sock.close()


TRAVERSALS = [
    "/api/items/../../../../etc/passwd/file",
    "/api/items/..%2F..%2F..%2F..%2Fetc%2Fpasswd/file",
    "/api/items/%2e%2e%2f%2e%2e%2fetc%2fpasswd/file",
    "/api/items/%252e%252e%252fetc%252fpasswd/file",
    "/api/items//etc/passwd/file",
    "/api/items/%2Fetc%2Fpasswd/file",
    "/api/items/1%2F..%2F..%2Fetc%2Fpasswd/file",
    "/api/items/1/file/../../../../../etc/passwd",
    "/api/items/1/thumbnail/..%2F..%2F..%2Fetc%2Fpasswd",
    "/api/items/-1/file",
    "/api/items/0/file",
    "/api/items/999999/file",
    "/api/items/1.5/file",
    "/api/items/1e3/file",
    "/api/items/%31%00/file",
    "/static/../../../../etc/passwd",
    "/static/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static//etc/passwd",
    "/..%2F..%2F..%2Fetc%2Fpasswd",
]


@pytest.mark.parametrize("raw", TRAVERSALS)
def test_path_traversal_is_refused(live, library, raw):
    host, port = live.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.putrequest("GET", raw, skip_accept_encoding=True)  # sent as written: no client-side normalising
    conn.endheaders()
    response = conn.getresponse()
    body = response.read()
    conn.close()
    assert response.status in (400, 403, 404, 405, 422), (raw, response.status)
    assert b"root:" not in body and library[3].read_bytes() not in body


def _chromium_missing() -> str | None:
    if not CHROMIUM.exists():
        return "no /usr/bin/chromium: apt-get install chromium (the browser test drives Debian's Chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed: pip install playwright"
    return None


@pytest.mark.skipif(_chromium_missing() is not None, reason=_chromium_missing() or "")
def test_browser_search_drop_and_play(live, client):
    """Type a query, see the cat first; drop a photo and see it first; play a recording from its segment."""
    from playwright.sync_api import expect, sync_playwright

    cat = item_id(client, "cat_chelsea.jpg", "image")
    rocket = item_id(client, "rocket_launch_pad.jpg", "image")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(live + "/")
            expect(page.locator("#status")).to_contain_text("files", timeout=15_000)
            page.fill("#q", "a cat sleeping on a sofa")
            page.press("#q", "Enter")
            thumb = page.locator(
                ".result img"
            ).first  # texts about cats may rank above it; the first picture is the cat
            expect(thumb).to_have_attribute("src", f"/api/items/{cat}/thumbnail", timeout=15_000)
            page.wait_for_function(
                "img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle(), timeout=15_000
            )
            page.screenshot(path=str(ARTIFACTS / "server-page.png"))

            photo = (PHOTOS / "rocket_launch_pad.jpg").read_bytes()
            page.evaluate(
                """async (bytes) => {
                const file = new File([new Uint8Array(bytes)], "dropped.jpg", { type: "image/jpeg" });
                const data = new DataTransfer();
                data.items.add(file);
                document.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
            }""",
                list(photo),
            )
            expect(page.locator("#image-chip")).to_be_visible()
            expect(page.locator(".result").first).to_have_attribute("data-item", str(rocket), timeout=15_000)

            page.click("#image-clear")
            page.fill("#q", "the household budget")
            page.click('#kinds [data-kind="audio"]')
            page.press("#q", "Enter")
            # the kind button searched the previous words first: wait for this search's results
            page.wait_for_url("**q=the+household+budget**", timeout=15_000)
            player = page.locator(".result audio").first
            expect(player).to_be_visible(timeout=15_000)
            player.evaluate("a => a.play()")
            page.wait_for_function("a => !a.paused && a.currentTime > 0", arg=player.element_handle(), timeout=15_000)
            started = player.evaluate("a => a.currentTime")
            assert AUDIO_START - 0.5 <= started <= AUDIO_START + 5, started
        finally:
            browser.close()


def test_duplicates_endpoint_groups_the_resized_copy(client):
    groups = client.get("/api/duplicates").json()
    images = [g for g in groups if g["kind"] == "image"]
    assert len(images) == 1, groups
    names = [f["name"] for f in images[0]["files"]]
    assert names == ["coffee_cup.jpg", "coffee_cup_small.jpg"]  # the larger one first: the one to keep
    assert images[0]["keep"].endswith("coffee_cup.jpg") and images[0]["match"] == "near"
    assert images[0]["files"][0]["thumbnail_url"].endswith("/thumbnail")
    assert client.get("/api/duplicates", params={"type": "text"}).json() == []
    assert client.get("/api/duplicates", params={"threshold": 2}).status_code == 422


@pytest.mark.skipif(_chromium_missing() is not None, reason=_chromium_missing() or "")
def test_browser_duplicates_view(live, client):
    """The Duplicates view shows the photo and its resized copy as thumbnails, the original marked to keep."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(live + "/")
            expect(page.locator("#status")).to_contain_text("files", timeout=15_000)
            page.click("#show-duplicates")
            group = page.locator(".duplicate-group").first
            expect(group).to_contain_text("2 image files", timeout=30_000)
            expect(group.locator("figure")).to_have_count(2)
            kept = group.locator("figure.keep")
            expect(kept).to_have_count(1)
            expect(kept).to_contain_text("coffee_cup.jpg")
            thumb = group.locator("img").last
            page.wait_for_function(
                "img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle(), timeout=15_000
            )
            expect(page.locator("#summary")).to_contain_text("nothing is deleted")
            assert "view=duplicates" in page.url
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "server-duplicates.png"))
        finally:
            browser.close()


# --- following the index while another process writes it ---------------------------------------
def test_server_follows_a_new_index_run(client, library, bundled):
    from searchengine.config import cache_dir
    from searchengine.ingest.run import sync_folder

    index_dir, media, _, _ = library
    before = client.get("/api/status").json()["counts"]["items"]
    shutil.copy2(PHOTOS / "hubble_deep_field_galaxies.jpg", media / "photos" / "galaxies.jpg")
    sync_folder(media, index_dir, LINKS_FOLLOWED, encoder=bundled, cache_dir=cache_dir())
    hits = client.get("/api/search", params={"q": "galaxies in deep space", "type": "image"}).json()["hits"]
    assert "galaxies.jpg" in [h["name"] for h in hits]
    assert client.get("/api/status").json()["counts"]["items"] == before + 1
    served = client.get(f"/api/items/{item_id(client, 'galaxies.jpg', 'image')}/file")
    assert served.status_code == 200 and served.content == (media / "photos" / "galaxies.jpg").read_bytes()


def test_serve_command_reports_a_missing_index_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from searchengine.cli.app import app as cli

    result = CliRunner().invoke(cli, ["serve", "--index", str(tmp_path / "nowhere")])
    assert result.exit_code == 1
    assert "no index at" in result.output and len(result.output.strip().splitlines()) == 1
