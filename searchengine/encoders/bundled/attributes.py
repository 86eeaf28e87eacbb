"""The attribute bridge: what ImageNet classes do not name, read from the pixels and put into
the text space — colour names, black-and-white, darkness.

Colour names come from a perceptual reading of each pixel (HSV rules for the eleven basic colour
terms of Berlin & Kay: black, white, grey, red, orange, yellow, green, blue, purple, pink, brown);
an image's evidence for a colour is the share of its pixels with that name. Each attribute has a
text vector (the mean embedding of a few short phrases), and an image's attribute vector is the
evidence-weighted sum of those, which a head adds to its ImageNet-based vector with a small weight.
"""

from __future__ import annotations

import numpy as np

COLOURS = ("black", "white", "grey", "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown")
OTHER = ("black and white", "dark")
ATTRIBUTES = COLOURS + OTHER
PHRASES = {c: (f"{c}", f"something {c}", f"a {c} photo") for c in COLOURS} | {
    "black and white": ("a black and white photo", "a monochrome picture", "black and white"),
    "dark": ("a dark photo", "at night", "in the dark"),
}
_SIDE = 32  # pixels per side the statistics are taken on (the crop is pooled down to it)


def attribute_phrases() -> list[list[str]]:
    return [list(PHRASES[a]) for a in ATTRIBUTES]


def _hsv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """rgb [..., 3] in [0, 1] -> hue in degrees [0, 360), saturation, value."""
    mx, mn = rgb.max(-1), rgb.min(-1)
    delta = mx - mn
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    safe = np.where(delta > 0, delta, 1.0)
    hue = np.where(mx == r, ((g - b) / safe) % 6, np.where(mx == g, (b - r) / safe + 2, (r - g) / safe + 4)) * 60.0
    sat = np.where(mx > 0, delta / np.where(mx > 0, mx, 1.0), 0.0)
    return np.where(delta > 0, hue, 0.0), sat, mx


def evidence(pixels: np.ndarray) -> np.ndarray:
    """[n, len(ATTRIBUTES)] for a batch of tower inputs [n, 3, S, S] scaled to [-1, 1]: the share of
    pixels of each colour name, then black-and-white (1 when hardly any pixel is saturated) and
    darkness (1 for a mostly dark picture)."""
    x = (np.asarray(pixels, np.float32) + 1.0) / 2.0
    n, _, h, w = x.shape
    f = max(1, min(h, w) // _SIDE)
    x = x[:, :, : h // f * f, : w // f * f].reshape(n, 3, h // f, f, w // f, f).mean(axis=(3, 5))
    hue, sat, val = _hsv(np.clip(x.transpose(0, 2, 3, 1), 0, 1))
    names = np.full(hue.shape, -1, np.int64)
    chroma = (sat >= 0.2) & (val >= 0.2)
    bins = np.select(
        [(hue < 15) | (hue >= 345), hue < 40, hue < 70, hue < 165, hue < 255, hue < 290], [3, 4, 5, 6, 7, 8], default=9
    )
    brown = chroma & (hue < 40) | chroma & (hue >= 345)
    brown &= val < 0.55
    pink = chroma & ((hue >= 290) | (hue < 15)) & (sat < 0.55) & (val >= 0.6)
    names = np.where(chroma, bins, names)
    names = np.where(pink, 9, names)
    names = np.where(brown, 10, names)
    names = np.where(~chroma & (val < 0.2), 0, names)
    names = np.where(~chroma & (val >= 0.2) & (val > 0.85) & (sat < 0.2), 1, names)
    names = np.where(~chroma & (val >= 0.2) & (names == -1), 2, names)
    share = np.stack([(names == c).mean(axis=(1, 2)) for c in range(len(COLOURS))], axis=1)
    bw = np.clip(1.0 - np.percentile(sat.reshape(n, -1), 90, axis=1) / 0.15, 0, 1)
    dark = np.clip((0.3 - val.reshape(n, -1).mean(axis=1)) / 0.15, 0, 1)
    return np.concatenate([share, bw[:, None], dark[:, None]], axis=1).astype(np.float32)


def attribute_vectors(evidence_rows: np.ndarray, bank: np.ndarray, floor: float = 0.1) -> np.ndarray:
    """Unnormalised [n, d]: Σ evidence · attribute text vector, colours under `floor` share ignored
    (a colour named in a query is one that dominates the picture)."""
    ev = np.asarray(evidence_rows, np.float32).copy()
    ncol = len(COLOURS)
    ev[:, :ncol] = np.where(ev[:, :ncol] >= floor, ev[:, :ncol], 0.0)
    # in a black-and-white picture the hue names are noise
    ev[:, :ncol] *= 1.0 - ev[:, ncol : ncol + 1]
    return ev @ bank
