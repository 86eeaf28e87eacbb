"""Perceptual fingerprints of a photo: whether two files show the same picture, edited or not.

A fingerprint is the 64-bit pHash (the `imagehash` package) of the whole picture and of crops of
it: every side cut by 0, 6 or 12 %, the cut placed at either end or in the middle. A copy cropped
by up to about 15 % matches one of those crops of its original within a few bits, where the plain
pHash of the whole (moved content, shifted frequencies) is 15-30 bits off. Burst shots and other
photos of one scene share a crop too, but less closely: `distance` charges a crop match
CROP_PENALTY bits, so that a match of whole to whole is preferred and a crop must match nearly
exactly (measured on benchmarks/datasets/duplicates.py, see benchmarks/duplicates.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from searchengine.media.images import load_image

SIDE = 160  # pixels the picture is reduced to (grey) before cropping and hashing
CUTS = (0.0, 0.06, 0.12)  # of each side
PLACES = (0.0, 0.5, 1.0)  # where a cut crop sits: at the start, the middle, the end
CROP_PENALTY = 14  # bits a match through a crop costs over a match of whole to whole (chosen on the validation split)
BITS = 64


@dataclass(frozen=True)
class Fingerprint:
    whole: np.ndarray  # 64 bools
    crops: np.ndarray  # (n, 64) bools, the whole picture first
    width: int
    height: int


def fingerprint(path: Path) -> Fingerprint:
    """The fingerprint of an image file (DecodeError when it cannot be read)."""
    import imagehash
    from PIL import Image

    image = load_image(path, draft_size=SIDE * 2)
    with Image.open(path) as original:
        width, height = original.size  # the file's own size (load_image may have reduced it)
    grey = image.convert("L").resize((SIDE, SIDE), Image.Resampling.BILINEAR)
    crops = []
    for cut_x in CUTS:
        for cut_y in CUTS:
            w, h = round(SIDE * (1 - cut_x)), round(SIDE * (1 - cut_y))
            for px in PLACES if cut_x else (0.0,):
                for py in PLACES if cut_y else (0.0,):
                    x, y = round((SIDE - w) * px), round((SIDE - h) * py)
                    crops.append(imagehash.phash(grey.crop((x, y, x + w, y + h))).hash.ravel())
    stacked = np.stack(crops)
    return Fingerprint(stacked[0], stacked, width, height)


def packed(fp: Fingerprint) -> tuple[np.ndarray, tuple[int, int]]:
    """(crops as packed bytes, (width, height)): what a cache keeps."""
    return np.packbits(fp.crops, axis=1), (fp.width, fp.height)


def unpacked(crops: np.ndarray, size) -> Fingerprint:
    bits = np.unpackbits(crops, axis=1).astype(bool)
    return Fingerprint(bits[0], bits, int(size[0]), int(size[1]))


PARAMETERS = f"side={SIDE} cuts={CUTS} places={PLACES} bits={BITS}"  # a cache made otherwise is not used


def distance(a: Fingerprint, b: Fingerprint) -> int:
    """Bits apart, 0 (same picture) to 64: whole to whole, or one whole to a crop of the other
    (plus CROP_PENALTY), whichever is closer."""
    whole = int(np.count_nonzero(a.whole != b.whole))
    crop = min(int((a.crops != b.whole).sum(axis=1).min()), int((b.crops != a.whole).sum(axis=1).min()))
    return min(whole, crop + CROP_PENALTY)


def similarity(a: Fingerprint, b: Fingerprint) -> float:
    """1 - distance / 64: 1.0 for the same picture."""
    return 1.0 - distance(a, b) / BITS
