"""Duplicate files in an index, from what it already stores: nothing is embedded again, nothing deleted.

- Exact duplicates: files of one content hash (any kind).
- Near-duplicate photos: pairs whose stored picture vectors are close (a FAISS range search, exact
  up to EXACT_LIMIT photos, an inverted-file index beyond) are candidates; a candidate is called a
  copy when the perceptual fingerprints of the two files (media/fingerprint.py: pHash of the whole
  and of crops) are at least `threshold` similar. The vectors alone cannot tell an edited copy from
  the next shot of a burst (both are the same scene to the model); the fingerprint can.
- Near-identical texts: files whose mean passage vectors are close and whose stored passages share
  at least `threshold` of their word 5-grams (Jaccard).

Groups, largest first, are each a file to keep (the largest resolution, then the oldest, then the
shortest path) with the files confirmed alike to it (see `grouped`: look-alikes do not chain).
"""

from __future__ import annotations

import logging
import os
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from searchengine.atomic import atomic_path
from searchengine.errors import DecodeError, UsageError
from searchengine.kinds import ANY, IMAGE, KINDS, TEXT
from searchengine.media.fingerprint import PARAMETERS, Fingerprint, fingerprint, packed, similarity, unpacked
from searchengine.paths import printable
from searchengine.store.reader import CatalogReader

log = logging.getLogger(__name__)

IMAGE_THRESHOLD = 48 / 64  # fingerprint similarity 0.75: the best recall at precision ≥ 0.95 on the validation split
TEXT_THRESHOLD = 0.8  # shared word 5-grams
IMAGE_CANDIDATE_COSINE = 0.85  # stored vectors this close are compared (bundled model: 99.7 % of true copy pairs are)
TEXT_CANDIDATE_COSINE = 0.9
EXACT_LIMIT = 10_000  # vectors compared all with all; beyond, within clusters (k-means)
ASSIGNED = 3  # clusters each vector is put in (two vectors are compared when they share one)
BLOCK = 2048  # rows of one matrix product
REDUCED_DIM = 96  # dimensions candidates are searched in beyond EXACT_LIMIT rows
REDUCED_SLACK = 0.1  # how much lower their cosine may be there
SHINGLE = 5
PASSAGE_MIN_WORDS = 25  # a shared run shorter than this (a heading, a licence line) is not called a copy
PASSAGE_SAMPLE = 4  # one in so many runs is compared
FINGERPRINTS = "fingerprints.npz"  # in the index folder: photos' fingerprints by content hash
FINGERPRINT_FORMAT = 1


@dataclass(frozen=True)
class DuplicateFile:
    path: str
    size: int
    width: int | None
    height: int | None
    date: datetime  # a photo's capture date, else the file's modification time
    item_id: int

    def as_json(self) -> dict:
        return {
            "path": printable(self.path),
            "size": self.size,
            "width": self.width,
            "height": self.height,
            "date": self.date.isoformat(timespec="seconds"),
            "item_id": self.item_id,
        }


@dataclass(frozen=True)
class DuplicateGroup:
    kind: str
    match: str  # "exact" (same content), "near" or "passage" (files that hold one identical passage)
    similarity: float  # the weakest confirmed link in the group (1.0 for exact copies and passages)
    files: tuple[DuplicateFile, ...]  # the one to keep first
    passage: str | None = None  # with match "passage": its first words

    @property
    def keep(self) -> str:
        return self.files[0].path

    def as_json(self) -> dict:
        return {
            "kind": self.kind,
            "match": self.match,
            "similarity": round(self.similarity, 4),
            "keep": printable(self.keep),
            "files": [f.as_json() for f in self.files],
            **({"passage": self.passage} if self.passage is not None else {}),
        }


@dataclass(frozen=True)
class _Item:
    id: int
    path: str
    kind: str
    size: int
    mtime_ns: int
    content_hash: str | None
    taken_at: datetime | None


