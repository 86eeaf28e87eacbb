"""Image decoding: EXIF orientation applied, RGB, transparency composited on white."""

from __future__ import annotations

import warnings
from pathlib import Path

from searchengine.errors import DecodeError

MAX_PIXELS = 100_000_000  # refuse decompression bombs above this (about 10k × 10k)
DRAFT_SIZE = 512  # JPEGs much larger than the model input are decoded at reduced scale


def load_image(path: Path, draft_size: int = DRAFT_SIZE):
    """A PIL RGB image, or DecodeError saying why not."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise DecodeError(f"{path}: {image.width}×{image.height} pixels is too large to index safely")
                if image.format == "JPEG" and draft_size:
                    image.draft("RGB", (draft_size, draft_size))
                image.load()
                image = ImageOps.exif_transpose(image)
                return _to_rgb(image)
    except DecodeError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DecodeError(f"{path}: not a readable image ({exc.__class__.__name__})") from exc
    except (OSError, SyntaxError, ValueError) as exc:  # truncated, corrupt, unreadable
        raise DecodeError(f"{path}: cannot decode image ({exc})") from exc


def _to_rgb(image):
    from PIL import Image

    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode.startswith("I") or image.mode == "F":  # 16/32-bit integer or float greyscale
        import numpy as np

        values = np.asarray(image, dtype=np.float32)
        top = 65535.0 if image.mode.startswith("I;16") else max(float(values.max()), 1.0)
        return Image.fromarray(np.clip(values / top * 255.0, 0, 255).astype(np.uint8)).convert("RGB")
    return image.convert("RGB")


EXIF_IFD = 0x8769
DATE_TIME_ORIGINAL = 36867


def capture_time(path: Path):
    """When a photo was taken, from its EXIF DateTimeOriginal (camera local time, naive datetime),
    or None when the file has no such tag or it is unreadable. Reads the header only."""
    from datetime import datetime

    from PIL import Image

    try:
        with Image.open(path) as image:
            value = image.getexif().get_ifd(EXIF_IFD).get(DATE_TIME_ORIGINAL)
    except Exception:  # no EXIF, a broken EXIF block or an unreadable file: the file time is used instead
        return None
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="ignore")
    try:
        return datetime.strptime(str(value).strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:  # absent, blank ("    :  :  ") or malformed
        return None
