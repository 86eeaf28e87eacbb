"""Calibrated scores: raw cosine similarities made comparable across kinds of content.

With CLIP-style encoders a text query scores every text passage higher than any image (the
modality gap), so raw scores cannot rank kinds together, and one threshold means different
things per kind. A calibrated score is a z-score: how many standard deviations a raw score lies
above the scores *this query* gets from the items of that kind, most of which are unrelated to it.

- Per query: the query is scored against a fixed sample of each kind's own segments (up to
  SAMPLE_PER_KIND, kept in the calibration file); the top TRIM share of those scores is dropped
  (the query's real matches, or the query itself for "more like this"), the rest give a mean and
  a standard deviation per kind. A query whose words resemble every passage (or a combined or
  negative query, whose vector has its own scale) is measured against its own baseline.
- Prior per (query kind, target kind): how generic queries (a fixed bank of everyday texts plus
  the collection's own passages; for image queries the collection's own images) score against
  the sample. It stands in for kinds too small to sample, and is blended into the per-query
  statistics with the weight of PRIOR_WEIGHT samples, which matters only in small collections.
- A collection with (almost) no words of its own (photos, a few of them showing a sign) has no
  text sample to measure a query against: the generic queries stand in for its passages.
- A kind too small to sample (five photos) still gets a prior from the pairs it has (each photo
  against the others, the generic queries against each photo) rather than DEFAULT_STATS, which
  is no encoder's scale.

- Image queries against texts: a text close to every picture of the collection (a hub: "a photo
  of something") would be the best caption of many pictures, so an image query scores each text
  by its cosine minus the mean of the text's HUB_K best cosines with the collection's images (the
  sample kept for image statistics), as CSLS does for word translation. Chosen on validation
  (benchmarks/README.md, "Image to text"): image-to-text R@1 on the photo test split 0.372 → 0.512.
  Text queries are not corrected: the same correction of images lowered text-to-image R@1.

Measured on the Tux Paint mixed collection (benchmarks/ranking.py), the per-query statistics are
what makes kinds interleave in proportion to their size for unrelated queries, where one global
mean and spread per pair gave text passages a tenth of the places they earn alone.

The file also lists which segments belong to which group (segment_group: images, passages,
recordings, a video's keyframes and its speech) when the index holds more than one, so a search can
ask the vector index for each group's best separately (query.py) without reading the catalog.

Stored beside the index (calibration.npz) with the encoder id and the catalog generation it was
computed at; recomputing it embeds nothing (the bank's vectors are kept in the file) and reads a
sample of stored vectors, so it is redone whenever the collection changes.

This module is arrays in, arrays out (and its file format); calibrate.py reads an index to make one.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from searchengine.atomic import atomic_write
from searchengine.kinds import KINDS, TEXT, tower

CALIBRATION = "calibration.npz"
OLD_FILES = ("calibration.json",)  # version 2 and earlier: recomputed, never read
CALIBRATION_VERSION = 5  # 4: segment groups; 5: the generic queries stand in for missing texts, priors for small kinds
SAMPLE_PER_KIND = 512
PRIOR_SAMPLE = 2000  # vectors per kind the prior is estimated on
MIN_SAMPLES = 8
TRIM = 0.01  # share of a query's highest sample scores left out of its statistics (at least one)
PRIOR_WEIGHT = 4  # the prior counts as this many samples (chosen on the benchmark's tune half)
DEFAULT_STATS = (0.0, 0.1)
HUB_K = 10  # a text's hubness: the mean of its HUB_K best cosines with the collection's images
HUB_WEIGHT = 1.0  # how much of it an image query takes off a text's cosine


def hubness(texts: np.ndarray, images: np.ndarray) -> np.ndarray:
    """Each text vector's mean cosine with its HUB_K nearest `images` (all of them when fewer)."""
    texts, images = np.asarray(texts, np.float32), np.asarray(images, np.float32)
    if not len(texts) or not len(images):
        return np.zeros(len(texts), np.float32)
    scores = texts @ images.T
    k = min(HUB_K, scores.shape[1])
    return np.partition(scores, scores.shape[1] - k, axis=1)[:, -k:].mean(axis=1)


