"""Queries: embed words and/or images, search the vector index, re-rank, calibrate, filter, collapse.

A query is a weighted mix of positive parts (words, an image, an indexed segment for "more like
this") minus negative words. Candidates come from the ANN index, one segment group at a time
(images, passages, recordings, a video's keyframes, its speech: see `_gather`), are re-scored
exactly with the stored vectors when the index is approximate, turned into calibrated scores
(comparable across kinds, see calibration.py), filtered (kind, path glob, date, an explicit
cutoff) and collapsed to one hit per file (its best segment) unless every segment is asked for.
Every hit carries a confidence (confidence.py); the default lists the k best whatever it is.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import numpy as np

from searchengine import confidence
from searchengine.calibrate import current_calibration
from searchengine.calibration import Calibration, QueryCalibration
from searchengine.encoders.base import Encoder, l2_normalize
from searchengine.encoders.registry import load_encoder
from searchengine.errors import DecodeError, QueryError, UsageError
from searchengine.fusion import fuse_moments
from searchengine.hits import Hit
from searchengine.kinds import ANY, FILTER_GROUPS, FILTERS, IMAGE, VIDEO, calibration_kind, segment_group, tower
from searchengine.media.images import load_image
from searchengine.store.folder import IndexFolder, check_model, encoder_name
from searchengine.store.records import SegmentRecord, valid_id
from searchengine.vectors.base import Subset

NEGATIVE_WEIGHT = 0.5


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
            raise QueryError("nothing to search for: give words, {-image} or {-like}")
        if self.like is not None and not valid_id(self.like):
            raise QueryError("{-like=$like} is not a segment_id: use one from a search result", like=self.like)
        if self.text is not None and not self.text.strip():
            raise QueryError("empty query: give some words to search for, or {-image}")
        if self.image is not None:
            if not self.image.is_file():
                raise QueryError("query image {image} does not exist", image=self.image)
            try:
                load_image(self.image)
            except DecodeError as exc:
                raise QueryError(f"query image is not a readable image: {exc}") from exc

    @classmethod
    def parse_line(cls, line: str) -> Query:
        """One line of a --queries file: text, or image:PATH."""
        line = line.strip()
        if line.startswith("image:"):
            return cls(image=Path(line.removeprefix("image:")).expanduser())
        return cls(text=line)


@dataclass(frozen=True)
class Filters:
    kind: str = ANY
    path_glob: str | None = None
    after: datetime | None = None
    before: datetime | None = None
    min_score: float | None = None  # an explicit cutoff on the calibrated score; None: the k best
    per_kind: int | None = None
    glob_case: bool = False  # path_glob tells upper from lower case (by default it does not)

    def __post_init__(self):
        if self.kind not in FILTERS:
            raise UsageError("unknown {-kind=$kind}: use one of {choices}", kind=self.kind, choices=", ".join(FILTERS))
        if self.per_kind is not None and self.per_kind < 1:
            raise UsageError("{-per_kind} must be at least 1")

    def admits(self, record: SegmentRecord) -> bool:
        if self.kind != ANY and record.kind != self.kind:
            return False
        if not self.admits_path(record.path):
            return False
        if self.after or self.before:
            when = record.date  # a photo's EXIF capture date, else the file time
            if (self.after and when < self.after) or (self.before and when >= self.before):
                return False
        return True

    def admits_path(self, path: str) -> bool:
        return not self.path_glob or _glob_match(path, self.path_glob, self.glob_case)


def _glob_match(path: str, pattern: str, case_sensitive: bool = False) -> bool:
    """A pattern without "/" matches the file name, one with "/" the end of the path."""
    if not case_sensitive:
        path, pattern = path.casefold(), pattern.casefold()
    if "/" not in pattern:
        return fnmatch.fnmatchcase(Path(path).name, pattern)
    return fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(path, f"*/{pattern.lstrip('/')}")


@dataclass
class _Candidate:
    record: SegmentRecord
    raw: float
    score: float = field(default=0.0)
    group: str = ""
    near_copy: bool = False


@dataclass(frozen=True)
class _Group:
    """Segments searched together: their name (segment_group), ids (None: the whole index) and number."""

    name: str
    subset: Subset | None
    size: int


class Searcher:
    """An open index and the encoder that built it, ready for many queries."""

    def __init__(self, index: IndexFolder, encoder: Encoder, cache_dir: Path | None = None):
        self.index = index
        self.encoder = encoder
        self.cache_dir = cache_dir  # the model cache, where the calibration's query bank is kept (None: not kept)
        self._calibration: Calibration | None = None
        self.calibration_computed = False
        self._subsets: dict[str, Subset] | None = None  # per segment group, made on first use

    @classmethod
    def open(
        cls,
        index_dir: Path,
        device: str = "auto",
        backend: str | None = None,
        encoder: Encoder | None = None,
        cache_dir: Path | None = None,
    ) -> Searcher:
        """The index and its encoder: `encoder` when already loaded, else loaded here (with the
        model cache `cache_dir`, which the calibration's query bank uses too)."""
        index = IndexFolder.open(index_dir, upgrade=True)
        try:
            encoder = encoder or load_encoder(encoder_name(index.manifest), device, backend, cache_dir=cache_dir)
            check_model(index.manifest, index.folder, encoder_id=encoder.id)
        except BaseException:
            index.close()
            raise
        return cls(index, encoder, cache_dir)

    def close(self) -> None:
        self.index.close()

    # --- calibration ---------------------------------------------------------------------------
    @property
    def calibration(self) -> Calibration:
        """The index's calibration; computed here (and not written: `calibration_computed` tells
        whoever owns the index that it could keep it) when the kept one is missing or stale."""
        if self._calibration is None:
            self._calibration, self.calibration_computed = current_calibration(self.index, self.encoder, self.cache_dir)
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
                raise QueryError(
                    "no segment {like} in this index: use a segment_id from a search result", like=query.like
                )
            parts.append(self.index.catalog.vectors_of([query.like], self.encoder.dim)[0])
            if query.text is None and query.image is None:
                kind = "image" if record.kind in (IMAGE, VIDEO) and record.text is None else "text"
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

    def search_vector(
        self,
        vector: np.ndarray,
        query_kind: str = "text",
        filters: Filters = Filters(),
        k: int = 10,
        segments: bool = False,
        exclude: set[int] = frozenset(),
    ) -> list[Hit]:
        return [hit for hit, _ in self.assessed(vector, query_kind, filters, k, segments, exclude)]

    def assessed(
        self,
        vector: np.ndarray,
        query_kind: str = "text",
        filters: Filters = Filters(),
        k: int = 10,
        segments: bool = False,
        exclude: set[int] = frozenset(),
    ) -> list[tuple[Hit, confidence.Evidence]]:
        """The hits, best first, each with its confidence and the evidence it was judged on.

        Each segment group is searched for its own best (a FAISS search restricted to the group's
        ids), so its k best files are exact however far down the overall raw order they lie;
        within a group the calibrated score grows with the raw one, so the groups' best, merged
        by calibrated score, are the k best overall."""
        if k < 1:
            raise UsageError("{-k} must be at least 1")
        scale = self.calibration.for_query(vector, query_kind)  # this query's baseline per kind
        model = confidence.for_model(self.encoder.id)
        pools = {g.name: self._gather(vector, g, scale, filters, k, segments, exclude) for g in self._groups(filters)}
        candidates = [c for pool in pools.values() for c in pool]
        if query_kind == "image":
            _promote_copies(candidates, model.near_copy)
        by_segment = {c.record.segment_id: c for c in candidates}
        by_group: dict[str, list[float]] = {}
        for c in candidates:
            by_group.setdefault(c.group, []).append(c.score)
        references = {name: confidence.lead_reference(np.array(scores)) for name, scores in by_group.items()}
        hits = self._rank(candidates, filters, k, segments)
        evidence = [self._evidence(hit, by_segment[hit.segment_id], references, query_kind) for hit in hits]
        levels = confidence.assess(evidence, model)
        return [(replace(hit, confidence=lvl), e) for hit, lvl, e in zip(hits, levels, evidence)]

    def _evidence(self, hit: Hit, c: _Candidate, references: dict[str, float], query_kind: str) -> confidence.Evidence:
        target = calibration_kind(c.record.kind, c.record.text is not None)
        return confidence.Evidence(
            z=hit.score,
            z_prior=float(self.calibration.z(query_kind, target, c.raw)),
            lead=hit.score - references[c.group],
            cross=tower(target) != query_kind,
            near_copy=c.near_copy,
        )

    def _groups(self, filters: Filters) -> list[_Group]:
        cal = self.calibration
        if not cal.groups:  # a single group: the whole index
            wanted = FILTER_GROUPS.get(filters.kind)
            if wanted is not None and cal.group_sizes and not set(wanted) & set(cal.group_sizes):
                return []
            return [_Group("all", None, self.index.vectors.ntotal)]
        wanted = FILTER_GROUPS.get(filters.kind, tuple(cal.groups))
        if self._subsets is None:
            self._subsets = {name: Subset(ids) for name, ids in cal.groups.items()}
        return [_Group(name, self._subsets[name], len(cal.groups[name])) for name in wanted if name in cal.groups]

    def _gather(
        self, vector, group: _Group, scale: QueryCalibration, filters: Filters, k: int, segments: bool, exclude
    ) -> list[_Candidate]:
        """A group's candidates, widened until they hold its k best files that pass the filters (or
        nothing left unfetched can clear an explicit cutoff, or the group is exhausted)."""
        fetch = min(group.size, max(4 * k, 64))
        while True:
            raw, ids = self._nearest(vector, fetch, group.subset)
            candidates = self._candidates(vector, raw, ids, scale, filters, exclude)
            if fetch >= group.size or len(ids) < fetch or self._enough(candidates, raw, scale, filters, k, segments):
                return candidates
            fetch = min(group.size, fetch * 4)

    def _nearest(self, vector: np.ndarray, fetch: int, subset: Subset | None = None) -> tuple[np.ndarray, np.ndarray]:
        raw, ids = self.index.vectors.search(vector[None, :], fetch, subset=subset)
        keep = ids[0] >= 0
        return raw[0][keep], ids[0][keep]

    @staticmethod
    def _enough(
        candidates: list[_Candidate], raw: np.ndarray, scale: QueryCalibration, filters: Filters, k: int, segments: bool
    ) -> bool:
        """True when no unfetched segment of the group can enter the results: k files (or segments)
        already pass the filters, or an explicit cutoff is out of reach of every unfetched one (each
        scores at most the lowest raw score fetched)."""
        found = len(candidates) if segments else len({c.record.item_id for c in candidates})
        if found >= k:
            return True
        if filters.min_score is not None and len(raw) and candidates:
            kind = calibration_kind(candidates[0].record.kind, candidates[0].record.text is not None)
            return float(scale.z(kind, float(raw.min()))) < filters.min_score
        return False

    def _candidates(self, vector, raw, ids, scale: QueryCalibration, filters, exclude) -> list[_Candidate]:
        if not self.index.vectors.exact_scores and len(ids):  # exact re-ranking with the stored vectors
            raw = self.index.catalog.vectors_of(ids, self.encoder.dim) @ vector
        records = self.index.catalog.segment_records(ids)
        out = []
        for sid, score in zip(ids.tolist(), raw.tolist()):
            record = records.get(sid)
            if record is None or sid in exclude or not filters.admits(record):
                continue
            has_text = record.text is not None
            target = calibration_kind(record.kind, has_text)
            out.append(_Candidate(record, score, float(scale.z(target, score)), segment_group(record.kind, has_text)))
        return out

    def _rank(self, candidates: list[_Candidate], filters: Filters, k: int, segments: bool) -> list[Hit]:
        ranked = [_hit(0, c) for c in candidates]
        if any(h.kind == VIDEO for h in ranked):  # what a moment shows and what is said in it, together
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

    def glob_matches_no_file(self, filters: Filters) -> bool:
        """True when filters.path_glob matches no indexed file at all (it alone empties any result)."""
        return bool(filters.path_glob) and not any(filters.admits_path(p) for p in self.index.catalog.all_files())

    def search_many(self, queries: Sequence[Query], filters: Filters = Filters(), k: int = 10) -> list[list[Hit]]:
        return [self.search(q, filters, k) for q in queries]


def _promote_copies(candidates: list[_Candidate], near_copy: float) -> None:
    """Images (and keyframes) that are copies of the query image rank first, by raw similarity.

    Image-to-image scores spread widely, so even an identical photo (cosine 1.0) is only about
    3 standard deviations above the query's baseline for images, less than a passage that merely
    mentions the subject gets against the narrow baseline for texts. A copy is put above the best
    other candidate instead."""
    copies = [c for c in candidates if c.raw >= near_copy and _tower(c) == "image"]
    if not copies:
        return
    floor = max((c.score for c in candidates if not (c.raw >= near_copy and _tower(c) == "image")), default=0.0) + 1.0
    for c in copies:
        c.score = max(c.score, floor + (c.raw - near_copy))
        c.near_copy = True


def _tower(c: _Candidate) -> str:
    return tower(calibration_kind(c.record.kind, c.record.text is not None))


def _hit(rank: int, c: _Candidate) -> Hit:
    r = c.record
    return Hit(
        rank=rank,
        score=round(c.score, 3),
        raw_score=round(c.raw, 4),
        path=r.path,
        kind=r.kind,
        start=r.t_start,
        end=r.t_end,
        text=r.text,
        item_id=r.item_id,
        segment_id=r.segment_id,
        char_start=r.char_start,
        char_end=r.char_end,
        page=r.page,
        source=r.source,
    )
