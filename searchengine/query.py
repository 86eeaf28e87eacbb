"""Queries: embed words and/or images, search the vector index, re-rank, calibrate, filter, collapse.

A query is a weighted mix of positive parts (words, an image, an indexed segment for "more like
this") minus negative words. Candidates come from the ANN index, one segment group at a time
(images, passages, recordings, a video's keyframes, its speech: see `_gather`), are re-scored
exactly with the stored vectors when the index is approximate, turned into calibrated scores
(comparable across kinds, see calibration.py), filtered (kind, path glob, date, an explicit
cutoff) and collapsed to one hit per file (its best segment) unless every segment is asked for;
a list of any kind interleaves its kinds (fusion.py), and copies of a query image come first.
Every hit carries a confidence (confidence.py); the default lists the k best whatever it is.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import numpy as np

from searchengine import confidence, hybrid
from searchengine.calibrate import current_calibration
from searchengine.calibration import Calibration, QueryCalibration
from searchengine.encoders.base import Encoder, l2_normalize
from searchengine.encoders.registry import load_encoder
from searchengine.errors import DecodeError, QueryError, UsageError
from searchengine.fusion import KIND_STEP, fuse_moments, interleave_kinds
from searchengine.hits import Hit
from searchengine.kinds import ANY, FILTER_GROUPS, FILTERS, IMAGE, VIDEO, calibration_kind, segment_group, tower
from searchengine.lexical import WordQuery, file_words, fts_phrase, may_hold, parse, words
from searchengine.media.copies import Fingerprint, fingerprint, same_picture
from searchengine.media.images import load_image
from searchengine.store.folder import IndexFolder, check_model, encoder_name
from searchengine.store.records import SegmentRecord, valid_id
from searchengine.vectors.base import Subset

log = logging.getLogger(__name__)

NEGATIVE_WEIGHT = 0.5
HYBRID, WORDS, MEANING = "hybrid", "words", "meaning"  # search by both, by the word index alone, by the vectors alone
MODES = (HYBRID, WORDS, MEANING)
# Terms held by more than this share of the texts (and COMMON_MIN of them) are scored but not looked
# up in a hybrid search: they find much of the collection, and ranking all of it is what costs a word
# search most (the meaning finds what such words are about). Searching by words alone looks them up.
COMMON, COMMON_MIN = 0.005, 500
MARGIN_LEADERS = 5  # best hits a hit's margin is measured against (duplicates of it skipped)
COPY_CHECKS = 5  # nearest images whose pixels an image query compares with its own (copies rank first)
SAME_EMBEDDING = 0.995  # a cosine only the same pixels give (distinct stamps: 0.973 at most): no need to look
COPY_SPREAD = 0.15  # ... those within this raw cosine of the nearest (Tux Paint copies: within 0.13)


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
    semantic: float = 0.0  # the calibrated score by meaning alone
    by_meaning: bool = True  # found by the vector search (not only through the word index)
    words: float = 0.0  # hybrid.strength of its words
    word_rank: int | None = None  # its place in the word index's order (1 = best)


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
        self.kind_step = KIND_STEP  # how kinds interleave in a list of any kind (fusion.interleave_kinds)
        self.fusion = hybrid.DEFAULT
        self._has_words: bool | None = None
        self._text_count: int | None = None

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
    def search(
        self, query: Query, filters: Filters = Filters(), k: int = 10, segments: bool = False, mode: str = HYBRID
    ) -> list[Hit]:
        """The k best hits by words and meaning (mode: hybrid, or words or meaning alone)."""
        return [hit for hit, _ in self.assessed_query(query, filters, k, segments, mode)]

    def assessed_query(
        self, query: Query, filters: Filters = Filters(), k: int = 10, segments: bool = False, mode: str = HYBRID
    ) -> list[tuple[Hit, confidence.Evidence]]:
        """`assessed` for a query: its words taken apart (lexical.py), the rest embedded."""
        word_query, meant = split_words(query, mode)
        vector, query_kind = self.embed_query(meant) if meant is not None else (None, "text")
        exclude = {query.like} if query.like is not None else set()
        return self.assessed(
            vector, query_kind, filters, k, segments, exclude, copies_of(query, query_kind), word_query, mode
        )

    def search_vector(
        self,
        vector: np.ndarray,
        query_kind: str = "text",
        filters: Filters = Filters(),
        k: int = 10,
        segments: bool = False,
        exclude: set[int] = frozenset(),
        copy_of: Path | None = None,
    ) -> list[Hit]:
        return [hit for hit, _ in self.assessed(vector, query_kind, filters, k, segments, exclude, copy_of)]

    def assessed(
        self,
        vector: np.ndarray | None,
        query_kind: str = "text",
        filters: Filters = Filters(),
        k: int = 10,
        segments: bool = False,
        exclude: set[int] = frozenset(),
        copy_of: Path | None = None,
        word_query: WordQuery | None = None,
        mode: str = HYBRID,
    ) -> list[tuple[Hit, confidence.Evidence]]:
        """The hits, best first, each with its confidence and the evidence it was judged on.

        Each segment group is searched for its own best (a FAISS search restricted to the group's
        ids), so its k best files are exact however far down the overall raw order they lie;
        within a group the calibrated score grows with the raw one, so the groups' best, merged
        by calibrated score, are the k best overall. A list of any kind for a query in words
        interleaves its kinds by their own rank (fusion.interleave_kinds), which each kind's k
        best are enough for; an image query's is by score. An
        image query's copies (`copy_of`: its file) come first (`_promote_copies`). With a word query (and a word index), the
        segments whose words match join them, each scored by meaning too, and the two are fused
        (hybrid.py); what the query requires (quoted phrases, name:, path:) filters them all."""
        if k < 1:
            raise UsageError("{-k} must be at least 1")
        model = confidence.for_model(self.encoder.id)
        scale = self.calibration.for_query(vector, query_kind) if vector is not None else None
        candidates: list[_Candidate] = []
        if scale is not None:  # this query's baseline per kind
            for group in self._groups(filters):
                candidates += self._gather(vector, query_kind, group, scale, filters, k, segments, exclude)
        if query_kind == "image":
            _promote_copies(candidates, model.near_copy, copy_of)
        for c in candidates:
            c.semantic = c.score
        if word_query is not None and (word_query.terms or word_query.required):
            candidates = self._with_words(candidates, word_query, vector, scale, filters, k, exclude, mode)
        by_segment = {c.record.segment_id: c for c in candidates}
        by_group: dict[str, list[float]] = {}
        towers: dict[str, str] = {}
        for c in candidates:
            by_group.setdefault(c.group, []).append(c.semantic)
            towers[c.group] = tower(calibration_kind(c.record.kind, c.record.text is not None))
        references = confidence.lead_references(by_group, towers)
        hits, listed = self._rank(candidates, filters, k, segments, interleave=query_kind == "text")
        margins = self._margins(hits, listed, model.near_copy)
        evidence = [
            self._evidence(hit, by_segment[hit.segment_id], references, query_kind, margin, scale)
            for hit, margin in zip(hits, margins)
        ]
        levels = confidence.assess(evidence, model)
        return [(replace(hit, confidence=lvl), e) for hit, lvl, e in zip(hits, levels, evidence)]

    def _margins(self, hits: list[Hit], listed: list[Hit], same: float) -> list[float]:
        """Each hit's score minus the best other hit's (negative below the best; 0 when alone). A
        duplicate of the hit (stored vectors at a cosine of `same` or more: the same photo twice)
        is not another hit: a collection that holds a picture twice must not make it less sure."""
        leaders = sorted(listed, key=lambda h: h.score, reverse=True)[:MARGIN_LEADERS]
        ids = sorted({h.segment_id for h in [*hits, *leaders]})
        vectors = dict(zip(ids, self.index.catalog.vectors_of(np.array(ids, dtype=np.int64), self.encoder.dim)))
        margins = []
        for hit in hits:
            others = [
                h.score
                for h in leaders
                if h.segment_id != hit.segment_id and float(vectors[h.segment_id] @ vectors[hit.segment_id]) < same
            ]
            margins.append(hit.score - others[0] if others else 0.0)
        return margins

    def _evidence(
        self,
        hit: Hit,
        c: _Candidate,
        references: dict[str, float],
        query_kind: str,
        margin: float,
        scale: QueryCalibration | None,
    ) -> confidence.Evidence:
        target = calibration_kind(c.record.kind, c.record.text is not None)
        return confidence.Evidence(
            calibrated=scale is None or scale.calibrated(target),
            z=c.semantic,
            z_prior=float(self.calibration.z(query_kind, target, c.raw)) if c.by_meaning or c.raw else 0.0,
            lead=c.semantic - references[c.group],
            cross=tower(target) != query_kind,
            near_copy=c.near_copy,
            margin=margin,
            exact=c.words >= hybrid.STRONG,
        )

    # --- words ------------------------------------------------------------------------------------
    @property
    def has_words(self) -> bool:
        """Whether the index has a word index (store/words.py); without one, search goes by meaning."""
        if self._has_words is None:
            self._has_words = self.index.catalog.has_words()
            if not self._has_words:
                log.info("%s has no word index yet: searching by meaning alone", self.index.folder)
        return self._has_words

    def _with_words(
        self,
        candidates: list[_Candidate],
        word_query: WordQuery,
        vector: np.ndarray | None,
        scale: QueryCalibration | None,
        filters: Filters,
        k: int,
        exclude,
        mode: str,
    ) -> list[_Candidate]:
        """The candidates with those the word index finds added (scored by meaning too), each with
        its word strength and fused score; those that miss a requirement of the query left out."""
        rarity = None  # without a word index (or by meaning alone): the requirements filter, words score nothing
        if self.has_words and mode != MEANING:
            if self._text_count is None:
                self._text_count = self.index.catalog.text_count()
            n = self._text_count
            terms = word_query.terms + word_query.names
            counts = self.index.catalog.word_counts({w for t in terms for w in t})
            held_by = {t: min(counts.get(w, 0) for w in t) for t in terms}  # at most as many as the rarest word
            limit = max(COMMON * n, COMMON_MIN)
            for t in word_query.terms:  # a phrase or code: exactly, unless even its rarest word is common
                if len(t) > 1 and 0 < held_by[t] <= limit:
                    held_by[t] = self.index.catalog.text_match_count(fts_phrase(t))
            rarity = hybrid.term_rarity(held_by, n)
            common = {t for t in word_query.terms if held_by[t] > limit and mode != WORDS}
            fetch = max(4 * k, 64)
            ranked: list[int] = []
            if (match := word_query.text_match(common)) is not None:
                ranked += self.index.catalog.text_matches(match, fetch)
            if (match := word_query.name_match(common)) is not None:
                ranked += self.index.catalog.name_matches(match, fetch)
            order = {sid: i + 1 for i, sid in enumerate(dict.fromkeys(ranked))}
            known = {c.record.segment_id for c in candidates}
            extra = [sid for sid in order if sid not in known and sid not in exclude]
            candidates = candidates + self._word_candidates(extra, vector, scale, filters)
            for c in candidates:
                c.word_rank = order.get(c.record.segment_id)
        kept = []
        needles = {w for t in word_query.terms + word_query.phrases for w in t}
        for c in candidates:
            text = c.record.text
            text_words = words(text) if text and may_hold(text, needles) else []
            name_words, folder_words = file_words(c.record.path)
            if not word_query.satisfied_by(text_words, name_words, folder_words):
                continue
            if rarity is not None:
                c.words = hybrid.strength(word_query, rarity, text_words, name_words, self.fusion.floor)
            kept.append(c)
        self._fuse(kept, mode)
        return kept

    def _word_candidates(
        self, ids: list[int], vector: np.ndarray | None, scale: QueryCalibration | None, filters: Filters
    ) -> list[_Candidate]:
        """Candidates found by their words alone, scored by meaning with their stored vectors."""
        if not ids:
            return []
        records = self.index.catalog.segment_records(ids)
        ids = [sid for sid in ids if sid in records and filters.admits(records[sid])]
        raw = (
            self.index.catalog.vectors_of(ids, self.encoder.dim) @ vector
            if vector is not None and ids
            else np.zeros(len(ids))
        )
        out = []
        for sid, score in zip(ids, raw.tolist()):
            record = records[sid]
            has_text = record.text is not None
            target = calibration_kind(record.kind, has_text)
            z = float(scale.z(target, score)) if scale is not None else 0.0
            out.append(_Candidate(record, score, z, segment_group(record.kind, has_text), semantic=z, by_meaning=False))
        return out

    def _fuse(self, candidates: list[_Candidate], mode: str) -> None:
        fusion = self.fusion
        if mode == WORDS:
            for c in candidates:
                c.score = fusion.weight * c.words
            return
        if mode == MEANING:
            return
        if fusion.method == hybrid.RRF:
            by_meaning = sorted(candidates, key=lambda c: c.semantic, reverse=True)
            meaning_rank = {id(c): i + 1 for i, c in enumerate(by_meaning)}
            by_words = sorted((c for c in candidates if c.words > 0), key=lambda c: c.words, reverse=True)
            words_rank = {id(c): i + 1 for i, c in enumerate(by_words)}
            for c in candidates:
                c.score = 100 * hybrid.rrf(meaning_rank[id(c)], words_rank.get(id(c)), fusion)
            return
        for c in candidates:
            c.score = hybrid.blend(c.semantic, c.words, fusion)

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
        self,
        vector,
        query_kind: str,
        group: _Group,
        scale: QueryCalibration,
        filters: Filters,
        k: int,
        segments: bool,
        exclude,
    ) -> list[_Candidate]:
        """A group's candidates, widened until they hold its k best files that pass the filters (or
        nothing left unfetched can clear an explicit cutoff, or the group is exhausted). An image
        query's texts are fetched by cosine and ranked by their hubness-corrected score
        (calibration.hubness): the best of the fetched 4k (at least 64)."""
        fetch = min(group.size, max(4 * k, 64))
        while True:
            raw, ids = self._nearest(vector, fetch, group.subset)
            candidates = self._candidates(vector, query_kind, raw, ids, scale, filters, exclude)
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

    def _candidates(
        self, vector, query_kind: str, raw, ids, scale: QueryCalibration, filters, exclude
    ) -> list[_Candidate]:
        records = self.index.catalog.segment_records(ids)
        corrected = query_kind == "image" and self.calibration.hub_bank() is not None
        texts = corrected and any(
            tower(calibration_kind(r.kind, r.text is not None)) == "text" for r in records.values()
        )
        stored = None
        if len(ids) and (texts or not self.index.vectors.exact_scores):
            stored = self.index.catalog.vectors_of(ids, self.encoder.dim)
            raw = stored @ vector  # exact, whatever the vector index approximated
        hubs = self.calibration.text_hubs(stored) if texts else None
        out = []
        for i, (sid, score) in enumerate(zip(ids.tolist(), raw.tolist())):
            record = records.get(sid)
            if record is None or sid in exclude or not filters.admits(record):
                continue
            has_text = record.text is not None
            target = calibration_kind(record.kind, has_text)
            ranked = score - float(hubs[i]) if hubs is not None and tower(target) == "text" else score
            out.append(_Candidate(record, score, float(scale.z(target, ranked)), segment_group(record.kind, has_text)))
        return out

    def _rank(
        self, candidates: list[_Candidate], filters: Filters, k: int, segments: bool, interleave: bool = True
    ) -> tuple[list[Hit], list[Hit]]:
        """The k hits listed, and every hit that could have been (one per file, or every segment),
        which the confidence's margin is measured against. `interleave`: a list of any kind takes
        its kinds in turn (a query in words; fusion.interleave_kinds), else it is by score."""
        ranked = [_hit(0, c) for c in candidates]

        if any(h.kind == VIDEO for h in ranked):  # what a moment shows and what is said in it, together
            ranked = fuse_moments(ranked)
        ranked.sort(key=lambda h: h.score, reverse=True)
        listed: list[Hit] = []
        seen_items: set[int] = set()
        for hit in ranked:
            if filters.min_score is not None and hit.score < filters.min_score:
                break
            if not segments and hit.item_id in seen_items:
                continue
            seen_items.add(hit.item_id)
            listed.append(hit)
        if filters.kind == ANY and interleave:  # several kinds in one list: each kind's best near the top
            listed = interleave_kinds(listed, self.kind_step)
        hits: list[Hit] = []
        per_kind: dict[str, int] = {}
        for hit in listed:
            if filters.per_kind is not None and per_kind.get(hit.kind, 0) >= filters.per_kind:
                continue
            per_kind[hit.kind] = per_kind.get(hit.kind, 0) + 1
            hits.append(replace(hit, rank=len(hits) + 1))
            if len(hits) >= k:
                break
        return hits, listed

    def glob_matches_no_file(self, filters: Filters) -> bool:
        """True when filters.path_glob matches no indexed file at all (it alone empties any result)."""
        return bool(filters.path_glob) and not any(filters.admits_path(p) for p in self.index.catalog.all_files())

    def search_many(self, queries: Sequence[Query], filters: Filters = Filters(), k: int = 10) -> list[list[Hit]]:
        return [self.search(q, filters, k) for q in queries]


def copies_of(query: Query, query_kind: str) -> Path | None:
    """The picture whose copies rank first: the query image of an image-only query."""
    return query.image if query_kind == "image" and query.image is not None else None


def _promote_copies(candidates: list[_Candidate], near_copy: float, copy_of: Path | None = None) -> None:
    """Images that are copies of the query image (the same picture resized or re-encoded) rank
    first, by raw similarity.

    Image-to-image scores spread widely, so even an identical photo (cosine 1.0) is only about
    3 standard deviations above the query's baseline for images, less than a passage that merely
    mentions the subject gets against the narrow baseline for texts. A copy is put above the best
    other candidate instead. With the query image's file (`copy_of`), copies are the images among
    the COPY_CHECKS nearest (within COPY_SPREAD of the nearest's cosine) whose pixels match it
    (media/copies.py: the embedding alone puts a similar drawing closer than a half-size copy), or
    whose embedding is the query's (SAME_EMBEDDING, no file read); without the file (more like an
    indexed keyframe), images at a raw cosine of at least `near_copy`."""
    pictures = sorted((c for c in candidates if _tower(c) == "image"), key=lambda c: c.raw, reverse=True)
    if copy_of is not None:
        near = [c for c in pictures[:COPY_CHECKS] if c.record.kind == IMAGE and c.raw >= pictures[0].raw - COPY_SPREAD]
        unsure = [c for c in near if c.raw < SAME_EMBEDDING]  # the query's pixels are read only for these
        query = fingerprint(copy_of) if unsure else None
        copies = [c for c in near if c.raw >= SAME_EMBEDDING or (query is not None and _looks_like(query, c))]
    else:
        copies = [c for c in pictures if c.raw >= near_copy]
    if not copies:
        return
    chosen = {id(c) for c in copies}
    floor = max((c.score for c in candidates if id(c) not in chosen), default=0.0) + 1.0
    for c in copies:
        c.score = max(c.score, floor + max(c.raw, 0.0))
        c.near_copy = True


def _looks_like(query: Fingerprint, c: _Candidate) -> bool:
    other = fingerprint(Path(c.record.path))
    return other is not None and same_picture(query, other)


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
        matched=tuple(why for why, yes in (("words", c.words > 0), ("meaning", c.by_meaning)) if yes) or ("meaning",),
    )


def split_words(query: Query, mode: str = HYBRID) -> tuple[WordQuery | None, Query | None]:
    """A query's words taken apart (None without words), and what is left to embed (None when
    nothing is: words alone, or only name:/path: parts)."""
    if mode not in MODES:
        raise UsageError("unknown search mode {mode}: use one of {choices}", mode=mode, choices=", ".join(MODES))
    if query.text is None:
        return None, query if mode != WORDS else None
    word_query = parse(query.text)
    if mode == WORDS:
        return word_query, None
    meant = replace(query, text=word_query.meaning or None)
    if meant.text is None and meant.image is None and meant.like is None:
        return word_query, None
    return word_query, meant
