"""From a file to the segments to embed: one per image (and a passage per paragraph of the words
read in it), one per text or document passage (with its page), one per speech turn, a video's
keyframes and its speech.

A decoder per kind, in a registry; each returns `SegmentInput`s that carry either a prepared image
(for the image tower) or a text (for the text tower), plus where in the file they come from (or a
`Decoded`, when the file was read with a caveat to note). The readers they use (media/, audio/)
know nothing of encoders or segments.

OCR (on unless the run turns it off): a picture goes through the OCR gate on the copy already
decoded for the encoder, and only a picture the gate finds text in is decoded larger and read;
a PDF's scanned pages are rendered and read. What was read is cached by content hash and OCR
model (media/ocr_cache.py), so a file is never read twice. Video keyframes are read only when asked.
"""

from __future__ import annotations

import functools
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
from searchengine.errors import DecodeError, SearchEngineError
from searchengine.ingest.progress import PAGES
from searchengine.kinds import AUDIO, IMAGE, TEXT, VIDEO
from searchengine.media import video
from searchengine.media.documents import ReadOptions, document_format, read_document
from searchengine.media.images import draft_side, load_image
from searchengine.media.ocr_cache import PICTURE, FileLines, OcrCache
from searchengine.media.passages import DocumentPassage, ocr_passages
from searchengine.media.text import cut_note
from searchengine.paths import one_line

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
    page: int | None = None  # documents: the PDF page the passage is on
    source: str | None = None  # passages: "text" (the file's own) or "ocr" (read in a picture)
    boxes: tuple | None = None  # OCR: the boxes of the lines the passage was read from (pixels)

    @classmethod
    def of_passage(cls, ordinal: int, p: DocumentPassage, **where) -> SegmentInput:
        return cls(
            ordinal,
            text=p.text,
            char_start=p.start,
            char_end=p.end,
            page=p.page,
            source=p.source,
            boxes=p.boxes or None,
            **where,
        )


@dataclass
class Decoded:
    """A file's segments, and the caveat it was read with (indexed in part), if any."""

    inputs: list[SegmentInput]
    note: str | None = None


@dataclass
class DecodeContext:
    """What decoders share during one run: the encoder, and the speech model when one is needed."""

    encoder: Encoder
    asr_model: str | None = None
    language: str | None = None
    device: str = "auto"
    cache_dir: Path | None = None  # the model cache: transcripts, the speech model
    progress: object = None  # an ingest.progress.Progress: told how far recordings and videos have got
    ocr: bool = True  # read the text in pictures and scanned PDF pages
    ocr_video: bool = False  # and in video keyframes
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

    def ocr_engine(self):
        """The process's OCR engine (media.ocr), or None when OCR is off or cannot run here (said
        once, and the run goes on without OCR)."""
        if not self.ocr or ocr_load_problem() is not None:
            return None
        from searchengine.media.ocr import ocr_engine

        return ocr_engine()

    def ocr_lines(self, content_hash: str) -> FileLines | None:
        """What was read from the pictures of the file with this content, cached (None: no cache)."""
        if self.cache_dir is None:
            return None
        from searchengine.media.ocr import reader_id

        return OcrCache(self.cache_dir / "ocr").lines(content_hash, reader_id())

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


def ocr_load_problem() -> str | None:
    with _OCR_LOAD:  # decoding threads ask at once: one tries, the others read its answer
        return _ocr_load_problem()


_OCR_LOAD = threading.Lock()


@functools.cache
def _ocr_load_problem() -> str | None:
    """Why OCR cannot run in this process, said once as a warning; None when it can. The package
    may be missing, or installed while it or what it imports (OpenCV, which wants libGL, absent
    from many servers) does not load: pictures are indexed all the same, without their words."""
    from searchengine.media.ocr import NOT_INSTALLED

    try:
        import rapidocr_onnxruntime  # noqa: F401
    except ModuleNotFoundError as exc:
        problem = NOT_INSTALLED if exc.name == "rapidocr_onnxruntime" else f"OCR does not load here ({exc})"
    except Exception as exc:  # a broken install fails in its own ways
        problem = f"OCR does not load here ({type(exc).__name__}: {exc})"
    else:
        return None
    log.warning("text in pictures is not read: %s", problem)
    return problem


Decoder = Callable[[Path, str, DecodeContext], "list[SegmentInput] | Decoded"]


def decode_image(path: Path, content_hash: str, ctx: DecodeContext) -> list[SegmentInput]:
    """The picture for the image tower, then the passages of the words read in it (OCR)."""
    image = load_image(path, draft_size=ctx.draft_side)
    segments = [SegmentInput(0, image=ctx.encoder.prepare_image(image))]
    try:
        engine = ctx.ocr_engine()
        lines = _picture_lines(path, content_hash, image, engine, ctx) if engine is not None else []
    except Exception as exc:  # the picture is indexed whatever its words' reading does
        log.warning("%s: its words are not read: %s: %s", path, type(exc).__name__, exc)
        lines = []
    segments += [SegmentInput.of_passage(1 + i, p) for i, p in enumerate(ocr_passages(lines))]
    return segments


READ_DRAFT = 2400  # a picture with text is decoded with its shorter side at least this (or whole) to be read


def _picture_lines(path: Path, content_hash: str, image, engine, ctx: DecodeContext) -> list:
    """The lines of text in a picture: cached, else [] when the gate (on the copy decoded for the
    encoder) sees none, else read from the picture decoded larger."""
    cache = ctx.ocr_lines(content_hash)
    lines = cache.get(PICTURE) if cache is not None else None
    if lines is not None:
        return lines
    larger = _once(lambda: load_image(path, draft_size=READ_DRAFT))
    if not engine.has_text(image, larger):
        return []
    lines = engine.read_page(larger())
    if cache is not None:
        cache.put(PICTURE, lines)
    return lines


