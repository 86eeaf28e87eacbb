"""PDF: the text layer of each page (pypdfium2), one passage set per page; pages without a text
layer (scans) rendered and read with the OCR given in the options.

PDFium is not thread-safe: every call into it holds one process-wide lock (OCR runs outside it).
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from searchengine.errors import DecodeError
from searchengine.media.documents.base import ReadOptions, check_size, one_line
from searchengine.media.passages import DocumentPassage, Extraction, ocr_passages, text_passages

MIN_TEXT_LAYER_CHARS = 16  # a page with fewer visible characters and an image on it is a scan
MAX_RENDER_SIDE = 4000  # pixels: a poster-sized page is rendered smaller than ocr_dpi asks

_PDFIUM = threading.Lock()
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def read_pdf(path: Path, options: ReadOptions) -> Extraction:
    import pypdfium2 as pdfium

    check_size(path, options)
    with _PDFIUM:
        try:
            pdf = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError as exc:
            raise DecodeError(f"{path}: not a readable PDF ({_reason(exc)})") from exc
    try:
        return _read_pages(path, pdf, options)
    finally:
        with _PDFIUM:
            pdf.close()


def _read_pages(path: Path, pdf, options: ReadOptions) -> Extraction:
    with _PDFIUM:
        pages = len(pdf)
    passages: list[DocumentPassage] = []
    notes, unread, failed, ocr_done, chars = [], [], [], 0, 0
    if pages > options.max_pages:
        notes.append(f"only the first {options.max_pages:,} of {pages:,} pages were read")
    to_read = min(pages, options.max_pages)
    for number in range(1, to_read + 1):
        if ocr_done and options.on_page is not None:
            options.on_page(number - 1, to_read)
        if chars >= options.max_chars:
            notes.append(f"reading stopped before page {number}: {options.max_chars:,} characters were read")
            break
        text, scanned = _page_text(path, pdf, number)
        if not scanned:
            kept = text[: options.max_chars - chars]
            passages += text_passages(kept, page=number)
            chars += len(text)
            if len(kept) < len(text):
                notes.append(f"page {number} was read up to {options.max_chars:,} characters in all")
                break
        elif options.ocr is not None and ocr_done < options.max_ocr_pages:
            if not ocr_done and options.on_page is not None:  # the first scanned page: the line appears
                options.on_page(number - 1, to_read)
            try:
                lines = _ocr_lines(path, pdf, number, options)
            except Exception as exc:  # the other pages are kept whatever one scan's reading does
                failed.append(f"page {number}: {type(exc).__name__}: {exc}")
                unread.append(number)
                ocr_done += 1
                continue
            page_passages = ocr_passages(lines, page=number)
            ocr_done += 1
            passages += page_passages
            chars += sum(len(p.text) for p in page_passages)
        else:
            unread.append(number)
    if ocr_done and options.on_page is not None:
        options.on_page(to_read, to_read)
    if failed:
        notes.append(f"the words of {len(failed)} scanned pages could not be read ({failed[0]})")
    if len(unread) > len(failed) and options.ocr is not None:
        notes.append(f"only the first {options.max_ocr_pages} scanned pages were read with OCR")
    return Extraction(passages, pages=pages, truncated="; ".join(notes) or None, unread_pages=tuple(unread))


def _ocr_lines(path: Path, pdf, number: int, options: ReadOptions):
    """The lines of a scanned page: from options.ocr_cache when read before, else rendered and read."""
    cache = options.ocr_cache
    lines = cache.get(number) if cache is not None else None
    if lines is None:
        lines = options.ocr(_render(path, pdf, number, options.ocr_dpi))
        if cache is not None:
            cache.put(number, lines)
    return lines


def _page_text(path: Path, pdf, number: int) -> tuple[str, bool]:
    """The page's text layer (lines joined by newlines), and whether the page is a scan."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    with _PDFIUM:
        try:
            page = pdf[number - 1]
            try:
                textpage = page.get_textpage()
                text = textpage.get_text_range()
                textpage.close()
                scanned = len("".join(text.split())) < MIN_TEXT_LAYER_CHARS and any(
                    True for _ in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=3)
                )
            finally:
                page.close()
        except pdfium.PdfiumError as exc:
            raise DecodeError(f"{path}: page {number} cannot be read ({_reason(exc)})") from exc
    return _CONTROL.sub("", text.replace("\x02\r\n", "").replace("\r\n", "\n").replace("\r", "\n")), scanned


def _render(path: Path, pdf, number: int, dpi: int):
    import pypdfium2 as pdfium

    with _PDFIUM:
        try:
            page = pdf[number - 1]
            try:
                width, height = page.get_size()  # points, 1/72 inch
                scale = min(dpi / 72, MAX_RENDER_SIDE / max(width, height, 1))
                return page.render(scale=scale, grayscale=True).to_pil().convert("RGB")
            finally:
                page.close()
        except pdfium.PdfiumError as exc:
            raise DecodeError(f"{path}: page {number} cannot be rendered ({_reason(exc)})") from exc


def _reason(exc: Exception) -> str:
    text = one_line(exc)
    if "password" in text.lower():
        return "it is encrypted with a password; save an unprotected copy to index it"
    return text
