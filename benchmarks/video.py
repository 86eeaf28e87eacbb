"""Keyframe extraction speed and density, on clips built here from the sample photos.

Prints JSON: for each clip, seconds of video processed per second of wall time (`realtime_x`;
the goal is at least 10 on 2 CPU cores) and per second of CPU time (`per_cpu_second`: what one
free core would do, useful on a shared machine), keyframes per minute, and the process's peak
resident memory (building the clips included). Clips:

    static  a lecture: one slide, a small pointer moving over it         -> few keyframes
    busy    a cut every 2 s between photos, each slowly panned          -> many keyframes

each encoded three ways: `phone` (H.264, a key frame every second, as phones record; read at key
frames only), `x264` (x264's defaults: key frames up to 250 frames apart plus at scene cuts,
B-frames) and `longgop` (a key frame every 10 s and none at cuts, as some screen recorders and
cameras write: the worst case, decoded in full apart from B-frames). Speech is not measured: it
runs at the speech model's real-time factor (see searchengine.audio).

Usage::

    python benchmarks/video.py [--seconds 60] [--height 720] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from searchengine.media.video import extract_keyframes  # noqa: E402

PHOTOS = REPO / "samples" / "photos"
FPS = 30
ENCODINGS = {
    "phone": {"gop": FPS, "options": {"preset": "veryfast", "bframes": "0"}},
    "x264": {"gop": None, "options": {"preset": "veryfast"}},
    "longgop": {"gop": None, "options": {"preset": "veryfast", "x264-params": "keyint=300:min-keyint=300:scenecut=0"}},
}


def _photos(width: int, height: int) -> list:
    from PIL import Image, ImageOps

    names = sorted(p for p in PHOTOS.iterdir() if p.suffix in (".jpg", ".png"))
    return [ImageOps.fit(Image.open(p).convert("RGB"), (width * 5 // 4, height * 5 // 4)) for p in names]


def _busy_frames(seconds: float, width: int, height: int):
    """A new photo every 2 s, panned diagonally across its margin."""
    photos = _photos(width, height)
    for i in range(int(seconds * FPS)):
        t = i / FPS
        photo = photos[int(t // 2) % len(photos)]
        along = (t % 2) / 2
        x, y = round(along * width / 4), round(along * height / 4)
        yield photo.crop((x, y, x + width, y + height))


def _static_frames(seconds: float, width: int, height: int):
    """A slide (a photo beside lines of 'text') with a pointer gliding over it."""
    from PIL import Image, ImageDraw

    slide = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(slide)
    draw.rectangle((0, 0, width, height // 8), fill=(30, 60, 120))
    for row in range(8):
        top = height // 4 + row * height // 16
        draw.rectangle((width // 16, top, width // 2 - row * width // 40, top + height // 40), fill=(60, 60, 60))
    photo = _photos(width // 3, height // 3)[3]
    slide.paste(photo.crop((0, 0, width // 3, height // 3)), (width * 9 // 16, height // 3))
    for i in range(int(seconds * FPS)):
        t = i / FPS
        frame = slide.copy()
        x, y = round((0.2 + 0.3 * abs((t / 10) % 2 - 1)) * width), round(0.6 * height)
        ImageDraw.Draw(frame).ellipse((x, y, x + width // 60, y + width // 60), fill=(220, 30, 30))
        yield frame


def make_clip(path: Path, frames, width: int, height: int, gop: int | None, options: dict) -> Path:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = dict(options, crf="23")
        if gop:
            stream.codec_context.gop_size = gop
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_image(image)
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def measure(path: Path) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    keyframes = extract_keyframes(path)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    minutes = keyframes.duration / 60
    return {
        "video_seconds": round(keyframes.duration, 2),
        "wall_seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "realtime_x": round(keyframes.duration / wall, 1),
        "per_cpu_second": round(keyframes.duration / cpu, 1),
        "keyframes": len(keyframes.starts),
        "keyframes_per_minute": round(len(keyframes.starts) / minutes, 1),
        "frames_decoded": keyframes.frames_decoded,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each clip")
    parser.add_argument("--height", type=int, default=720, help="frame height (16:9)")
    parser.add_argument("--keep", type=Path, help="build (or reuse) the clips in this folder")
    args = parser.parse_args()
    width = args.height * 16 // 9 // 2 * 2
    folder = args.keep or Path(tempfile.mkdtemp(prefix="video-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    for content, frames in (("static", _static_frames), ("busy", _busy_frames)):
        for encoding, settings in ENCODINGS.items():
            path = folder / f"{content}-{encoding}-{args.height}p-{args.seconds:g}s.mp4"
            if not path.exists():
                print(f"building {path.name}", file=sys.stderr)
                make_clip(path, frames(args.seconds, width, args.height), width, args.height, **settings)
            results.append(
                {
                    "clip": content,
                    "encoding": encoding,
                    "resolution": f"{width}x{args.height}",
                    "fps": FPS,
                    **measure(path),
                }
            )
    wall = sum(r["wall_seconds"] for r in results)
    print(
        json.dumps(
            {
                "cpus": len(os.sched_getaffinity(0)),
                "load_average_1min": round(os.getloadavg()[0], 2),
                "clips": results,
                "overall_realtime_x": round(sum(r["video_seconds"] for r in results) / wall, 1),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "load_average_1min_at_end": round(os.getloadavg()[0], 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
