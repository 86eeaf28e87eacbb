"""The image side of benchmarks/gpu.py: the folder it indexes, and the JPEG decoders it compares.

The folder is made from the packaged photos in samples/photos (20 JPEGs and a PNG, 300-800 px):
each distinct file is a random crop of one of them, scaled to a short side drawn from a mix of
web, screen and camera sizes, with a little sensor-like noise so large files carry a photo's
entropy (an upscaled 800-px photo alone is too smooth to cost what a camera JPEG costs to
decode), saved at a random quality, some progressive, some with an EXIF rotation. Camera-sized
files come out at about 2 MB for 9 MP (1.7 bits a pixel), below a phone photo's 2-3 bits, so they
cost somewhat less to decode than real ones. The distinct files are then copied until the folder
holds the number asked for: decoding cost is per file, and copies keep the folder cheap to build
(the GPU run's 3,000 files, 2.9 GB: 115 s on this loaded 2-core machine, for 16 cores there).
"""

from __future__ import annotations

import io
import random
import shutil
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from gpu_run import Context, Deadline, attempt, per_second, spread

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT / "samples" / "photos"

# (share of the distinct files, short side range in px): web images, screen-sized photos and
# exports, camera photos (12 MP phones are 3024 px on the short side).
SIZE_MIX = (("web", 0.35, (360, 720)), ("screen", 0.35, (1080, 1536)), ("camera", 0.30, (2250, 3024)))
DRY_SIZE_MIX = (("web", 0.5, (240, 480)), ("screen", 0.5, (600, 900)))
MAX_LONG_SIDE = 4032
NOISE = 10  # grey levels of added noise: uniform in [-10, 10], a standard deviation of 6.1
EXIF_ORIENTATION = 0x0112
ROTATED_SHARE = 0.1  # files stored sideways with an EXIF orientation tag (6: rotate 90° to display)
PROGRESSIVE_SHARE = 0.25
QUALITIES = (80, 88, 95)


@dataclass(frozen=True)
class FileSpec:
    path: Path
    source: Path
    size_class: str
    short_side: int
    crop: tuple[float, float, float, float]  # left, top, right, bottom as fractions of the source
    quality: int
    progressive: bool
    rotated: bool
    seed: int


def plan_files(out: Path, distinct: int, seed: int, dry: bool) -> list[FileSpec]:
    rng = random.Random(seed)
    sources = sorted(p for p in PHOTOS.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    mix = DRY_SIZE_MIX if dry else SIZE_MIX
    specs = []
    for i in range(distinct):
        name, _, (low, high) = rng.choices(mix, weights=[share for _, share, _ in mix])[0]
        w, h = rng.uniform(0.6, 1.0), rng.uniform(0.6, 1.0)
        left, top = rng.uniform(0, 1 - w), rng.uniform(0, 1 - h)
        specs.append(
            FileSpec(
                path=out / f"photo-{i:04d}.jpg",
                source=sources[i % len(sources)],
                size_class=name,
                short_side=rng.randint(low, high),
                crop=(left, top, left + w, top + h),
                quality=rng.choice(QUALITIES),
                progressive=rng.random() < PROGRESSIVE_SHARE,
                rotated=rng.random() < ROTATED_SHARE,
                seed=rng.randrange(2**32),
            )
        )
    return specs


def make_file(spec: FileSpec) -> dict:
    from PIL import Image

    with Image.open(spec.source) as source:
        source.load()
        image = source.convert("L" if source.mode in ("L", "LA", "I;16") else "RGB")
    w, h = image.size
    left, top, right, bottom = spec.crop
    image = image.crop((round(left * w), round(top * h), round(right * w), round(bottom * h)))
    scale = spec.short_side / min(image.size)
    size = (min(MAX_LONG_SIDE, round(image.width * scale)), min(MAX_LONG_SIDE, round(image.height * scale)))
    image = image.resize(size, Image.Resampling.BICUBIC)
    pixels = np.asarray(image, dtype=np.int16)
    noise = np.random.default_rng(spec.seed).integers(-NOISE, NOISE + 1, pixels.shape, dtype=np.int16)
    image = Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))
    exif = Image.Exif()
    if spec.rotated:  # stored sideways: a viewer (and our decoder) turns it back upright
        image = image.transpose(Image.Transpose.ROTATE_90)
        exif[EXIF_ORIENTATION] = 6
    image.save(spec.path, quality=spec.quality, progressive=spec.progressive, exif=exif.tobytes())
    return {
        "size_class": spec.size_class,
        "width": image.width,
        "height": image.height,
        "bytes": spec.path.stat().st_size,
    }


