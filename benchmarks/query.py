"""Query benchmark: end-to-end search latency on a 100k-segment index, warm, and a cold CLI query.

The index is built through the library (IndexFolder.commit, then save, which picks the `auto`
vector index, and the calibration the pipeline writes), not through the encoder: embedding
100k files would take an hour on 2 cores. Its vectors lie near real text embeddings (a few
thousand generated sentences embedded by the real encoder, plus noise), so real text queries
land among them as they would in a user's index: 80 % of the segments are images (one per
item), 20 % passages of text documents (five per item).

Warm (one process, the encoder loaded, a few warm-up queries first): p50/p99 of
- embed: the query text through the text encoder;
- vector search: the vector index alone (FaissIndex.search of 64 results);
- search: Searcher.search as `searchengine search` runs it (embed, one ANN search per segment
  group, exact re-rank, catalog join, calibration, confidence, one hit per file), default filters
  (the k best, no cutoff);
- search, images only / explicit cutoff: the same with --type image, or --min-score 2.8 (the
  cutoff that used to be the default, which made searches widen to the whole index);
- search, no good match: queries about subjects far from everything indexed ("quantum
  chromodynamics on a lattice"), default filters.
Cold: the wall time of `python -m searchengine search "…" --index DIR --json` in a new process,
next to `python -m searchengine --help` (interpreter and CLI start-up alone).

Usage:
    python benchmarks/query.py                          # 100k segments in a temp folder
    python benchmarks/query.py --index /tmp/q100k       # keep the index and reuse it next time
    python benchmarks/query.py --segments 20000 --queries 50 --save
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from searchengine.calibrate import refresh_calibration  # noqa: E402
from searchengine.config import cache_dir
from searchengine.encoders.registry import DEFAULT_MODEL, load_encoder  # noqa: E402
from searchengine.eval.measure import machine, save_result, summarize_ms, to_json  # noqa: E402
from searchengine.query import Filters, Query, Searcher  # noqa: E402
from searchengine.store.folder import IndexFolder, exists  # noqa: E402
from searchengine.store.records import ItemDraft, SegmentDraft  # noqa: E402

log = logging.getLogger("bench.query")
ROOT = Path(__file__).resolve().parents[1]
PASSAGES = 5
COMMIT = 2000  # items per transaction

SUBJECTS = (
    "a red bicycle",
    "an old wooden violin",
    "a harbour at night",
    "a cat asleep on a sofa",
    "a frozen lake",
    "a bowl of soup",
    "a lighthouse in a storm",
    "a child's drawing of a house",
    "a rocket launch",
    "a field of sunflowers",
    "a broken umbrella",
    "a street market",
    "a dog catching a ball",
    "the minutes of a budget meeting",
    "a recipe for bread",
    "a map of the mountains",
    "a blue teapot",
    "a train crossing a bridge",
    "a violin concert",
    "a snowy forest",
)
ABSENT = (
    "quantum chromodynamics on a lattice",
    "my tax return for 2023",
    "the offside rule in ice hockey",
    "a kernel panic in the network driver",
    "the conjugation of irregular Finnish verbs",
)
PLACES = (
    "in the morning",
    "at dusk",
    "seen from above",
    "in the rain",
    "on a table",
    "by the sea",
    "in a museum",
    "under a tree",
    "in black and white",
    "up close",
)


def sentences(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.choice(SUBJECTS)} {rng.choice(PLACES)}" for _ in range(n)]


def build(folder: Path, model: str, encoder, n_segments: int, anchors: int, noise: float, seed: int) -> dict:
    """A catalog of n_segments segments whose vectors lie near real text embeddings."""
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    anchor_vectors = encoder.embed_texts(sentences(anchors, seed))
    n_docs = n_segments // 5 // PASSAGES
    n_images = n_segments - n_docs * PASSAGES
    items = [("image", f"/bench/photos/{i // 1000:03d}/img-{i:06d}.jpg", 1) for i in range(n_images)]
    items += [("text", f"/bench/docs/{i // 1000:03d}/doc-{i:06d}.txt", PASSAGES) for i in range(n_docs)]
    rng.shuffle(items)
    with IndexFolder.open_for_writing(folder, model, encoder.id, encoder.dim, "auto") as index:
        run_id = index.catalog.start_run(Path("/bench"), encoder.id)
        for start in range(0, len(items), COMMIT):
            drafts = []
            for kind, path, n in items[start : start + COMMIT]:
                near = anchor_vectors[rng.integers(0, anchors, n)]
                vectors = near + noise / np.sqrt(encoder.dim) * rng.standard_normal(near.shape).astype(np.float32)
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                segments = [
                    SegmentDraft(j, v, text=f"passage {j} of {Path(path).stem}" if kind == "text" else None)
                    for j, v in enumerate(vectors)
                ]
                drafts.append(ItemDraft(path, kind, 1000, 0, f"{path}-hash", segments))
            index.commit(run_id, drafts)
        committed = time.perf_counter()
        index.save()
        saved = time.perf_counter()
        refresh_calibration(index, encoder, cache_dir())
        index.catalog.finish_run(run_id, {"added": len(items)})
        kind, params = index.manifest.index_type, index.manifest.index_params
    return {
        "segments": n_images + n_docs * PASSAGES,
        "items": len(items),
        "index_type": kind,
        "params": params,
        "commit_s": round(committed - started, 1),
        "save_s": round(saved - committed, 1),
        "calibration_s": round(time.perf_counter() - saved, 1),
    }


def warm(folder: Path, queries: list[str], device: str) -> dict:
    """Each query runs every stage in turn, so all stages see the same machine load."""
    searcher = Searcher.open(folder, device=device, cache_dir=cache_dir())
    try:
        for q in queries[:5]:
            searcher.search(Query(text=q))
        stages = {
            "embed": lambda q, v: searcher.encoder.embed_texts([q]),
            "vector_search": lambda q, v: searcher.index.vectors.search(v[None, :], 64),
            "search": lambda q, v: searcher.search(Query(text=q), Filters(), k=10),
            "search_images_only": lambda q, v: searcher.search(Query(text=q), Filters(kind="image"), k=10),
            "search_min_score_2.8": lambda q, v: searcher.search(Query(text=q), Filters(min_score=2.8), k=10),
            "search_no_good_match": lambda q, v: searcher.search(Query(text=next(absent)), Filters(), k=10),
        }
        absent = itertools.cycle(ABSENT)
        times: dict[str, list[float]] = {name: [] for name in stages}
        hits: dict[str, list[int]] = {name: [] for name in stages if name.startswith("search")}
        for q in queries:
            vector = searcher.encoder.embed_texts([q])[0]
            for name, run in stages.items():
                started = time.perf_counter_ns()
                out = run(q, vector)
                times[name].append((time.perf_counter_ns() - started) / 1e6)
                if name in hits:
                    hits[name].append(len(out))
        result = {name: summarize_ms(t) for name, t in times.items()}
        for name, counts in hits.items():
            result[name]["mean_hits"] = round(statistics.mean(counts), 2)
        return result
    finally:
        searcher.close()


def cold(folder: Path, query: str, repeat: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}

    def wall(args: list[str]) -> float:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "searchengine", *args], capture_output=True, text=True, env=env)
        if done.returncode:
            raise RuntimeError(f"searchengine {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
        return time.perf_counter() - started

    help_s = [wall(["--help"]) for _ in range(repeat)]
    search_s = [wall(["search", query, "--index", str(folder), "--json"]) for _ in range(repeat)]
    return {
        "query": query,
        "cli_search_s": [round(s, 2) for s in search_s],
        "cli_search_median_s": round(statistics.median(search_s), 2),
        "cli_help_s": [round(s, 2) for s in help_s],
        "cli_help_median_s": round(statistics.median(help_s), 2),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--segments", type=int, default=100_000)
    parser.add_argument("--anchors", type=int, default=2000, help="real sentence embeddings the vectors lie near")
    parser.add_argument("--noise", type=float, default=0.6, help="noise norm added to each anchor")
    parser.add_argument("--queries", type=int, default=200, help="warm queries timed")
    parser.add_argument("--cold-repeat", type=int, default=3)
    parser.add_argument("--index", type=Path, default=None, help="build (or reuse) the index here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/query.json")
    parser.add_argument("--name", default="query")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)

    started = time.perf_counter()
    result = {"benchmark": "query", "machine": machine(), "model": args.model}
    with tempfile.TemporaryDirectory(prefix="bench-query-") as tmp:
        folder = (args.index or Path(tmp) / "index").expanduser().resolve()
        encoder = load_encoder(args.model, args.device, cache_dir=cache_dir())
        result["encoder_id"] = encoder.id
        if exists(folder):
            with IndexFolder.open(folder) as index:
                result["index"] = {
                    "reused": str(folder),
                    "segments": index.catalog.segment_count(),
                    "index_type": index.manifest.index_type,
                    "params": index.manifest.index_params,
                }
        else:
            log.info("building a %d-segment index in %s", args.segments, folder)
            result["index"] = build(folder, args.model, encoder, args.segments, args.anchors, args.noise, args.seed)
        log.info("index: %s", result["index"])
        del encoder  # the warm run loads its own, as a search does
        queries = [f"{s} {p}" for s in SUBJECTS for p in PLACES]
        random.Random(args.seed + 1).shuffle(queries)
        result["warm"] = warm(folder, queries[: args.queries], args.device)
        log.info("warm: %s", result["warm"])
        result["cold"] = cold(folder, "a red bicycle by the sea", args.cold_repeat)
        log.info("cold: %s", result["cold"])
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["machine"]["load_average_1m_at_end"] = machine().get("load_average_1m")
    print(to_json(result))
    if args.save:
        log.info("wrote %s", save_result(result, args.name))


if __name__ == "__main__":
    main()
