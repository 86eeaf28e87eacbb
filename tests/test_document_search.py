"""Documents and the text in pictures, indexed and found end to end: real files written here (a
multi-page text PDF, an image-only PDF, Word, OpenDocument, an HTML page with script and navigation,
an EPUB, a screenshot and a tilted sign in a photo), the bundled encoder, real OCR (rapidocr)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3

import pytest
from PIL import Image

from searchengine import Index
from searchengine.eval import sample_documents as make
from searchengine.eval import text_images as ti

from conftest import PHOTOS, run_cli

pytest.importorskip("rapidocr_onnxruntime")

REPORT_PAGES = [
    "The annual report of the lighthouse keepers association, read at the spring meeting.",
    "Page two explains the budget for new lanterns and fog horns on the northern cape.",
    "Page three thanks the volunteers who painted the tower red and white last summer.",
]
SCAN_TEXT = (
    "Invoice from the plumber. Replaced the kitchen sink drain and the leaking boiler valve. Total due 240 euros."
)
SIGN_LINES = ["BAKERY", "OPEN SUNDAY"]
SCRIPT_WORD = "zanzibarscript"
NAV_WORD = "navigationlinkword"


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """A folder of every format, with a photo without text and two broken files."""
    folder = tmp_path_factory.mktemp("library")
    make.text_pdf(folder / "report.pdf", REPORT_PAGES)
    make.image_pdf(folder / "scan.pdf", [ti.page(SCAN_TEXT, "DejaVu Serif").image])
    make.docx_file(folder / "memo.docx", "Memo", ["The quarterly meeting moves to the harbour office on Tuesday."])
    make.odt_file(folder / "minutes.odt", "Minutes", ["The choir agreed to rehearse the winter cantata weekly."])
    (folder / "bread.html").write_text(
        make.html_page(
            "Sourdough notes",
            ["Feed the sourdough starter twice a day with rye flour and water."],
            nav=[NAV_WORD, "Recipes"],
            script=f"var {SCRIPT_WORD} = 1;",
        ),
        encoding="utf-8",
    )
    make.epub_file(folder / "novel.epub", "Voyage", [("Chapter one", ["The whaling ship left Nantucket at dawn."])])
    ti.screenshot("DejaVu Sans", 3).image.save(folder / "settings.png")
    background = Image.open(PHOTOS / "brick_wall.jpg")
    ti.sign(SIGN_LINES, "DejaVu Sans Bold", background, seed=1, angle=6).image.save(folder / "sign.jpg", quality=92)
    shutil.copy2(PHOTOS / "cat_chelsea.jpg", folder / "cat.jpg")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf")
    (folder / "broken.docx").write_bytes(b"PK\x03\x04 not a zip")
    return folder


@pytest.fixture(scope="module")
def indexed(library, tmp_path_factory, session_home):
    os.environ["SEARCHENGINE_HOME"] = str(session_home)  # module fixtures come before the per-test home
    index = tmp_path_factory.mktemp("documents") / "index"
    with Index.open(index, model="bundled") as ix:
        summary = ix.sync(library)
    return index, summary


def _top(ix: Index, query: str, k: int = 3, **filters):
    return ix.search(query, k=k, **filters)


def test_every_format_is_found_by_its_words(indexed, library):
    index, summary = indexed
    assert summary.added == 9 and summary.failed == 2
    queries = {
        "lighthouse keepers annual report": "report.pdf",
        "budget for lanterns and fog horns": "report.pdf",
        "invoice from the plumber boiler valve": "scan.pdf",
        "quarterly meeting harbour office": "memo.docx",
        "choir rehearse winter cantata": "minutes.odt",
        "feed the sourdough starter rye flour": "bread.html",
        "whaling ship left Nantucket": "novel.epub",
        "night light schedule display brightness": "settings.png",
        "bakery open sunday": "sign.jpg",
    }
    with Index.open(index) as ix:
        for query, name in queries.items():
            assert name in [h.path.rsplit("/", 1)[1] for h in _top(ix, query)], query


def test_pdf_hits_carry_their_page_and_source(indexed):
    index, _ = indexed
    with Index.open(index) as ix:
        hit = _top(ix, "budget for lanterns and fog horns", k=1)[0]
        assert hit.path.endswith("report.pdf") and hit.page == 2 and hit.source == "text"
        hit = _top(ix, "volunteers painted the tower", k=1)[0]
        assert hit.page == 3
        scan = _top(ix, "plumber invoice", k=1)[0]
        assert scan.path.endswith("scan.pdf") and scan.page == 1 and scan.source == "ocr"
        assert "plumber" in scan.text.lower()
        memo = _top(ix, "harbour office", k=1)[0]
        assert memo.page is None and memo.as_json()["page"] is None


def test_pictures_match_by_what_they_say(indexed):
    """A picture's words are segments of the picture itself: `--type image` finds it by them, and
    the hit shows the line read; a photo without text has no such segment."""
    index, _ = indexed
    with Index.open(index) as ix:
        hit = _top(ix, "bakery open sunday", k=1, kind="image")[0]
        assert hit.path.endswith("sign.jpg") and hit.kind == "image" and hit.source == "ocr"
        assert "BAKERY" in hit.text.upper()
        shot = ix.segments_of(hit.path.replace("sign.jpg", "settings.png"))
        assert shot[0].text is None and any("night light" in (s.text or "").lower() for s in shot[1:])
        assert [s.text for s in ix.segments_of(hit.path.replace("sign.jpg", "cat.jpg"))] == [None]


def test_scripts_and_navigation_are_never_indexed(indexed, library):
    index, _ = indexed
    with Index.open(index) as ix:
        texts = " ".join(s.text for s in ix.segments_of(library / "bread.html"))
    assert "sourdough" in texts.lower()
    assert SCRIPT_WORD not in texts and NAV_WORD not in texts


def test_broken_documents_are_listed_with_a_reason_and_never_stop_the_run(indexed, library):
    index, summary = indexed
    failed = dict(summary.errors)
    assert set(failed) == {str(library / "broken.pdf"), str(library / "broken.docx")}
    assert "not a readable PDF" in failed[str(library / "broken.pdf")]
    assert "Word" in failed[str(library / "broken.docx")]
    with Index.open(index) as ix:
        assert {e["path"] for e in ix.status(errors=True)["errors"]} == set(failed)


def test_ocr_is_cached_so_reindexing_reads_nothing_again(indexed, library, tmp_path, monkeypatch):
    from searchengine.media.ocr import OcrEngine

    def never(self, image):
        raise AssertionError("OCR ran again on a picture read before")

    monkeypatch.setattr(OcrEngine, "read_lines", never)
    with Index.open(tmp_path / "again", model="bundled") as ix:
        summary = ix.sync(library)
        assert summary.added == 9
        hit = ix.search("invoice from the plumber", k=1)[0]
        assert hit.path.endswith("scan.pdf") and hit.page == 1


def test_no_ocr_leaves_pictures_and_scans_unread(library, tmp_path):
    with Index.open(tmp_path / "plain", model="bundled") as ix:
        summary = ix.sync(library, ocr=False)
        assert [s.text for s in ix.segments_of(library / "sign.jpg")] == [None]
        assert ix.segments_of(library / "scan.pdf") == []
        notes = dict(summary.notes)
        assert "OCR off" in notes[str(library / "scan.pdf")]


def test_command_line_indexes_documents_and_shows_pages(library, tmp_path, session_home):
    index = tmp_path / "cli-index"
    proc = run_cli("index", library, "--index", index, "--no-ocr", "--json", home=session_home)
    assert json.loads(proc.stdout)["failed"] == 2
    hits = json.loads(
        run_cli(
            "search", "budget for lanterns and fog horns", "--index", index, "--json", "-k", "1", home=session_home
        ).stdout
    )
    assert hits[0]["path"].endswith("report.pdf") and hits[0]["page"] == 2 and hits[0]["source"] == "text"
    piped = run_cli("search", "budget for lanterns", "--index", index, "-k", "1", home=session_home).stdout
    assert "\tp. 2\t" in piped


def test_catalog_of_schema_4_gains_pages_and_sources(tmp_path):
    """Migration 5 on a catalog made before it: the columns are added, what was stored is kept."""
    from searchengine.store.catalog import Catalog
    from searchengine.store.records import SCHEMA_VERSION

    path = tmp_path / "catalog.sqlite"
    Catalog(path).close()
    conn = sqlite3.connect(path)
    for column in ("page", "source", "boxes"):
        conn.execute(f"ALTER TABLE segments DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 4")
    conn.commit()
    conn.close()
    Catalog(path).close()
    conn = sqlite3.connect(path)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(segments)")}
    assert {"page", "source", "boxes"} <= columns
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def _sign_video(path, sign, photo, seconds: float = 3.0, fps: int = 10):
    """A silent clip: a photo, then a sign, each for `seconds`."""
    from fractions import Fraction

    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for i, picture in enumerate((photo, sign)):
            for n in range(int(seconds * fps)):
                frame = av.VideoFrame.from_image(picture.convert("RGB").resize((640, 480)))
                frame.pts, frame.time_base = round((i * seconds + n / fps) * 1000), Fraction(1, 1000)
                out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


@pytest.mark.slow
def test_video_keyframes_are_read_only_when_asked(tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    sign = ti.sign(SIGN_LINES, "DejaVu Sans Bold", Image.open(PHOTOS / "brick_wall.jpg"), seed=1, size=640).image
    clip = _sign_video(folder / "street.mp4", sign, Image.open(PHOTOS / "cat_chelsea.jpg"))
    with Index.open(tmp_path / "index", model="bundled") as ix:
        ix.sync(folder)
        assert all(s.text is None for s in ix.segments_of(clip))  # --ocr-video is off by default
        ix.sync(folder, ocr_video=True)  # the same file: unchanged, so nothing is read
        assert all(s.text is None for s in ix.segments_of(clip))
    with Index.open(tmp_path / "read", model="bundled") as ix:
        ix.sync(folder, ocr_video=True)
        read = [s for s in ix.segments_of(clip) if s.text]
        assert read and "BAKERY" in read[0].text.upper() and read[0].source == "ocr"
        assert read[0].t_start >= 2.5  # the sign shows from the third second
        hit = ix.search("bakery open sunday", k=1, kind="video")[0]
        assert hit.path == str(clip) and hit.start is not None


@pytest.mark.slow
def test_web_page_hits_carry_pages_and_pdfs_open_in_the_browsers_viewer(indexed, tmp_path, bundled):
    pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx")
    from fastapi.testclient import TestClient

    from searchengine.server import create_app

    index, _ = indexed
    app = create_app(index, encoder=bundled, thumbnail_dir=tmp_path)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        hit = client.get("/api/search", params={"q": "budget for lanterns and fog horns", "k": 1}).json()["hits"][0]
        assert hit["name"] == "report.pdf" and hit["page"] == 2 and hit["source"] == "text"
        pdf = client.get(hit["file_url"])
        assert pdf.headers["content-type"] == "application/pdf" and "sandbox" not in pdf.headers.get(
            "content-security-policy", ""
        )
        page = client.get("/api/search", params={"q": "sourdough starter rye flour", "k": 1}).json()["hits"][0]
        served = client.get(page["file_url"])  # an HTML page is shown as text, never run
        assert page["name"] == "bread.html" and served.headers["content-type"].startswith("text/plain")
        assert "sandbox" in served.headers["content-security-policy"]
        sign = client.get("/api/search", params={"q": "bakery open sunday", "type": "image", "k": 1}).json()["hits"][0]
        assert sign["name"] == "sign.jpg" and sign["source"] == "ocr" and sign["thumbnail_url"]
