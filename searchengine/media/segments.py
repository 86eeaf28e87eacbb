"""From a file to the segments to embed: one per image, one per text passage, one per speech turn.

A decoder per kind, in a registry; each returns `SegmentInput`s that carry either a prepared image
(for the image tower) or a text (for the text tower), plus where in the file they come from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from searchengine.encoders.base import Encoder
from searchengine.media.images import load_image
from searchengine.media.text import read_text, split_passages


@dataclass
class SegmentInput:
    ordinal: int
    image: np.ndarray | None = None  # prepared by the encoder, for embed_images
    text: str | None = None  # for embed_texts, and stored as the segment's snippet
    char_start: int | None = None
    char_end: int | None = None
    t_start: float | None = None
    t_end: float | None = None


Decoder = Callable[[Path, Encoder], list[SegmentInput]]


def decode_image(path: Path, encoder: Encoder) -> list[SegmentInput]:
    return [SegmentInput(0, image=encoder.prepare_image(load_image(path)))]


def decode_text(path: Path, encoder: Encoder) -> list[SegmentInput]:
    return [
        SegmentInput(i, text=p.text, char_start=p.start, char_end=p.end)
        for i, p in enumerate(split_passages(read_text(path)))
    ]


DECODERS: dict[str, Decoder] = {"image": decode_image, "text": decode_text}
