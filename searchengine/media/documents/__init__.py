"""Documents as passages: one small reader per format, chosen through a registry.

    extraction = read_document(path)                        # -> Extraction (passages, pages, truncated)
    extraction = read_document(path, ReadOptions(ocr=ocr_engine().read_page))    # scanned PDF pages too

`document_format(path)` says which reader a file gets (by extension, else "text" for a file whose
content is text), or None. Every reader raises DecodeError with a one-line reason for a file it
cannot read, and bounds its work (ReadOptions); what it left unread is said in `truncated`.
"""

from __future__ import annotations

from pathlib import Path

from searchengine.errors import DecodeError, UnsupportedFile
from searchengine.media.documents.base import Reader, ReadOptions
from searchengine.media.documents.epub import read_epub
from searchengine.media.documents.html import read_html
from searchengine.media.documents.office import read_docx, read_odt
from searchengine.media.documents.pdf import read_pdf
from searchengine.media.documents.plain import read_plain
from searchengine.media.passages import DocumentPassage, Extraction
from searchengine.media.text import looks_like_text

READERS: dict[str, Reader] = {
    "pdf": read_pdf,
    "docx": read_docx,
    "odt": read_odt,
    "html": read_html,
    "epub": read_epub,
    "text": read_plain,
}

EXTENSIONS: dict[str, str] = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".odt": "odt",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".epub": "epub",
    **dict.fromkeys(
        (".txt", ".text", ".md", ".markdown", ".rst", ".org", ".csv", ".tsv", ".json", ".jsonl", ".log"), "text"
    ),
}


def document_format(path: Path, sniff: bool = True) -> str | None:
    """The reader a file gets: by its extension, else (when `sniff`) "text" if its first bytes are
    text. Call it only for files no other kind claims (images, recordings, videos)."""
    known = EXTENSIONS.get(Path(path).suffix.lower())
    if known or not sniff:
        return known
    return "text" if looks_like_text(Path(path)) else None


def read_document(path: Path, options: ReadOptions | None = None, format: str | None = None) -> Extraction:
    """Every passage of a document. Raises DecodeError (damaged, encrypted, too large) or
    UnsupportedFile (no reader for it)."""
    path = Path(path)
    format = format or document_format(path)
    reader = READERS.get(format or "")
    if reader is None:
        raise UnsupportedFile(f"{path}: not a document format searchengine reads (formats: {', '.join(READERS)})")
    try:
        return reader(path, options or ReadOptions())
    except DecodeError:
        raise
    except (OSError, MemoryError) as exc:
        raise DecodeError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or type(exc).__name__})") from exc


__all__ = ["READERS", "EXTENSIONS", "DocumentPassage", "Extraction", "ReadOptions", "document_format", "read_document"]
