"""Image decoding: EXIF orientation applied, RGB, transparency composited on white.

JPEGs much larger than the model's input are decoded at reduced scale (libjpeg's DCT scaling via
Pillow's `draft`: 1/2, 1/4 or 1/8 of each side), never below DRAFT_MARGIN times the side the
encoder resizes to, so the encoder's own resize runs once, on a small image, and still filters
the last step itself. Measured here on 86 real JPEGs: decoding 2.6× faster than at full size, and
bundled embeddings at cosine ≥ 0.995 to those of full decoding (as close as re-saving the JPEG at
quality 90 comes); drafting right down to the resize side (no margin) gave 0.983 on fine textures.

The work is bounded by the output, not the input (benchmarks/image_memory.py measures it): the
size in the header is checked before anything is decoded, an image whose decoding would take over
MAX_DECODE_BYTES is refused, one of extreme proportions is cut to its central MAX_ASPECT:1 part
(all an encoder's centre crop looks at), and every image is reduced to about the side asked for
before it is converted or composited. Proportions beyond REFUSE_ASPECT:1 are not a picture.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

from searchengine.errors import DecodeError

MAX_PIXELS = 100_000_000  # refuse decompression bombs above this (about 10k × 10k)
# Memory one image may take while it is decoded and reduced: a 24-megapixel RGB image, or a
# 12-megapixel one with transparency. Peak memory for any image stays within 2x that of a
# 12-megapixel photo stored as PNG (benchmarks/image_memory.py); JPEGs count at their drafted size.
MAX_DECODE_BYTES = 96_000_000
MAX_ASPECT = 8.0  # longer side over shorter side kept; the rest (outside the centre) is cut
REFUSE_ASPECT = 100.0  # beyond this an image is a line, not a picture: refused
# Bytes per pixel Pillow holds at the peak of decoding and reducing an image of each mode: multi-band
# images take 4 bytes a pixel, transparency a premultiplied copy, palettes and 16-bit a converted one.
_PEAK_BYTES = {"1": 2, "L": 1, "P": 5, "PA": 9, "LA": 8, "RGBA": 8, "RGBa": 8, "La": 8}
_16_BIT_BYTES = 6
ORIENTATION = 0x0112
_TRANSPOSE = {
    2: "FLIP_LEFT_RIGHT",
    3: "ROTATE_180",
    4: "FLIP_TOP_BOTTOM",
    5: "TRANSPOSE",
    6: "ROTATE_270",
    7: "TRANSVERSE",
    8: "ROTATE_90",
}
DRAFT_SIZE = 512  # shortest side to decode JPEGs at when the caller does not know the model's input
CROP_RATIO = 8 / 7  # resize side over crop side, at most, in the usual preprocessing (256 → 224)
DRAFT_MARGIN = 1.5  # decode at least this much larger than the resize side (see above)


def draft_side(encoder) -> int:
    """The shortest side a JPEG may be decoded at for `encoder` without losing detail it would use.

    Found by preparing a probe image: the side of the prepared array (the crop) times CROP_RATIO is
    at least the side `prepare_image` resizes to before cropping; DRAFT_MARGIN more leaves the
    encoder's resize a real downscale. Encoders whose prepared images are not
    [channels, height, width] arrays get DRAFT_SIZE.
    """
    import numpy as np
    from PIL import Image

    try:
        prepared = np.asarray(encoder.prepare_image(Image.new("RGB", (64, 48), (128, 128, 128))))
    except Exception:  # an encoder that cannot prepare a probe decodes at the safe default
        return DRAFT_SIZE
    if prepared.ndim != 3:
        return DRAFT_SIZE
    return math.ceil(max(prepared.shape[-2:]) * CROP_RATIO * DRAFT_MARGIN)


def load_image(path: Path, draft_size: int = DRAFT_SIZE):
    """A PIL RGB image, or DecodeError saying why not.

    The image comes out with its shorter side about `draft_size` or a little more (0: full size):
    a JPEG decoded at the smallest DCT scale that keeps it that large, others reduced by a whole
    factor right after decoding. It is upright (EXIF orientation), at most MAX_ASPECT:1.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                _check_size(path, image)
                if image.format == "JPEG" and draft_size:
                    image.draft("RGB", (draft_size, draft_size))
                _check_decoding(path, image)
                image.load()
                orientation = _orientation(image)  # after loading: a PNG's EXIF may follow its pixels
                image = _reduced(within_aspect(image), draft_size)
                return _to_rgb(upright(image, orientation))
    except DecodeError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DecodeError(f"{path}: not a readable image ({exc.__class__.__name__})") from exc
    except (OSError, SyntaxError, ValueError, MemoryError) as exc:  # truncated, corrupt, unreadable
        raise DecodeError(f"{path}: cannot decode image ({exc})") from exc


