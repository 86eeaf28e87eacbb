"""Videos: keyframes chosen by scene change (what the audio track says: audio/; both become the
segments of one item in ingest/decoders.py).

Keyframes come from one streaming pass over the video packets (PyAV, no ffmpeg binary):
- A GOP (a key frame and the frames that depend on it) that spans at most KEY_ONLY_GOP seconds is
  sampled at its key frame alone; none of its other frames is decoded. Phone videos (a key frame
  every second or two) and encoders that put a key frame at each cut are read this way, fast.
- So is a longer GOP in which no packet is large next to the key frame's (a still scene).
- Other long GOPs are decoded (non-reference frames skipped) up to their last large packet;
  one frame every PROBE_STEP seconds is looked at, and every intra frame. One GOP's compressed
  packets, at most MAX_HELD_BYTES, are held while deciding.
- A probed frame becomes a keyframe when it looks different enough from the last keyframe (grey
  thumbnail difference and histogram distance) and MIN_INTERVAL has passed, or when MAX_INTERVAL
  has passed anyway. Flat frames (black fades) are never keyframes.
Times come from timestamps (variable frame rate is fine), are counted from the start of the file,
and the rotation a phone records is applied. A long video is spaced so that it gives at most
MAX_KEYFRAMES keyframes; only those (already prepared for the encoder) are held in memory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

import numpy as np

from searchengine.errors import DecodeError
from searchengine.media.images import MAX_ASPECT, within_aspect

if TYPE_CHECKING:
    import av
    from PIL import Image

log = logging.getLogger(__name__)

MIN_INTERVAL = 1.0  # seconds between keyframes, at least
MAX_INTERVAL = 12.0  # seconds between keyframes, at most
PROBE_STEP = 0.25  # in long GOPs, seconds between the frames the scene test looks at
KEY_ONLY_GOP = 2.5  # GOPs up to this many seconds are sampled at their key frame only
BUSY_PACKET = 0.15  # in a longer GOP, a packet this share of its key frame's size marks a big change
MAX_HELD_BYTES = 32 << 20  # compressed bytes of one GOP held while deciding how to read it
MAX_HELD_PACKETS = 3000
MAX_KEYFRAMES = 300  # per video; longer videos get keyframes further apart
SCENE_CHANGE = 0.25  # difference from the last keyframe (0 same … 1 opposite) that makes a new one
FLAT = 0.03  # a thumbnail whose grey levels vary less than this (std, 0…1) shows nothing
PROGRESS_STEP = 1.0  # seconds of video between progress reports
KEYFRAME_SIDE = 448  # keyframes handed to the encoder are at most this many pixels on their short side
_THUMB = 32  # side of the grey thumbnail the scene test compares
_BINS = 16

T = TypeVar("T")


@dataclass
class Keyframes(Generic[T]):
    """What extract_keyframes found: one entry per keyframe, in time order."""

    starts: list[float] = field(default_factory=list)
    images: list[T] = field(default_factory=list)  # whatever `prepare` made of each upright PIL image
    duration: float = 0.0  # seconds, from the start of the file to the end of the video stream
    frames_decoded: int = 0

    @property
    def ends(self) -> list[float]:
        return [*self.starts[1:], max(self.duration, self.starts[-1])] if self.starts else []


@contextmanager
def open_media(path: Path) -> Iterator[av.container.InputContainer]:
    """The file opened with PyAV, or DecodeError (one line) when it cannot be read as media."""
    import av

    try:
        with av.open(str(path), mode="r", metadata_errors="ignore") as container:
            yield container
    except (av.error.FFmpegError, OSError) as exc:
        raise DecodeError(f"{path}: cannot decode video ({_reason(exc)})") from exc


def video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream | None:
    """The first real video stream (cover art pictures do not count), or None."""
    import av

    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def sound_only(path: Path) -> bool:
    """Whether a file opens as media with an audio stream and no video stream (cover art aside)."""
    try:
        with open_media(path) as container:
            return video_stream(container) is None and bool(container.streams.audio)
    except DecodeError:
        return False


def extract_keyframes(
    path: Path,
    prepare: Callable[[Image.Image], T] = lambda image: image,
    *,
    min_interval: float = MIN_INTERVAL,
    max_interval: float = MAX_INTERVAL,
    max_keyframes: int = MAX_KEYFRAMES,
    container: av.container.InputContainer | None = None,
    on_progress: Callable[[float, float | None], None] | None = None,
) -> Keyframes[T]:
    """Keyframes of a video's first video stream, each passed through `prepare` as soon as it is chosen.

    on_progress(seconds read, seconds in all or None) is called about every PROGRESS_STEP seconds of
    video, and last with both equal to the duration. Raises DecodeError when the file has no video
    stream or none of its frames decodes.
    """
    if container is None:
        with open_media(path) as opened:
            return extract_keyframes(
                path,
                prepare,
                min_interval=min_interval,
                max_interval=max_interval,
                max_keyframes=max_keyframes,
                container=opened,
                on_progress=on_progress,
            )
    stream = video_stream(container)
    if stream is None:
        raise DecodeError(f"{path}: no video stream in it")
    known = (container.duration or 0) / 1_000_000
    spacing = known / max_keyframes
    chooser = _SceneChooser(max(min_interval, spacing), max(max_interval, spacing))
    result: Keyframes[T] = Keyframes()
    reader = _FrameSampler(path, container, stream, chooser, on_progress, known or None)
    for frame, seconds in reader.frames():
        result.frames_decoded += 1
        if not chooser.take(seconds, _thumbnail(frame)):
            continue
        result.starts.append(seconds)
        result.images.append(prepare(upright_image(frame, KEYFRAME_SIDE, _pixel_aspect(stream))))
        if len(result.starts) > max_keyframes:  # the duration was unknown or wrong: thin out, keep the last
            first = (len(result.starts) - 1) % 2
            result.starts, result.images = result.starts[first::2], result.images[first::2]
            chooser.min_interval *= 2
    if not result.frames_decoded:
        raise DecodeError(f"{path}: no video frame could be decoded; check that it is a complete video file")
    result.duration = max(reader.end, result.starts[-1] if result.starts else 0.0)
    if on_progress is not None:
        on_progress(result.duration, result.duration)
    return result


class _FrameSampler:
    """Frames worth a scene test, in time order, with their time in seconds from the start of the file.

    A GOP's compressed packets are held until the next key frame, then:
    - short GOPs, and long ones where nothing changes much, give their key frame only (and none
      closer than PROBE_STEP to the last frame given). A P-frame packet BUSY_PACKET times the size
      of its key frame's, or more, marks a big change such as a cut; a still scene's are tiny.
    - other long GOPs are decoded from their key frame to a little past their last such packet
      (and past the point where a keyframe falls due), and give a frame every PROBE_STEP and
      every intra frame in that stretch.
    A GOP too large to hold (MAX_HELD_BYTES, MAX_HELD_PACKETS) is decoded as it comes instead.
    """

    def __init__(
        self,
        path: Path,
        container: av.container.InputContainer,
        stream,
        chooser: _SceneChooser,
        on_progress: Callable[[float, float | None], None] | None = None,
        expected_seconds: float | None = None,
    ) -> None:
        self.path = path
        self.on_progress = on_progress
        self.expected_seconds = expected_seconds
        self._reported = 0.0
        self.container = container
        self.stream = stream
        self.chooser = chooser  # its intervals and last keyframe say how far a GOP must be decoded
        self.offset = _file_start(container, stream)
        self.end = 0.0  # end of the last packet seen, in seconds from the start of the file
        self.bad_packets = 0
        self._last_given: float | None = None
        self._fallback_time = 0.0

    def frames(self) -> Iterator[tuple[av.VideoFrame, float]]:

        codec = self.stream.codec_context
        codec.thread_type = "AUTO"
        codec.skip_frame = "NONREF"
        gop: list[av.Packet] = []  # the packets of the current GOP, key frame first, while held
        held = 0  # their bytes
        streaming = False  # a GOP too large to hold: every packet is decoded as it comes
        for packet in self._packets():
            if packet.is_keyframe or not gop and not streaming:
                yield from self._sample_gop(gop)
                gop, held, streaming = [packet], packet.size, False
            elif streaming:
                yield from self._decode(packet, every=True)
            else:
                gop.append(packet)
                held += packet.size
                if held > MAX_HELD_BYTES or len(gop) > MAX_HELD_PACKETS:
                    yield from self._decode_all(gop)
                    gop, streaming = [], True
        yield from self._sample_gop(gop)
        yield from self._decode(None, every=True)
        if self.bad_packets:
            log.warning("%s: skipped %d undecodable video packets", self.path, self.bad_packets)

    def _sample_gop(self, gop: list) -> Iterator[tuple[av.VideoFrame, float]]:
        if not gop:
            return
        start = self._seconds(gop[0])
        times = [self._seconds(p) for p in gop]
        if max(times) - start <= KEY_ONLY_GOP:
            if self._due(start):
                yield from self._decode(gop[0], every=False)
            return
        busy = [t for p, t in zip(gop[1:], times[1:]) if p.size >= BUSY_PACKET * gop[0].size]
        # decode on past the last big change until a keyframe may be taken after it (min interval),
        # and on while a keyframe falls due in this GOP (max interval); a little past either, so
        # that a probed reference frame lies beyond
        after_change = max(busy) + self.chooser.min_interval + 2 * PROBE_STEP if busy else None
        fed = 0
        while True:
            due = self.chooser.due() + 2 * PROBE_STEP
            end = next((i + 1 for i, t in enumerate(times) if t >= due), 0)
            if after_change is not None:
                end = max(end, next((i + 1 for i, t in enumerate(times) if t >= after_change), len(gop)))
            if end <= fed:
                break
            if not fed:
                yield from self._restart()
            for packet in gop[fed:end]:
                yield from self._decode(packet, every=True)
            fed = end
        if fed:
            yield from self._restart()  # the rest of the GOP is not fed: start the next one clean
        elif self._due(start):
            yield from self._decode(gop[0], every=False)

    def _decode_all(self, packets: list) -> Iterator[tuple[av.VideoFrame, float]]:
        yield from self._restart()
        for packet in packets:
            yield from self._decode(packet, every=True)

    def _restart(self) -> Iterator[tuple[av.VideoFrame, float]]:
        """Drain and reset the decoder, so that frames it skipped do not leak into the next GOP."""
        yield from self._decode(None, every=True)
        self.stream.codec_context.flush_buffers()

    def _packets(self) -> Iterator[av.Packet]:
        """The stream's packets; a file that breaks off (truncated, damaged) ends the stream there."""
        import av

        packets = self.container.demux(self.stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except (av.error.FFmpegError, OSError) as exc:
                log.warning("%s: video ends early at %.1f s: %s", self.path, self.end, _reason(exc))
                return
            if packet.size == 0:  # the demuxer's end-of-stream marker
                continue
            seconds = self._seconds(packet)
            self.end = max(self.end, seconds + float((packet.duration or 0) * packet.time_base))
            if self.on_progress is not None and self.end >= self._reported + PROGRESS_STEP:
                self._reported = self.end
                self.on_progress(self.end, self.expected_seconds)
            yield packet

    def _decode(self, packet, every: bool) -> Iterator[tuple[av.VideoFrame, float]]:
        import av
        from av.video.frame import PictureType

        try:
            frames = self.stream.codec_context.decode(packet)
        except av.error.InvalidDataError:
            self.bad_packets += 1
            return
        except av.error.FFmpegError:  # e.g. end of data on a decoder that was never fed
            return
        for frame in frames:
            seconds = self._frame_seconds(frame)
            if every and not self._due(seconds) and frame.pict_type != PictureType.I:
                continue  # intra frames are always looked at: encoders put them where scenes cut
            self._last_given = seconds
            yield frame, seconds

    def _due(self, seconds: float) -> bool:
        return self._last_given is None or seconds >= self._last_given + PROBE_STEP

    def _seconds(self, packet) -> float:
        ts = packet.pts if packet.pts is not None else packet.dts
        return float(ts * packet.time_base) - self.offset if ts is not None else self.end

    def _frame_seconds(self, frame) -> float:
        """Frames keep their packets' timestamps, in the stream's time base (drained ones carry no
        time base of their own); one without any gets the time of the frame before it."""
        ts = frame.pts if frame.pts is not None else frame.dts
        if ts is not None:
            self._fallback_time = max(0.0, float(ts * self.stream.time_base) - self.offset)
        return self._fallback_time


class _SceneChooser:
    """Decides which probed frames become keyframes: new scene, or too long since the last one."""

    def __init__(self, min_interval: float, max_interval: float) -> None:
        self.min_interval = min_interval
        self.max_interval = max_interval
        self._last_time: float | None = None
        self._last: np.ndarray | None = None

    def due(self) -> float:
        """The time by which the next keyframe must come."""
        return 0.0 if self._last_time is None else self._last_time + self.max_interval

    def take(self, seconds: float, thumbnail: np.ndarray) -> bool:
        if thumbnail.std() < FLAT:
            return False
        if self._last is not None:
            elapsed = seconds - self._last_time
            if elapsed < self.min_interval:
                return False
            if elapsed < self.max_interval and scene_change(self._last, thumbnail) < SCENE_CHANGE:
                return False
        self._last_time, self._last = seconds, thumbnail
        return True


def scene_change(a: np.ndarray, b: np.ndarray) -> float:
    """How different two grey thumbnails (values 0…1) look: the larger of the mean pixel difference
    (scaled so that a cut between unrelated pictures reaches 1) and the histogram distance."""
    pixels = float(np.abs(a - b).mean()) * 3.0
    ha = np.histogram(a, bins=_BINS, range=(0.0, 1.0))[0] / a.size
    hb = np.histogram(b, bins=_BINS, range=(0.0, 1.0))[0] / b.size
    return min(1.0, max(pixels, 0.5 * float(np.abs(ha - hb).sum())))


def _thumbnail(frame) -> np.ndarray:
    small = frame.reformat(width=_THUMB, height=_THUMB, format="gray", interpolation="AREA")
    return small.to_ndarray().astype(np.float32) / 255.0


def upright_image(frame, max_side: int | None = None, pixel_aspect: float = 1.0) -> Image.Image:
    """A decoded frame as an RGB PIL image as it is meant to be seen: pixel aspect ratio and the
    recorded rotation applied, scaled so that its short side is at most max_side, and cut to its
    central MAX_ASPECT:1 part when its proportions are extreme (as images are)."""
    from PIL import Image

    pixel_aspect = min(max(pixel_aspect, 1 / MAX_ASPECT), MAX_ASPECT)  # a hostile header's 10000:1 pixels
    width, height = max(1, round(frame.width * pixel_aspect)), frame.height
    if max_side and min(width, height) > max_side:
        scale = max_side / min(width, height)
        width, height = round(width * scale), round(height * scale)
    image = within_aspect(frame.to_image(width=width, height=height, interpolation="AREA"))
    turn = round(frame.rotation or 0) % 360
    transposes = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_270}
    if turn in transposes:
        return image.transpose(transposes[turn])
    return image.rotate(turn, expand=True) if turn else image


