"""`demo`: a deterministic stand-in encoder with no weights, for tests and for trying the library
without a model (as llm's `embed-demo`). It is not semantic and never a default: name it to use it.

Texts: each lower-cased word is hashed to a few signed dimensions, and a text's vector is the sum
of its distinct words', normalised, so texts that share words score higher. Images: the name of the colour
that covers most of the picture is embedded as a word is, plus a small pseudo-random projection
of the grey thumbnail, so "red" finds mostly red pictures and no two different pictures are equal.
`demo:N` has N dimensions (default 256).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from searchengine.encoders.base import Runtime, l2_normalize, stack_prepared
from searchengine.errors import UnknownModel

DIM = 256
PROBES = 2  # dimensions a word is hashed to
THUMB = 8  # side of the grey thumbnail
COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 180, 30),
    "blue": (30, 60, 220),
    "yellow": (230, 220, 40),
    "black": (10, 10, 10),
    "white": (245, 245, 245),
    "grey": (128, 128, 128),
}
_WORD = re.compile(r"\w+")


def _word_vector(word: str, dim: int) -> np.ndarray:
    digest = hashlib.blake2b(word.encode("utf-8"), digest_size=2 * PROBES).digest()
    vector = np.zeros(dim, np.float32)
    for i in range(PROBES):
        vector[digest[2 * i] % dim] += 1.0 if digest[2 * i + 1] & 1 else -1.0
    return vector


def _colour_name(rgb: np.ndarray) -> str:
    return min(COLOURS, key=lambda name: float(np.sum((rgb - np.asarray(COLOURS[name])) ** 2)))


class DemoEncoder:
    device = "cpu"
    runtime = "numpy"

    def __init__(self, dim: int = DIM):
        self.dim = dim
        self.id = "demo" if dim == DIM else f"demo:{dim}"
        self._projection = np.random.default_rng(dim).standard_normal((THUMB * THUMB, dim)).astype(np.float32)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            for word in set(_WORD.findall(text.lower())) or {""}:
                out[row] += _word_vector(word, self.dim)
        return l2_normalize(out)

    def prepare_image(self, image) -> np.ndarray:
        """[3 + THUMB²]: the colour name's index among COLOURS, then the grey thumbnail in [0, 1]."""
        rgb = image.convert("RGB")
        mean = np.asarray(rgb.resize((1, 1)), np.float32).reshape(3)
        grey = np.asarray(rgb.convert("L").resize((THUMB, THUMB)), np.float32).reshape(-1) / 255.0
        return np.concatenate([[list(COLOURS).index(_colour_name(mean)), 0.0, 0.0], grey]).astype(np.float32)

    def embed_images(self, images: Sequence) -> np.ndarray:
        if not images:
            return np.zeros((0, self.dim), np.float32)
        prepared = stack_prepared(self, images)
        colours = [list(COLOURS)[int(row[0])] for row in prepared]
        vectors = np.stack([_word_vector(name, self.dim) for name in colours]) * 2.0
        return l2_normalize(vectors + 0.5 * l2_normalize((prepared[:, 3:] - 0.5) @ self._projection))


def load_demo(spec: str, runtime: Runtime) -> DemoEncoder:
    if spec and not spec.isdigit():
        raise UnknownModel("unknown demo variant {spec}: use 'demo' or 'demo:DIMENSIONS'", spec=repr(spec))
    return DemoEncoder(int(spec) if spec else DIM)
