"""Is one picture a copy of another (the same picture resized, re-encoded, recompressed)?

Embeddings say what a picture shows, not whether it is the same picture: two Tux Paint stamps of
one kind of flower lie closer in the image space (cosine 0.97) than a stamp and its own half-size
copy (0.83 at worst). Pixels tell: both pictures are reduced to a small grey thumbnail, centred
and scaled to unit length, and compared by correlation. A resized or re-encoded copy keeps its
shape and its tones, so it correlates at 0.976 or more (benchmarks/relevance.py: half-size PNG
copies of 88 Tux Paint stamps, half-size JPEG copies of 57 photos), while the closest distinct
picture among the ten nearest in the image space did 0.967 (a stamp and its recoloured twin) and
distinct photos at most 0.81. A copy also keeps its aspect ratio (within rounding to whole pixels).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from searchengine.errors import DecodeError
from searchengine.media.images import load_image

SIDE = 32  # the thumbnail compared: SIDE x SIDE grey levels
DECODE = 4 * SIDE  # the shorter side pictures are decoded at (at least), before the thumbnail
SAME = 0.975  # correlation from which two thumbnails are taken for the same picture
ASPECT = 0.05  # |log(aspect ratio a / aspect ratio b)| a copy stays within
KEPT = 1024  # fingerprints kept in memory (8 KB each)


@dataclass(frozen=True)
class Fingerprint:
    """A picture's grey thumbnail (centred, unit length) and its aspect ratio."""

    pixels: np.ndarray
    aspect: float


def fingerprint(path: Path) -> Fingerprint | None:
    """The picture's fingerprint, or None when it cannot be read (it is then no one's copy). The
    last KEPT are kept by path, size and modification time: a server's repeated image queries
    decode each nearby picture once (a 5312 x 2988 JPEG: 10-15 ms a time)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return _fingerprint(str(path), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=KEPT)
def _fingerprint(path: str, size: int, mtime_ns: int) -> Fingerprint | None:
    from PIL import Image

    try:
        image = load_image(Path(path), draft_size=DECODE)  # a JPEG decoded at 1/8 scale or so: fast
    except DecodeError:
        return None
    grey = np.asarray(image.convert("L").resize((SIDE, SIDE), Image.BILINEAR), dtype=np.float64).ravel()
    grey -= grey.mean()
    norm = np.linalg.norm(grey)
    pixels = grey / norm if norm else grey
    pixels.setflags(write=False)  # shared by every caller
    return Fingerprint(pixels, image.width / max(1, image.height))


def same_picture(a: Fingerprint, b: Fingerprint) -> bool:
    """True when b looks like a copy of a."""
    return abs(np.log(a.aspect / b.aspect)) <= ASPECT and float(a.pixels @ b.pixels) >= SAME
