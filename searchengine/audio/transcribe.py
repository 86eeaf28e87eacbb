"""Speech recordings to timestamped transcript segments, with faster-whisper.

Heavy packages (faster_whisper, ctranslate2, av) are imported inside functions only.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from searchengine.audio.stream import WINDOW_SECONDS, AudioReader, speech_windows
from searchengine.audio.whisper_model import INSTALL_HINT, bundled_whisper_dir, speech_packages
from searchengine.errors import ModelUnavailable, UsageError

log = logging.getLogger(__name__)

ProgressCallback = Callable[[float, "float | None"], None]  # (seconds done, seconds in all or None)
BUNDLED_MODEL_ID = "whisper:base-bundled"
Device = Literal["auto", "cpu", "cuda"]

# A segment is merged with the next until it carries enough words to be found by a query,
# or spans enough time; merged segments never grow past MAX_SECONDS.
MIN_WORDS = 8
MIN_SECONDS = 4.0
MAX_SECONDS = 30.0
PAUSE_SECONDS = 2.0  # a Whisper segment is split where its words pause this long (VAD's least silence)


@dataclass(frozen=True)
class TranscriptSegment:
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Transcript:
    duration: float
    language: str | None
    segments: list[TranscriptSegment]


class Transcriber:
    """Transcribes recordings with a Whisper model, loaded on first use.

    model: None for the bundled Whisper base; else a faster-whisper size name ("small", …,
    needs network the first time) or a local CTranslate2 model folder.
    device: "auto" picks "cuda" (float16) when CTranslate2 sees a GPU, else "cpu" (int8).
    language: a Whisper language code ("en", "de", …); None detects it per recording.
    cpu_threads: 0 uses up to 4 of the CPUs this process may run on.
    window_seconds: the most audio transcribed at once (see searchengine.audio.stream).
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        device: Device = "auto",
        language: str | None = None,
        cache_dir: Path,
        cpu_threads: int = 0,
        window_seconds: float = WINDOW_SECONDS,
    ) -> None:
        if device not in ("auto", "cpu", "cuda"):
            raise UsageError(f"unknown speech device {device!r}; use auto, cpu or cuda")
        if window_seconds < 10:
            raise UsageError(f"window_seconds must be at least 10, not {window_seconds}")
        if cpu_threads < 0:
            raise UsageError(f"cpu_threads must be 0 (automatic) or positive, not {cpu_threads}")
        self._model_name = model
        self._device: Device = device
        self._language = language
        self._cache_dir = Path(cache_dir)
        self._cpu_threads = cpu_threads or min(4, _usable_cpus())
        self._window_seconds = window_seconds
        self._model = None
        self._load_lock = threading.Lock()

    @property
    def model_id(self) -> str:
        if self._model_name is None:
            return BUNDLED_MODEL_ID
        folder = Path(self._model_name).expanduser()
        return f"whisper:{folder.resolve() if folder.is_dir() else self._model_name}"

    def transcribe(self, path: Path, on_progress: ProgressCallback | None = None) -> Transcript:
        """Transcript of the speech in an audio (or video) file; no speech gives no segments.

        The file is decoded as it is read and transcribed in windows cut at pauses (see
        searchengine.audio.stream), so memory stays bounded however long it is. The language is
        detected in the first window with speech and kept for the rest. Times come from the
        words, and Whisper's segments are split where the words pause (split_at_pauses).
        on_progress(seconds done, seconds in all or None) is called as segments come; last with
        done == total == duration.

        Raises DecodeError when the file cannot be decoded, ModelUnavailable when the model
        cannot be loaded.
        """
        path = Path(path)
        reader = AudioReader(path)
        report = on_progress or (lambda done, total: None)
        language, found = self._language, []
        detected = None
        for window in speech_windows(reader, self._window_seconds):
            if window.speech:
                raw_segments, info = self._loaded_model().transcribe(
                    window.samples,
                    language=language,
                    vad_filter=True,
                    condition_on_previous_text=False,
                    word_timestamps=True,
                )
                language = detected = info.language
                for piece in (piece for segment in raw_segments for piece in split_at_pauses(segment)):
                    start = _clamp(window.offset + piece.start, window.offset, window.end)
                    end = _clamp(window.offset + max(piece.end, piece.start), start, window.end)
                    found.append(TranscriptSegment(start=start, end=end, text=piece.text.strip()))
                    report(end, reader.expected_seconds)
            report(window.end, reader.expected_seconds)
        duration = reader.seconds
        report(duration, duration)
        segments = merge_short_segments(segment for segment in found if segment.text)
        log.debug("%s: %d segments, language %s, %.1f s", path, len(segments), detected, duration)
        return Transcript(duration=duration, language=detected, segments=segments)

    def _loaded_model(self):
        with self._load_lock:
            if self._model is None:
                self._model = self._load_model()
            return self._model

    def _load_model(self):
        with speech_packages():
            import ctranslate2
            from faster_whisper import WhisperModel
        device = self._device
        if device == "auto":
            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        compute_type = "float16" if device == "cuda" else "int8"
        source = str(bundled_whisper_dir(self._cache_dir)) if self._model_name is None else self._model_source()
        log.info("Loading Whisper model %s on %s (%s)", self.model_id, device, compute_type)
        options = dict(
            device=device,
            compute_type=compute_type,
            cpu_threads=self._cpu_threads,
            download_root=str(self._cache_dir / "whisper-hub"),
        )
        try:
            return WhisperModel(source, local_files_only=True, **options)
        except (OSError, RuntimeError, ValueError) as exc:
            if self._model_name is None or Path(source).is_dir():  # a folder: nothing to download
                raise self._unavailable(_first_words(exc)) from exc
            log.info("Whisper model %s is not cached here; downloading it", self._model_name)
        try:
            return WhisperModel(source, local_files_only=False, **options)
        except ValueError as exc:  # not a size name faster-whisper knows
            raise self._unavailable(_first_words(exc)) from exc
        except (OSError, RuntimeError) as exc:
            raise self._unavailable(f"it is not cached here and downloading it failed ({_first_words(exc)})") from exc

    def _model_source(self) -> str:
        """The folder or the faster-whisper size name / hub id that self._model_name names."""
        name = self._model_name
        folder = Path(name).expanduser()
        if folder.is_dir():
            return str(folder)
        if name.startswith((".", "~", os.sep)):
            raise ModelUnavailable(
                "Whisper model folder {name} does not exist; give {-asr_model} a folder holding "
                "a CTranslate2 Whisper model (model.bin, config.json, tokenizer.json)",
                name=name,
            )
        return name

    def _unavailable(self, reason: str) -> ModelUnavailable:
        if self._model_name is None:
            fix = "reinstall it ({hint}) or give {-asr_model} a local model folder"
        else:
            fix = "give {-asr_model} a local CTranslate2 Whisper folder, or leave it out to use the bundled base model ({hint})"
        return ModelUnavailable(
            "cannot load Whisper model {name}: {reason}; " + fix,
            name=self._model_name or "base (bundled)",
            reason=reason,
            hint=INSTALL_HINT,
        )