def generic_queries() -> list[str]:
    text = resources.files("searchengine").joinpath("calibration_queries.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def bank_digest(queries: list[str]) -> str:
    return hashlib.sha256("\n".join(queries).encode("utf-8")).hexdigest()[:16]


@dataclass
class QueryCalibration:
    """One query's statistics per target kind: z = (raw - mean) / std."""

    stats: dict[str, tuple[float, float]]

    def calibrated(self, target_kind: str) -> bool:
        """Whether this kind's scores have statistics to be measured against (its own, or a kind's
        embedded by the same tower); False: z falls back to DEFAULT_STATS, no encoder's scale."""
        return target_kind in self.stats or _same_tower(target_kind, self.stats) is not None

    def z(self, target_kind: str, raw: float | np.ndarray) -> float | np.ndarray:
        # a kind with too few samples borrows the statistics of a kind embedded by the same tower
        mean, std = self.stats.get(target_kind) or self.stats.get(_same_tower(target_kind, self.stats)) or DEFAULT_STATS
        return (raw - mean) / std


def _same_tower(kind: str, available) -> str | None:
    return next((k for k in KINDS if tower(k) == tower(kind) and k in available), None)


@dataclass
class Calibration:
    encoder_id: str
    generation: int
    # "query_kind>target_kind" -> [mean, std] of generic queries' raw scores: the prior
    stats: dict[str, list[float]] = field(default_factory=dict)
    # target kind -> sample of its segments' vectors (float16), for per-query statistics
    samples: dict[str, np.ndarray] = field(default_factory=dict)
    bank: np.ndarray | None = None  # the generic queries' vectors, kept so recomputing embeds nothing
    bank_digest: str = ""
    # segment group -> its segment ids, sorted (kept only when there are several groups)
    groups: dict[str, np.ndarray] = field(default_factory=dict)
    group_sizes: dict[str, int] = field(default_factory=dict)
    version: int = CALIBRATION_VERSION
    _sample_hubs: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # computed when first needed

    def hub_bank(self) -> np.ndarray | None:
        """The images a text's hubness is measured against: the collection's image sample."""
        images = self.samples.get("image")
        return images if images is not None and len(images) >= MIN_SAMPLES else None

    def text_hubs(self, vectors: np.ndarray) -> np.ndarray | None:
        """HUB_WEIGHT x the hubness of text-tower vectors (what an image query takes off their
        cosines); None when the collection has too few images to say."""
        bank = self.hub_bank()
        return None if bank is None else HUB_WEIGHT * hubness(vectors, bank)

    def _hubs_of_sample(self, kind: str) -> np.ndarray | None:
        if kind not in self._sample_hubs:
            self._sample_hubs[kind] = self.text_hubs(self.samples[kind])
        return self._sample_hubs[kind]

    def lookup(self, query_kind: str, target_kind: str) -> tuple[float, float]:
        """The prior (mean, std) for a pair, borrowing from a kind of the same tower when missing."""
        return self.prior(query_kind, target_kind) or DEFAULT_STATS

    def prior(self, query_kind: str, target_kind: str) -> tuple[float, float] | None:
        """lookup's prior, None when the collection gives none (two photos and an image query)."""
        key = f"{query_kind}>{target_kind}"
        if key in self.stats:
            return tuple(self.stats[key])
        for kind in KINDS:  # a kind embedded by the same tower
            if tower(kind) == tower(target_kind) and f"{query_kind}>{kind}" in self.stats:
                return tuple(self.stats[f"{query_kind}>{kind}"])
        return None

    def z(self, query_kind: str, target_kind: str, raw: float | np.ndarray) -> float | np.ndarray:
        """Calibrated score on the prior alone (no query vector at hand)."""
        mean, std = self.lookup(query_kind, target_kind)
        return (raw - mean) / std

    def for_query(self, vector: np.ndarray, query_kind: str) -> QueryCalibration:
        """Statistics of this query vector against each kind's sample, blended with the prior."""
        out: dict[str, tuple[float, float]] = {}
        for kind in set(self.samples) | {key.split(">")[1] for key in self.stats}:
            prior_mean, prior_std = self.lookup(query_kind, kind)
            sample = self.samples.get(kind)
            if sample is None or len(sample) < MIN_SAMPLES:
                if self.prior(query_kind, kind) is not None:  # else left out: QueryCalibration.calibrated
                    out[kind] = (prior_mean, prior_std)
                continue
            scores = sample.astype(np.float32) @ np.asarray(vector, np.float32)
            hubs = self._hubs_of_sample(kind) if query_kind == "image" and tower(kind) == "text" else None
            if hubs is not None:  # the texts' scores as an image query ranks them
                scores, prior_mean = scores - hubs, prior_mean - float(hubs.mean())
            scores = np.sort(scores)
            kept = scores[: len(scores) - max(1, int(np.ceil(TRIM * len(scores))))]
            w = len(kept) / (len(kept) + PRIOR_WEIGHT)
            mean = w * float(kept.mean()) + (1 - w) * prior_mean
            var = w * float(kept.var()) + (1 - w) * prior_std**2
            out[kind] = (mean, max(float(np.sqrt(var)), 1e-3))
        return QueryCalibration(out)

    def is_current(self, encoder_id: str, generation: int) -> bool:
        """Made for this encoder from the catalog as it is now (its generation)."""
        return self.encoder_id == encoder_id and self.generation == generation

    def reusable_bank(self, encoder_id: str) -> np.ndarray | None:
        """The generic queries' vectors it holds, when they are this encoder's for today's list."""
        if (
            self.encoder_id == encoder_id
            and self.bank is not None
            and self.bank_digest == bank_digest(generic_queries())
        ):
            return self.bank.astype(np.float32)
        return None

    @classmethod
    def read(cls, folder: Path) -> Calibration | None:
        """The calibration kept in an index folder; None when it is missing, damaged or of an older version."""
        try:
            return cls.from_bytes((folder / CALIBRATION).read_bytes())
        except OSError:
            return None

    @staticmethod
    def older_format(folder: Path) -> bool:
        """Whether the kept file is sound but of an earlier format (after an upgrade): not damage,
        it is computed again at the next search."""
        try:
            with np.load(folder / CALIBRATION, allow_pickle=False) as data:
                version = json.loads(bytes(data["meta"]).decode("utf-8")).get("version")
        except Exception:  # missing or damaged
            return False
        return isinstance(version, int) and version < CALIBRATION_VERSION

    @classmethod
    def from_bytes(cls, blob: bytes) -> Calibration | None:
        try:
            with np.load(io.BytesIO(blob), allow_pickle=False) as data:
                meta = json.loads(bytes(data["meta"]).decode("utf-8"))
                if meta.get("version") != CALIBRATION_VERSION:
                    return None
                samples = {k.removeprefix("sample_"): data[k] for k in data.files if k.startswith("sample_")}
                bank = data["bank"] if "bank" in data.files else None
                groups = {_group_name(k): data[k].astype(np.int64) for k in data.files if k.startswith("group_")}
        except Exception:  # missing, damaged (a bad zip, a bad CRC, bad JSON) or old: recomputed, never fatal
            return None
        return cls(
            encoder_id=meta["encoder_id"],
            generation=meta["generation"],
            stats=meta["stats"],
            samples=samples,
            bank=bank,
            bank_digest=meta.get("bank_digest", ""),
            groups=groups,
            group_sizes=meta.get("group_sizes", {}),
        )

    def write(self, folder: Path) -> None:
        atomic_write(folder / CALIBRATION, self.to_bytes())
        for old in OLD_FILES:
            (folder / old).unlink(missing_ok=True)

    def to_bytes(self) -> bytes:
        meta = {
            "version": self.version,
            "encoder_id": self.encoder_id,
            "generation": self.generation,
            "stats": self.stats,
            "bank_digest": self.bank_digest,
            "group_sizes": self.group_sizes,
        }
        arrays = {"meta": np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), dtype=np.uint8)}
        arrays |= {f"sample_{k}": v.astype(np.float16) for k, v in self.samples.items()}
        if self.bank is not None:
            arrays["bank"] = self.bank.astype(np.float16)
        arrays |= {f"group_{name.replace(':', '.')}": ids for name, ids in self.groups.items()}
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return buffer.getvalue()


