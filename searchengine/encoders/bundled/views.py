"""Views of an image for the bundled image tower: which square of the picture the network sees.

`centre` is the shorter side resized and the centre crop, as in ImageNet evaluation (lit-v1).
`framed` (lit-v2) sees a drawing on a plain background whole — padded square with its
background colour, so nothing of a wide stamp or icon is cut off — and a photo through the
centre crop. The others exist for test-time view experiments (see searchengine_train and MODEL_CARD.md):
`whole` squeezes the full picture into the square (aspect ratio lost); `left`/`right` are the
two ends of the longer side (top/bottom for portrait pictures).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def _to_array(image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8).transpose(2, 0, 1))


def centre(encoder, image) -> np.ndarray:
    return encoder.centre_crop(image)


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


def scale_shorter(image, side: int):
    """`image` resized so its shorter side is `side` (bicubic), as ImageNet evaluation does."""
    from PIL import Image

    scale = side / min(image.size)
    size = (max(side, round(image.width * scale)), max(side, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)


def centre_square(image, side: int):
    left = (image.width - side) // 2
    top = (image.height - side) // 2
    return image.crop((left, top, left + side, top + side))


def plain_border(image, tolerance: int = 12, share: float = 0.9):
    """The colour of the image's border when at least `share` of its border pixels are within
    `tolerance` of one colour (a drawing, icon or stamp on a plain background), else None."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
    border = np.concatenate([rgb[0], rgb[-1], rgb[1:-1, 0], rgb[1:-1, -1]])
    colour = np.median(border, axis=0)
    close = np.abs(border - colour).max(axis=1) <= tolerance
    return tuple(int(c) for c in colour) if close.mean() >= share else None


def framed(encoder, image) -> np.ndarray:
    """A drawing on a plain background is seen whole (padded square with its background colour,
    aspect kept); anything else (a photo) through the centre crop. The border is read on the
    image already scaled for the crop, so a photo costs no more than the centre crop."""
    from PIL import Image

    scaled = scale_shorter(image.convert("RGB"), encoder.backbone.resize)
    colour = plain_border(scaled)
    size = encoder.backbone.image_size
    if colour is None:
        return _to_array(centre_square(scaled, size))
    side = max(scaled.size)
    square = Image.new("RGB", (side, side), colour)
    square.paste(scaled, ((side - scaled.width) // 2, (side - scaled.height) // 2))
    return _to_array(square.resize((size, size), Image.Resampling.BICUBIC, reducing_gap=3.0))


VIEWS: dict[str, Callable] = {
    "centre": centre,
    "whole": whole,
    "framed": framed,
    "left": _end(True),
    "right": _end(False),
}