def split_at_pauses(segment, pause: float = PAUSE_SECONDS) -> list[TranscriptSegment]:
    """A faster-whisper segment as pieces that do not run across a pause of `pause` seconds or more
    between its words (VAD joins the speech around a silence, and Whisper may write both sides as one
    segment). A segment without word timings stays whole."""
    words = list(segment.words or ())
    if not words:
        return [TranscriptSegment(segment.start, segment.end, segment.text)]
    runs = [[words[0]]]
    for word in words[1:]:
        if word.start - runs[-1][-1].end >= pause:
            runs.append([])
        runs[-1].append(word)
    return [TranscriptSegment(run[0].start, run[-1].end, "".join(w.word for w in run)) for run in runs]


def merge_short_segments(
    segments: Iterable[TranscriptSegment],
    *,
    min_words: int = MIN_WORDS,
    min_seconds: float = MIN_SECONDS,
    max_seconds: float = MAX_SECONDS,
) -> list[TranscriptSegment]:
    """Join consecutive segments until each has min_words words or spans min_seconds.

    A merge never makes a segment longer than max_seconds; a short tail joins the segment
    before it when that stays within max_seconds.
    """
    merged: list[TranscriptSegment] = []
    pending: TranscriptSegment | None = None
    for segment in segments:
        if pending is not None and segment.end - pending.start > max_seconds:
            merged.append(pending)
            pending = None
        pending = segment if pending is None else _join(pending, segment)
        if len(pending.text.split()) >= min_words or pending.end - pending.start >= min_seconds:
            merged.append(pending)
            pending = None
    if pending is not None:
        if merged and pending.end - merged[-1].start <= max_seconds:
            merged[-1] = _join(merged[-1], pending)
        else:
            merged.append(pending)
    return merged


def _join(first: TranscriptSegment, second: TranscriptSegment) -> TranscriptSegment:
    return TranscriptSegment(start=first.start, end=max(first.end, second.end), text=f"{first.text} {second.text}")


def _first_words(exc: Exception, limit: int = 160) -> str:
    """An exception's message on one line, shortened to limit characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _clamp(seconds: float, low: float, high: float) -> float:
    return min(max(float(seconds), low), high)