def _group_name(key: str) -> str:
    return key.removeprefix("group_").replace(".", ":")


def _stats(scores: np.ndarray) -> list[float]:
    return [float(scores.mean()), float(max(scores.std(), 1e-3))]


def estimate(
    encoder_id: str,
    samples: dict[str, tuple[np.ndarray, np.ndarray]],
    generation: int,
    bank: np.ndarray,
    groups: dict[str, np.ndarray] | None = None,
    pseudo_queries: int = 300,
) -> Calibration:
    """Calibration from per-kind samples {kind: (item ids, vectors)} of the collection, the generic
    queries' vectors (`bank`, in generic_queries() order) and its segment groups {group: ids}.

    The prior for text queries: the generic bank plus a sample of the collection's own text-tower
    segments (passages, transcripts), so similarity the collection shares with itself
    (boilerplate, templates) counts as chance. For image queries: the collection's own images.
    Pairs from the same item are left out (a photo matches itself). With fewer than MIN_SAMPLES
    text-tower segments, the bank (with what there is) is the text sample.
    """
    bank = np.asarray(bank, np.float32)
    dim = bank.shape[1]
    empty = (np.zeros(0, np.int64), np.zeros((0, dim), np.float32))
    bank_items = -1 - np.arange(len(bank), dtype=np.int64)  # not the collection's, each its own
    text_items = [samples[k] for k in samples if tower(k) == "text"]
    own_items = np.concatenate([i for i, _ in text_items])[:pseudo_queries] if text_items else empty[0]
    own_vectors = np.concatenate([v for _, v in text_items])[:pseudo_queries] if text_items else empty[1]
    query_sets = {
        "text": (np.concatenate([bank_items, own_items]), np.concatenate([bank, own_vectors])),
        "image": tuple(a[:500] for a in samples.get("image", empty)),
    }
    if not any(len(v) >= MIN_SAMPLES for _, v in text_items) and len(bank) >= MIN_SAMPLES:
        # (almost) no words in the collection: pictures, one of which shows a sign. The generic
        # queries stand in for its passages, so what words it has are scored against how texts
        # score for this encoder, not against DEFAULT_STATS (where a multilingual encoder's usual
        # text cosine of 0.8 made a scanned page the best hit of every query)
        samples = {**samples, TEXT: (np.concatenate([bank_items, own_items]), np.concatenate([bank, own_vectors]))}
    cal = Calibration(
        encoder_id=encoder_id, generation=generation, bank=bank, bank_digest=bank_digest(generic_queries())
    )
    groups = groups or {}
    cal.group_sizes = {name: len(ids) for name, ids in groups.items()}
    if len(groups) > 1:  # one group: a plain search is already one group's
        cal.groups = groups
    for kind, (items, vectors) in samples.items():
        if len(vectors) >= MIN_SAMPLES:  # enough to measure each query against
            keep = np.sort(np.random.default_rng(0).permutation(len(vectors))[:SAMPLE_PER_KIND])
            cal.samples[kind] = np.asarray(vectors[keep], np.float32)
        for query_kind, (query_items, qvectors) in query_sets.items():
            # a prior wherever there are pairs enough: five photos give 20 (each against the
            # others), where DEFAULT_STATS made any photo of a small folder "high"
            unrelated = query_items[:, None] != items[None, :]
            if unrelated.sum() >= MIN_SAMPLES:
                cal.stats[f"{query_kind}>{kind}"] = _stats((qvectors @ vectors.T)[unrelated])
    return cal