def build_folder(
    out: Path, n: int, distinct: int, threads: int, seed: int = 0, dry: bool = False
) -> tuple[list[Path], list[Path], dict[Path, str], dict]:
    """`out` filled with n JPEGs, `distinct` of them different; (all files, the distinct ones, the
    size class of each distinct one, a description of the folder)."""
    out.mkdir(parents=True, exist_ok=True)
    specs = plan_files(out, min(n, distinct), seed, dry)
    with ThreadPoolExecutor(threads) as pool:  # Pillow and numpy work outside the GIL here
        made = list(pool.map(make_file, specs))
    originals = [s.path for s in specs]
    files = list(originals)
    for j in range(n - len(originals)):
        copy = out / f"copy-{j:05d}.jpg"
        shutil.copyfile(originals[j % len(originals)], copy)
        files.append(copy)
    megapixels = [m["width"] * m["height"] / 1e6 for m in made]
    shorts = [min(m["width"], m["height"]) for m in made]
    by_class = {}
    for name in dict.fromkeys(m["size_class"] for m in made):
        members = [m for m in made if m["size_class"] == name]
        by_class[name] = {
            "files": len(members),
            "median_megapixels": round(statistics.median(m["width"] * m["height"] / 1e6 for m in members), 2),
            "median_kb": round(statistics.median(m["bytes"] for m in members) / 1e3, 1),
        }
    description = {
        "files": len(files),
        "distinct": len(originals),
        "source": "samples/photos, cropped, scaled, with noise",
        "bytes": sum(p.stat().st_size for p in files),
        "short_side_px": {"min": min(shorts), "median": statistics.median(shorts), "max": max(shorts)},
        "megapixels": {
            "median": round(statistics.median(megapixels), 2),
            "mean": round(statistics.mean(megapixels), 2),
            "max": round(max(megapixels), 2),
        },
        "size_classes": by_class,
        "progressive": sum(s.progressive for s in specs),
        "exif_rotated": sum(s.rotated for s in specs),
    }
    return files, originals, {s.path: s.size_class for s in specs}, description


# --- decoders ---------------------------------------------------------------------------------


def simplejpeg_available() -> str | None:
    """None when simplejpeg can be used, else why not."""
    try:
        import simplejpeg  # noqa: F401
    except ImportError as exc:
        return f"simplejpeg is not installed ({exc})"
    return None


