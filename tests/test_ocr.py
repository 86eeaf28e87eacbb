"""OCR with the packaged PP-OCR models: rendered words read back, the gate quiet on photos, no
network, scanned PDF pages read with their page numbers."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PIL import Image

from searchengine.eval import sample_documents as make
from searchengine.eval import text_images
from searchengine.media.documents import ReadOptions, read_document
from searchengine.media.images import load_image
from searchengine.media.ocr import OcrEngine, ocr_engine
from searchengine.media.passages import OcrLine, ocr_passages
from searchengine.media.tesseract import SCAN_COVERAGE, ink_coverage, read_scan, tesseract_version

from conftest import PHOTOS, REPO

pytest.importorskip("rapidocr_onnxruntime")
FONTS = ["DejaVu Sans", "Liberation Sans"]
needs_fonts = pytest.mark.skipif(
    text_images.available_fonts(FONTS) != FONTS,
    reason="fonts-dejavu-core and fonts-liberation are needed (scripts/install-test-deps.sh)",
)


needs_tesseract = pytest.mark.skipif(
    tesseract_version() is None, reason="Debian's tesseract-ocr is needed (scripts/install-test-deps.sh)"
)


@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    return ocr_engine()


def read(engine, image) -> str:
    return "\n".join(line.text for line in engine.read_lines(image))


@needs_fonts
def test_screenshot_text_is_read(engine, tmp_path):
    shot = text_images.screenshot("DejaVu Sans", seed=3)
    path = tmp_path / "settings.png"
    shot.image.save(path)
    image = load_image(path)
    assert engine.has_text(image)
    text = read(engine, image)
    for line in shot.lines:
        assert line.split()[0] in text
    assert text_images.character_error_rate(shot.text, text) < 0.05


@needs_fonts
def test_rotated_blurred_sign_in_a_photo_is_read(engine):
    background = Image.open(PHOTOS / "brick_wall.jpg")
    sign = text_images.sign(
        ["PHARMACY", "Open 24 hours"], "Liberation Sans", background, seed=5, angle=9, blur=1.0, noise=8
    )
    assert engine.has_text(sign.image)
    lines = engine.read_lines(sign.image)
    assert [line.text for line in lines] == ["PHARMACY", "Open 24 hours"]  # line by line, along the tilt
    assert all(0.5 <= line.confidence <= 1 and len(line.box) == 4 for line in lines)
    passages = engine.read_passages(sign.image)
    assert passages[0].source == "ocr" and passages[0].text == "PHARMACY Open 24 hours"
    assert len(passages[0].boxes) == 2


def test_gate_says_no_text_for_the_sample_photos(engine):
    photos = [p for p in sorted(PHOTOS.iterdir()) if p.suffix in (".jpg", ".png")]
    flagged = [p.name for p in photos if engine.has_text(load_image(p, draft_size=384))]
    assert flagged == []  # not even the ribbon bar on Grace Hopper's uniform, which the detector half-likes


@pytest.mark.slow  # default run under 3 minutes; CI runs it (-m "")
@needs_fonts
def test_scanned_pdf_is_read_page_by_page(engine, tmp_path):
    pages = [
        text_images.page("The plumber sent an invoice for the kitchen tap.", "DejaVu Serif", size=30).image,
        text_images.page("Minutes of the harbour committee meeting.", "DejaVu Sans", size=30).image,
    ]
    pdf = make.image_pdf(tmp_path / "scan.pdf", pages)
    told = []  # the progress line: page by page from the first scanned page, seconds apart
    extraction = read_document(pdf, ReadOptions(ocr=engine.read_lines, on_page=lambda *a: told.append(a)))
    assert told == [(0, 2), (1, 2), (2, 2)]
    assert (
        read_document(
            make.text_pdf(tmp_path / "text.pdf", ["Typed.", "Pages."]),
            ReadOptions(ocr=engine.read_lines, on_page=lambda *a: told.append(a)),
        ).passages
        and len(told) == 3
    )  # no scan: no line
    assert extraction.unread_pages == ()
    by_page = {p.page: p.text for p in extraction.passages}
    assert "invoice for the kitchen tap" in by_page[1]
    assert "harbour committee meeting" in by_page[2]
    assert all(p.source == "ocr" for p in extraction.passages)


@needs_tesseract
@needs_fonts
def test_a_clean_scanned_page_is_read_by_tesseract(engine):
    page = text_images.page(
        "The plumber sent an invoice for the kitchen tap. Minutes of the harbour committee meeting.", "DejaVu Serif"
    )
    lines = read_scan(page.image)
    assert lines is not None  # its reading accounts for the page's ink
    assert engine.read_page(page.image) == lines  # what indexing keeps: tesseract's, not PP-OCR's
    assert text_images.character_error_rate(page.text, "\n".join(line.text for line in lines)) < 0.01
    assert all(0.8 <= line.confidence <= 1 and len(line.box) == 4 for line in lines)


@needs_tesseract
@needs_fonts
def test_a_page_with_ink_tesseract_leaves_unread_goes_to_pp_ocr(engine):
    """Tesseract skips what it takes for a picture; a reading that leaves a page's ink unaccounted
    for is not kept, and PP-OCR reads the page."""
    from PIL import ImageDraw

    page = text_images.page("Minutes of the harbour committee meeting.", "DejaVu Sans", size=30)
    figure = page.image.copy()
    ImageDraw.Draw(figure).rectangle((200, 900, 1000, 1400), fill="black")  # a photo in the scan
    assert read_scan(page.image) is not None and read_scan(figure) is None
    read = " ".join(line.text for line in engine.read_page(figure))
    assert "harbour committee meeting" in read


def test_ink_is_what_the_words_read_must_account_for():
    from PIL import Image, ImageDraw

    blank = Image.new("RGB", (400, 560), "white")
    assert ink_coverage(blank, []) == 1.0
    marked = blank.copy()
    draw = ImageDraw.Draw(marked)
    draw.rectangle((100, 100, 199, 119), fill="black")  # a word
    draw.rectangle((0, 0, 399, 9), fill="black")  # a scanner's shadow along the edge: not ink
    draw.point((300, 300), fill="black")  # a speck: not ink
    assert ink_coverage(marked, []) == 0.0
    assert ink_coverage(marked, [(100, 100, 100, 20)]) == 1.0
    assert ink_coverage(marked, [(100, 100, 50, 20)]) < SCAN_COVERAGE


@needs_tesseract
def test_a_blank_scanned_page_reads_as_nothing_without_pp_ocr():
    from PIL import Image

    assert read_scan(Image.new("RGB", (1240, 1754), "white")) == []


def test_a_scanned_page_that_cannot_be_read_leaves_the_others(engine, tmp_path):
    pages = [
        text_images.page("The first page, whose reading fails.", "DejaVu Sans", size=30).image,
        text_images.page("Minutes of the harbour committee meeting.", "DejaVu Sans", size=30).image,
    ]
    pdf = make.image_pdf(tmp_path / "scan.pdf", pages)
    calls = []

    def reads_after_a_failure(image):  # the real engine, after a failure such as a bad page image
        calls.append(image)
        if len(calls) == 1:
            raise RuntimeError("ONNXRuntimeError: invalid input shape")
        return engine.read_lines(image)

    extraction = read_document(pdf, ReadOptions(ocr=reads_after_a_failure))
    assert extraction.unread_pages == (1,)
    assert "harbour committee meeting" in " ".join(p.text for p in extraction.passages if p.page == 2)
    assert "could not be read (page 1: RuntimeError" in extraction.truncated


@needs_fonts
def test_keyframes_showing_the_same_text_are_one_run(engine):
    slide = text_images.sign(["QUARTERLY RESULTS"], "DejaVu Sans", Image.new("RGB", (800, 600), "navy"), seed=1)
    other = text_images.sign(["THANK YOU"], "DejaVu Sans", Image.new("RGB", (800, 600), "navy"), seed=2)
    blank = Image.new("RGB", (800, 600), "navy")
    runs = engine.read_frames([(0.0, slide.image), (4.0, slide.image), (8.0, blank), (12.0, other.image)])
    assert [(r.start, r.end, r.passages[0].text) for r in runs] == [
        (0.0, 4.0, "QUARTERLY RESULTS"),
        (12.0, 12.0, "THANK YOU"),
    ]


def test_lines_become_passages_with_their_boxes():
    def line(text, top):
        return OcrLine(text, 0.9, ((0, top), (100, top), (100, top + 20), (0, top + 20)))

    lines = [line("Invoice 2041", 0), line("Kitchen tap", 25), line("Total 180 EUR", 200)]
    passages = ocr_passages(lines, page=4)
    assert len(passages) == 1 and passages[0].page == 4
    assert passages[0].text == "Invoice 2041 Kitchen tap Total 180 EUR"
    assert len(passages[0].boxes) == 3 and passages[0].confidence == 0.9
    assert ocr_passages([]) == []


def test_ocr_touches_no_network():
    """The models come from the wheel: loading and reading work with every socket refused."""
    script = (
        "import socket\n"
        "def refuse(*a, **k): raise OSError('network used')\n"
        "socket.socket.connect = refuse; socket.create_connection = refuse; socket.getaddrinfo = refuse\n"
        "from PIL import Image, ImageDraw\n"
        "from searchengine.media.ocr import OcrEngine\n"
        "image = Image.new('RGB', (640, 200), 'white')\n"
        "from searchengine.eval.text_images import _font\n"
        "ImageDraw.Draw(image).text((20, 60), 'OFFLINE', font=_font('DejaVu Sans', 60), fill='black')\n"
        "print([l.text for l in OcrEngine().read_lines(image)])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "OFFLINE" in done.stdout
    assert done.stderr.strip() == ""  # nothing of the package's own logging reaches the user


@pytest.mark.parametrize(
    "failure, says",
    [
        ('raise ImportError("libGL.so.1: cannot open shared object file: No such file or directory")', "libGL.so.1"),
        ('raise RuntimeError("module compiled against ABI version 0x1000009")', "RuntimeError"),
    ],
)
def test_pictures_are_indexed_when_ocr_does_not_load(tmp_path, failure, says):
    """OpenCV (which rapidocr imports) wants libGL, absent from many servers, or breaks in its own
    ways: the pictures are indexed all the same, and the run says once why their words are not read."""
    from conftest import run_cli

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "cv2.py").write_text(failure + "\n")
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("cat_chelsea.jpg", "coffee_cup.jpg"):
        (folder / name).write_bytes((PHOTOS / name).read_bytes())
    done = run_cli(
        "index", folder, "--index", tmp_path / "index", "--model", "demo", "--json",
        home=tmp_path / "home", env={"PYTHONPATH": str(broken)}, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert '"added": 2' in done.stdout.replace(" ", "").replace('"added":2', '"added": 2') and '"failed": 0' in (
        done.stdout.replace('"failed":0', '"failed": 0')
    ), done.stdout
    assert done.stderr.count("text in pictures is not read") == 1 and says in done.stderr, done.stderr
