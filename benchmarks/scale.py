"""Scale benchmark: the Ray engine against the in-process pipeline, and the compressed index.

1. `ingest`: `index_folder` (in process) and `index_folder_ray` (`--engine ray`, local Ray with
   this machine's cores, started once before the rounds: its start-up is reported apart) over the
   same images (samples/photos × --repeat), in rounds that run both, each engine first in turn,
   so both see the same drift of this shared machine. Each run is a whole `index` run into a new
   index (models loaded, decode, embed, commit, save). What a running cluster has already is
   started once before the rounds and reported apart: Ray itself (`ray_start_s`) and Ray Data's
   helper actors, which its first job starts (`ray_data_start_s`, an empty job). Every round's
   Ray run still starts its own embedding actor and loads the model.
   Reported: files/s of each, the ratio per round and its median (target ≥ 0.85), and whether
   the two catalogs are identical (ids, records, vector bytes) with identical search results.
2. `index`: IVF-PQ as `auto` builds it past the single-machine thresholds (choice.ivfpq_choice,
   training on a sample of both modalities), on --n synthetic 512-d vectors (ann.py's clustered
   space: 80 % image, 20 % text vectors, a modality gap), the exact vectors in a memory-mapped
   file standing in for the catalog that re-ranks the candidates. Reported: train and add time,
   index size (file) and the process's resident memory, recall@10 against exact search after
   re-ranking (target ≥ 0.95), p50/p99 latency of one query at a time through FaissIndex.search
   (re-ranking included; target p50 ≤ 5 ms), with FAISS's threads and with one, and a sweep of
   nprobe (half and twice the library's) × re-ranked candidates.

Usage:
    python benchmarks/scale.py ingest --save --name scale-ingest        # 2,100 images, 5 rounds: ~10 min
    nice -n 10 python benchmarks/scale.py index --n 1000000 --save      # ~20 min on 2 loaded cores
    nice -n 10 python benchmarks/scale.py index --n 5000000 --save --name scale-5m \\
        --work /var/tmp/scale                                          # a quiet machine, ≥ 24 GB, ~25 GB disk
"""

from __future__ import annotations

import argparse
import gc
import logging
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from searchengine.eval.measure import latency_ms, machine, peak_rss_bytes, rss_bytes, save_result, to_json  # noqa: E402
from searchengine.eval.metrics import knn_recall  # noqa: E402

log = logging.getLogger("bench.scale")
K = 10
TARGETS = {"ray_vs_local": 0.85, "recall@10": 0.95, "p50_ms": 5.0}


# --- 1. the Ray engine against the in-process pipeline --------------------------------------------


def ingest_part(args, work: Path) -> dict:
    import ray
    from ingest import image_folder  # benchmarks/ingest.py

    from searchengine.config import cache_dir
    from searchengine.distributed.executor import RayExecutor
    from searchengine.ingest.run import sync_folder
    from searchengine.ingest.settings import IngestSettings

    files = image_folder(ROOT / "samples" / "photos", args.repeat, None, work / "images")
    settings = IngestSettings(model=args.model, device="cpu", workers=args.workers)
    started = time.perf_counter()
    ray.init(num_cpus=args.ray_cpus, include_dashboard=False, log_to_driver=False)
    ray_start_s = time.perf_counter() - started
    ray_data_start_s = _start_ray_data()
    rounds, last = [], {}
    try:
        for r in range(args.rounds):
            row = {}
            engines = (("local", None), ("ray", RayExecutor))
            for engine, executor in engines if r % 2 == 0 else engines[::-1]:  # alternate: drift cancels out
                index_dir = work / f"{engine}-{r}"
                commits = CommitTimes()
                summary = sync_folder(
                    work / "images",
                    index_dir,
                    settings,
                    commits,
                    cache_dir=cache_dir(),
                    executor=executor() if executor else None,
                )
                row[engine] = {
                    "files": summary.embedded,
                    "seconds": round(summary.seconds, 2),
                    "files_per_s": round(summary.items_per_second, 3),
                    **commits.steady(),
                }
                last[engine] = index_dir
            row["ratio"] = round(row["ray"]["files_per_s"] / row["local"]["files_per_s"], 3)
            row["ratio_steady"] = round(row["ray"]["steady_files_per_s"] / row["local"]["steady_files_per_s"], 3)
            log.info(
                "round %d: local %.2f files/s, ray %.2f files/s (%.2f)",
                r + 1,
                row["local"]["files_per_s"],
                row["ray"]["files_per_s"],
                row["ratio"],
            )
            rounds.append(row)
        same_catalog = _catalog(last["ray"]) == _catalog(last["local"])
        same_hits = _hits(last["ray"], args) == _hits(last["local"], args)
    finally:
        ray.shutdown()
    ratio = statistics.median(r["ratio"] for r in rounds)
    steady = statistics.median(r["ratio_steady"] for r in rounds)
    return {
        "images": len(files),
        "repeat": args.repeat,
        "model": args.model,
        "decode_workers": args.workers,
        "commit_every": settings.commit_every,
        "ray_cpus": args.ray_cpus,
        "ray_start_s": round(ray_start_s, 2),
        "ray_data_start_s": round(ray_data_start_s, 2),
        "rounds": rounds,
        "ratio_median": ratio,
        "ratio_steady_median": steady,
        "target_ratio": TARGETS["ray_vs_local"],
        "meets_target": ratio >= TARGETS["ray_vs_local"],
        "identical_catalog": same_catalog,
        "identical_search_results": same_hits,
    }


