"""Text documents: decoded (UTF-8, else detected), split into passages with character offsets."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from searchengine.errors import DecodeError

MAX_TEXT_BYTES = 1024 * 1024  # longer documents are indexed up to here (about 1,500 passages)
PASSAGE_CHARS = 700  # about 150 words: within MiniLM's 256-token window
MIN_PASSAGE_CHARS = 200


@dataclass(frozen=True)
class Passage:
    start: int  # character offsets into the decoded document
    end: int
    text: str


def cut_note(size: int) -> str | None:
    """What to tell about a text of `size` bytes: that only its beginning is indexed, if so."""
    if size <= MAX_TEXT_BYTES:
        return None
    return f"indexed in part: the first {MAX_TEXT_BYTES // (1024 * 1024)} MiB of {size / (1024 * 1024):.1f} MiB"


def read_text(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_TEXT_BYTES)
    except OSError as exc:
        raise DecodeError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if b"\x00" in raw[:8192] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DecodeError(f"{path}: looks like a binary file, not text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    if best is None:
        raise DecodeError(f"{path}: text in an unknown encoding; save it as UTF-8")
    return str(best)


_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+")


def _spans(text: str, pattern: re.Pattern, start: int, end: int) -> list[tuple[int, int]]:
    spans, pos = [], start
    for match in pattern.finditer(text, start, end):
        spans.append((pos, match.start()))
        pos = match.end()
    spans.append((pos, end))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def _pieces(text: str) -> list[tuple[int, int]]:
    """Paragraphs, with paragraphs too long for one passage cut at sentence ends (or hard)."""
    pieces = []
    for a, b in _spans(text, _PARAGRAPH, 0, len(text)):
        if b - a <= PASSAGE_CHARS:
            pieces.append((a, b))
            continue
        for s, e in _spans(text, _SENTENCE_END, a, b):
            while e - s > PASSAGE_CHARS:
                pieces.append((s, s + PASSAGE_CHARS))
                s += PASSAGE_CHARS
            pieces.append((s, e))
    return pieces


def split_passages(text: str) -> list[Passage]:
    """Consecutive pieces packed into passages of up to PASSAGE_CHARS, each at least a few sentences."""
    passages: list[Passage] = []
    current: tuple[int, int] | None = None
    for a, b in _pieces(text):
        if current and (b - current[0] <= PASSAGE_CHARS or current[1] - current[0] < MIN_PASSAGE_CHARS):
            current = (current[0], b)
        else:
            if current:
                passages.append(current)
            current = (a, b)
    if current:
        passages.append(current)
    return [Passage(a, b, _strip(text[a:b])) for a, b in passages]


def _strip(passage: str) -> str:
    return re.sub(r"\s+", " ", passage).strip()
