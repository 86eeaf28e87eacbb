"""Videos: keyframes by scene change, speech from the sound track, found to the second.

Clips are built here with PyAV: slideshows of sample photos (with variable frame rate) and an
espeak-ng narration muxed in as AAC. Needs espeak-ng (apt-get install espeak-ng).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import time
import wave
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from searchengine.config import cache_dir
from searchengine.errors import DecodeError
from searchengine.fusion import fuse_moments
from searchengine.hits import Hit
from searchengine.ingest.progress import SilentProgress
from searchengine.ingest.run import sync_folder
from searchengine.ingest.settings import IngestSettings
from searchengine.media.kinds import content_kind
from searchengine.media.video import extract_keyframes, keyframe_image
from searchengine.query import Filters, Query, Searcher

from conftest import PHOTOS

av = pytest.importorskip("av")

SIZE = (320, 240)
SLIDES = (("cat_chelsea.jpg", 4.0), ("rocket_launch_pad.jpg", 4.0), ("coffee_cup.jpg", 4.0))
BUDGET = "We talked about the household budget for next year."
BICYCLE = "Then I repaired the red bicycle in the garage."
TRAIN = "Tomorrow the train leaves the station at seven in the morning."
NARRATION = ((0.5, BUDGET), (6.5, BICYCLE))
ANY_SCORE = dict(min_score=None)


def _photo(name: str, size=SIZE):
    from PIL import Image, ImageOps

    return ImageOps.fit(Image.open(PHOTOS / name).convert("RGB"), size)


def _speech(parts, seconds: float) -> tuple[np.ndarray, int]:
    """espeak-ng saying each text at its start time, as 16-bit mono samples."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    rate, track = None, None
    for start, text in parts:
        spoken = subprocess.run(["espeak-ng", "-v", "en-us", "--stdout", text], check=True, capture_output=True)
        with wave.open(io.BytesIO(spoken.stdout), "rb") as w:
            rate = w.getframerate()
            said = np.frombuffer(w.readframes(w.getnframes()), np.int16)
        if track is None:
            track = np.zeros(int(seconds * rate), np.int16)
        at = int(start * rate)
        track[at : at + len(said)] = said[: len(track) - at]
    return track, rate


def _spoken_seconds(text: str) -> float:
    track, rate = _speech([(0.0, text)], 30.0)
    return float(np.flatnonzero(track).max()) / rate


def make_clip(
    path: Path,
    slides=SLIDES,
    narration=(),
    *,
    fps=10.0,
    gop=None,
    codec="libx264",
    fmt=None,
    rotation=None,
    size=SIZE,
    jitter=True,
    video=True,
) -> Path:
    """A slideshow clip: each photo for its seconds, frames at irregular times (VFR) when `jitter`,
    with the narration as AAC. rotation: the display rotation to record (the pixels are stored turned
    the other way, as a phone does)."""
    seconds = sum(s for _, s in slides)
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", format=fmt) as out:
        streams = []
        if video:
            stream = out.add_stream(codec, rate=int(fps))
            stored = size if rotation in (None, 0, 180) else size[::-1]
            stream.width, stream.height, stream.pix_fmt = *stored, "yuv420p"
            stream.codec_context.time_base = Fraction(1, 1000)
            if gop:
                stream.codec_context.gop_size = gop
            if rotation:
                stream.set_display_rotation(rotation)
            streams.append(stream)
        if narration:
            samples, rate = _speech(narration, seconds)
            sound = out.add_stream("aac", rate=rate, layout="mono")
        if video:
            t, start = 0.0, 0.0
            for name, span in slides:
                image = _photo(name, size)
                if rotation:
                    image = image.rotate(-rotation, expand=True)  # stored turned back; shown upright
                while t < start + span - 1e-6:
                    frame = av.VideoFrame.from_image(image)
                    frame.pts, frame.time_base = round(t * 1000), Fraction(1, 1000)
                    out.mux(stream.encode(frame))
                    t += (1 / fps) * (rng.uniform(0.4, 1.6) if jitter else 1.0)
                start += span
            out.mux(stream.encode(None))
        if narration:
            for at in range(0, len(samples), 1024):
                chunk = av.AudioFrame.from_ndarray(samples[None, at : at + 1024], format="s16", layout="mono")
                chunk.sample_rate, chunk.pts, chunk.time_base = rate, at, Fraction(1, rate)
                out.mux(sound.encode(chunk))
            out.mux(sound.encode(None))
    return path


