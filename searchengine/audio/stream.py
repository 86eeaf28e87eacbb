"""Recordings of any length in bounded memory: decoded as they are read, cut into windows at pauses.

A file's first audio stream is decoded with PyAV a frame at a time (16 kHz mono float32) and
gathered into windows of at most WINDOW_SECONDS. A full window is cut at a pause: inside the last
silence that Silero VAD (faster-whisper's vad_filter) finds in its second half, or, for a speaker
who never stops for long, at its quietest tenth of a second in its last third. What follows the
cut begins the next window, so no word is split and no audio is transcribed twice, and at most
about two windows of samples are held however long the file is.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from searchengine.audio.whisper_model import speech_packages
from searchengine.errors import DecodeError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
WINDOW_SECONDS = 120.0  # audio handed to Whisper at once (with its features, ~60 MB at most)
_QUIET_FRAME = SAMPLE_RATE // 10  # the fallback cut looks for the quietest frame of this many samples


class AudioReader:
    """The first audio stream of a file, decoded as it is read, as mono float32 chunks at 16 kHz.

    Iterating raises DecodeError for a missing, unreadable, corrupt or audio-less file, or one of
    which nothing decodes. Once iteration has begun, `expected_seconds` is the length the file
    declares (None when it declares none); `seconds` counts what has been decoded so far.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.expected_seconds: float | None = None
        self.samples = 0

    @property
    def seconds(self) -> float:
        return self.samples / SAMPLE_RATE

    def __iter__(self) -> Iterator[np.ndarray]:
        with speech_packages():
            import av

        bad_packets = 0
        try:
            with av.open(str(self.path), mode="r", metadata_errors="ignore") as container:
                if not container.streams.audio:
                    raise self._failed("it has no audio stream")
                stream = container.streams.audio[0]
                self.expected_seconds = _declared_seconds(container, stream)
                resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
                frames = container.decode(stream)
                while True:
                    try:
                        frame = next(frames)
                    except StopIteration:
                        break
                    except av.error.InvalidDataError:
                        bad_packets += 1
                        continue
                    yield from self._counted(resampler.resample(frame))
                yield from self._counted(resampler.resample(None))
        except (av.error.FFmpegError, OSError) as exc:
            raise self._failed(getattr(exc, "strerror", None) or str(exc)) from exc
        if bad_packets:
            log.warning("%s: skipped %d undecodable audio packets", self.path, bad_packets)
        if not self.samples:
            raise self._failed("no audio could be decoded from it")

    def _counted(self, frames) -> Iterator[np.ndarray]:
        for frame in frames:
            samples = frame.to_ndarray().reshape(-1).astype(np.float32, copy=False)
            self.samples += len(samples)
            yield samples

    def _failed(self, reason: str) -> DecodeError:
        return DecodeError(
            f"cannot decode {self.path}: {reason}; check that it is a complete audio file or re-encode it"
        )


@dataclass(frozen=True)
class Window:
    """A stretch of a recording: its samples, where it starts, and whether VAD hears speech in it."""

    offset: float  # seconds from the start of the recording
    samples: np.ndarray
    speech: bool

    @property
    def end(self) -> float:
        return self.offset + len(self.samples) / SAMPLE_RATE


def speech_windows(chunks: Iterable[np.ndarray], window_seconds: float = WINDOW_SECONDS) -> Iterator[Window]:
    """The samples of `chunks`, in order, as consecutive windows of at most window_seconds cut at pauses."""
    size = int(window_seconds * SAMPLE_RATE)
    held: list[np.ndarray] = []
    count = offset = 0
    for chunk in chunks:
        held.append(chunk)
        count += len(chunk)
        while count >= size:
            audio = np.concatenate(held)
            speech = speech_spans(audio)
            cut = cut_point(audio, speech, size)
            yield Window(offset / SAMPLE_RATE, audio[:cut], any(start < cut for start, _ in speech))
            held = [audio[cut:].copy()]  # a copy, so that the window's samples can be freed
            count, offset = len(held[0]), offset + cut
    if count:
        audio = np.concatenate(held)
        yield Window(offset / SAMPLE_RATE, audio, bool(speech_spans(audio)))


def speech_spans(audio: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) sample of each stretch of speech Silero VAD finds, with faster-whisper's settings."""
    with speech_packages():
        from faster_whisper.vad import VadOptions, get_speech_timestamps
    return [(s["start"], s["end"]) for s in get_speech_timestamps(audio, VadOptions(), sampling_rate=SAMPLE_RATE)]


def cut_point(audio: np.ndarray, speech: list[tuple[int, int]], size: int) -> int:
    """Where to end a window of at most `size` samples that begins at audio[0]: in the latest pause of
    its second half (at the pause's middle, or a second before the end of a pause that runs to the
    end of `audio`), else at the quietest _QUIET_FRAME of its last third."""
    low, high = size // 2, min(size, len(audio))
    edges = [0, *(edge for span in speech for edge in span), len(audio)]
    for start, end in reversed(list(zip(edges[::2], edges[1::2]))):  # the pauses, last first
        first, last = max(start, low), min(end, high)
        if first <= last and end > start:
            aim = max(start, end - SAMPLE_RATE) if end == len(audio) else (start + end) // 2
            return min(max(aim, first), last)
    begin = high - size // 3
    frames = audio[begin : begin + (high - begin) // _QUIET_FRAME * _QUIET_FRAME].reshape(-1, _QUIET_FRAME)
    return begin + int(np.argmin(np.square(frames).mean(axis=1))) * _QUIET_FRAME + _QUIET_FRAME // 2


def _declared_seconds(container, stream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000
    return None