def keyframe_image(path: Path, seconds: float, max_side: int | None = None) -> Image.Image:
    """The frame shown at `seconds` (from the start of the file, as in search hits), upright.

    Seeks to the key frame before it and decodes forward; past the end gives the last frame.
    Raises DecodeError when the file has no decodable video.
    """
    import av

    path = Path(path)
    with open_media(path) as container:
        stream = video_stream(container)
        if stream is None:
            raise DecodeError(f"{path}: no video stream in it")
        stream.codec_context.thread_type = "AUTO"
        target = max(0.0, float(seconds)) + _file_start(container, stream) + 1e-3
        if target > 0:
            try:
                container.seek(int(target / stream.time_base), stream=stream, backward=True)
            except av.error.FFmpegError:
                container.seek(0, stream=stream)
        shown = None
        try:
            for frame in container.decode(stream):
                if shown is not None and frame.pts is not None and frame.pts * stream.time_base > target:
                    break
                shown = frame
        except av.error.FFmpegError as exc:
            if shown is None:
                raise DecodeError(f"{path}: cannot decode video at {seconds:.1f} s ({_reason(exc)})") from exc
        if shown is None:
            raise DecodeError(f"{path}: no video frame at {seconds:.1f} s")
        return upright_image(shown, max_side, _pixel_aspect(stream))


def _file_start(container, stream) -> float:
    """The timestamp, in seconds, at which the file starts: times in segments count from there."""
    if container.start_time is not None:
        return container.start_time / 1_000_000
    if stream.start_time is not None:
        return float(stream.start_time * stream.time_base)
    return 0.0


def stream_start(container, stream) -> float:
    """Seconds from the start of the file to the first sample of a stream."""
    if stream.start_time is None:
        return 0.0
    return max(0.0, float(stream.start_time * stream.time_base) - _file_start(container, stream))


def _pixel_aspect(stream) -> float:
    """Width of a pixel relative to its height (not 1 for anamorphic video)."""
    sar = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
    return float(sar) if sar and sar.numerator and sar.denominator else 1.0


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())
