"""IVF with product quantisation (the ivfpq kind, ivfpq.py): training, shards built apart and merged,
inverted lists on disk.

- Training uses a sample that holds both modalities (image and text vectors sit in different
  regions of a CLIP-like space; a sample of one would leave the other's queries in few, crowded
  lists): every modality present gets at least a quarter of the sample, or all its vectors.
- Spherical k-means (unit centroids for inner product) with at least 39 points a list and 20
  iterations; PQ code books from up to 256 residuals a code word.
- OPQ (a learnt rotation before PQ) where it helps: on large collections, the rotation is trained
  on a sample and kept only when it lowers the PQ reconstruction error by OPQ_MIN_GAIN.
- Shards: `encode_shard` adds a chunk of vectors to a copy of the trained, empty index (any
  process or Ray task can run it); `merge_shard` appends a shard's inverted lists to the index.
- On disk: the inverted lists live in a `<name>.<token>.ivfdata` file beside the index file and
  are memory-mapped; a data file a saved index refers to is never written again (`fork_ondisk`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from searchengine.vectors.choice import default_pq_m, nbits_for, nlist_for

log = logging.getLogger(__name__)

TRAIN_POINTS_PER_LIST = 64  # k-means sample: 64 a list (faiss warns under 39)
KMEANS_ITER = 20
MIN_MODALITY_SHARE = 0.25
OPQ_AUTO_MIN_N = 200_000  # below this a build is quick and the PQ error hardly matters after re-ranking
OPQ_MIN_GAIN = 0.05
OPQ_TRIAL_POINTS = 20_000
OPQ_ITER = 10
SHARD_VECTORS = 1_000_000  # vectors encoded in memory before they are appended to on-disk lists
# In-memory lists hold 4-bit codes scanned with SIMD lookups in registers (FAISS "fast scan"):
# at 1M × 512, 2,048 lists, one thread, 4.7x faster than 8-bit codes at the same recall after
# re-ranking (nprobe 128: 1.2 ms vs 5.7 ms, recall@10 0.985 both; benchmarks/README.md). On-disk
# lists cannot hold them (FAISS packs fast-scan codes in blocks), so they keep 8-bit codes.
FASTSCAN_NBITS = 4
FASTSCAN_CANDIDATES = 400


def sample_rows(n: int, is_text: np.ndarray | None, size: int, seed: int = 0) -> np.ndarray:
    """Row numbers (sorted) of a training sample of `size` out of n, in which each modality present
    has at least MIN_MODALITY_SHARE of the rows, or all of its own."""
    rng = np.random.default_rng(seed)
    size = min(size, n)
    if is_text is None or size >= n:
        return np.sort(rng.choice(n, size, replace=False)) if size < n else np.arange(n)
    is_text = np.asarray(is_text, dtype=bool)
    groups = [np.flatnonzero(is_text), np.flatnonzero(~is_text)]
    quota = [min(len(g), int(MIN_MODALITY_SHARE * size)) for g in groups]  # each modality's floor
    room = [len(g) - q for g, q in zip(groups, quota)]
    rest = size - sum(quota)  # the rest in proportion to what is left of each
    extra = min(room[0], round(rest * room[0] / max(sum(room), 1)))
    quota = [quota[0] + extra, quota[1] + min(room[1], rest - extra)]
    quota[0] += size - sum(quota)  # rounding
    picked = [rng.choice(g, q, replace=False) for g, q in zip(groups, quota) if q > 0]
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, np.int64)


def train_size(nlist: int, n: int) -> int:
    return min(n, max(TRAIN_POINTS_PER_LIST * nlist, 256 * 64))


def opq_helps(sample: np.ndarray, m: int, nbits: int) -> tuple[bool, float]:
    """Train PQ with and without an OPQ rotation on a sample; (use OPQ?, relative error reduction)."""
    import faiss

    rows = np.random.default_rng(0).permutation(len(sample))[:OPQ_TRIAL_POINTS]
    x = np.ascontiguousarray(sample[np.sort(rows)], dtype=np.float32)
    d = x.shape[1]
    pq = faiss.ProductQuantizer(d, m, nbits)
    pq.cp.niter = 10
    pq.train(x)
    plain = float(((pq.decode(pq.compute_codes(x)) - x) ** 2).sum())
    opq = faiss.OPQMatrix(d, m)
    opq.niter = 10
    opq.niter_pq = 4
    opq.train(x)
    xr = opq.apply(x)
    pq2 = faiss.ProductQuantizer(d, m, nbits)
    pq2.cp.niter = 10
    pq2.train(xr)
    rotated = float(((pq2.decode(pq2.compute_codes(xr)) - xr) ** 2).sum())  # a rotation keeps distances
    gain = 1.0 - rotated / plain if plain > 0 else 0.0
    return gain >= OPQ_MIN_GAIN, gain


def make_params(n: int, dim: int, params: dict | None = None) -> dict:
    """Every build parameter of an IVF-PQ index for n vectors, from the given ones and defaults."""
    params = dict(params or {})
    nlist = params.get("nlist") or nlist_for(n)
    m = params.get("m") or default_pq_m(dim)
    ondisk = bool(params.get("ondisk", False))
    fastscan = bool(params.get("fastscan", True)) and not ondisk and m % 2 == 0
    out = {
        "nlist": nlist,
        "m": m,
        "nbits": FASTSCAN_NBITS if fastscan else (params.get("nbits") or nbits_for(n)),
        "fastscan": fastscan,
        "opq": params.get("opq", "auto"),
        "ondisk": ondisk,
        # lists probed: 1/8 of them with fast-scan codes (5M × 512: recall@10 0.979 in 4.2 ms; 1/16
        # gave 0.939), 1/32 with 8-bit ones (4-5x dearer to scan, and on disk)
        "nprobe": params.get("nprobe") or max(1, min(nlist, max(16, nlist // (8 if fastscan else 32)))),
        "rerank": params.get("rerank", 4),  # exact re-ranking of max(rerank·k, min_candidates) codes
        # 4-bit codes rank more coarsely: re-ranking 400 keeps the recall 8-bit codes reach with 100
        "min_candidates": params.get("min_candidates", FASTSCAN_CANDIDATES if fastscan else 100),
        "trained_on": n,
    }
    return out


def train(dim: int, sample: np.ndarray, params: dict):
    """An empty IVF-PQ index trained on `sample` (a mix of modalities); fills in params['opq']."""
    import faiss

    sample = np.ascontiguousarray(sample, dtype=np.float32)
    m, nbits, nlist = params["m"], params["nbits"], params["nlist"]
    if params["opq"] == "auto":
        if len(sample) >= OPQ_AUTO_MIN_N // 10 and params["trained_on"] >= OPQ_AUTO_MIN_N:
            use, gain = opq_helps(sample, m, nbits)
            params["opq"], params["opq_gain"] = use, round(gain, 4)
        else:
            params["opq"] = False
    prefix = f"OPQ{m}_{dim}," if params["opq"] else ""
    quantizer = f"IVF{nlist}_HNSW32" if nlist >= 32_768 else f"IVF{nlist}"
    codes = f"PQ{m}x{FASTSCAN_NBITS}fs" if params.get("fastscan") else f"PQ{m}x{nbits}"
    index = faiss.index_factory(dim, f"{prefix}{quantizer},{codes}", faiss.METRIC_INNER_PRODUCT)
    ivf = faiss.downcast_index(faiss.extract_index_ivf(index))
    if hasattr(ivf, "do_polysemous_training"):
        ivf.do_polysemous_training = False  # slow, and only useful for Hamming pre-filtering
    # Codes of the vectors themselves, not of their residuals: with inner product FAISS cannot
    # precompute the residual tables, so each probed list cost a table of its own (at nprobe 256
    # on 1M × 512: 4.0 ms a query instead of 6.9, the same recall once re-ranked exactly).
    ivf.by_residual = False
    ivf.cp.niter = KMEANS_ITER
    ivf.cp.spherical = True  # unit centroids: inner product ranks lists as it ranks vectors
    ivf.cp.min_points_per_centroid = 32
    ivf.cp.max_points_per_centroid = TRAIN_POINTS_PER_LIST
    ivf.pq.cp.niter = 15
    if params["opq"]:
        rotation = faiss.downcast_VectorTransform(index.chain.at(0))
        rotation.niter = OPQ_ITER
        rotation.max_train_points = OPQ_TRIAL_POINTS
        rotation.niter_pq_0 = 20
    index.train(sample)
    params["train_points"] = len(sample)
    return index


def encode_shard(trained: bytes, ids: np.ndarray, vectors: np.ndarray) -> bytes:
    """One shard: the vectors added to a copy of the trained, empty index, serialised.
    Pure (bytes in, bytes out), so a process pool or a Ray task can run it anywhere."""
    import faiss

    index = faiss.deserialize_index(np.frombuffer(trained, dtype=np.uint8))
    index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))
    return faiss.serialize_index(index).tobytes()


def merge_shard(index, shard) -> None:
    """Append a shard (an index, or bytes from encode_shard) built from the same trained index."""
    import faiss

    if isinstance(shard, (bytes, bytearray, memoryview)):
        shard = faiss.deserialize_index(np.frombuffer(shard, dtype=np.uint8))
    target, source = faiss.extract_index_ivf(index), faiss.extract_index_ivf(shard)
    with quiet_stdout():
        if is_ondisk(target):  # append list by list (FAISS merges into on-disk lists only when empty)
            _append_lists(faiss.downcast_InvertedLists(target.invlists), source.invlists)
            target.ntotal += source.ntotal
        else:
            target.merge_from(source, 0)
        index.ntotal = target.ntotal


def _append_lists(target, source) -> None:
    for i in range(source.nlist):
        size = source.list_size(i)
        if size:
            target.add_entries(i, size, source.get_ids(i), source.get_codes(i))


def add_in_shards(
    index,
    chunks: Iterable[tuple[np.ndarray, np.ndarray]],
    trained: bytes | None = None,
    map_shards: Callable[[Callable, Iterator], Iterable[bytes]] | None = None,
) -> None:
    """Add chunks of (ids, vectors) to a trained index.

    - `map_shards` (e.g. Ray tasks; needs `trained`, the serialised empty index): every chunk is
      encoded apart by encode_shard, and the shards are merged here as they come back.
    - lists on disk: chunks are encoded into in-memory shards of SHARD_VECTORS and appended to the
      data file a shard at a time (one write per list and shard, memory bounded by a shard).
    - otherwise straight into the index (FAISS spreads the encoding over the cores).
    """
    import faiss

    chunks = ((np.asarray(ids, dtype=np.int64), np.ascontiguousarray(v, dtype=np.float32)) for ids, v in chunks)
    if map_shards is not None:
        if trained is None:
            raise ValueError("encoding shards apart needs the serialised trained index")
        for shard in map_shards(encode_shard, ((trained, ids, vectors) for ids, vectors in chunks)):
            merge_shard(index, shard)
        return
    if not is_ondisk(faiss.extract_index_ivf(index)):
        for ids, vectors in chunks:
            index.add_with_ids(vectors, ids)
        return
    shard = None
    for ids, vectors in chunks:
        if shard is None:
            shard = _empty_like(index, trained)
        shard.add_with_ids(vectors, ids)
        if shard.ntotal >= SHARD_VECTORS:
            merge_shard(index, shard)
            shard = None
    if shard is not None and shard.ntotal:
        merge_shard(index, shard)


def _empty_like(index, trained: bytes | None):
    """An empty, in-memory copy of a trained index (its lists may be on disk)."""
    import faiss

    if trained is not None:
        return faiss.deserialize_index(np.frombuffer(trained, dtype=np.uint8))
    ivf = faiss.extract_index_ivf(index)
    lists, own = ivf.invlists, ivf.own_invlists
    ivf.own_invlists = False
    ivf.replace_invlists(faiss.ArrayInvertedLists(ivf.nlist, ivf.code_size), True)
    ntotal = index.ntotal
    try:
        copy = faiss.clone_index(index)
    finally:
        ivf.replace_invlists(lists, own)
        ivf.ntotal = index.ntotal = ntotal
    copy.reset()
    return copy


# --- inverted lists on disk ----------------------------------------------------------------------


def is_ondisk(ivf) -> bool:
    import faiss

    return isinstance(faiss.downcast_InvertedLists(ivf.invlists), faiss.OnDiskInvertedLists)


def ondisk_file(ivf) -> Path | None:
    import faiss

    lists = faiss.downcast_InvertedLists(ivf.invlists)
    return Path(lists.filename) if isinstance(lists, faiss.OnDiskInvertedLists) else None


def new_data_file(index_path: Path) -> Path:
    return index_path.with_name(f"{index_path.stem}.{uuid.uuid4().hex[:12]}.ivfdata")


def sibling_data_file(data_file: Path) -> Path:
    """A new data file beside an existing one, for the same index file."""
    return data_file.with_name(f"{data_file.name.split('.')[0]}.{uuid.uuid4().hex[:12]}.ivfdata")


def move_lists_to(index, data_file: Path) -> None:
    """Copy the index's inverted lists (in memory or on disk) into a new data file and use it."""
    import faiss

    ivf = faiss.extract_index_ivf(index)
    with quiet_stdout():
        target = faiss.OnDiskInvertedLists(ivf.nlist, ivf.code_size, str(data_file))
        if ivf.ntotal:
            lists = faiss.InvertedListsPtrVector()
            lists.push_back(ivf.invlists)
            target.merge_from_multiple(lists.data(), 1, False)
        else:  # FAISS cannot map an empty file: start with a free page
            target.update_totsize(4096)
    ivf.replace_invlists(target, True)
    target.this.disown()


def remove_stale_data_files(index_path: Path, keep: Path | None) -> None:
    """Data files no saved index refers to any more (readers that mapped one keep their mapping)."""
    for path in index_path.parent.glob(f"{index_path.stem}.*.ivfdata"):
        if keep is None or path.name != keep.name:
            with contextlib.suppress(OSError):
                path.unlink()


@contextlib.contextmanager
def quiet_stdout():
    """FAISS's on-disk lists print to the C stdout ('resizing …'); stdout carries results, so
    send it to stderr meanwhile."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):  # no real stdout (embedded, captured): nothing to protect
        yield
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        _flush_c_stdio()
        os.dup2(saved, 1)
        os.close(saved)


def _flush_c_stdio() -> None:
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).fflush(None)