def find_duplicates(
    catalog: CatalogReader,
    dim: int,
    kind: str = ANY,
    threshold: float | None = None,
    near: bool = True,
    folder: Path | None = None,
) -> list[DuplicateGroup]:
    """Every group of duplicate files of `kind` (any, image, text, audio, video), largest first.
    threshold: how similar near-duplicates must be, 0-1 (None: the measured default of each kind);
    near=False: exact copies only; folder: the index folder, where photos' fingerprints are kept
    for the next run (None: not kept)."""
    if kind != ANY and kind not in KINDS:
        raise UsageError("unknown {-kind=$kind}: use one of {choices}", kind=kind, choices=", ".join((ANY, *KINDS)))
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise UsageError("{-threshold} must be between 0 and 1 (1: identical), not {value}", value=threshold)
    kinds = list(KINDS) if kind == ANY else [kind]
    items = {row[0]: _Item(*row) for row in catalog.ok_items(kinds)}
    exact = {(a, b) for a, b, _ in _same_content(items.values())}
    similar: list[tuple[int, int, float]] = []
    if near and IMAGE in kinds:
        similar += _near_images(catalog, dim, items, IMAGE_THRESHOLD if threshold is None else threshold, exact, folder)
    if near and TEXT in kinds:
        similar += _near_texts(catalog, dim, items, TEXT_THRESHOLD if threshold is None else threshold, exact)
    described = {i: _described(items[i]) for pair in (*exact, *similar) for i in pair[:2]}
    groups = []
    for members, weakest, same in grouped(list(exact), similar, lambda i: _keep_order(described[i])):
        present = [described[m] for m in members if os.path.lexists(described[m].path)]  # deleted since indexed
        if len(present) < 2:
            continue
        files = tuple(sorted(present, key=_keep_order))
        groups.append(DuplicateGroup(items[members[0]].kind, "exact" if same else "near", weakest, files))
    if near and TEXT in kinds:
        whole = [{f.item_id for f in g.files} for g in groups if g.kind == TEXT]
        groups += _shared_passages(catalog, dim, items, whole)
    groups.sort(key=lambda g: (-len(g.files), -g.similarity, g.keep))
    return groups


def grouped(exact: Sequence[tuple[int, int]], similar: Sequence[tuple[int, int, float]], rank: Callable):
    """(members, weakest link, exact only) of each group of ids. Files of one content are one unit;
    then, best unit first (`rank`: the order of files to keep), a unit that is not in a group yet
    takes every unit that is not either and is similar to it. A group is so a file to keep and its
    copies: a chain of look-alikes (A like B, B like C) does not join A and C."""
    units = {root: members for members, root in _components(exact)}
    unit_of = {m: root for root, members in units.items() for m in members}
    for a, b, _ in similar:
        for i in (a, b):
            if i not in unit_of:
                unit_of[i] = i
                units[i] = [i]
    links: dict[int, dict[int, float]] = {}
    for a, b, score in similar:
        ua, ub = unit_of[a], unit_of[b]
        if ua != ub:
            for x, y in ((ua, ub), (ub, ua)):
                links.setdefault(x, {})[y] = max(score, links.get(x, {}).get(y, 0.0))
    best = {root: min(members, key=rank) for root, members in units.items()}
    taken: set[int] = set()
    out = []
    for root in sorted(units, key=lambda r: rank(best[r])):
        if root in taken:
            continue
        attached = {u: score for u, score in links.get(root, {}).items() if u not in taken}
        if len(units[root]) == 1 and not attached:
            continue
        taken.add(root)
        taken.update(attached)
        members = units[root] + [m for u in attached for m in units[u]]
        out.append((members, float(min(attached.values(), default=1.0)), not attached))
    return out


# --- exact copies ------------------------------------------------------------------------------
def _same_content(items) -> list[tuple[int, int, float]]:
    by_hash: dict[tuple[str, int], list[int]] = {}
    for item in items:
        if item.content_hash:
            by_hash.setdefault((item.content_hash, item.size), []).append(item.id)
    return [(ids[0], other, 1.0) for ids in by_hash.values() if len(ids) > 1 for other in ids[1:]]


# --- near-duplicate photos ---------------------------------------------------------------------
def _near_images(catalog, dim, items, threshold, exact, folder) -> list[tuple[int, int, float]]:
    ids, vectors = catalog.picture_vectors(IMAGE, dim)
    pairs = close_pairs(vectors, IMAGE_CANDIDATE_COSINE)
    prints: dict[int, Fingerprint | None] = {}
    kept = FingerprintCache(folder) if folder is not None else None
    confirmed = []
    for i, j, _cosine in pairs:
        a, b = int(ids[i]), int(ids[j])
        if (a, b) in exact or (b, a) in exact or a not in items or b not in items:
            continue
        fa, fb = _fingerprint_of(items[a], prints, kept), _fingerprint_of(items[b], prints, kept)
        if fa is None or fb is None:
            continue
        score = similarity(fa, fb)
        if score >= threshold:
            confirmed.append((a, b, score))
    if kept is not None:
        kept.save({item.content_hash for item in items.values() if item.content_hash})
    return confirmed


def _fingerprint_of(item: _Item, cache: dict, kept: FingerprintCache | None) -> Fingerprint | None:
    if item.id not in cache:
        found = kept.get(item.content_hash) if kept is not None else None
        if found is None:
            try:
                found = fingerprint(Path(item.path))
            except (DecodeError, OSError) as exc:  # gone or changed since it was indexed: not reported
                log.info("not compared: %s (%s)", printable(item.path), exc)
            else:
                if kept is not None:
                    kept.put(item.content_hash, found)
        cache[item.id] = found
    return cache[item.id]


