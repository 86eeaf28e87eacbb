"""`--preview`: thumbnails of image hits inline, in terminals that speak an image protocol (kitty's
graphics protocol, sixel: kitty, iTerm2, WezTerm, foot, xterm, Windows Terminal …) through
textual-image. Anywhere else, or when the terminal does not answer its query, nothing is shown and
nothing is said: the results are the same without pictures."""

from __future__ import annotations

import logging
from functools import lru_cache

log = logging.getLogger(__name__)

ROWS = 6  # a thumbnail's height, in terminal rows
PREVIEWED = ("image",)


@lru_cache(maxsize=1)
def _image_class():
    """textual-image's renderable for this terminal, or None without an image protocol."""
    try:
        from textual_image import renderable
    except Exception as exc:  # not installed, or its terminal query failed
        log.debug("no previews: %s", exc)
        return None
    if renderable.Image in (renderable.SixelImage, renderable.TGPImage):
        return renderable.Image
    log.debug("no previews: the terminal answers to no image protocol")
    return None


def thumbnail(path: str, kind: str, indent: int):
    """A renderable thumbnail of the file, or None (not an image, no protocol, unreadable)."""
    if kind not in PREVIEWED:
        return None
    image_class = _image_class()
    if image_class is None:
        return None
    from rich.padding import Padding

    try:
        return Padding(image_class(path, width="auto", height=ROWS), (0, 0, 0, indent))
    except Exception as exc:  # an unreadable or vanished file: the hit is listed without a picture
        log.debug("no preview of %s: %s", path, exc)
        return None
