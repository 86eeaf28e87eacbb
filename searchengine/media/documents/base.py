"""What every document reader shares: its signature, the bounds on work and memory, and the
turning of a parser's failure into a one-line DecodeError."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from searchengine.errors import DecodeError
from searchengine.media.passages import Extraction, OcrLine, ReadLines, text_passages

MiB = 1024 * 1024


class PageLines(Protocol):
    """Lines already read from a file's pages (media/ocr_cache.FileLines): get(page) is None for a
    page not read yet."""

    def get(self, page: int) -> list[OcrLine] | None: ...

    def put(self, page: int, lines: list[OcrLine]) -> None: ...


@dataclass(frozen=True)
class ReadOptions:
    """Bounds on one file's reading, and the OCR to read scanned pages with (None: left unread)."""

    max_file_bytes: int = 256 * MiB  # larger files are refused
    max_unpacked_bytes: int = 256 * MiB  # zip-based formats (.docx, .odt, .epub): bound on what unpacks
    max_chars: int = MiB  # text kept per file (about 1,500 passages, as media/text.py's MAX_TEXT_BYTES)
    max_pages: int = 2000  # PDF pages read
    max_ocr_pages: int = 100  # scanned PDF pages read with OCR (about a second each on 2 cores)
    ocr_dpi: int = 200  # scanned pages are rendered at this resolution for OCR (benchmarks/ocr.py)
    ocr: ReadLines | None = None
    ocr_cache: PageLines | None = None  # scanned pages read before (by content hash), and where to keep new ones
    # told (page number, pages to read) after each page once a scanned page has been read with OCR
    # (seconds a page): what a progress line shows; text pages alone read too fast to need one
    on_page: Callable[[int, int], None] | None = None


Reader = Callable[[Path, ReadOptions], Extraction]


def check_size(path: Path, options: ReadOptions) -> int:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DecodeError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if size > options.max_file_bytes:
        raise DecodeError(
            f"{path}: {size / MiB:.0f} MiB is larger than the {options.max_file_bytes // MiB} MiB "
            "a document may have; split it or leave it out"
        )
    return size


def check_zip(path: Path, options: ReadOptions, what: str) -> None:
    """Refuse a zip-based document that is not a zip, or that would unpack beyond the bound (a zip bomb)."""
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DecodeError(f"{path}: not a valid {what} file (not a readable zip package: {exc})") from exc
    if unpacked > options.max_unpacked_bytes:
        raise DecodeError(
            f"{path}: unpacks to {unpacked / MiB:.0f} MiB, more than the "
            f"{options.max_unpacked_bytes // MiB} MiB a {what} file may; it is left out"
        )


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def bounded_text(blocks: list[str], options: ReadOptions) -> tuple[str, str | None]:
    """Blocks (paragraphs, table rows, chapters) joined by blank lines, up to options.max_chars;
    with the truncation note when some were left out."""
    kept, total = [], 0
    for block in blocks:
        if total + len(block) > options.max_chars:
            kept.append(block[: max(options.max_chars - total, 0)])
            return "\n\n".join(kept), f"only the first {options.max_chars:,} characters were read"
        kept.append(block)
        total += len(block) + 2
    return "\n\n".join(kept), None


def text_extraction(blocks: list[str], options: ReadOptions) -> Extraction:
    text, truncated = bounded_text([b for b in blocks if b.strip()], options)
    return Extraction(text_passages(text), truncated=truncated)
