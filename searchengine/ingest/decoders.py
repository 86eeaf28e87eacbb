"""From a file to the segments to embed: one per image, one per text passage, one per speech turn,
a video's keyframes and its speech.

A decoder per kind, in a registry; each returns `SegmentInput`s that carry either a prepared image
(for the image tower) or a text (for the text tower), plus where in the file they come from. The
readers they use (media/, audio/) know nothing of encoders or segments.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from searchengine.audio.cache import TranscriptCache
from searchengine.audio.transcribe import Transcriber, Transcript
from searchengine.encoders.base import Encoder
from searchengine.errors import DecodeError
from searchengine.kinds import AUDIO, IMAGE, TEXT, VIDEO
from searchengine.media import video
from searchengine.media.images import draft_side, load_image
from searchengine.media.text import read_text, split_passages

log = logging.getLogger(__name__)


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
    cache_dir: Path | None = None  # the model cache: transcripts, the speech model
    progress: object = None  # an ingest.progress.Progress: told how far recordings and videos have got
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

    def transcriber(self) -> Transcriber:
        if self._transcriber is None:
            self._transcriber = Transcriber(
                self.asr_model, device=self.device, language=self.language, cache_dir=self.cache_dir
            )
        return self._transcriber

    @contextmanager
    def media_progress(self, path: Path, stage: str) -> Iterator[Callable[[float, float | None], None]]:
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


def transcript_of(path: Path, content_hash: str, ctx: DecodeContext) -> Transcript:
    """The Transcript of a file's first audio track (a recording's or a video's): from the cache by
    content hash, else from Whisper, one file at a time."""
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
    """Keyframe segments (for the image tower) then transcript segments (text tower) of a video.

    A file without a video stream is read as a recording; one with no stream at all, or whose
    video cannot be decoded, raises DecodeError.
    """
    with video.open_media(path) as container:
        stream = video.video_stream(container)
        has_audio = bool(container.streams.audio)
        if stream is None and not has_audio:
            raise DecodeError(f"{path}: no video or audio stream in it; check that it is a complete video file")
        audio_offset = video.stream_start(container, container.streams.audio[0]) if has_audio else 0.0
        keyframes = video.Keyframes()
        if stream is not None:
            with ctx.media_progress(path, "video") as report:
                keyframes = video.extract_keyframes(
                    path, ctx.encoder.prepare_image, container=container, on_progress=report
                )
    segments = [
        SegmentInput(i, image=image, t_start=start, t_end=end)
        for i, (image, start, end) in enumerate(zip(keyframes.images, keyframes.starts, keyframes.ends))
    ]
    if has_audio:
        segments += _speech(path, content_hash, ctx, first=len(segments), offset=audio_offset, required=stream is None)
    return segments


def _speech(
    path: Path, content_hash: str, ctx: DecodeContext, first: int, offset: float, required: bool
) -> list[SegmentInput]:
    """Transcript segments numbered from `first`, shifted to file time; a broken sound track of a
    video that shows something is logged and left out (required=False)."""
    try:
        transcript = transcript_of(path, content_hash, ctx)
    except DecodeError as exc:
        if required:
            raise
        log.warning("%s: keeping the keyframes without speech: %s", path, exc)
        return []
    return [
        SegmentInput(first + i, text=s.text, t_start=s.start + offset, t_end=s.end + offset)
        for i, s in enumerate(transcript.segments)
    ]


DECODERS: dict[str, Decoder] = {IMAGE: decode_image, TEXT: decode_text, AUDIO: decode_audio, VIDEO: decode_video}