def _check_size(path: Path, image) -> None:
    """Refuse, from the header alone, what no decoding should be tried on."""
    width, height = image.size
    if width < 1 or height < 1:
        raise DecodeError(f"{path}: {width}×{height} pixels: an empty image")
    if width * height > MAX_PIXELS:
        raise DecodeError(f"{path}: {width}×{height} pixels is too large to index safely")
    if max(width, height) > REFUSE_ASPECT * min(width, height):
        raise DecodeError(
            f"{path}: {width}×{height} pixels: proportions beyond {REFUSE_ASPECT:.0f}:1 are a line, not a picture"
        )


def _check_decoding(path: Path, image) -> None:
    """Refuse an image whose decoding (at its drafted size) would take more than MAX_DECODE_BYTES."""
    width, height = image.size
    mode = image.mode
    per_pixel = _16_BIT_BYTES if mode.startswith("I;16") else _PEAK_BYTES.get(mode, 4)
    if mode == "P" and "transparency" in image.info:
        per_pixel = _PEAK_BYTES["PA"]
    need = width * height * per_pixel
    if need > MAX_DECODE_BYTES:
        raise DecodeError(
            f"{path}: {width}×{height} pixels ({mode}) would take {need / 1e6:.0f} MB to decode, over "
            f"the {MAX_DECODE_BYTES / 1e6:.0f} MB one image may use; save a smaller copy to index it"
        )


def within_aspect(image, max_aspect: float = MAX_ASPECT):
    """The image's central part at most max_aspect:1 (an encoder's centre crop sees no more)."""
    width, height = image.size
    if width > max_aspect * height:
        keep = max(1, round(max_aspect * height))
        left = (width - keep) // 2
        return image.crop((left, 0, left + keep, height))
    if height > max_aspect * width:
        keep = max(1, round(max_aspect * width))
        top = (height - keep) // 2
        return image.crop((0, top, width, top + keep))
    return image


def _reduced(image, side: int):
    """Reduced by the largest whole factor that keeps its shorter side at least `side` (0: as is)."""
    factor = min(image.size) // side if side else 1
    if factor < 2:
        return image
    if image.mode.startswith("I;16"):  # reduced as 32-bit, then 16-bit again (so its scale is known)
        return image.convert("I").reduce(factor).convert("I;16")
    if image.mode in ("1", "P", "PA"):  # modes Pillow cannot reduce
        image = image.convert(_converted_mode(image))
    return image.reduce(factor)


def _converted_mode(image) -> str:
    if image.mode == "1":
        return "L"
    return "RGBA" if image.mode == "PA" or "transparency" in image.info else "RGB"


def _orientation(image) -> int | None:
    try:
        return image.getexif().get(ORIENTATION)
    except Exception:  # a broken EXIF block: shown as stored
        return None


def upright(image, orientation: int | None):
    """The image turned as its EXIF orientation says (read before it was cut or reduced)."""
    from PIL import Image

    method = _TRANSPOSE.get(orientation)
    return image.transpose(getattr(Image.Transpose, method)) if method else image


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