class FingerprintCache:
    """Fingerprints of photos by content hash, kept in the index folder (FINGERPRINTS) so that the
    next `duplicates` reads no photo it compared before. Versioned; one made with other parameters,
    or damaged, is ignored and made again; written atomically, and only where the folder can be."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / FINGERPRINTS
        self._known: dict[str, tuple[np.ndarray, tuple[int, int]]] = {}
        self._added = 0
        try:
            with np.load(self.path, allow_pickle=False) as data:
                if int(data["format"]) == FINGERPRINT_FORMAT and str(data["parameters"]) == PARAMETERS:
                    for digest, crops, size in zip(data["hashes"], data["crops"], data["sizes"], strict=True):
                        self._known[str(digest)] = (crops, (int(size[0]), int(size[1])))
        except (OSError, ValueError, KeyError, EOFError) as exc:
            if self.path.exists():
                log.info("fingerprint cache %s not used (%s): made again", printable(str(self.path)), exc)

    def get(self, digest: str | None) -> Fingerprint | None:
        entry = self._known.get(digest) if digest else None
        return unpacked(*entry) if entry is not None else None

    def put(self, digest: str | None, fp: Fingerprint) -> None:
        if digest:
            self._known[digest] = packed(fp)
            self._added += 1

    def save(self, keep: set[str]) -> None:
        """Write what is known of the hashes in `keep` (the files indexed now), when anything was added."""
        if not self._added or not os.access(self.path.parent, os.W_OK):
            return
        digests = sorted(d for d in self._known if d in keep)
        if not digests:
            return
        try:
            with atomic_path(self.path, suffix=".npz") as tmp:
                np.savez(
                    tmp,
                    format=FINGERPRINT_FORMAT,
                    parameters=PARAMETERS,
                    hashes=np.array(digests),
                    crops=np.stack([self._known[d][0] for d in digests]),
                    sizes=np.array([self._known[d][1] for d in digests], dtype=np.int64),
                )
        except OSError as exc:  # a full disk: computed again next time
            log.info("fingerprint cache not written: %s", exc)


def close_pairs(vectors: np.ndarray, min_cosine: float) -> list[tuple[int, int, float]]:
    """(i, j, cosine) with i < j of the rows at least `min_cosine` alike. Up to EXACT_LIMIT rows
    every pair is compared; beyond, the rows are clustered (k-means, about √n clusters, in
    REDUCED_DIM principal dimensions), each row put in its ASSIGNED nearest clusters, and the rows
    of each cluster compared in matrix products: close pairs nearly always share a cluster
    (benchmarks/duplicates.py counts the planted pairs it finds); candidates are then checked in
    all dimensions."""
    n = len(vectors)
    if n < 2:
        return []
    x = _unit(np.ascontiguousarray(vectors, dtype=np.float32))
    searched, floor = x, min_cosine
    if n > EXACT_LIMIT and x.shape[1] > REDUCED_DIM:  # candidates in fewer dimensions, then checked in all
        searched, floor = _unit(_reduced(x, REDUCED_DIM)), min_cosine - REDUCED_SLACK
    pairs: set[tuple[int, int]] = set()
    for rows, cols in _blocks(searched):
        r, c = np.nonzero(searched[rows] @ searched[cols].T >= floor)
        i, j = rows[r], cols[c]
        keep = i < j
        pairs.update(zip(i[keep].tolist(), j[keep].tolist(), strict=True))
    if not pairs:
        return []
    ij = np.array(sorted(pairs), dtype=np.int64)
    scores = np.einsum("ij,ij->i", x[ij[:, 0]], x[ij[:, 1]])
    keep = scores >= min_cosine
    return list(zip(ij[keep, 0].tolist(), ij[keep, 1].tolist(), scores[keep].tolist(), strict=True))


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _reduced(x: np.ndarray, dim: int) -> np.ndarray:
    """x projected on its `dim` main directions (PCA fitted on a sample)."""
    sample = x[np.random.default_rng(0).choice(len(x), size=min(len(x), 20_000), replace=False)]
    mean = sample.mean(axis=0)
    centred = sample - mean
    _, directions = np.linalg.eigh(centred.T @ centred)  # ascending: the main directions are last
    return np.ascontiguousarray((x - mean) @ directions[:, -dim:], dtype=np.float32)


def _blocks(x: np.ndarray):
    """(row ids, column ids) of the blocks of pairs to compare, at most BLOCK rows each."""
    n = len(x)
    everything = np.arange(n)
    if n <= EXACT_LIMIT:
        for start in range(0, n, BLOCK):
            yield everything[start : start + BLOCK], everything[start:]
        return
    import faiss

    lists = int(np.sqrt(n))
    kmeans = faiss.Kmeans(x.shape[1], lists, niter=10, seed=0, spherical=True, max_points_per_centroid=64)
    kmeans.train(x[np.random.default_rng(0).choice(n, size=min(n, lists * 64), replace=False)])
    _, nearest = kmeans.index.search(x, ASSIGNED)  # every row goes in its ASSIGNED nearest lists
    flat = nearest.ravel()
    order = np.argsort(flat, kind="stable")
    bounds = np.searchsorted(flat[order], np.arange(lists + 1))
    for k in range(lists):
        members = np.unique(order[bounds[k] : bounds[k + 1]] // ASSIGNED)
        for start in range(0, len(members), BLOCK):
            yield members[start : start + BLOCK], members


# --- near-identical texts ----------------------------------------------------------------------
_WORD = re.compile(r"\w+")


def _near_texts(catalog, dim, items, threshold, exact) -> list[tuple[int, int, float]]:
    passage_items, texts, vectors = catalog.passages(TEXT, dim)
    if len(passage_items) == 0:
        return []
    ids, starts = np.unique(passage_items, return_index=True)
    means = np.add.reduceat(vectors, starts, axis=0)
    shingles: dict[int, set] = {}
    bounds = [*starts.tolist(), len(texts)]
    for k, item_id in enumerate(ids.tolist()):
        words = _WORD.findall(" ".join(texts[bounds[k] : bounds[k + 1]]).lower())
        shingles[item_id] = {tuple(words[p : p + SHINGLE]) for p in range(max(1, len(words) - SHINGLE + 1))}
    confirmed = []
    for i, j, _cosine in close_pairs(means, TEXT_CANDIDATE_COSINE):
        a, b = int(ids[i]), int(ids[j])
        if (a, b) in exact or (b, a) in exact or a not in items or b not in items:
            continue
        sa, sb = shingles[a], shingles[b]
        score = len(sa & sb) / max(len(sa | sb), 1)
        if score >= threshold:
            confirmed.append((a, b, score))
    return confirmed


def _shared_passages(catalog, dim, items, whole: list[set[int]]) -> list[DuplicateGroup]:
    """A group for each set of text files that hold one identical passage (a run of
    PASSAGE_MIN_WORDS words or more, alike but for case, spacing and punctuation), unless they are
    one group of copies already. Runs are compared by hash, one in PASSAGE_SAMPLE of them kept, so
    a shared run of PASSAGE_MIN_WORDS + a few dozen words is found whatever its position."""
    passage_items, texts, _ = catalog.passages(TEXT, dim)
    words_of: dict[int, list[str]] = {}
    for item_id, text in zip(passage_items.tolist(), texts):
        if item_id in items:
            words_of.setdefault(item_id, []).extend(_WORD.findall(text.lower()))
    holders: dict[int, set[int]] = {}
    first: dict[int, tuple[int, int]] = {}  # run hash -> (item, word position) where it was first seen
    for item_id, words in words_of.items():
        for p in range(len(words) - PASSAGE_MIN_WORDS + 1):
            key = zlib.crc32(" ".join(words[p : p + PASSAGE_MIN_WORDS]).encode())  # the same in every run
            if key % PASSAGE_SAMPLE:
                continue
            holders.setdefault(key, set()).add(item_id)
            first.setdefault(key, (item_id, p))
    groups, seen = [], set()
    for key, ids in holders.items():
        present = frozenset(i for i in ids if os.path.lexists(items[i].path))
        if len(present) < 2 or present in seen or any(present <= g for g in whole):
            continue
        seen.add(present)
        item_id, p = first[key]
        passage = " ".join(words_of[item_id][p : p + 12]) + " …"
        files = tuple(sorted((_described(items[i]) for i in present), key=_keep_order))
        groups.append(DuplicateGroup(TEXT, "passage", 1.0, files, passage=passage))
    return groups


# --- groups ------------------------------------------------------------------------------------
def _components(pairs) -> list[tuple[list[int], int]]:
    """(members, root) of the connected components of id pairs."""
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    members: dict[int, list[int]] = {}
    for node in list(parent):
        members.setdefault(root(node), []).append(node)
    return [(m, r) for r, m in members.items()]


def _keep_order(file: DuplicateFile):
    """Largest resolution, then oldest, then shortest path."""
    pixels = (file.width or 0) * (file.height or 0)
    return (-pixels, file.date, len(file.path), file.path)


def _described(item: _Item) -> DuplicateFile:
    width = height = None
    if item.kind == IMAGE:
        width, height = _dimensions(item.path)
    when = item.taken_at or datetime.fromtimestamp(item.mtime_ns / 1e9, tz=timezone.utc).replace(tzinfo=None)
    return DuplicateFile(item.path, item.size, width, height, when, item.id)


def _dimensions(path: str) -> tuple[int | None, int | None]:
    from PIL import Image

    try:
        with Image.open(path) as image:  # reads the header only
            return image.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return None, None
