"""Speed of the bundled encoder variants: image forward (pre-decoded, batches of 8) and, with
--folder, indexing a folder end to end (decode + resize + network + head + store), JSON out.

    python benchmarks/bundled/speed.py [--threads 2] [--images 160] [--models bundled:lit-v1 bundled:lit-v2]
    python benchmarks/bundled/speed.py --folder indexes/datasets/photos2/images --rounds 2 --save

Forward: images are decoded and prepared (resize, crop) before timing, as the pipeline does in
its decode workers; what is timed is `embed_images` on prepared arrays (network + head, and the
attribute evidence where the head uses pixels). End to end: `index_folder` into a fresh index,
models loaded (and their ONNX exports cached) beforehand; models alternate between rounds so
they see the same machine load. Cold text query: a new `searchengine search` process per query
against an index of each model, models taking turns, median wall time. Timing on a shared machine is noisy: compare
models within one run (the JSON records the 1-minute load average).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "benchmarks" / "results" / "bundled-speed.json"


def forward(name: str, photos: list[Path], images: int, batch: int) -> dict:
    from searchengine.config import cache_dir
    from searchengine.encoders.registry import load_encoder
    from searchengine.media.images import load_image

    encoder = load_encoder(name, "cpu", cache_dir=cache_dir())
    prepared = [encoder.prepare_image(load_image(p)) for p in photos]
    batches = [[prepared[(i + j) % len(prepared)] for j in range(batch)] for i in range(0, images, batch)]
    encoder.embed_images(batches[0])  # warm-up: model load, first-call allocations
    start = time.perf_counter()
    for b in batches:
        encoder.embed_images(b)
    seconds = time.perf_counter() - start
    n = len(batches) * batch
    return {
        "model": encoder.id,
        "runtime": encoder.runtime,
        "images": n,
        "images_per_s": round(n / seconds, 1),
        "load_1m": round(os.getloadavg()[0], 2),
    }


def index_once(name: str, folder: Path, workers: int) -> dict:
    from searchengine.config import cache_dir
    from searchengine.ingest.run import sync_folder
    from searchengine.ingest.settings import IngestSettings

    with tempfile.TemporaryDirectory(prefix="bundled-speed-") as tmp:
        summary = sync_folder(
            folder,
            Path(tmp) / "index",
            IngestSettings(model=name, device="cpu", workers=workers),
            cache_dir=cache_dir(),
        )
    return {
        "images": summary.added,
        "failed": summary.failed,
        "seconds": round(summary.seconds, 2),
        "images_per_s": round(summary.items_per_second, 1),
        "load_1m": round(os.getloadavg()[0], 2),
    }


def cold_queries(names: list[str], folder: Path, runs: int) -> dict:
    """Median wall time of `searchengine search` in new processes against an index of `folder`
    built with each model; the models take turns, so they see the same machine load."""
    from searchengine.config import cache_dir
    from searchengine.ingest.run import sync_folder
    from searchengine.ingest.settings import IngestSettings

    searchengine = str(Path(sys.executable).with_name("searchengine"))
    with tempfile.TemporaryDirectory(prefix="bundled-query-") as tmp:
        commands = {}
        for name in names:
            index_dir = Path(tmp) / name.replace(":", "_")
            sync_folder(folder, index_dir, IngestSettings(model=name, device="cpu", workers=2), cache_dir=cache_dir())
            commands[name] = [
                searchengine,
                "search",
                "a red flower in a garden",
                "--index",
                str(index_dir),
                "-k",
                "5",
                "--json",
            ]
            subprocess.run(commands[name], capture_output=True, check=True)  # warm-up: OS file cache, calibration
        times: dict[str, list[float]] = {name: [] for name in names}
        for r in range(runs):
            for name in names if r % 2 == 0 else names[::-1]:
                start = time.perf_counter()
                subprocess.run(commands[name], capture_output=True, check=True)
                times[name].append(round(time.perf_counter() - start, 3))
    return {name: {"median_s": statistics.median(t), "runs_s": t} for name, t in times.items()}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--images", type=int, default=160)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--models", nargs="+", default=["bundled:lit-v1", "bundled:lit-v2"])
    ap.add_argument("--folder", type=Path, help="also index this folder end to end (fresh index per run)")
    ap.add_argument("--rounds", type=int, default=2, help="end-to-end runs per model, alternating")
    ap.add_argument("--queries", type=int, default=0, help="cold CLI text queries per model (against --folder)")
    ap.add_argument("--save", action="store_true", help=f"write {RESULTS.relative_to(REPO)}")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    photos = sorted((REPO / "samples" / "photos").glob("*.jp*g"))
    result: dict = {
        "benchmark": "bundled-speed",
        "threads": args.threads,
        "batch": args.batch,
        "cpus": os.cpu_count(),
        "forward": [forward(name, photos, args.images, args.batch) for name in args.models],
    }
    if args.folder:
        runs: dict[str, list] = {name: [] for name in args.models}
        for r in range(args.rounds):
            for name in args.models if r % 2 == 0 else args.models[::-1]:
                runs[name].append(index_once(name, args.folder, workers=args.threads))
        result["end_to_end"] = {
            "folder": str(args.folder),
            "runs": runs,
            "median_images_per_s": {
                name: statistics.median(r["images_per_s"] for r in rs) for name, rs in runs.items()
            },
        }
        if args.queries:
            result["cold_query"] = cold_queries(args.models, args.folder, args.queries)
    print(json.dumps(result, indent=1))
    if args.save:
        RESULTS.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
