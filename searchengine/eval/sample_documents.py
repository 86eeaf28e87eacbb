"""Documents of known text in every format the document readers take, written by well-kept
libraries (fpdf2, python-docx, odfpy) or by hand where the format is simple (HTML, EPUB): for
tests and benchmarks. fpdf2 comes with the `test` extra.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

PAGE_FONT = "DejaVu Sans"


def text_pdf(path: Path, pages: list[str]) -> Path:
    """A PDF with a text layer: one page per string (paragraphs split at blank lines)."""
    from fpdf import FPDF

    from searchengine.eval.text_images import font_path

    pdf = FPDF(format="A4")
    pdf.add_font("body", fname=str(font_path(PAGE_FONT)))
    pdf.set_font("body", size=11)
    for text in pages:
        pdf.add_page()
        for paragraph in text.split("\n\n"):
            pdf.multi_cell(0, 6, paragraph, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
    pdf.output(str(path))
    return path


def image_pdf(path: Path, images: list) -> Path:
    """A PDF of scanned pages: each PIL image one A4 page, with no text layer."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    for image in images:
        pdf.add_page()
        pdf.image(image, x=0, y=0, w=pdf.w, h=pdf.h)
    pdf.output(str(path))
    return path


def docx_file(path: Path, title: str, paragraphs: list[str], table: list[list[str]] = ()) -> Path:
    import docx

    document = docx.Document()
    document.add_heading(title, 1)
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, cell in enumerate(row):
                grid.cell(r, c).text = cell
    document.save(str(path))
    return path


def odt_file(path: Path, title: str, paragraphs: list[str], items: list[str] = ()) -> Path:
    from odf.opendocument import OpenDocumentText
    from odf.text import H, List, ListItem, P

    document = OpenDocumentText()
    document.text.addElement(H(outlinelevel=1, text=title))
    for paragraph in paragraphs:
        document.text.addElement(P(text=paragraph))
    if items:
        listing = List()
        for item in items:
            entry = ListItem()
            entry.addElement(P(text=item))
            listing.addElement(entry)
        document.text.addElement(listing)
    document.save(str(path))
    return path


def html_page(
    title: str, paragraphs: list[str], *, nav: list[str] = (), footer: str = "", script: str = "", semantic: bool = True
) -> str:
    """A web page: the article among a cookie banner, navigation, a sidebar, a footer and scripts.
    `semantic`: HTML5 landmarks (<nav>, <main>, <footer>); else the same layout in bare <div>s
    with class names only."""
    links = "".join(f'<li><a href="/{i}">{name}</a></li>' for i, name in enumerate(nav))
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    head = (
        f"<head><meta charset='utf-8'><title>{title}</title><style>body {{ margin: 0 }}</style>"
        f"<script>{script}</script></head>"
    )
    if semantic:
        layout = (
            f"<header><nav><ul>{links}</ul></nav></header><main><article><h1>{title}</h1>{body}</article></main>"
            f"<aside><p>Subscribe to our newsletter</p></aside><footer><p>{footer}</p></footer>"
        )
    else:
        layout = (
            f'<div class="top-menu"><ul>{links}</ul></div><div class="content"><h1>{title}</h1>{body}</div>'
            f'<div class="sidebar"><p>Subscribe to our newsletter</p></div><div id="footer"><p>{footer}</p></div>'
        )
    return (
        f"<!DOCTYPE html><html lang='en'>{head}<body><div class='cookie-consent'>We use cookies. "
        f"<button>Accept</button></div>{layout}<script>{script}</script></body></html>"
    )


def epub_file(path: Path, title: str, chapters: list[tuple[str, list[str]]]) -> Path:
    """An EPUB 3 book: one XHTML file per (chapter title, paragraphs), plus a navigation document."""
    xhtml = (
        "<?xml version='1.0' encoding='utf-8'?><html xmlns='http://www.w3.org/1999/xhtml' xmlns:epub='http://www.idpf.org/2007/ops'><head>"
        "<title>{title}</title></head><body>{body}</body></html>"
    )
    items, refs, nav = [], [], []
    with zipfile.ZipFile(path, "w") as book:
        book.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        book.writestr(
            "META-INF/container.xml",
            "<?xml version='1.0'?><container version='1.0' xmlns='urn:oasis:names:tc:opendocument:xmlns:container'>"
            "<rootfiles><rootfile full-path='OEBPS/content.opf' media-type='application/oebps-package+xml'/>"
            "</rootfiles></container>",
        )
        for i, (heading, paragraphs) in enumerate(chapters, 1):
            body = f"<h1>{heading}</h1>" + "".join(f"<p>{p}</p>" for p in paragraphs)
            book.writestr(f"OEBPS/text/ch{i}.xhtml", xhtml.format(title=title, body=body))
            items.append(f"<item id='ch{i}' href='text/ch{i}.xhtml' media-type='application/xhtml+xml'/>")
            refs.append(f"<itemref idref='ch{i}'/>")
            nav.append(f"<li><a href='text/ch{i}.xhtml'>{heading}</a></li>")
        book.writestr(
            "OEBPS/nav.xhtml",
            xhtml.format(title="Contents", body=f"<nav epub:type='toc'><ol>{''.join(nav)}</ol></nav>"),
        )
        book.writestr(
            "OEBPS/content.opf",
            "<?xml version='1.0'?><package xmlns='http://www.idpf.org/2007/opf' version='3.0' unique-identifier='id'>"
            f"<metadata xmlns:dc='http://purl.org/dc/elements/1.1/'><dc:identifier id='id'>test-book</dc:identifier>"
            f"<dc:title>{title}</dc:title><dc:language>en</dc:language></metadata><manifest>"
            "<item id='nav' href='nav.xhtml' media-type='application/xhtml+xml' properties='nav'/>"
            f"{''.join(items)}</manifest><spine><itemref idref='nav'/>{''.join(refs)}</spine></package>",
        )
    return path
