"""Document readers on real files written in the test: the right words, on the right pages, and
nothing from scripts or navigation; damaged files give one-line DecodeErrors."""

from __future__ import annotations

import json

import pytest

from searchengine.errors import DecodeError, UnsupportedFile
from searchengine.eval import sample_documents as make
from searchengine.eval.text_images import font_path
from searchengine.media.documents import READERS, ReadOptions, document_format, read_document
from searchengine.media.passages import OcrLine

pytest.importorskip("fpdf")
needs_font = pytest.mark.skipif(font_path(make.PAGE_FONT) is None, reason="fonts-dejavu-core not installed")

PAGES = [
    "The plumber replaced the kitchen tap and sent an invoice for 180 euros.",
    "Chapter two is about tulips.\n\nTulip bulbs are planted in autumn, ten centimetres deep.",
    "The last page lists the harbour ferry timetable: boats leave at nine and at noon.",
]


def words(extraction) -> str:
    return " ".join(p.text for p in extraction.passages)


@needs_font
def test_text_pdf_passages_know_their_page(tmp_path):
    pdf = make.text_pdf(tmp_path / "report.pdf", PAGES)
    extraction = read_document(pdf)
    assert extraction.pages == 3 and extraction.truncated is None and extraction.unread_pages == ()
    by_page = {p.page: p for p in extraction.passages}
    assert set(by_page) == {1, 2, 3}
    assert "invoice for 180 euros" in by_page[1].text
    assert "Tulip bulbs are planted in autumn" in by_page[2].text
    assert "harbour ferry timetable" in by_page[3].text
    for passage in extraction.passages:
        assert passage.source == "text" and passage.boxes == () and passage.start < passage.end


@needs_font
def test_long_pdf_is_cut_at_max_pages_and_says_so(tmp_path):
    pdf = make.text_pdf(tmp_path / "long.pdf", [f"Page number {i} of the long manual." for i in range(1, 8)])
    extraction = read_document(pdf, ReadOptions(max_pages=3))
    assert extraction.pages == 7
    assert max(p.page for p in extraction.passages) == 3
    assert "first 3 of 7 pages" in extraction.truncated
    cut = read_document(pdf, ReadOptions(max_chars=60))
    assert sum(len(p.text) for p in cut.passages) <= 60 and "60 characters" in cut.truncated


def test_scanned_pdf_pages_go_to_the_ocr_given(tmp_path):
    from PIL import Image

    pdf = make.image_pdf(tmp_path / "scan.pdf", [Image.new("RGB", (620, 877), "white")] * 2)
    assert read_document(pdf).unread_pages == (1, 2)  # no OCR given: said, not guessed

    seen = []

    def fake_ocr(image):  # stands in for OcrEngine.read_lines (tested in test_ocr.py)
        seen.append(image.size)
        return [OcrLine("Invoice from the plumber", 0.97, ((10, 10), (200, 10), (200, 40), (10, 40)))]

    extraction = read_document(pdf, ReadOptions(ocr=fake_ocr, ocr_dpi=100))
    assert [p.page for p in extraction.passages] == [1, 2]
    assert all(p.source == "ocr" and p.boxes and p.confidence == 0.97 for p in extraction.passages)
    assert abs(seen[0][0] - 827) <= 1 and abs(seen[0][1] - 1169) <= 1  # A4 at 100 dpi
    assert read_document(pdf, ReadOptions(ocr=fake_ocr, max_ocr_pages=1)).unread_pages == (2,)


def test_docx_paragraphs_and_tables(tmp_path):
    path = make.docx_file(
        tmp_path / "minutes.docx",
        "Garden club minutes",
        ["We agreed to plant tulips along the north fence.", "The treasurer reported 412 euros."],
        table=[["Item", "Cost"], ["Compost", "35 euros"]],
    )
    text = words(read_document(path))
    assert "Garden club minutes" in text and "tulips along the north fence" in text
    assert "Compost | 35 euros" in text


def test_odt_headings_lists_and_paragraphs(tmp_path):
    path = make.odt_file(
        tmp_path / "notes.odt",
        "Bicycle workshop notes",
        ["Patch the inner tube after finding the hole in a bowl of water."],
        items=["Buy tyre levers"],
    )
    text = words(read_document(path))
    assert "Bicycle workshop notes" in text and "bowl of water" in text and "Buy tyre levers" in text