class _Echo:
    def __call__(self, batch: dict) -> dict:
        return batch


def _start_ray_data() -> float:
    """Seconds of a first, empty Ray Data job with an actor pool. It starts the cluster's Ray Data
    helpers (stats, autoscaling coordinator, actor locations: detached actors, one a cluster,
    started by the first job and kept), which a cluster that runs jobs has running already."""
    import ray.data

    started = time.perf_counter()
    ray.data.range(2).map_batches(_Echo, compute=ray.data.ActorPoolStrategy(size=1)).take_all()
    return time.perf_counter() - started


class CommitTimes:
    """A Progress that notes when each committed chunk arrived: throughput between the first and
    the last commit leaves out what a run spends before its first chunk (loading models, starting
    Ray's workers and actors) and shows the pipelines running."""

    def __init__(self):
        self.times: list[tuple[float, int]] = []
        self.started: float | None = None

    def start(self, phase: str, total: int) -> None:
        self.started = self.started or time.perf_counter()

    def advance(self, n: int = 1) -> None:
        self.times.append((time.perf_counter(), n))

    def failed(self, path: str, reason: str) -> None:
        pass

    def media(self, *args) -> None:
        pass

    def media_done(self, *args) -> None:
        pass

    def steady(self) -> dict:
        if len(self.times) < 2:
            return {"steady_files_per_s": None}
        files = sum(n for _, n in self.times[1:])
        return {
            "steady_files_per_s": round(files / (self.times[-1][0] - self.times[0][0]), 3),
            "first_commit_s": round(self.times[0][0] - self.started, 2),
        }


def _catalog(index_dir: Path) -> tuple[list, list]:
    with sqlite3.connect(index_dir / "catalog.sqlite") as db:
        items = db.execute(
            "SELECT id, path, kind, size, mtime_ns, content_hash, status FROM items ORDER BY id"
        ).fetchall()
        segments = db.execute("SELECT id, item_id, ordinal, text, vector FROM segments ORDER BY id").fetchall()
    return items, segments


def _hits(index_dir: Path, args) -> list:
    from searchengine.config import cache_dir
    from searchengine.query import Filters, Query, Searcher

    searcher = Searcher.open(index_dir, device="cpu", cache_dir=cache_dir())
    try:
        queries = [Query(text=t) for t in ("a cat", "a rocket on the launch pad", "a red flower", "coins")]
        return [
            [(h.path, h.segment_id, h.raw_score) for h in searcher.search(q, Filters(min_score=None), k=10)]
            for q in queries
        ]
    finally:
        searcher.close()


# --- 2. the compressed index ---------------------------------------------------------------------


def synthetic_base(n: int, dim: int, path: Path, seed: int) -> tuple[np.ndarray, np.ndarray, object]:
    """n clustered vectors (80 % image, 20 % text) in a memory-mapped file; (base, is_text, space)."""
    from ann import ClusteredSpace  # benchmarks/ann.py

    space = ClusteredSpace(dim, max(100, n // 500), 64, 0.3, 1.0, 0.5, seed)
    rng = np.random.default_rng(seed + 1)
    base = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, dim))
    is_text = np.zeros(n, dtype=bool)
    chunk = 250_000
    for start in range(0, n, chunk):  # texts spread through the collection, as files are indexed
        m = min(chunk, n - start)
        texts = rng.random(m) < 0.2
        base[start : start + m][~texts] = space.sample(int((~texts).sum()), "image", rng)
        base[start : start + m][texts] = space.sample(int(texts.sum()), "text", rng)
        is_text[start : start + m] = texts
    base.flush()
    return base, is_text, space


