"""Views of an image for the bundled image tower: which square of the picture the network sees.

`centre` is what indexing uses (shorter side resized, centre crop, as in ImageNet evaluation).
The others exist for test-time view experiments (see train/ and MODEL_CARD.md): `whole` squeezes
the full picture into the square (nothing cut off, aspect ratio lost); `left`/`right` are the
two ends of the longer side (top/bottom for portrait pictures).
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def _to_array(image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8).transpose(2, 0, 1))


def centre(encoder, image) -> np.ndarray:
    return encoder.prepare_image(image)


def whole(encoder, image) -> np.ndarray:
    from PIL import Image

    size = encoder.backbone.image_size
    return _to_array(image.convert("RGB").resize((size, size), Image.Resampling.BICUBIC, reducing_gap=3.0))


def _end(first: bool) -> Callable:
    def crop(encoder, image) -> np.ndarray:
        from PIL import Image

        image = image.convert("RGB")
        size = encoder.backbone.image_size
        scale = size / min(image.size)
        w, h = max(size, round(image.width * scale)), max(size, round(image.height * scale))
        image = image.resize((w, h), Image.Resampling.BICUBIC, reducing_gap=3.0)
        left = 0 if first or w == size else w - size
        top = 0 if first or h == size else h - size
        return _to_array(image.crop((left, top, left + size, top + size)))

    return crop


VIEWS: dict[str, Callable] = {"centre": centre, "whole": whole, "left": _end(True), "right": _end(False)}
