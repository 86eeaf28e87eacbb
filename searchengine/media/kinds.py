"""Which files are which kind: by extension, and for video containers by what is in them."""

from __future__ import annotations

from pathlib import Path

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
TEXT_EXTENSIONS = frozenset({".txt", ".md", ".markdown", ".rst"})
AUDIO_EXTENSIONS = frozenset({".wav", ".mp3", ".ogg", ".oga", ".flac", ".m4a", ".aac", ".opus"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"})

KINDS: dict[str, frozenset[str]] = {
    "image": IMAGE_EXTENSIONS,
    "text": TEXT_EXTENSIONS,
    "audio": AUDIO_EXTENSIONS,
    "video": VIDEO_EXTENSIONS,
}


def kind_of(path: Path) -> str | None:
    suffix = path.suffix.lower()
    for kind, extensions in KINDS.items():
        if suffix in extensions:
            return kind
    return None


def content_kind(path: Path, kind: str) -> str:
    """The kind a file is indexed as, once it is about to be read: a video container with sound and
    no picture (an .mp4 or .mov of a voice memo) is a recording. A file that cannot be opened, or
    has no streams at all, keeps its kind, so that its decoder reports it."""
    if kind != "video":
        return kind
    from searchengine.media.video import sound_only  # PyAV loads with the first video

    return "audio" if sound_only(path) else kind
