"""Peak memory of turning one image into what the encoder embeds, for normal photos and hostile images.

    python benchmarks/image_memory.py [--save]

Each image is made here (seeded), then decoded and prepared (`load_image` at the bundled model's
draft side, then the bundled encoder's own resize and crop) in a fresh Python process, which
reports how far its peak resident memory rose above what it held before (VmHWM, reset by
/proc/self/clear_refs once the modules are imported, over VmRSS then, in MiB), the
seconds taken, and the outcome (the prepared shape, or the one-line refusal). Goal (issue 19):
peak memory for any image within 2x that of a normal photo; "normal" is a 12-megapixel
(4000x3000) photo, measured both as a camera JPEG and as a PNG, whose full decode is the floor
for any format without JPEG's reduced-scale decoding.

Prints JSON: {"images": {name: {"pixels", "file_bytes", "peak_mb", "seconds", "outcome"}}, "ratio_to_png_photo",
"ratio_to_jpeg_photo"} (the worst image over each normal photo). --save writes it to
benchmarks/results/image_memory.json.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

MEASURE = r"""
import json, sys, time
from searchengine.encoders.bundled.encoder import BundledEncoder
from searchengine.errors import DecodeError
from searchengine.media.images import load_image

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])

with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")  # start the peak (VmHWM) over from here: the imports' own peak does not count
before = status("VmRSS")
started = time.perf_counter()
try:
    image = load_image(sys.argv[1], draft_size=int(sys.argv[2]))
    outcome = str(BundledEncoder.prepare_image(None, image).shape)  # the encoder's resize and crop (no weights needed)
except DecodeError as exc:
    outcome = "refused: " + str(exc).split(": ", 1)[1]
peak = status("VmHWM")
print(json.dumps({"peak_mb": round((peak - before) / 1024, 1), "seconds": round(time.perf_counter() - started, 2),
                  "outcome": outcome}))
"""


def make_images(folder: Path) -> dict[str, Path]:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(19)
    texture = (rng.random((300, 400, 3)) * 255).astype(np.uint8)
    photo = Image.fromarray(texture).resize((4000, 3000), Image.Resampling.BICUBIC)  # smooth, photo-like
    images = {}

    def save(name: str, image, **options) -> None:
        images[name] = folder / name
        image.save(images[name], **options)

    save("photo-12mp.jpg", photo, quality=90)
    save("photo-12mp.png", photo)
    save("photo-12mp-alpha.png", photo.convert("RGBA"))
    save("photo-24mp.png", photo.resize((6000, 4000)))
    save("grey16-12mp.png", Image.fromarray((rng.random((3000, 4000)) * 65535).astype(np.uint16)))
    save("tall-1x8000.png", Image.new("RGB", (1, 8000), "white"))
    save("wide-8000x1.png", Image.new("RGB", (8000, 1), "white"))
    save("line-1x100000.png", Image.new("RGB", (1, 100_000), "white"))
    save("banner-4000x50.png", photo.resize((4000, 50)))
    save("strip-50x4900.png", photo.resize((50, 4900)))
    save("alpha-9400x9400.png", Image.new("RGBA", (9400, 9400), (0, 0, 0, 0)), optimize=True)
    save("bomb-12000x12000.png", Image.new("1", (12_000, 12_000)), optimize=True)
    return images


def measure(path: Path, draft: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path), str(draft)], capture_output=True, text=True, timeout=600
    )
    if out.returncode != 0:
        return {"peak_mb": None, "seconds": None, "outcome": f"process died: exit {out.returncode}"}
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/image_memory.json")
    args = parser.parse_args()
    from PIL import Image

    from searchengine.atomic import atomic_write
    from searchengine.encoders.bundled import efficientnet
    from searchengine.media.images import CROP_RATIO, DRAFT_MARGIN

    draft = math.ceil(efficientnet.IMAGE_SIZE * CROP_RATIO * DRAFT_MARGIN)  # what images.draft_side gives bundled
    results = {}
    with tempfile.TemporaryDirectory(prefix="image-memory-") as tmp:
        for name, path in make_images(Path(tmp)).items():
            with warnings.catch_warnings(), Image.open(path) as image:
                warnings.simplefilter("ignore")  # the bomb is meant to be one
                pixels = image.width * image.height
            results[name] = {"pixels": pixels, "file_bytes": path.stat().st_size, **measure(path, draft)}
    worst = max(r["peak_mb"] or float("inf") for r in results.values())
    report = {
        "draft_side": draft,
        "images": results,
        "ratio_to_png_photo": round(worst / results["photo-12mp.png"]["peak_mb"], 2),
        "ratio_to_jpeg_photo": round(worst / results["photo-12mp.jpg"]["peak_mb"], 2),
    }
    text = json.dumps(report, indent=1, ensure_ascii=False)
    print(text)
    if args.save:
        atomic_write(RESULTS / "image_memory.json", text + "\n")


if __name__ == "__main__":
    main()