def exact_top(base: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k by inner product, streaming the base in chunks."""
    import faiss

    scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    ids = np.full((len(queries), k), -1, dtype=np.int64)
    chunk = 500_000
    for start in range(0, len(base), chunk):
        flat = faiss.IndexFlatIP(base.shape[1])
        flat.add(np.ascontiguousarray(base[start : start + chunk]))
        s, i = flat.search(queries, k)
        merged_s, merged_i = np.concatenate([scores, s], 1), np.concatenate([ids, i + start], 1)
        order = np.argsort(-merged_s, axis=1, kind="stable")[:, :k]
        scores, ids = np.take_along_axis(merged_s, order, 1), np.take_along_axis(merged_i, order, 1)
    return scores, ids


def index_part(args, work: Path) -> dict:
    import faiss

    from searchengine.vectors.choice import estimate_bytes, ivfpq_choice
    from searchengine.vectors.factory import add_chunks
    from searchengine.vectors.ivfpq import IvfPqIndex

    faiss.omp_set_num_threads(args.threads)
    n, dim = args.n, args.dim
    started = time.perf_counter()
    base, is_text, space = synthetic_base(n, dim, work / "base.npy", args.seed)
    generate_s = time.perf_counter() - started
    rng = np.random.default_rng(args.seed + 2)
    half = args.queries // 2
    queries = np.concatenate([space.sample(half, "text", rng), space.sample(args.queries - half, "image", rng)])
    query_kind = np.array(["text"] * half + ["image"] * (args.queries - half))
    started = time.perf_counter()
    exact_scores, _ = exact_top(base, queries, K)
    exact_s = time.perf_counter() - started
    log.info(
        "%d × %d generated in %.0f s, exact top-%d of %d queries in %.0f s",
        n,
        dim,
        generate_s,
        K,
        len(queries),
        exact_s,
    )

    choice = ivfpq_choice(n, dim, args.max_memory)
    gc.collect()
    rss_before = rss_bytes()
    data_file = work / "vectors.ondisk.ivfdata" if choice.params.get("ondisk") else None
    started = time.perf_counter()
    index = IvfPqIndex.train(
        dim, n, lambda rows: np.ascontiguousarray(base[rows]), is_text, dict(choice.params), data_file
    )
    train_s = time.perf_counter() - started
    log.info("trained %s in %.0f s", index.params(), train_s)
    started = time.perf_counter()
    add_chunks(
        index,
        ((np.arange(s, min(s + 100_000, n), dtype=np.int64), base[s : s + 100_000]) for s in range(0, n, 100_000)),
    )
    add_s = time.perf_counter() - started
    rss_after = rss_bytes()
    index.save(work / "vectors.faiss")
    file_bytes = sum(p.stat().st_size for p in work.glob("vectors.*") if p.is_file())
    log.info("added %d vectors in %.0f s; index file %.0f MB", n, add_s, file_bytes / 2**20)

    index.rerank_with(lambda ids: base[np.sort(ids)][np.argsort(np.argsort(ids))])
    rows, defaults = [], index.params()
    nprobes = sorted({defaults["nprobe"], *(max(1, int(f * defaults["nprobe"])) for f in args.nprobe)})
    for nprobe in nprobes:
        for candidates in sorted({defaults["min_candidates"], *args.candidates}):
            rows.append(_measure(index, base, queries, query_kind, exact_scores, nprobe, candidates, args))
    default = next(
        r for r in rows if r["nprobe"] == defaults["nprobe"] and r["min_candidates"] == defaults["min_candidates"]
    )
    return {
        "n": n,
        "dim": dim,
        "queries": len(queries),
        "threads": args.threads,
        "generator": "ann.py ClusteredSpace: latent 64, clusters n/500, gap cos 0.3; 80 % image, 20 % text",
        "params": defaults,
        "estimated_bytes": estimate_bytes("ivfpq", n, dim, defaults),
        "index_file_bytes": file_bytes,
        "rss_growth_bytes": rss_after - rss_before,
        "peak_rss_bytes": peak_rss_bytes(),
        "generate_s": round(generate_s, 1),
        "exact_search_s": round(exact_s, 1),
        "train_s": round(train_s, 1),
        "add_s": round(add_s, 1),
        "build_s": round(train_s + add_s, 1),
        "add_vectors_per_s": round(n / add_s),
        "rows": rows,
        "library_default": default,
        "meets_target": default["recall@10"] >= TARGETS["recall@10"]
        and default["p50_ms_1_thread"] <= TARGETS["p50_ms"],
    }


def _measure(index, base, queries, query_kind, exact_scores, nprobe, candidates, args) -> dict:
    import faiss

    index._params["nprobe"], index._params["min_candidates"] = nprobe, candidates
    index._apply_search_params()
    _, found = index.search(queries, K)
    found_scores = np.einsum("qkd,qd->qk", base[np.clip(found, 0, None)], queries)
    found_scores = np.where(found >= 0, found_scores, -np.inf)
    row = {
        "nprobe": nprobe,
        "min_candidates": candidates,
        "recall@10": round(knn_recall(found_scores, exact_scores), 4),
    }
    for kind in ("text", "image"):
        mask = query_kind == kind
        row[f"recall@10_{kind}"] = round(knn_recall(found_scores[mask], exact_scores[mask]), 4)
    timed = min(args.timed, len(queries))
    for threads in sorted({args.threads, 1}, reverse=True):
        faiss.omp_set_num_threads(threads)
        timing = latency_ms(lambda i: index.search(queries[i : i + 1], K), timed)
        suffix = "1_thread" if threads == 1 else f"{threads}_threads"
        row[f"p50_ms_{suffix}"], row[f"p99_ms_{suffix}"] = timing["p50_ms"], timing["p99_ms"]
    faiss.omp_set_num_threads(args.threads)
    log.info(
        "nprobe %d, candidates %d: recall %.4f (text %.4f), p50 %.2f ms (1 thread)",
        nprobe,
        candidates,
        row["recall@10"],
        row["recall@10_text"],
        row["p50_ms_1_thread"],
    )
    return row


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", choices=("ingest", "index", "all"))
    parser.add_argument("--repeat", type=int, default=100, help="ingest: copies of samples/photos (21 images each)")
    parser.add_argument(
        "--rounds", type=int, default=5, help="ingest: rounds of both engines (in turn first); the median ratio counts"
    )
    parser.add_argument("--model", default="bundled")
    parser.add_argument("--workers", type=int, default=2, help="ingest: decode threads of the in-process pipeline")
    parser.add_argument("--ray-cpus", type=int, default=None, help="ingest: CPUs of the local Ray [default: all]")
    parser.add_argument("--n", type=int, default=1_000_000, help="index: number of vectors")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--timed", type=int, default=300, help="index: queries timed one at a time")
    parser.add_argument("--threads", type=int, default=2, help="index: FAISS threads (build, batch search)")
    parser.add_argument(
        "--nprobe", default="0.5,2", help="index: nprobe values besides the library's, as multiples of it"
    )
    parser.add_argument(
        "--candidates",
        default="",
        help="index: re-ranked candidates (min_candidates) besides the library's, e.g. 100,800",
    )
    parser.add_argument("--max-memory", type=str, default=None, help="index: budget for ivfpq_choice (e.g. 1G)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None, help="scratch folder [default: a temporary one]")
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/<name>.json")
    parser.add_argument("--name", default="scale")
    args = parser.parse_args(argv)
    args.nprobe = [float(x) for x in args.nprobe.split(",") if x]
    args.candidates = [int(x) for x in args.candidates.split(",") if x]
    if args.max_memory is not None:
        from searchengine.vectors.choice import parse_size

        args.max_memory = parse_size(args.max_memory)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    logging.getLogger("ray").setLevel(logging.WARNING)

    result = {"benchmark": "scale", "machine": machine(), "targets": TARGETS}
    started = time.perf_counter()
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="scale-", dir=args.work))
    try:
        if args.part in ("ingest", "all"):
            result["ingest"] = ingest_part(args, work / "ingest")
        if args.part in ("index", "all"):
            (work / "index").mkdir()
            result["index"] = index_part(args, work / "index")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["machine"]["load_average_1m_at_end"] = machine().get("load_average_1m")
    print(to_json(result))
    if args.save:
        log.info("wrote %s", save_result(result, args.name))


if __name__ == "__main__":
    main()
