"""ANN benchmark: each FAISS index type and setting against exact search, in one run.

For every collection size: recall@10 against exact search (ties tolerated), p50/p99 latency of
one query at a time, build time and resident memory, for numpy brute force over all vectors (what
rclip does: the peer), FAISS Flat, HNSW (M × efSearch), IVF-Flat (nlist × nprobe), and the
library's own `auto` choice (searchengine.vectors.factory.build_index("auto"), searched
through FaissIndex.search as a query does). Then checks the target: at 1M × 512, p50 ≤ 1 ms with
recall@10 ≥ 0.97 and ≥ 50× faster than numpy, with `auto` landing on such a setting.

Collections:
- synthetic: clustered vectors with a text/image modality gap. Points of a low-dimensional
  latent space (clusters) are mapped into d dimensions, plus isotropic noise, plus a mean
  direction per modality (image and text means at cosine --gap-cos); 80 % image, 20 % text
  vectors, queried by fresh text and image vectors in equal parts. Like CLIP spaces, texts sit
  nearer texts than images: an IVF trained on images alone would serve text queries badly.
- real (--real INDEX_DIR): the vectors an index folder stores; its text segments query
  (or, with few texts, a held-out sample of its vectors).

Usage:
    python benchmarks/ann.py                                  # 100k and 1M (about 15 min on 2 cores)
    python benchmarks/ann.py --sizes 100000 --save            # and write benchmarks/results/ann.json
    python benchmarks/ann.py --sizes 20000 --hnsw-m 32 --queries 200   # a quick look
    python benchmarks/ann.py --real ~/.local/share/searchengine/default --sizes 0
"""

from __future__ import annotations

import argparse
import gc
import logging
import math
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from searchengine.eval.measure import latency_ms, machine, rss_bytes, save_result, to_json  # noqa: E402
from searchengine.eval.metrics import knn_recall  # noqa: E402
from searchengine.vectors.choice import FLAT_MAX, HNSW_MAX, choose_kind  # noqa: E402
from searchengine.vectors.factory import build_index  # noqa: E402

log = logging.getLogger("bench.ann")

K = 10
TARGET = {"n": 1_000_000, "dim": 512, "p50_ms": 1.0, "recall@10": 0.97, "speedup_vs_numpy": 50.0}
EF_SEARCH = (16, 32, 64, 128, 256)
NPROBE = (4, 8, 16, 32, 64, 128)


# --- collections ------------------------------------------------------------------------------


class ClusteredSpace:
    """A synthetic embedding space: clusters in a latent space, two modalities apart."""

    def __init__(self, dim: int, n_clusters: int, latent: int, gap_cos: float, spread: float, noise: float, seed: int):
        rng = np.random.default_rng(seed)
        self.dim, self.latent, self.spread, self.noise = dim, latent, spread, noise
        self.basis = np.linalg.qr(rng.standard_normal((dim, latent)))[0].astype(np.float32)  # [d, latent]
        self.centers = rng.standard_normal((n_clusters, latent)).astype(np.float32)
        a = _unit(rng.standard_normal(dim))
        b = rng.standard_normal(dim)
        b = _unit(b - a * (a @ b))
        self.means = {
            "image": a.astype(np.float32),
            "text": (gap_cos * a + math.sqrt(1 - gap_cos**2) * b).astype(np.float32),
        }

    def sample(self, n: int, modality: str, rng: np.random.Generator, chunk: int = 100_000) -> np.ndarray:
        out = np.empty((n, self.dim), np.float32)
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            clusters = rng.integers(0, len(self.centers), m)
            latent = self.centers[clusters] + self.spread * rng.standard_normal((m, self.latent), dtype=np.float32)
            v = latent @ self.basis.T / math.sqrt(self.latent)
            v += self.noise / math.sqrt(self.dim) * rng.standard_normal((m, self.dim), dtype=np.float32)
            v += 0.9 * self.means[modality]
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            out[start : start + m] = v
        return out


