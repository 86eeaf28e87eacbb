"""Which files are which kind, by extension."""

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