def _once(load: Callable[[], object]) -> Callable[[], object]:
    kept: list = []

    def loaded():
        if not kept:
            kept.append(load())
        return kept[0]

    return loaded


def decode_text(path: Path, content_hash: str, ctx: DecodeContext) -> Decoded:
    """The passages of a text or document (media/documents: by extension, else text judged by
    content), each with its page in a PDF; scanned PDF pages read with OCR unless it is off."""
    format = document_format(path)
    engine = ctx.ocr_engine() if format == "pdf" else None
    with ctx.media_progress(path, PAGES) as report:
        options = ReadOptions(
            ocr=engine.read_page if engine is not None else None,
            ocr_cache=ctx.ocr_lines(content_hash) if engine is not None else None,
            on_page=report if engine is not None else None,
        )
        extraction = read_document(path, options, format=format)
    note = extraction.truncated
    if format == "text":
        note = cut_note(path.stat().st_size) or note
    if extraction.unread_pages and engine is None:
        pages = len(extraction.unread_pages)
        unread = f"{pages} scanned page{'s' if pages > 1 else ''} not read (OCR off)"
        note = f"{note}; {unread}" if note else unread
    return Decoded([SegmentInput.of_passage(i, p) for i, p in enumerate(extraction.passages)], note)


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


def decode_video(path: Path, content_hash: str, ctx: DecodeContext) -> Decoded:
    """Keyframe segments (for the image tower) then transcript segments (text tower) of a video.

    A file without a video stream is read as a recording; one with no stream at all, or whose
    video cannot be decoded, raises DecodeError. The keyframes of a video are kept whatever its
    speech or the words in its frames do (a note says what was left out).
    """
    with video.open_media(path) as container:
        stream = video.video_stream(container)
        has_audio = bool(container.streams.audio)
        if stream is None and not has_audio:
            raise DecodeError(f"{path}: no video or audio stream in it; check that it is a complete video file")
        audio_offset = video.stream_start(container, container.streams.audio[0]) if has_audio else 0.0
        keyframes = video.Keyframes()
        engine = ctx.ocr_engine() if ctx.ocr_video else None
        prepare = ctx.encoder.prepare_image
        unread: list[str] = []  # why a keyframe's words were not read (the first reason kept)
        if engine is not None:  # each keyframe prepared and, past the gate, read: (prepared, lines)

            def prepare(image):
                try:
                    lines = engine.read_lines(image) if engine.has_text(image) else []
                except Exception as exc:  # the keyframe is kept whatever its words' reading does
                    unread.append(f"{type(exc).__name__}: {exc}")
                    lines = []
                return ctx.encoder.prepare_image(image), lines

        if stream is not None:
            with ctx.media_progress(path, "video") as report:
                keyframes = video.extract_keyframes(path, prepare, container=container, on_progress=report)
    read = [lines for _, lines in keyframes.images] if engine is not None else []
    images = [image for image, _ in keyframes.images] if engine is not None else keyframes.images
    segments = [
        SegmentInput(i, image=image, t_start=start, t_end=end)
        for i, (image, start, end) in enumerate(zip(images, keyframes.starts, keyframes.ends))
    ]
    segments += _frame_text(read, keyframes.starts, keyframes.ends, first=len(segments))
    notes = [f"words in {len(unread)} keyframes not read ({unread[0]})"] if unread else []
    if has_audio:
        speech, why = _speech(
            path, content_hash, ctx, first=len(segments), offset=audio_offset, required=stream is None
        )
        segments += speech
        notes += [f"speech not transcribed ({why})"] if why else []
    return Decoded(segments, "; ".join(notes) or None)


def _frame_text(read: list[list], starts: list[float], ends: list[float], first: int) -> list[SegmentInput]:
    """The text read in keyframes as passages (source "ocr"), one run of consecutive keyframes that
    read alike as one, timed from its first keyframe's start to its last one's end."""
    runs: list[tuple[str, list, float, float]] = []
    for lines, start, end in zip(read, starts, ends):
        said = " ".join(line.text for line in lines)
        if not said:
            continue
        if runs and runs[-1][0] == said:
            runs[-1] = (said, runs[-1][1], runs[-1][2], end)
        else:
            runs.append((said, lines, start, end))
    segments: list[SegmentInput] = []
    for _, lines, start, end in runs:
        for p in ocr_passages(lines):
            segments.append(SegmentInput.of_passage(first + len(segments), p, t_start=start, t_end=end))
    return segments


def _speech(
    path: Path, content_hash: str, ctx: DecodeContext, first: int, offset: float, required: bool
) -> tuple[list[SegmentInput], str | None]:
    """Transcript segments numbered from `first`, shifted to file time, and None; for a video that
    shows something (required=False), a sound track that cannot be transcribed (broken, or no
    speech model here) is left out: no segments, and why."""
    try:
        transcript = transcript_of(path, content_hash, ctx)
    except Exception as exc:
        if required:
            raise
        log.warning("%s: keeping the keyframes without speech: %s", path, exc)
        return [], one_line(str(exc) if isinstance(exc, SearchEngineError) else f"{type(exc).__name__}: {exc}")
    return [
        SegmentInput(first + i, text=s.text, t_start=s.start + offset, t_end=s.end + offset)
        for i, s in enumerate(transcript.segments)
    ], None


DECODERS: dict[str, Decoder] = {IMAGE: decode_image, TEXT: decode_text, AUDIO: decode_audio, VIDEO: decode_video}