def make_data_only(path: Path) -> Path:
    """A well-formed MP4 whose only stream carries data: neither picture nor sound."""
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_mux_stream("bin_data")
        packet = av.Packet(b"not a picture, not a sound")
        packet.stream, packet.pts, packet.dts, packet.time_base = stream, 0, 0, Fraction(1, 1000)
        out.mux(packet)
    return path


class RecordingProgress(SilentProgress):
    """Keeps every media report: (path name, stage) -> [(done, total), ...], and the stages ended."""

    def __init__(self):
        self.reports: dict[tuple[str, str], list[tuple[float, float | None]]] = {}
        self.ended: list[tuple[str, str]] = []

    def media(self, path, stage, done, total):
        self.reports.setdefault((Path(path).name, stage), []).append((done, total))

    def media_done(self, path, stage):
        self.ended.append((Path(path).name, stage))


@pytest.fixture(scope="module")
def video_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("videos")
    make_clip(folder / "slideshow.mp4", narration=NARRATION)
    make_clip(
        folder / "train_announcement.mp4", narration=((0.5, TRAIN),), video=False, slides=(("cat_chelsea.jpg", 5.0),)
    )
    make_data_only(folder / "notes.mp4")
    (folder / "garbage.mp4").write_bytes(np.random.default_rng(1).integers(0, 256, 50_000, np.uint8).tobytes())
    (folder / "empty.mkv").write_bytes(b"")
    whole = (folder / "slideshow.mp4").read_bytes()
    (folder / "truncated.mov").write_bytes(whole[: len(whole) // 2])
    return folder


@pytest.fixture(scope="module")
def indexed(video_folder, tmp_path_factory, bundled):
    index_dir = tmp_path_factory.mktemp("video-index")
    progress = RecordingProgress()
    summary = sync_folder(
        video_folder, index_dir, IngestSettings(device="cpu", workers=2), progress, bundled, cache_dir=cache_dir()
    )
    searcher = Searcher.open(index_dir, device="cpu", cache_dir=cache_dir())
    yield summary, searcher, progress
    searcher.close()


def test_slideshow_keyframes_follow_the_photos(video_folder):
    keyframes = extract_keyframes(video_folder / "slideshow.mp4")
    assert len(keyframes.starts) == 3
    np.testing.assert_allclose(keyframes.starts, [0.0, 4.0, 8.0], atol=0.25)  # VFR: times from timestamps
    assert keyframes.ends[-1] == pytest.approx(12.0, abs=0.3)
    assert all(image.size == SIZE for image in keyframes.images)


@pytest.mark.parametrize(
    "suffix, codec, gop",
    [
        ("mkv", "libx264", None),  # long GOPs: decoded in full, probed every half second
        ("mov", "libx264", 10),  # a key frame a second, as phones record: key frames only
        ("m4v", "libx264", 5),
        ("webm", "libvpx", 10),
        ("avi", "mpeg4", 12),
    ],
)
def test_containers_and_codecs(tmp_path, suffix, codec, gop):
    slides = (("cat_chelsea.jpg", 2.0), ("rocket_launch_pad.jpg", 2.0), ("coffee_cup.jpg", 2.0))
    clip = make_clip(tmp_path / f"clip.{suffix}", slides, codec=codec, gop=gop, fps=6, jitter=suffix != "avi")
    keyframes = extract_keyframes(clip)
    np.testing.assert_allclose(keyframes.starts, [0.0, 2.0, 4.0], atol=0.5)
    assert keyframes.duration == pytest.approx(6.0, abs=0.4)


def test_keyframe_image_is_the_photo_shown_then(video_folder):
    def distance(image, name):
        return float(np.abs(np.asarray(image, np.float32) - np.asarray(_photo(name), np.float32)).mean())

    for seconds, expected in (
        (1.0, "cat_chelsea.jpg"),
        (5.0, "rocket_launch_pad.jpg"),
        (11.9, "coffee_cup.jpg"),
        (99.0, "coffee_cup.jpg"),
    ):
        image = keyframe_image(video_folder / "slideshow.mp4", seconds)
        assert min((name for name, _ in SLIDES), key=lambda name: distance(image, name)) == expected
    assert keyframe_image(video_folder / "slideshow.mp4", 5.0, max_side=120).size == (160, 120)


@pytest.mark.parametrize("rotation", [-90, 90])
def test_rotated_phone_video_gives_upright_frames(tmp_path, rotation):
    portrait = (180, 240)
    clip = make_clip(
        tmp_path / "phone.mp4", (("grace_hopper_portrait.jpg", 2.0),), size=portrait, rotation=rotation, gop=10
    )
    with av.open(str(clip)) as container:  # stored landscape, shown portrait
        assert (container.streams.video[0].width, container.streams.video[0].height) == (240, 180)
    upright = np.asarray(_photo("grace_hopper_portrait.jpg", portrait), np.float32)
    for image in (extract_keyframes(clip).images[0], keyframe_image(clip, 1.0)):
        assert image.size == portrait
        assert np.abs(np.asarray(image, np.float32) - upright).mean() < 12  # not mirrored or upside down


def test_long_videos_are_capped(tmp_path):
    slides = tuple((name, 1.5) for name in ("cat_chelsea.jpg", "coffee_cup.jpg") * 4)
    clip = make_clip(tmp_path / "cuts.mkv", slides, fps=4, gop=6)
    assert len(extract_keyframes(clip).starts) == 8
    capped = extract_keyframes(clip, max_keyframes=3)
    assert len(capped.starts) <= 3 and capped.ends[-1] == pytest.approx(12.0, abs=0.5)


def test_broken_videos_raise_decode_error(video_folder):
    for name in ("garbage.mp4", "empty.mkv", "truncated.mov"):
        with pytest.raises(DecodeError) as caught:
            extract_keyframes(video_folder / name)
        assert "\n" not in str(caught.value) and name in str(caught.value)


def test_index_reports_broken_clips_and_keeps_the_rest(indexed, video_folder):
    summary, _, _ = indexed
    assert (summary.added, summary.failed) == (2, 4)
    failed = dict(summary.errors)
    assert set(failed) == {str(video_folder / n) for n in ("garbage.mp4", "empty.mkv", "truncated.mov", "notes.mp4")}
    assert "no video or audio stream" in failed[str(video_folder / "notes.mp4")]


def test_progress_counts_seconds_of_video_and_of_speech(indexed):
    _, _, progress = indexed
    for stage in ("video", "speech"):
        reports = progress.reports[("slideshow.mp4", stage)]
        done = [d for d, _ in reports]
        assert done == sorted(done) and len(reports) >= 3, stage
        assert reports[0][1] == pytest.approx(12.0, abs=0.5)  # the length the file declares
        assert reports[-1][0] == reports[-1][1] == pytest.approx(12.0, abs=0.5)
    assert ("train_announcement.mp4", "video") not in progress.reports  # sound only: no video stage
    assert progress.reports[("train_announcement.mp4", "speech")][-1][0] == pytest.approx(5.0, abs=0.3)
    started = set(progress.reports)
    assert started <= set(progress.ended) and len(progress.ended) == len(set(progress.ended))


def test_a_photo_of_a_cat_lands_in_the_cat_slide(indexed):
    _, searcher, _ = indexed
    top = searcher.search(Query(text="a photo of a cat"), Filters(kind="video", **ANY_SCORE), k=1)[0]
    assert top.path.endswith("slideshow.mp4")
    assert top.text is None and 0.0 <= top.start < 4.0 < top.end + 0.3  # the cat keyframe, to its end


def test_spoken_words_give_their_time_range(indexed):
    _, searcher, _ = indexed
    hit = searcher.search(
        Query(text="repairing the red bicycle in the garage"), Filters(kind="video", **ANY_SCORE), k=1, segments=True
    )[0]
    assert hit.path.endswith("slideshow.mp4") and "bicycle" in hit.text.lower()
    said_from, said_to = NARRATION[1][0], NARRATION[1][0] + _spoken_seconds(BICYCLE)
    assert hit.start <= said_from + 0.5 and hit.end >= said_to - 0.5


def test_audio_only_mp4_is_indexed_as_a_recording(indexed, video_folder):
    _, searcher, _ = indexed
    hit = searcher.search(Query(text="when does the train leave the station"), Filters(kind="audio", **ANY_SCORE), k=1)[
        0
    ]
    assert hit.path.endswith("train_announcement.mp4") and hit.kind == "audio" and "train" in hit.text.lower()
    assert 0.0 <= hit.start < 2.0
    videos = searcher.search(Query(text="when does the train leave the station"), Filters(kind="video", **ANY_SCORE))
    assert not any(h.path.endswith("train_announcement.mp4") for h in videos)
    assert content_kind(video_folder / "train_announcement.mp4", "video") == "audio"
    for name in ("slideshow.mp4", "notes.mp4", "garbage.mp4", "empty.mkv"):  # decoded, or reported, as videos
        assert content_kind(video_folder / name, "video") == "video"


def test_decoding_ahead_holds_a_bounded_number_of_keyframes(monkeypatch):
    """Many long videos and a slow consumer: the pipeline never holds more than its byte budget of
    prepared keyframes, plus the videos its workers are decoding, plus the group being embedded."""
    from concurrent.futures import ThreadPoolExecutor

    from searchengine.ingest import decoders
    from searchengine.ingest.decoders import SegmentInput
    from searchengine.ingest.embed import embedding_groups
    from searchengine.ingest.executor import decode_ahead
    from searchengine.media.discover import FoundFile

    keyframe = np.zeros((3, 224, 224), np.uint8)  # as the bundled encoder prepares one
    per_video, workers = 10, 2
    budget = int(2.5 * per_video * keyframe.nbytes)
    decoded = []

    def long_video(path, content_hash, ctx):
        decoded.append(path)
        return [SegmentInput(i, image=keyframe.copy()) for i in range(per_video)]

    monkeypatch.setitem(decoders.DECODERS, "video", long_video)
    files = [(FoundFile(Path(f"/videos/{i}.mp4"), "video", 1, 1), "digest") for i in range(40)]
    released, most = 0, 0
    with ThreadPoolExecutor(workers) as pool:
        ahead = decode_ahead(pool, files, None, window=64, max_bytes=budget, max_videos=workers)
        for group in embedding_groups(ahead, 8, every=64):
            most = max(most, len(decoded) - released)
            time.sleep(0.05)  # embedding is slow
            released += len(group)
    assert released == 40
    assert most <= 1 + 3 + workers  # a group (a video's 10 keyframes fill a batch), 3 waiting, those being decoded


def _hit(segment_id, score, start, end, text=None, item_id=1, kind="video"):
    return Hit(
        rank=0,
        score=score,
        raw_score=score / 10,
        path=f"/v{item_id}.mp4",
        kind=kind,
        start=start,
        end=end,
        text=text,
        item_id=item_id,
        segment_id=segment_id,
    )


def test_fuse_moments_joins_what_is_seen_and_said_at_once():
    hits = [
        _hit(1, 5.0, 0.0, 4.0, text=None),  # keyframe 0–4 s
        _hit(2, 4.0, 2.5, 6.0, text="the cat wakes up"),  # said 2.5–6 s: overlaps keyframe 1
        _hit(3, 6.0, 20.0, 30.0, text="unrelated words"),  # said much later: stays alone
        _hit(4, 5.5, 0.0, 0.0, kind="image", item_id=2),  # a photo: passes through
        _hit(5, 4.5, 8.0, 12.0, text=None),  # another keyframe, nothing said then
    ]
    fused = fuse_moments(hits)
    assert [h.rank for h in fused] == [1, 2, 3, 4]
    top = fused[0]
    assert (top.segment_id, top.score, top.start, top.end, top.text) == (1, 7.0, 2.5, 4.0, "the cat wakes up")
    assert [h.segment_id for h in fused[1:]] == [3, 4, 5]
    weak_words = fuse_moments([_hit(1, 5.0, 0.0, 4.0), _hit(2, 0.5, 1.0, 3.0, text="near chance")])
    assert [(h.segment_id, h.score, h.text) for h in weak_words] == [(1, 5.0, None), (2, 0.5, "near chance")]


def test_a_video_keeps_its_keyframes_when_speech_cannot_be_transcribed(tmp_path, video_folder):
    """No speech model here (faster-whisper broken or missing): the video is indexed by its pictures,
    with a note that its speech was not transcribed, instead of failing whole."""
    import json

    from conftest import run_cli

    broken = tmp_path / "broken" / "faster_whisper"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text('raise RuntimeError("libctranslate2 does not load on this CPU")\n')
    folder = tmp_path / "videos"
    folder.mkdir()
    shutil.copy2(video_folder / "slideshow.mp4", folder / "slideshow.mp4")
    done = run_cli(
        "index", folder, "--index", tmp_path / "index", "--model", "demo", "--json",
        home=tmp_path / "home", env={"PYTHONPATH": str(broken.parent)}, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["added"], summary["failed"]) == (1, 0), summary
    assert any("speech not transcribed" in str(note) and "RuntimeError" in str(note) for note in summary["notes"])
    from searchengine import Index

    with Index.open(tmp_path / "index", create=False) as ix:
        assert ix.status()["counts"]["by_kind"]["video"]["segments"] >= len(SLIDES)  # its keyframes
