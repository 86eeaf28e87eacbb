"""Queries: embed a text or an image, search the vector index, join with the catalog, rank.

Results are one hit per file by default (its best segment); `segments=True` lists every
matching segment instead. A kind filter over-fetches from the index until enough hits of
that kind are found (or the index is exhausted).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from searchengine.encoders.base import Encoder
from searchengine.encoders.registry import load_encoder
from searchengine.errors import DecodeError, QueryError, UsageError
from searchengine.index_folder import IndexFolder, check_model, encoder_name
from searchengine.media.images import load_image
from searchengine.store.catalog import SegmentRecord

KINDS = ("any", "image", "text", "audio", "video")


@dataclass(frozen=True)
class Query:
    text: str | None = None
    image: Path | None = None

    def describe(self) -> str:
        return self.text if self.text is not None else f"image:{self.image}"

    @classmethod
    def parse_line(cls, line: str) -> "Query":
        """One line of a --queries file: text, or image:PATH."""
        line = line.strip()
        if line.startswith("image:"):
            return cls(image=Path(line.removeprefix("image:")).expanduser())
        return cls(text=line)


@dataclass(frozen=True)
class Hit:
    rank: int
    score: float
    path: str
    kind: str
    start: float | None
    end: float | None
    text: str | None
    item_id: int
    segment_id: int
    char_start: int | None = None
    char_end: int | None = None

    def as_json(self) -> dict:
        return asdict(self)


class Searcher:
    """An open index and the encoder that built it, ready for many queries."""

    def __init__(self, index: IndexFolder, encoder: Encoder):
        self.index = index
        self.encoder = encoder

    @classmethod
    def open(cls, index_dir: Path, device: str = "auto") -> "Searcher":
        index = IndexFolder.open(index_dir)
        try:
            encoder = load_encoder(encoder_name(index.manifest), device)
            check_model(index.manifest, index.folder, encoder_id=encoder.id)
        except BaseException:
            index.close()
            raise
        return cls(index, encoder)

    def close(self) -> None:
        self.index.close()

    def embed_query(self, query: Query) -> np.ndarray:
        if query.image is not None:
            if not query.image.is_file():
                raise QueryError(f"query image {query.image} does not exist")
            try:
                image = load_image(query.image)
            except DecodeError as exc:
                raise QueryError(f"query image is not a readable image: {exc}") from exc
            return self.encoder.embed_images([image])[0]
        if not query.text or not query.text.strip():
            raise QueryError("empty query: give some words to search for, or --image FILE")
        return self.encoder.embed_texts([query.text.strip()])[0]

    def search(self, query: Query, kind: str = "any", k: int = 10, segments: bool = False) -> list[Hit]:
        return self.search_vector(self.embed_query(query), kind=kind, k=k, segments=segments)

    def search_vector(self, vector: np.ndarray, kind: str = "any", k: int = 10, segments: bool = False) -> list[Hit]:
        if kind not in KINDS:
            raise UsageError(f"unknown --type {kind!r}: use one of {', '.join(KINDS)}")
        if k < 1:
            raise UsageError("-k must be at least 1")
        vectors = self.index.vectors
        total = vectors.ntotal
        fetch = min(total, max(4 * k, 32))
        while True:
            scores, ids = vectors.search(vector[None, :], fetch)
            hits = self._collect(scores[0], ids[0], kind, k, segments)
            if len(hits) >= k or fetch >= total:
                return hits
            fetch = min(total, fetch * 4)

    def _collect(self, scores: np.ndarray, ids: np.ndarray, kind: str, k: int, segments: bool) -> list[Hit]:
        valid = ids >= 0
        records = self.index.catalog.segment_records(ids[valid])
        hits: list[Hit] = []
        seen_items: set[int] = set()
        for score, sid in zip(scores[valid], ids[valid]):
            record = records.get(int(sid))
            if record is None or (kind != "any" and record.kind != kind):
                continue
            if not segments and record.item_id in seen_items:
                continue
            seen_items.add(record.item_id)
            hits.append(_hit(len(hits) + 1, float(score), record))
            if len(hits) >= k:
                break
        return hits

    def search_many(self, queries: Sequence[Query], kind: str = "any", k: int = 10) -> list[list[Hit]]:
        return [self.search(q, kind=kind, k=k) for q in queries]


def _hit(rank: int, score: float, r: SegmentRecord) -> Hit:
    return Hit(
        rank=rank, score=round(score, 4), path=r.path, kind=r.kind,
        start=r.t_start, end=r.t_end, text=r.text, item_id=r.item_id, segment_id=r.segment_id,
        char_start=r.char_start, char_end=r.char_end,
    )
