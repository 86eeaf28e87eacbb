"""From a file to the segments to embed: one per image, one per text passage, one per speech turn.

A decoder per kind, in a registry; each returns `SegmentInput`s that carry either a prepared image
(for the image tower) or a text (for the text tower), plus where in the file they come from.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from searchengine.encoders.base import Encoder
from searchengine.media.images import draft_side, load_image
from searchengine.media.text import read_text, split_passages


@dataclass
class SegmentInput:
    ordinal: int
    image: np.ndarray | None = None  # prepared by the encoder, for embed_images
    text: str | None = None  # for embed_texts, and stored as the segment's snippet
    char_start: int | None = None
    char_end: int | None = None
    t_start: float | None = None
    t_end: float | None = None


@dataclass
class DecodeContext:
    """What decoders share during one run: the encoder, and the speech model when one is needed."""

    encoder: Encoder
    asr_model: str | None = None
    language: str | None = None
    device: str = "auto"
    cache_dir: Path | None = None
    progress: object = None  # a searchengine.ingest.Progress: told how far recordings and videos have got
    _transcriber: object = field(default=None, repr=False)
    # One transcription at a time: Whisper uses every core itself; other workers keep decoding images.
    _asr_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _draft_side: int | None = field(default=None, repr=False)

    @property
    def draft_side(self) -> int:
        """The shortest side JPEGs are decoded at for this run's encoder (images.draft_side)."""
        if self._draft_side is None:
            self._draft_side = draft_side(self.encoder)
        return self._draft_side

    def transcriber(self):
        if self._transcriber is None:
            from searchengine.audio.transcribe import Transcriber

            self._transcriber = Transcriber(self.asr_model, device=self.device, language=self.language,
                                            cache_dir=self.cache_dir)
        return self._transcriber

    @contextmanager
    def media_progress(self, path: Path, stage: str) -> Iterator[Callable[[float, "float | None"], None]]:
        """A report(seconds done, seconds in all or None) for one stage of one file, ended on leaving."""
        report = getattr(self.progress, "media", None)  # progress objects from before media reports lack it
        if report is None:
            yield lambda done, total: None
            return
        try:
            yield lambda done, total: report(str(path), stage, done, total)
        finally:
            self.progress.media_done(str(path), stage)


Decoder = Callable[[Path, str, DecodeContext], list[SegmentInput]]


def decode_image(path: Path, content_hash: str, ctx: DecodeContext) -> list[SegmentInput]:
    return [SegmentInput(0, image=ctx.encoder.prepare_image(load_image(path, draft_size=ctx.draft_side)))]


def decode_text(path: Path, content_hash: str, ctx: DecodeContext) -> list[SegmentInput]:
    return [
        SegmentInput(i, text=p.text, char_start=p.start, char_end=p.end)
        for i, p in enumerate(split_passages(read_text(path)))
    ]


def transcript_of(path: Path, content_hash: str, ctx: DecodeContext):
    """The Transcript of a file's first audio track (a recording's or a video's): from the cache by
    content hash, else from Whisper, one file at a time."""
    from searchengine.audio.cache import TranscriptCache

    cache = TranscriptCache(ctx.cache_dir / "transcripts")
    transcriber = ctx.transcriber()
    transcript = cache.get(content_hash, transcriber.model_id, ctx.language)
    if transcript is None:
        with ctx._asr_lock, ctx.media_progress(path, "speech") as report:
            transcript = transcriber.transcribe(path, on_progress=report)
        cache.put(content_hash, transcriber.model_id, ctx.language, transcript)
    return transcript


def decode_audio(path: Path, content_hash: str, ctx: DecodeContext) -> list[SegmentInput]:
    return [
        SegmentInput(i, text=s.text, t_start=s.start, t_end=s.end)
        for i, s in enumerate(transcript_of(path, content_hash, ctx).segments)
    ]


def decode_video(path: Path, content_hash: str, ctx: DecodeContext) -> list[SegmentInput]:
    """Keyframes and speech; searchengine.media.video (and PyAV) load on the first video."""
    from searchengine.media import video

    return video.decode_video(path, content_hash, ctx)


DECODERS: dict[str, Decoder] = {
    "image": decode_image, "text": decode_text, "audio": decode_audio, "video": decode_video,
}
