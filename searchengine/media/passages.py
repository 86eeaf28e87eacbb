"""What document readers and OCR hand on: passages of text, with the page, the source and the
boxes they come from, and whether the file was read whole.

Passages are cut by media/text.py's `split_passages` (paragraphs packed up to PASSAGE_CHARS,
character offsets into the text they were cut from), so every kind of text is chunked alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from searchengine.media.text import split_passages

Point = tuple[int, int]
Box = tuple[Point, Point, Point, Point]  # corners clockwise from top-left, in pixels of the picture read
Source = Literal["text", "ocr"]


@dataclass(frozen=True)
class OcrLine:
    """One line of text read from a picture."""

    text: str
    confidence: float  # the recogniser's score for the line, 0–1
    box: Box


@dataclass(frozen=True)
class DocumentPassage:
    """A passage to embed and to show in a hit."""

    text: str  # whitespace collapsed to single spaces
    start: int  # character offsets into the text of its page (PDF) or of the whole document
    end: int
    page: int | None = None  # 1-based page number in a PDF; None for formats without pages
    source: Source = "text"  # "text": the file's own text; "ocr": recognised in a picture
    boxes: tuple[Box, ...] = ()  # OCR only: the boxes of the lines the passage was read from
    confidence: float | None = None  # OCR only: the mean confidence of those lines


@dataclass(frozen=True)
class Extraction:
    """Everything read from one file."""

    passages: list[DocumentPassage]
    pages: int | None = None  # pages in the file (PDF); None for formats without pages
    truncated: str | None = None  # what was left unread and why, in words; None when read whole
    unread_pages: tuple[int, ...] = ()  # scanned PDF pages (1-based) not read because no OCR was given


# Reads the text in a picture (a PIL image): OcrEngine.read_lines in searchengine.media.ocr.
ReadLines = Callable[[object], list[OcrLine]]


def text_passages(text: str, page: int | None = None) -> list[DocumentPassage]:
    """`text` cut into passages (offsets into `text`), all from `page`."""
    return [DocumentPassage(p.text, p.start, p.end, page=page) for p in split_passages(text)]


PARAGRAPH_GAP = 0.8  # a vertical gap over this many line heights between two lines starts a new paragraph


def ocr_passages(lines: list[OcrLine], page: int | None = None) -> list[DocumentPassage]:
    """Lines read from one picture (in reading order) as passages: lines joined by newlines,
    paragraphs where the gap between lines is wide, cut like any text; each passage keeps the boxes
    and the mean confidence of the lines it holds. Offsets are into that joined text."""
    if not lines:
        return []
    heights = sorted(_height(line.box) for line in lines)
    gap = PARAGRAPH_GAP * max(heights[len(heights) // 2], 1)
    parts, spans, pos = [], [], 0
    for i, line in enumerate(lines):
        if i:
            sep = "\n\n" if _top(line.box) - _bottom(lines[i - 1].box) > gap else "\n"
            parts.append(sep)
            pos += len(sep)
        parts.append(line.text)
        spans.append((pos, pos + len(line.text)))
        pos += len(line.text)
    passages = []
    for p in split_passages("".join(parts)):
        held = [line for line, (a, b) in zip(lines, spans) if a < p.end and b > p.start]
        passages.append(
            DocumentPassage(
                p.text,
                p.start,
                p.end,
                page=page,
                source="ocr",
                boxes=tuple(line.box for line in held),
                confidence=round(sum(line.confidence for line in held) / max(len(held), 1), 4),
            )
        )
    return passages


def _top(box: Box) -> float:
    return min(y for _, y in box)


def _bottom(box: Box) -> float:
    return max(y for _, y in box)


def _height(box: Box) -> float:
    return _bottom(box) - _top(box)
