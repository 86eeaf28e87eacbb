"""Transcripts as plain text with timestamps, SRT or WebVTT."""

from __future__ import annotations

from collections.abc import Sequence

from searchengine.store.records import SegmentRecord

FORMATS = ("text", "srt", "vtt")


def _stamp(seconds: float, separator: str) -> str:
    millis = int(round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def render(segments: Sequence[SegmentRecord], fmt: str) -> str:
    timed = [s for s in segments if s.t_start is not None and s.text]  # a video's keyframes have no words
    if fmt == "srt":
        blocks = [
            f"{i}\n{_stamp(s.t_start, ',')} --> {_stamp(s.t_end, ',')}\n{s.text}\n" for i, s in enumerate(timed, 1)
        ]
        return "\n".join(blocks)
    if fmt == "vtt":
        blocks = [f"{_stamp(s.t_start, '.')} --> {_stamp(s.t_end, '.')}\n{s.text}\n" for s in timed]
        return "WEBVTT\n\n" + "\n".join(blocks)
    return "".join(f"[{_stamp(s.t_start, '.')[:-4]} – {_stamp(s.t_end, '.')[:-4]}] {s.text}\n" for s in timed)
