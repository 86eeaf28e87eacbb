"""Calibrated scores: raw cosine similarities made comparable across kinds of content.

With CLIP-style encoders a text query scores every text passage higher than any image (the
modality gap), so raw scores cannot rank kinds together, and one threshold means different
things per kind. For each (query kind, target kind) pair we estimate how raw scores of
*unrelated* pairs are distributed — generic queries from a fixed bank (text) or the collection's
own images (image) against a sample of the collection — and express a score as a z-score against
that distribution: "how many standard deviations above chance". Stored beside the index with the
encoder id and the catalog generation it was computed at; recomputed when the collection changes.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from searchengine.encoders.base import Encoder
from searchengine.index_folder import IndexFolder

CALIBRATION = "calibration.json"
CALIBRATION_VERSION = 2
SAMPLE_PER_KIND = 2000
MIN_SAMPLES = 8
# Which tower embeds each kind: kinds with too few samples borrow the statistics of a kind
# embedded the same way.
TOWER = {"image": "image", "video": "image", "text": "text", "audio": "text"}
DEFAULT_STATS = (0.0, 0.1)


def calibration_kind(kind: str, has_text: bool) -> str:
    """The kind whose statistics a segment follows: a video's keyframes are images, its speech a recording."""
    if kind == "video":
        return "audio" if has_text else "image"
    return kind


def generic_queries() -> list[str]:
    text = resources.files("searchengine").joinpath("calibration_queries.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


@dataclass
class Calibration:
    encoder_id: str
    generation: int
    # "query_kind>target_kind" -> [mean, std] of unrelated raw scores
    stats: dict[str, list[float]] = field(default_factory=dict)
    version: int = CALIBRATION_VERSION

    def z(self, query_kind: str, target_kind: str, raw: float | np.ndarray) -> float | np.ndarray:
        mean, std = self.lookup(query_kind, target_kind)
        return (raw - mean) / std

    def lookup(self, query_kind: str, target_kind: str) -> tuple[float, float]:
        key = f"{query_kind}>{target_kind}"
        if key in self.stats:
            return tuple(self.stats[key])
        for kind, tower in TOWER.items():  # a kind embedded by the same tower
            if tower == TOWER.get(target_kind) and f"{query_kind}>{kind}" in self.stats:
                return tuple(self.stats[f"{query_kind}>{kind}"])
        return DEFAULT_STATS

    @classmethod
    def read(cls, folder: Path) -> "Calibration | None":
        try:
            data = json.loads((folder / CALIBRATION).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if data.get("version") != CALIBRATION_VERSION:
            return None
        return cls(**data)

    def write(self, folder: Path) -> None:
        tmp = folder / (CALIBRATION + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, folder / CALIBRATION)


def _stats(scores: np.ndarray) -> list[float]:
    return [float(scores.mean()), float(max(scores.std(), 1e-3))]


def estimate(encoder: Encoder, samples: dict[str, tuple[np.ndarray, np.ndarray]], generation: int,
             text_bank: np.ndarray | None = None, pseudo_queries: int = 300) -> Calibration:
    """Calibration from per-kind samples {kind: (item ids, vectors)} of the collection.

    Text queries: the generic bank plus a sample of the collection's own text-tower segments
    (passages, transcripts), so similarity the collection shares with itself (boilerplate,
    templates) counts as chance. Image queries: the collection's own images. Pairs from the same
    item are left out (a photo matches itself).
    """
    bank = text_bank if text_bank is not None else encoder.embed_texts(generic_queries())
    dim = bank.shape[1]
    empty = (np.zeros(0, np.int64), np.zeros((0, dim), np.float32))
    text_items = [samples[k] for k in samples if TOWER.get(k) == "text"]
    own_items = np.concatenate([i for i, _ in text_items])[:pseudo_queries] if text_items else empty[0]
    own_vectors = np.concatenate([v for _, v in text_items])[:pseudo_queries] if text_items else empty[1]
    query_sets = {
        "text": (np.concatenate([np.full(len(bank), -1, np.int64), own_items]), np.concatenate([bank, own_vectors])),
        "image": tuple(a[:500] for a in samples.get("image", empty)),
    }
    cal = Calibration(encoder_id=encoder.id, generation=generation)
    for kind, (items, vectors) in samples.items():
        if len(vectors) < MIN_SAMPLES:
            continue
        for query_kind, (query_items, queries) in query_sets.items():
            if len(queries) < MIN_SAMPLES:
                continue
            unrelated = query_items[:, None] != items[None, :]
            if unrelated.sum() >= MIN_SAMPLES:
                cal.stats[f"{query_kind}>{kind}"] = _stats((queries @ vectors.T)[unrelated])
    return cal


def current_calibration(index: IndexFolder, encoder: Encoder, write: bool) -> Calibration:
    """The index's calibration, recomputed when it is missing or older than the catalog."""
    generation = index.catalog.generation()
    cal = Calibration.read(index.folder)
    if cal is not None and cal.encoder_id == encoder.id and cal.generation == generation:
        return cal
    cal = estimate(encoder, index.catalog.sample_by_kind(encoder.dim, SAMPLE_PER_KIND), generation)
    if write:
        cal.write(index.folder)
    return cal
