"""Which kind a file is indexed as, once it is about to be read: its extension's (searchengine.kinds),
except for video containers, which are looked into."""

from __future__ import annotations

from pathlib import Path

from searchengine.kinds import AUDIO, VIDEO
from searchengine.media.video import sound_only


def content_kind(path: Path, kind: str) -> str:
    """A video container with sound and no picture (an .mp4 or .mov of a voice memo) is a recording.
    A file that cannot be opened, or has no streams at all, keeps its kind, so that its decoder
    reports it."""
    if kind != VIDEO:
        return kind
    return AUDIO if sound_only(path) else kind
