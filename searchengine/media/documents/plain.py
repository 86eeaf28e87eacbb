"""Plain text in any of its forms (.txt, Markdown, reStructuredText, Org, CSV, JSON, logs, files
without an extension): decoded and cut by media/text.py."""

from __future__ import annotations

from pathlib import Path

from searchengine.media.documents.base import ReadOptions, check_size, text_extraction
from searchengine.media.passages import Extraction
from searchengine.media.text import MAX_TEXT_BYTES, read_text


def read_plain(path: Path, options: ReadOptions) -> Extraction:
    size = check_size(path, options)
    extraction = text_extraction([read_text(path)], options)
    if size > MAX_TEXT_BYTES and extraction.truncated is None:
        return Extraction(
            extraction.passages,
            truncated=f"only the first {MAX_TEXT_BYTES // 1024:,} KiB of {size // 1024:,} KiB were read",
        )
    return extraction
