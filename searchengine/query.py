"""Queries: embed words and/or images, search the vector index, re-rank, calibrate, filter, collapse.

A query is a weighted mix of positive parts (words, an image, an indexed segment for "more like
this") minus negative words. Candidates come from the ANN index, are re-scored exactly with the
stored vectors when the index is approximate, turned into calibrated scores (comparable across
kinds, see calibration.py), filtered (kind, path glob, date, cutoff) and collapsed to one hit per
file (its best segment) unless every segment is asked for.
"""

from __future__ import annotations

import fnmatch
import os
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Sequence

import numpy as np

from searchengine.calibration import Calibration, QueryCalibration, calibration_kind, current_calibration
from searchengine.config import DEFAULT_MIN_SCORE
from searchengine.encoders.base import Encoder, l2_normalize
from searchengine.encoders.registry import load_encoder
from searchengine.errors import DecodeError, QueryError, UsageError
from searchengine.fusion import fuse_moments
from searchengine.index_folder import IndexFolder, check_model, encoder_name
from searchengine.media.images import load_image
from searchengine.paths import json_path
from searchengine.store.records import SegmentRecord

KINDS = ("any", "image", "text", "audio", "video")
NEGATIVE_WEIGHT = 0.5
# the calibration kinds a --type can return (a video's keyframes follow images, its speech recordings)
FILTER_KINDS = {"image": ("image",), "text": ("text",), "audio": ("audio",), "video": ("image", "audio")}


@dataclass(frozen=True)
class Query:
    """What to look for. At least one positive part: text, image or like (a segment id)."""

    text: str | None = None
    image: Path | None = None
    like: int | None = None
    negative: tuple[str, ...] = ()
    image_weight: float = 1.0

    def describe(self) -> str:
        parts = []
        if self.text is not None:
            parts.append(self.text)
        if self.image is not None:
            parts.append(f"image:{self.image}")
        if self.like is not None:
            parts.append(f"like:{self.like}")
        parts += [f"not:{n}" for n in self.negative]
        return " ".join(parts)

    def validate(self) -> None:
        """Refuse an empty or unreadable query before any model is loaded."""
        if self.text is None and self.image is None and self.like is None:
            raise QueryError('nothing to search for: give "words", --image FILE or --like ID')
        if self.text is not None and not self.text.strip():
            raise QueryError("empty query: give some words to search for, or --image FILE")
        if self.image is not None:
            if not self.image.is_file():
                raise QueryError(f"query image {self.image} does not exist")
            try:
                load_image(self.image)
            except DecodeError as exc:
                raise QueryError(f"query image is not a readable image: {exc}") from exc

    @classmethod
    def parse_line(cls, line: str) -> "Query":
        """One line of a --queries file: text, or image:PATH."""
        line = line.strip()
        if line.startswith("image:"):
            return cls(image=Path(line.removeprefix("image:")).expanduser())
        return cls(text=line)


@dataclass(frozen=True)
class Filters:
    kind: str = "any"
    path_glob: str | None = None
    after: datetime | None = None
    before: datetime | None = None
    min_score: float | None = DEFAULT_MIN_SCORE  # None: no cutoff
    per_kind: int | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise UsageError(f"unknown --type {self.kind!r}: use one of {', '.join(KINDS)}")
        if self.per_kind is not None and self.per_kind < 1:
            raise UsageError("--per-kind must be at least 1")

    def admits(self, record: SegmentRecord) -> bool:
        if self.kind != "any" and record.kind != self.kind:
            return False
        if self.path_glob and not _glob_match(record.path, self.path_glob):
            return False
        if self.after or self.before:
            when = record.date  # a photo's EXIF capture date, else the file time
            if (self.after and when < self.after) or (self.before and when >= self.before):
                return False
        return True


def _glob_match(path: str, pattern: str) -> bool:
    if "/" not in pattern:
        return fnmatch.fnmatch(Path(path).name, pattern)
    return fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, f"*/{pattern.lstrip('/')}")


