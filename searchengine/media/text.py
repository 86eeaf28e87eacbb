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
    """The file's text (its first MAX_TEXT_BYTES), or DecodeError saying why not."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_TEXT_BYTES)
    except OSError as exc:
        raise DecodeError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    text = _decode(raw, cut=len(raw) == MAX_TEXT_BYTES)
    if text is None:
        if _binary(raw):
            raise DecodeError(f"{path}: looks like a binary file, not text")
        raise DecodeError(f"{path}: text in an unknown encoding; save it as UTF-8")
    return text


SNIFF_BYTES = 8192


def looks_like_text(path: Path) -> bool:
    """Whether a file of unknown type is text, judged by its first SNIFF_BYTES (False when unreadable)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
            cut = len(head) == SNIFF_BYTES
    except OSError:
        return False
    return bool(head.strip()) and _decode(head, cut) is not None


def _binary(raw: bytes) -> bool:
    return b"\x00" in raw[:SNIFF_BYTES] and not raw.startswith((b"\xff\xfe", b"\xfe\xff"))


def _decode(raw: bytes, cut: bool) -> str | None:
    """UTF-8 (a character split by a `cut` at the end dropped), else the detected encoding; None
    for binary data or an encoding that cannot be told."""
    if _binary(raw):
        return None
    body = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw
    for drop in range(4 if cut else 1):  # a UTF-8 character is at most 4 bytes
        try:
            return body[: len(body) - drop].decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.end < len(body) - drop:  # invalid before the end: not UTF-8
                break
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    return None if best is None else str(best)


_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+")
_LINE_END = re.compile(r"\n")


def _spans(text: str, pattern: re.Pattern, start: int, end: int) -> list[tuple[int, int]]:
    spans, pos = [], start
    for match in pattern.finditer(text, start, end):
        spans.append((pos, match.start()))
        pos = match.end()
    spans.append((pos, end))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def _pieces(text: str) -> list[tuple[int, int]]:
    """Paragraphs, with paragraphs too long for one passage cut at sentence ends, then at line ends
    (rows of a table, lines of a log or of a PDF page), then hard."""
    return _cut(text, 0, len(text), (_PARAGRAPH, _SENTENCE_END, _LINE_END))


def _cut(text: str, start: int, end: int, patterns: tuple[re.Pattern, ...]) -> list[tuple[int, int]]:
    if not patterns:
        return [(s, min(s + PASSAGE_CHARS, end)) for s in range(start, end, PASSAGE_CHARS)]
    pieces = []
    for a, b in _spans(text, patterns[0], start, end):
        pieces += [(a, b)] if b - a <= PASSAGE_CHARS else _cut(text, a, b, patterns[1:])
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
