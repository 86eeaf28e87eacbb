"""Which vector index a collection gets: from its size and a memory budget, the way autofaiss chooses.

Exact search while it is fast, then an HNSW graph, then IVF with product quantisation (the
stored vectors re-rank its candidates exactly, so the codes can be small). A budget that a
kind does not fit in rules it out; when even the smallest PQ code does not fit, the inverted
lists go to disk (OnDiskInvertedLists, memory-mapped) and only the centroids stay in RAM.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field

from searchengine.errors import UsageError

# auto: exact search while it is fast (<~5 ms a query on 2 cores), then a graph, then IVF-PQ.
FLAT_MAX = 50_000
HNSW_MAX = 2_000_000
HNSW_M = 32
ID_BYTES = 8  # every kind keeps a 64-bit segment id per vector
# PQ training wants ~39 points per code word: below this many vectors, fewer bits per sub-quantizer.
PQ_FULL_TRAINING = 39 * 256
# Sub-vector widths tried, widest code first: d/4 bytes … d/32 bytes a vector (8 bits each).
PQ_SUBVECTOR_DIMS = (4, 8, 16, 32)
DEFAULT_PQ_SUBVECTOR_DIM = 8  # d/8 bytes: 64 B for 512-d, re-ranked exactly afterwards


@dataclass(frozen=True)
class IndexChoice:
    kind: str  # flat | hnsw | ivf | ivfpq
    params: dict = field(default_factory=dict)  # build parameters (ivfpq: m, nbits, nlist, ondisk)
    memory_bytes: int = 0  # estimated resident size of the built index


def physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 16 * 2**30


def default_budget() -> int:
    """Without --max-memory an index may use half of the machine's memory."""
    return physical_memory() // 2


def parse_size(text: str) -> int:
    """'8G', '512MB', '1.5GiB', '1000000' → bytes (powers of 1024)."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)(i?b)?\s*", str(text), re.IGNORECASE)
    if not match:
        raise UsageError(f"cannot read {text!r} as a memory size: use e.g. 512M, 8G or 1.5T")
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * 1024 ** " kmgt".index(unit or " "))


def nlist_for(n: int) -> int:
    """Inverted lists: a power of two near 2·√n (1M → 2048, 5M → 4096, 100M → 16384, 1B → 65536),
    with at least 39 vectors a list so k-means has enough points to place every centroid."""
    if n < 2 * 39:
        return 1
    nlist = 2 ** round(math.log2(2 * math.sqrt(n)))
    while nlist > 1 and n // nlist < 39:
        nlist //= 2
    return nlist


def nbits_for(n: int) -> int:
    """8-bit codes when there are enough vectors to train 256 code words, fewer on small sets."""
    if n >= PQ_FULL_TRAINING:
        return 8
    return max(4, min(8, int(math.log2(max(n, 16) / 39)) if n >= 39 * 16 else 4))


def pq_m_options(dim: int) -> list[int]:
    """Number of sub-quantizers (code bytes at 8 bits) that divide dim, widest code first."""
    return [dim // s for s in PQ_SUBVECTOR_DIMS if dim % s == 0 and dim // s >= 1]


def default_pq_m(dim: int) -> int:
    options = pq_m_options(dim)
    preferred = dim // DEFAULT_PQ_SUBVECTOR_DIM if dim % DEFAULT_PQ_SUBVECTOR_DIM == 0 else None
    return preferred if preferred in options else (options[len(options) // 2] if options else 1)


def estimate_bytes(kind: str, n: int, dim: int, params: dict | None = None) -> int:
    """Resident size of an index of n vectors (what the process holds, not the page cache)."""
    params = params or {}
    if kind == "flat":
        return n * (4 * dim + ID_BYTES)
    if kind == "hnsw":  # vectors + level-0 links (2M int32) + upper levels (~1/M of that) + id map
        m = params.get("M", HNSW_M)
        return int(n * (4 * dim + ID_BYTES + 2 * m * 4 * (1 + 1 / m) + 8))
    nlist = params.get("nlist") or nlist_for(n)
    centroids = nlist * dim * 4
    if kind == "ivf":
        return n * (4 * dim + ID_BYTES) + centroids
    if kind == "ivfpq":
        m = params.get("m") or default_pq_m(dim)
        nbits = params.get("nbits", 8)
        tables = m * (2**nbits) * (dim // max(m, 1)) * 4 + dim * dim * 4  # PQ code books + OPQ rotation
        codes = 0 if params.get("ondisk") else n * (math.ceil(m * nbits / 8) + ID_BYTES)
        return codes + centroids + tables
    raise UsageError(f"unknown index type {kind!r}")


def choose(n: int, dim: int, max_memory: int | None = None) -> IndexChoice:
    """The index `auto` builds for n vectors of dim dimensions within max_memory bytes."""
    budget = default_budget() if max_memory is None else max_memory
    for kind, limit in (("flat", FLAT_MAX), ("hnsw", HNSW_MAX)):
        size = estimate_bytes(kind, n, dim)
        if n <= limit and size <= budget:
            return IndexChoice(kind, {}, size)
    if n < PQ_FULL_TRAINING:  # too few vectors to train a quantizer: exact search is small anyway
        return IndexChoice("flat", {}, estimate_bytes("flat", n, dim))
    return ivfpq_choice(n, dim, budget)


def ivfpq_choice(n: int, dim: int, max_memory: int | None = None) -> IndexChoice:
    """IVF-PQ for n vectors within the budget: the preferred code (d/8 bytes), else the widest
    smaller one that fits, else the preferred code with its inverted lists on disk."""
    budget = default_budget() if max_memory is None else max_memory
    nlist, nbits = nlist_for(n), nbits_for(n)
    preferred = default_pq_m(dim)
    for m in [m for m in pq_m_options(dim) if m <= preferred]:
        fastscan = m % 2 == 0  # in memory: 4-bit fast-scan codes (see ivfpq.FASTSCAN_NBITS)
        params = {"m": m, "nbits": 4 if fastscan else nbits, "nlist": nlist, "ondisk": False, "fastscan": fastscan}
        size = estimate_bytes("ivfpq", n, dim, params)
        if size <= budget:
            return IndexChoice("ivfpq", params, size)
    params = {"m": preferred, "nbits": nbits, "nlist": nlist, "ondisk": True, "fastscan": False}
    return IndexChoice("ivfpq", params, estimate_bytes("ivfpq", n, dim, params))


def choose_kind(n_vectors: int, dim: int = 512, max_memory: int | None = None) -> str:
    return choose(n_vectors, dim, max_memory).kind
