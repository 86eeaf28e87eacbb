"""The kinds of content searchengine indexes, in one table: what each is called, which files are
of it, and which tower of the encoder embeds its segments.

Kinds stay plain strings wherever they travel (the catalog, JSON, the web page); this module is
the one place that lists them. Segments of one kind are searched and calibrated together, except
a video's: its keyframes are pictures (the image tower) and its speech is words (the text tower),
so the two are kept apart as the groups "video:frame" and "video:speech", and each is calibrated
as the kind embedded the same way (image, audio). Likewise the words read in a picture (OCR) are
the group "image:text", calibrated as text.

Documents (PDF, Word, OpenDocument, HTML, EPUB, Org, CSV, JSON, logs) are of the kind "text": their
passages are words embedded by the text tower like any other text, so they are searched, filtered
(`text`) and calibrated with it; a PDF passage carries its page.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

IMAGE, TEXT, AUDIO, VIDEO = "image", "text", "audio", "video"
ANY = "any"  # a search filter: every kind
Tower = Literal["image", "text"]


# plain texts, then the documents media/documents reads (its EXTENSIONS say which reader each gets)
TEXT_EXTENSIONS = (
    *(".txt", ".text", ".md", ".markdown", ".rst", ".org", ".csv", ".tsv", ".json", ".jsonl", ".log"),
    *(".pdf", ".docx", ".odt", ".html", ".htm", ".xhtml", ".epub"),
)


@dataclass(frozen=True)
class KindSpec:
    name: str
    extensions: frozenset[str]
    tower: Tower  # the tower that embeds its segments; a video's speech goes through the text tower


KINDS: dict[str, KindSpec] = {
    spec.name: spec
    for spec in (
        KindSpec(IMAGE, frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}), "image"),
        KindSpec(TEXT, frozenset(TEXT_EXTENSIONS), "text"),
        KindSpec(AUDIO, frozenset({".wav", ".mp3", ".ogg", ".oga", ".flac", ".m4a", ".aac", ".opus"}), "text"),
        KindSpec(VIDEO, frozenset({".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"}), "image"),
    )
}
FILTERS = (ANY, *KINDS)  # what a search may be restricted to
IMAGE_EXTENSIONS = KINDS[IMAGE].extensions
AUDIO_EXTENSIONS = KINDS[AUDIO].extensions
VIDEO_FRAME, VIDEO_SPEECH = "video:frame", "video:speech"
IMAGE_TEXT = "image:text"  # the words read in pictures (OCR)
# the segment groups a search restricted to a kind looks in
FILTER_GROUPS: dict[str, tuple[str, ...]] = {
    IMAGE: (IMAGE, IMAGE_TEXT),
    TEXT: (TEXT,),
    AUDIO: (AUDIO,),
    VIDEO: (VIDEO_FRAME, VIDEO_SPEECH),
}


def kind_of(path: Path) -> str | None:
    """The kind a file's extension says it is, or None for a file searchengine does not index."""
    suffix = path.suffix.lower()
    return next((spec.name for spec in KINDS.values() if suffix in spec.extensions), None)


def segment_group(kind: str, has_text: bool) -> str:
    """Segments that are searched together: one kind of item, and for videos their keyframes
    apart from their speech, and pictures apart from the words read in them, as the two are embedded
    by different towers."""
    if kind == VIDEO:
        return VIDEO_SPEECH if has_text else VIDEO_FRAME
    if kind == IMAGE and has_text:
        return IMAGE_TEXT
    return kind


def calibration_kind(kind: str, has_text: bool) -> str:
    """The kind whose score statistics a segment follows: a video's keyframes are images, its speech
    a recording; the words read in a picture are text."""
    if kind == VIDEO:
        return AUDIO if has_text else IMAGE
    if kind == IMAGE and has_text:
        return TEXT
    return kind


def tower(kind: str) -> Tower | None:
    """The tower that embeds segments of a kind as calibrated (see calibration_kind); None for a
    name that is no kind."""
    spec = KINDS.get(kind)
    return None if spec is None else spec.tower