@dataclass(frozen=True)
class Hit:
    rank: int
    score: float  # calibrated: comparable across kinds; ranks the results
    raw_score: float  # cosine similarity in the encoder's space
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
        return {**asdict(self), **json_path(self.path)}  # a name that is not UTF-8: shown, plus its bytes


@dataclass
class _Candidate:
    record: SegmentRecord
    raw: float
    score: float = field(default=0.0)


class Searcher:
    """An open index and the encoder that built it, ready for many queries."""

    def __init__(self, index: IndexFolder, encoder: Encoder):
        self.index = index
        self.encoder = encoder
        self._calibration: Calibration | None = None

    @classmethod
    def open(cls, index_dir: Path, device: str = "auto", backend: str | None = None,
             encoder: Encoder | None = None, loading: Future | None = None) -> "Searcher":
        """The index and its encoder: `encoder` when already loaded, the result of `loading` when
        it is loading in another thread (warmup.py), else loaded here."""
        index = IndexFolder.open(index_dir)
        try:
            if loading is not None:
                index.vectors  # FAISS and the vector file load while the encoder still does
                encoder = loading.result()
            encoder = encoder or load_encoder(encoder_name(index.manifest), device, backend)
            check_model(index.manifest, index.folder, encoder_id=encoder.id)
        except BaseException:
            index.close()
            raise
        return cls(index, encoder)

    def close(self) -> None:
        self.index.close()

    # --- calibration ---------------------------------------------------------------------------
    @property
    def calibration(self) -> Calibration:
        if self._calibration is None:
            # A stale calibration (older format, or made before the last change) is saved once it
            # is recomputed, so the next cold query does not pay for it again. The file is replaced
            # atomically and carries its generation, so a concurrent `index` run cannot be misled.
            writable = os.access(self.index.folder, os.W_OK)
            try:
                self._calibration = current_calibration(self.index, self.encoder, write=writable)
            except OSError:  # a read-only place after all
                self._calibration = current_calibration(self.index, self.encoder, write=False)
        return self._calibration

    # --- query vectors -------------------------------------------------------------------------
    def embed_query(self, query: Query) -> tuple[np.ndarray, str]:
        """The query's unit vector and its kind ("text" or "image", for calibration)."""
        query.validate()
        parts: list[np.ndarray] = []
        kind = "text"
        if query.text is not None:
            parts.append(self.encoder.embed_texts([query.text.strip()])[0])
        if query.image is not None:
            parts.append(query.image_weight * self.encoder.embed_images([load_image(query.image)])[0])
            kind = "image" if query.text is None else kind
        if query.like is not None:
            record = self.index.catalog.segment_records([query.like]).get(query.like)
            if record is None:
                raise QueryError(f"no segment {query.like} in this index: use a segment_id from search --json")
            parts.append(self.index.catalog.vectors_of([query.like], self.encoder.dim)[0])
            if query.text is None and query.image is None:
                kind = "image" if record.kind in ("image", "video") and record.text is None else "text"
        vector = np.sum(parts, axis=0)
        negatives = [n for n in query.negative if n.strip()]
        if negatives:
            vector = vector - NEGATIVE_WEIGHT * len(parts) * self.encoder.embed_texts(negatives).mean(axis=0)
        return l2_normalize(vector[None, :])[0], kind

    # --- searching ------------------------------------------------------------------------------
    def search(self, query: Query, filters: Filters = Filters(), k: int = 10, segments: bool = False) -> list[Hit]:
        vector, query_kind = self.embed_query(query)
        exclude = {query.like} if query.like is not None else set()
        return self.search_vector(vector, query_kind, filters, k, segments, exclude)

    def search_vector(self, vector: np.ndarray, query_kind: str = "text", filters: Filters = Filters(),
                      k: int = 10, segments: bool = False, exclude: set[int] = frozenset()) -> list[Hit]:
        if k < 1:
            raise UsageError("-k must be at least 1")
        vectors = self.index.vectors
        total = vectors.ntotal
        fetch = min(total, max(4 * k, 64))
        scale = self.calibration.for_query(vector, query_kind)  # this query's baseline per kind
        while True:
            raw, ids = self._nearest(vector, fetch)
            candidates = self._candidates(vector, raw, ids, scale, filters, exclude)
            hits = self._rank(candidates, filters, k, segments)
            if fetch >= total or self._complete(hits, raw, scale, filters, k):
                return hits
            fetch = min(total, fetch * 4)

    def _nearest(self, vector: np.ndarray, fetch: int) -> tuple[np.ndarray, np.ndarray]:
        raw, ids = self.index.vectors.search(vector[None, :], fetch)
        keep = ids[0] >= 0
        return raw[0][keep], ids[0][keep]

    @staticmethod
    def _complete(hits: list[Hit], raw: np.ndarray, scale: QueryCalibration, filters: Filters, k: int) -> bool:
        """True when no segment beyond the fetched candidates can enter the results: every unfetched
        segment scores at most the lowest raw score fetched, so at most `best_possible` calibrated
        (kinds differ: a passage far down the raw order can still outrank the images above it)."""
        if not len(raw):
            return False
        lowest = float(raw.min())
        kinds = FILTER_KINDS.get(filters.kind, ("image", "text", "audio"))
        best_possible = max(scale.z(kind, lowest) for kind in kinds)
        if filters.min_score is not None and best_possible < filters.min_score:
            return True
        return len(hits) >= k and hits[-1].score >= best_possible

    def _candidates(self, vector, raw, ids, scale: QueryCalibration, filters, exclude) -> list[_Candidate]:
        if not self.index.vectors.exact_scores and len(ids):  # exact re-ranking with the stored vectors
            raw = self.index.catalog.vectors_of(ids, self.encoder.dim) @ vector
        records = self.index.catalog.segment_records(ids)
        out = []
        for sid, score in zip(ids.tolist(), raw.tolist()):
            record = records.get(sid)
            if record is None or sid in exclude or not filters.admits(record):
                continue
            target = calibration_kind(record.kind, record.text is not None)
            out.append(_Candidate(record, score, float(scale.z(target, score))))
        return out

    def _rank(self, candidates: list[_Candidate], filters: Filters, k: int, segments: bool) -> list[Hit]:
        ranked = [_hit(0, c) for c in candidates]
        if any(h.kind == "video" for h in ranked):  # what a moment shows and what is said in it, together
            ranked = fuse_moments(ranked)
        ranked.sort(key=lambda h: h.score, reverse=True)
        hits: list[Hit] = []
        seen_items: set[int] = set()
        per_kind: dict[str, int] = {}
        for hit in ranked:
            if filters.min_score is not None and hit.score < filters.min_score:
                break
            if not segments and hit.item_id in seen_items:
                continue
            if filters.per_kind is not None and per_kind.get(hit.kind, 0) >= filters.per_kind:
                continue
            seen_items.add(hit.item_id)
            per_kind[hit.kind] = per_kind.get(hit.kind, 0) + 1
            hits.append(replace(hit, rank=len(hits) + 1))
            if len(hits) >= k:
                break
        return hits

    def search_many(self, queries: Sequence[Query], filters: Filters = Filters(), k: int = 10) -> list[list[Hit]]:
        return [self.search(q, filters, k) for q in queries]


def _hit(rank: int, c: _Candidate) -> Hit:
    r = c.record
    return Hit(
        rank=rank, score=round(c.score, 3), raw_score=round(c.raw, 4), path=r.path, kind=r.kind,
        start=r.t_start, end=r.t_end, text=r.text, item_id=r.item_id, segment_id=r.segment_id,
        char_start=r.char_start, char_end=r.char_end,
    )