def test_html_main_text_without_scripts_navigation_or_footer(tmp_path):
    secret = "trackOutboundClicks(window.secretToken)"
    for semantic in (True, False):
        page = make.html_page(
            "Fixing a slow puncture",
            ["A tyre that goes soft over days has a slow puncture.", "Pass the tube through water to find the hole."],
            nav=["Home", "Shop catalogue", "Contact"],
            footer="Impressum and privacy policy",
            script=secret,
            semantic=semantic,
        )
        path = tmp_path / f"page-{semantic}.html"
        path.write_text(page, encoding="utf-8")
        text = words(read_document(path))
        assert "slow puncture" in text and "find the hole" in text
        for furniture in ("secretToken", "Shop catalogue", "Impressum", "newsletter", "cookies"):
            assert furniture not in text, (semantic, furniture)


def test_epub_chapters_in_spine_order(tmp_path):
    path = make.epub_file(
        tmp_path / "book.epub",
        "The Lighthouse Keeper",
        [
            ("Arrival", ["The keeper arrived on the island in a storm."]),
            ("Winter", ["Ice covered the lamp room every morning."]),
        ],
    )
    text = words(read_document(path))
    assert text.index("arrived on the island") < text.index("Ice covered the lamp room")
    assert text.count("The Lighthouse Keeper") == 0  # chapter <title>s are the book's, not text


def test_plain_text_formats_and_text_recognised_by_content(tmp_path):
    (tmp_path / "notes.org").write_text("* Groceries\nBuy oat milk and lentils.\n", encoding="utf-8")
    (tmp_path / "prices.csv").write_text("item,price\n" + "".join(f"kettle {i},{i}.50\n" for i in range(200)))
    (tmp_path / "data.json").write_text(json.dumps({"city": "Lisbon", "tram": 28}), encoding="utf-8")
    (tmp_path / "README").write_text("How to build the harbour model railway.\n", encoding="latin-1")
    (tmp_path / "notes.xyz").write_text("Strange extension, plain words about gooseberries.\n")
    (tmp_path / "blob").write_bytes(bytes(range(256)) * 40)
    assert document_format(tmp_path / "notes.org") == "text"
    assert "oat milk" in words(read_document(tmp_path / "notes.org"))
    csv_passages = read_document(tmp_path / "prices.csv").passages
    assert len(csv_passages) > 1 and all(len(p.text) <= 700 for p in csv_passages)
    assert all(p.text.endswith(".50") for p in csv_passages)  # cut between rows, never inside one
    assert "Lisbon" in words(read_document(tmp_path / "data.json"))
    assert document_format(tmp_path / "README") == "text"
    assert "harbour model railway" in words(read_document(tmp_path / "README"))
    assert document_format(tmp_path / "notes.xyz") == "text"
    assert document_format(tmp_path / "blob") is None
    with pytest.raises(UnsupportedFile):
        read_document(tmp_path / "blob")


@pytest.mark.parametrize(
    "name, content",
    [
        ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage"),
        ("broken.docx", b"PK\x03\x04 this is not a word file"),
        ("broken.odt", b"not even a zip"),
        ("broken.epub", b"PK\x05\x06" + bytes(18)),
    ],
)
def test_damaged_files_raise_one_line_decode_errors(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DecodeError) as caught:
        read_document(path)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message and "Traceback" not in message


@needs_font
def test_truncated_pdf_and_docx_with_wrong_parts(tmp_path):
    good = make.text_pdf(tmp_path / "good.pdf", PAGES)
    (tmp_path / "cut.pdf").write_bytes(good.read_bytes()[:400])
    docx = make.docx_file(tmp_path / "good.docx", "Title", ["Body"])
    import zipfile

    with zipfile.ZipFile(docx) as source, zipfile.ZipFile(tmp_path / "parts.docx", "w") as damaged:
        for item in source.infolist():
            data = source.read(item)
            damaged.writestr(item, b"<w:document>unclosed" if item.filename == "word/document.xml" else data)
    for name in ("cut.pdf", "parts.docx"):
        with pytest.raises(DecodeError, match=name):
            read_document(tmp_path / name)


def test_bounds_refuse_oversized_files_and_cut_long_text(tmp_path):
    path = make.docx_file(tmp_path / "long.docx", "Long", ["A sentence about rivers. " * 40] * 10)
    with pytest.raises(DecodeError, match="larger than"):
        read_document(path, ReadOptions(max_file_bytes=1000))
    extraction = read_document(path, ReadOptions(max_chars=2000))
    assert sum(len(p.text) for p in extraction.passages) <= 2000
    assert "first 2,000 characters" in extraction.truncated


def test_every_reader_is_registered_under_its_extensions():
    from searchengine.media.documents import EXTENSIONS

    assert set(EXTENSIONS.values()) == set(READERS)
    for suffix in (".pdf", ".docx", ".odt", ".html", ".xhtml", ".epub", ".rst", ".org", ".csv", ".json"):
        assert suffix in EXTENSIONS
