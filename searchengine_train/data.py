"""Captioned image sets (folders in the benchmarks' evaluation format) with their cached features."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from searchengine_train.features import image_evidence, image_features, text_embeddings


@dataclass
class PairSet:
    """Images (frozen EfficientNet outputs) and their captions (frozen text embeddings)."""

    name: str
    logits: np.ndarray  # [n, 1000]
    features: np.ndarray  # [n, 1280]
    captions: list[list[str]]  # per image
    texts: list[str]  # unique captions
    text_vectors: np.ndarray  # [len(texts), d]
    image_of_text: list[list[int]]  # for each unique caption, the images it describes
    evidence: np.ndarray | None = None  # [n, len(attributes.ATTRIBUTES)] pixel evidence (eval sets)

    def caption_index(self) -> list[list[int]]:
        """For each image, the indices of its captions in `texts`."""
        where = {t: i for i, t in enumerate(self.texts)}
        return [[where[c] for c in caps] for caps in self.captions]


def read_split(folder: Path, split: str) -> list[dict]:
    """Pairs of one split; for a folder holding every split, never `pairs.jsonl` (it mixes them)."""
    folder = Path(folder)
    path = folder / f"{split}.jsonl"
    if not path.exists():
        meta = json.loads((folder / "split.json").read_text(encoding="utf-8"))
        if meta.get("written") != split:
            raise FileNotFoundError(f"{folder} has no {split}.jsonl and holds split {meta.get('written')!r}")
        path = folder / "pairs.jsonl"
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_pairs(
    folder: Path,
    split: str,
    cache: Path,
    tower: str,
    embed: Callable[[Sequence[str]], np.ndarray],
    max_captions: int = 4,
    backbone: str = "lite0",
    views: Sequence[str] = ("centre",),
    with_evidence: bool = False,
) -> PairSet:
    """A split with its cached features; several `views` are pooled (mean logits and features)."""
    rows = [r for r in read_split(folder, split) if r.get("captions")]
    per_view = [image_features(folder, [r["image"] for r in rows], cache, backbone=backbone, view=v) for v in views]
    feats = per_view[0]
    if len(per_view) > 1:
        feats = type(feats)(
            feats.paths, np.mean([f.logits for f in per_view], axis=0), np.mean([f.features for f in per_view], axis=0)
        )
    captions = [[c for c in r["captions"] if c.strip()][:max_captions] for r in rows]
    texts = sorted({c for caps in captions for c in caps})
    where = {t: i for i, t in enumerate(texts)}
    image_of_text: list[list[int]] = [[] for _ in texts]
    for i, caps in enumerate(captions):
        for c in caps:
            image_of_text[where[c]].append(i)
    vectors = text_embeddings(texts, cache, tower, embed)
    evidence = None
    if with_evidence:
        paths = [r["image"] for r in rows]
        evidence = np.mean([image_evidence(folder, paths, cache, backbone, v) for v in views], axis=0)
    return PairSet(
        f"{Path(folder).name}/{split}", feats.logits, feats.features, captions, texts, vectors, image_of_text, evidence
    )