def synthetic(n: int, n_queries: int, args) -> dict:
    space = ClusteredSpace(args.dim, max(100, n // 500), args.latent, args.gap_cos, args.spread, args.noise, args.seed)
    rng = np.random.default_rng(args.seed + 1)
    n_images = int(0.8 * n)
    base = np.concatenate([space.sample(n_images, "image", rng), space.sample(n - n_images, "text", rng)])
    half = n_queries // 2
    queries = np.concatenate([space.sample(half, "text", rng), space.sample(n_queries - half, "image", rng)])
    query_kind = np.array(["text"] * half + ["image"] * (n_queries - half))
    return {
        "name": f"synthetic-{n}",
        "base": base,
        "queries": queries,
        "query_kind": query_kind,
        "generator": {
            "latent_dim": args.latent,
            "clusters": len(space.centers),
            "spread": args.spread,
            "noise": args.noise,
            "gap_cos": args.gap_cos,
            "base_mix": "80% image, 20% text",
            "queries": "50% text, 50% image",
        },
    }


def real(index_dir: Path, n_queries: int, seed: int) -> dict:
    from searchengine.store.folder import IndexFolder

    with IndexFolder.open(index_dir) as index:
        chunks = list(index.catalog.iter_vectors(index.manifest.dim))
        ids = np.concatenate([c[0] for c in chunks])
        vectors = np.concatenate([c[1] for c in chunks])
        records = index.catalog.segment_records(ids)
    is_text = np.array([records[int(i)].text is not None and records[int(i)].kind == "text" for i in ids])
    rng = np.random.default_rng(seed)
    pool = np.flatnonzero(is_text) if is_text.sum() >= min(100, n_queries) else np.arange(len(ids))
    held = rng.choice(pool, size=min(n_queries, len(pool) // 2 or 1), replace=False)
    keep = np.setdiff1d(np.arange(len(ids)), held)
    return {
        "name": f"real:{Path(index_dir).name}",
        "base": vectors[keep],
        "queries": vectors[held],
        "query_kind": np.where(is_text[held], "text", "other"),
        "generator": {"index": str(index_dir), "queries": "text segments" if pool is not ids else "held-out vectors"},
    }


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


# --- measuring ----------------------------------------------------------------------------------


class Bench:
    """One collection: exact ground truth, then one row per index and setting."""

    def __init__(self, data: dict, slow_queries: int):
        import faiss

        self.base, self.queries, self.query_kind = data["base"], data["queries"], data["query_kind"]
        self.slow_queries = min(slow_queries, len(self.queries))
        started = time.perf_counter()
        flat = faiss.IndexFlatIP(self.base.shape[1])
        flat.add(self.base)
        self.exact_scores, self.exact_ids = flat.search(self.queries, K)
        log.info(
            "%s: exact top-%d of %d queries in %.1f s",
            data["name"],
            K,
            len(self.queries),
            time.perf_counter() - started,
        )
        self.rows: list[dict] = []
        self.numpy_p50: float | None = None
        self._flat = flat

    def recall(self, ids: np.ndarray) -> dict:
        """recall@10 against exact, overall and per query kind."""
        safe = np.where(ids >= 0, ids, 0)
        scores = np.einsum("qkd,qd->qk", self.base[safe], self.queries)
        scores = np.where(ids >= 0, scores, -np.inf)
        out = {"recall@10": round(knn_recall(scores, self.exact_scores), 4)}
        for kind in np.unique(self.query_kind):
            rows = self.query_kind == kind
            out[f"recall@10_{kind}"] = round(knn_recall(scores[rows], self.exact_scores[rows]), 4)
        return out

    def add(
        self,
        name: str,
        params: dict,
        search_one,
        n_timed: int,
        batch_ids: np.ndarray | None = None,
        build_s: float | None = None,
        memory_bytes: int | None = None,
    ) -> dict:
        """Time search_one(i) over n_timed queries; recall of batch_ids (else of the timed results)."""
        found: list[np.ndarray] = []
        timing = latency_ms(lambda i: found.append(search_one(i)), n_timed)
        if batch_ids is None:
            batch_ids = np.stack(found)
        row = {
            "index": name,
            "params": params,
            **self.recall(batch_ids),
            **timing,
            "build_s": None if build_s is None else round(build_s, 2),
            "memory_mb": None if memory_bytes is None else round(memory_bytes / 2**20, 1),
        }
        if name == "numpy brute force":
            self.numpy_p50 = timing["p50_ms"]
        if self.numpy_p50:
            row["speedup_vs_numpy"] = round(self.numpy_p50 / max(timing["p50_ms"], 1e-6), 1)
        self.rows.append(row)
        log.info(
            "%-18s %-40s recall %.4f  p50 %.3f ms  p99 %.3f ms",
            name,
            params,
            row["recall@10"],
            row["p50_ms"],
            row["p99_ms"],
        )
        return row

    # --- the peers ---------------------------------------------------------------------------
    def numpy_brute_force(self) -> None:
        def one(i):
            scores = self.base @ self.queries[i]
            top = np.argpartition(-scores, K)[:K]
            return top[np.argsort(-scores[top])]

        self.add(
            "numpy brute force", {}, one, self.slow_queries, batch_ids=self.exact_ids, memory_bytes=self.base.nbytes
        )

    def faiss_flat(self) -> None:
        flat = self._flat
        for threads in self.thread_settings():
            with omp_threads(threads):
                self.add(
                    "faiss flat",
                    {"search_threads": threads},
                    lambda i: flat.search(self.queries[i : i + 1], K)[1][0],
                    self.slow_queries,
                    batch_ids=self.exact_ids,
                    memory_bytes=self.base.nbytes,
                )
        self._flat = None

    def thread_settings(self) -> list[int]:
        """FAISS's own thread count, and 1: OpenMP's fork/join around one query costs milliseconds
        when the cores are busy with other work."""
        import faiss

        return sorted({faiss.omp_get_max_threads(), 1}, reverse=True)

    # --- the library's choice ------------------------------------------------------------------
    def library_auto(self) -> dict:
        """build_index('auto') and FaissIndex.search, exactly as an index folder and a query use them."""
        before = rss_bytes()
        started = time.perf_counter()
        index = build_index("auto", self.base.shape[1], np.arange(len(self.base), dtype=np.int64), self.base)
        build_s = time.perf_counter() - started
        memory = rss_bytes() - before
        rows = []
        for threads in self.thread_settings():
            with omp_threads(threads):
                rows.append(
                    self.add(
                        "auto",
                        {"kind": index.kind, **index.params(), "search_threads": threads},
                        lambda i: index.search(self.queries[i : i + 1], K)[1][0],
                        len(self.queries),
                        build_s=build_s,
                        memory_bytes=memory,
                    )
                )
        self.auto_index = index
        return rows[0]

    # --- sweeps ------------------------------------------------------------------------------------
    def hnsw(self, m: int, ef_construction: int, graph=None) -> None:
        """efSearch sweep over a new graph, or over graph=(inner index, build_s, memory) already built."""
        import faiss

        if graph is not None:
            inner, build_s, memory = graph
        else:
            before = rss_bytes()
            started = time.perf_counter()
            inner = faiss.IndexHNSWFlat(self.base.shape[1], m, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = ef_construction
            inner.add(self.base)
            build_s, memory = time.perf_counter() - started, rss_bytes() - before
        for ef in EF_SEARCH:
            inner.hnsw.efSearch = ef
            _, ids = inner.search(self.queries, K)
            self.add(
                "hnsw",
                {"M": m, "efConstruction": ef_construction, "efSearch": ef},
                lambda i: inner.search(self.queries[i : i + 1], K),
                len(self.queries),
                batch_ids=ids,
                build_s=build_s,
                memory_bytes=memory,
            )

    def ivf(self, nlist: int, train_per_list: int, niter: int, seed: int) -> None:
        import faiss

        dim = self.base.shape[1]
        before = rss_bytes()
        started = time.perf_counter()
        n_train = min(len(self.base), train_per_list * nlist)
        sample = self.base[np.random.default_rng(seed).choice(len(self.base), n_train, replace=False)]
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = niter
        index.train(sample)
        train_s = time.perf_counter() - started
        index.add(self.base)
        build_s, memory = time.perf_counter() - started, rss_bytes() - before
        for nprobe in NPROBE:
            if nprobe > nlist:
                continue
            index.nprobe = nprobe
            _, ids = index.search(self.queries, K)
            self.add(
                "ivf",
                {
                    "nlist": nlist,
                    "nprobe": nprobe,
                    "train_points": n_train,
                    "kmeans_iter": niter,
                    "train_s": round(train_s, 1),
                },
                lambda i: index.search(self.queries[i : i + 1], K),
                len(self.queries),
                batch_ids=ids,
                build_s=build_s,
                memory_bytes=memory,
            )


@contextmanager
def omp_threads(n: int):
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def library_ivf_nlist(n: int) -> int:
    """nlist as faiss_index._ivf computes it (4·√n, at most n/39)."""
    return max(1, min(int(4 * math.sqrt(max(n, 1))), n // 39 if n >= 39 else 1))


def run_collection(data: dict, args) -> dict:
    from searchengine.vectors.base import faiss_inner

    n = len(data["base"])
    bench = Bench(data, args.slow_queries)
    bench.numpy_brute_force()
    bench.faiss_flat()
    gc.collect()
    auto = bench.library_auto()
    library = bench.auto_index
    for m in args.hnsw_m:
        if library.kind == "hnsw" and m == library.params()["M"]:  # sweep efSearch on the library's own graph
            graph = (faiss_inner(library.index), auto["build_s"], auto["memory_mb"] * 2**20)
            bench.hnsw(m, library.params()["efConstruction"], graph)
        elif m == 32 or n <= args.sweep_max_n:
            bench.hnsw(m, 80)
        gc.collect()
    bench.auto_index = library = None
    gc.collect()
    nlists = sorted({library_ivf_nlist(n), *(x for x in args.ivf_nlist if x <= n // 39 and n <= args.sweep_max_n)})
    for nlist in nlists:
        bench.ivf(nlist, args.ivf_train_per_list, args.ivf_iter, args.seed)
        gc.collect()
    return {
        "collection": data["name"],
        "n": n,
        "dim": int(data["base"].shape[1]),
        "queries": len(data["queries"]),
        "timed_queries_slow_peers": bench.slow_queries,
        "generator": data["generator"],
        "auto": {
            "kind": choose_kind(n),
            **{k: auto.get(k) for k in ("params", "recall@10", "p50_ms", "p99_ms", "speedup_vs_numpy")},
        },
        "rows": bench.rows,
    }


def verdict(collection: dict) -> dict:
    """Does `auto` meet the target here, and which measured settings do (cheapest first)?"""

    def meets(row):
        return (
            row["p50_ms"] <= TARGET["p50_ms"]
            and row["recall@10"] >= TARGET["recall@10"]
            and (row.get("speedup_vs_numpy") or 0) >= TARGET["speedup_vs_numpy"]
        )

    good = sorted(
        (r for r in collection["rows"] if r["index"] in ("hnsw", "ivf") and meets(r)), key=lambda r: r["p50_ms"]
    )
    autos = [r for r in collection["rows"] if r["index"] == "auto"]
    return {
        "n": collection["n"],
        "auto_meets_target": meets(autos[0]),
        "auto": [{k: a.get(k) for k in ("params", "recall@10", "p50_ms", "p99_ms", "speedup_vs_numpy")} for a in autos],
        "settings_meeting_target": [
            {
                "index": r["index"],
                "params": r["params"],
                "recall@10": r["recall@10"],
                "p50_ms": r["p50_ms"],
                "build_s": r["build_s"],
            }
            for r in good[:5]
        ],
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated collection sizes (0: none)")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=1000, help="queries for recall and ANN latency")
    parser.add_argument("--slow-queries", type=int, default=50, help="queries timed for numpy and flat")
    parser.add_argument("--threads", type=int, default=2, help="FAISS threads (build, batch search)")
    parser.add_argument("--hnsw-m", default="16,32", help="HNSW M values (M=32 is the library's)")
    parser.add_argument(
        "--sweep-max-n",
        type=int,
        default=200_000,
        help="above this size, build only the library's settings (HNSW M=32, IVF nlist 4·√n)",
    )
    parser.add_argument("--ivf-nlist", default="1024", help="IVF nlist values besides the library's 4·√n")
    parser.add_argument("--ivf-train-per-list", type=int, default=32, help="k-means training points per list")
    parser.add_argument("--ivf-iter", type=int, default=10, help="k-means iterations")
    parser.add_argument("--latent", type=int, default=64)
    parser.add_argument("--spread", type=float, default=1.0)
    parser.add_argument("--noise", type=float, default=0.5)
    parser.add_argument("--gap-cos", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--real", type=Path, action="append", default=[], help="index folder whose vectors to use")
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/ann.json")
    parser.add_argument("--name", default="ann", help="result file name (with --save)")
    args = parser.parse_args(argv)
    args.hnsw_m = [int(x) for x in args.hnsw_m.split(",") if x]
    args.ivf_nlist = [int(x) for x in args.ivf_nlist.split(",") if x]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)

    import faiss

    faiss.omp_set_num_threads(args.threads)
    started = time.perf_counter()
    result = {
        "benchmark": "ann",
        "machine": machine(),
        "threads": args.threads,
        "k": K,
        "target": TARGET,
        "library": {"FLAT_MAX": FLAT_MAX, "HNSW_MAX": HNSW_MAX},
        "collections": [],
    }
    sources = [lambda n=int(x): synthetic(n, args.queries, args) for x in args.sizes.split(",") if int(x) > 0]
    sources += [lambda folder=folder: real(folder, args.queries, args.seed) for folder in args.real]
    for source in sources:
        result["collections"].append(run_collection(source(), args))
        result["verdicts"] = [verdict(c) for c in result["collections"]]
        gc.collect()
        if args.save:  # after each collection, so a long run that is stopped keeps what it measured
            save_result(result, args.name)
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["machine"]["load_average_1m_at_end"] = machine().get("load_average_1m")
    print(to_json(result))
    if args.save:
        log.info("wrote %s", save_result(result, args.name))


if __name__ == "__main__":
    main()