def pillow_draft_scale(width: int, height: int, draft_size: int) -> int:
    """The DCT scale (1, 2, 4 or 8) Pillow's `draft` picks for a JPEG of that size."""
    ratio = min(width // draft_size, height // draft_size)
    return next((scale for scale in (8, 4, 2) if ratio >= scale), 1)


def simplejpeg_load(path: Path, draft_size: int, eighths: bool = False):
    """What `load_image(path, draft_size)` gives for a JPEG, decoded by simplejpeg (libjpeg-turbo)
    at the scale Pillow's draft picks, with the EXIF orientation read from the header by Pillow
    and applied the same way. eighths: let libjpeg-turbo pick any of its M/8 scales (3/8, 5/8, …)
    whose sides stay ≥ draft_size instead: smaller images than Pillow's, so not the same pixels."""
    import simplejpeg
    from PIL import Image

    data = path.read_bytes()
    if eighths:
        pixels = simplejpeg.decode_jpeg(data, colorspace="RGB", min_height=draft_size, min_width=draft_size)
    else:
        height, width, _, _ = simplejpeg.decode_jpeg_header(data)
        scale = pillow_draft_scale(width, height, draft_size)
        pixels = simplejpeg.decode_jpeg(
            data, colorspace="RGB", min_factor=scale, min_height=-(-height // scale), min_width=-(-width // scale)
        )
    image = Image.fromarray(pixels)
    from searchengine.media.images import upright

    with Image.open(io.BytesIO(data)) as header:
        orientation = header.getexif().get(EXIF_ORIENTATION, 1)
    return upright(image, orientation)


# --- the decode stage ---------------------------------------------------------------------------


def stage_decode(out: dict, deadline: Deadline, ctx: Context) -> None:
    """Decode alone: what one core and all cores turn into images a second."""
    from searchengine.config import cache_dir
    from searchengine.encoders.registry import load_encoder
    from searchengine.media.images import draft_side, load_image

    files = spread(ctx.distinct, ctx.scale.decode_sample)
    side = draft_side(
        load_encoder("bundled", "cpu", ctx.backend, cache_dir=cache_dir())
    )  # both models crop 224 px: 384
    out["files"] = len(files)
    out["draft_side_px"] = side
    decoders: dict[str, Callable] = {
        "pillow_draft": lambda p: load_image(p, side),  # the product's decoder
        "pillow_full": lambda p: load_image(p, 0),
    }
    why_not = simplejpeg_available()
    if why_not is None:
        decoders["simplejpeg_draft"] = lambda p: simplejpeg_load(p, side)  # Pillow's scale
        decoders["simplejpeg_eighths"] = lambda p: simplejpeg_load(p, side, eighths=True)
    else:
        out["simplejpeg"] = f"not measured: {why_not}"
    # One thread, paired: each file is decoded by every decoder in turn (the order rotating), and
    # by the two candidates for the product once more, each keeping its faster time for the file.
    # Load that comes and goes on the machine then falls on all decoders alike (alternating whole
    # passes gave 1.5x one way or the other here for decoders that paired timing puts within 2 %).
    candidates = [name for name in ("pillow_draft", "simplejpeg_draft") if name in decoders]
    times: dict[str, dict[Path, float]] = {name: {} for name in decoders}
    for decode in decoders.values():
        for path in files[:2]:
            decode(path)
    for round_, names in enumerate((list(decoders), candidates)):
        deadline.check(f"decoding, round {round_ + 1}")
        for i, path in enumerate(files):
            for k in range(len(names)):
                name = names[(i + k + round_) % len(names)]
                started = time.perf_counter()
                decoders[name](path)
                elapsed = time.perf_counter() - started
                times[name][path] = min(elapsed, times[name].get(path, elapsed))
    rates = {name: len(files) / sum(t.values()) for name, t in times.items()}
    by_class: dict[str, dict[str, list[float]]] = {}
    for name, per_file in times.items():
        for path, elapsed in per_file.items():
            by_class.setdefault(name, {}).setdefault(ctx.size_class.get(path, "?"), []).append(elapsed)
    out["one_thread_images_per_s"] = {name: round(rate, 1) for name, rate in rates.items()}
    out["one_thread_ms_by_size_class"] = {
        name: {cls: round(1000 * statistics.median(t), 2) for cls, t in classes.items()}
        for name, classes in by_class.items()
    }
    if "simplejpeg_draft" in decoders:
        out["simplejpeg_vs_pillow"] = _same_pixels(files[:40], decoders["pillow_draft"], decoders["simplejpeg_draft"])
    # Every core: the two candidates alternate over two rounds, the better of each kept.
    threaded: dict[str, float] = {}
    work = files * max(1, -(-8 * ctx.cores // len(files)))
    with ThreadPoolExecutor(ctx.cores) as pool:
        for name in candidates * 2:
            deadline.check(f"decoding with {name} on {ctx.cores} threads")
            decode = decoders[name]
            list(pool.map(decode, files[: ctx.cores]))
            threaded[name] = max(
                threaded.get(name, 0.0), per_second(lambda decode=decode: list(pool.map(decode, work)), len(work))
            )
    out["all_cores"] = {
        name: {
            "threads": ctx.cores,
            "images_per_s": round(rate, 1),
            "per_core": round(rate / ctx.cores, 1),
            "scaling": round(rate / (rates[name] * ctx.cores), 2),
        }
        for name, rate in threaded.items()
    }
    drafted = {name: rate for name, rate in out["one_thread_images_per_s"].items() if name != "pillow_full"}
    out["fastest_cpu_decoder"] = max(drafted, key=drafted.get)
    deadline.check("torchvision's decode_jpeg")
    # On the GPU: nvJPEG. In a dry run the same call on the CPU, so the code is the one that ran.
    label = "nvjpeg_cuda_full" if ctx.device == "cuda" else "torchvision_cpu_full"
    attempt(out, label, lambda: _torchvision_decode(files, batch=64, device=ctx.device))


def _torchvision_decode(files: list[Path], batch: int, device: str) -> dict:
    """torchvision.io.decode_jpeg in batches on `device` (on a GPU: nvJPEG), full size: it has no
    DCT scaling."""
    import torch
    from torchvision.io import ImageReadMode, decode_jpeg, read_file

    data = [read_file(str(p)) for p in files]
    failed = 0

    def decode_all() -> None:
        nonlocal failed
        for start in range(0, len(data), batch):
            chunk = data[start : start + batch]
            try:
                decode_jpeg(chunk, mode=ImageReadMode.RGB, device=device)
            except RuntimeError:
                for one in chunk:
                    try:
                        decode_jpeg(one, mode=ImageReadMode.RGB, device=device)
                    except RuntimeError:
                        failed += 1
        if device == "cuda":
            torch.cuda.synchronize()

    decode_all()  # warm-up (on a GPU: nvJPEG's handles and buffers)
    failed = 0
    rate = per_second(decode_all, len(data))
    return {
        "images_per_s": round(rate, 1),
        "batch": batch,
        "failed": failed,
        "note": "decode only, full size (no DCT scaling), EXIF orientation not applied, file bytes read beforehand",
    }


def _same_pixels(files: list[Path], a: Callable, b: Callable) -> dict:
    diffs, same_size = [], 0
    for path in files:
        x, y = np.asarray(a(path)), np.asarray(b(path))
        if x.shape == y.shape:
            same_size += 1
            diffs.append(int(np.abs(x.astype(np.int16) - y.astype(np.int16)).max()))
    return {"files": len(files), "same_size": same_size, "max_abs_pixel_diff": max(diffs) if diffs else None}
