"""PyTorch vs ONNX Runtime (fp32, int8) for the same encoders, in one run: speed, agreement, recall.

    python benchmarks/backends.py [--models bundled clip:ViT-B-32-256@weights.pt] [--threads 2]
                                  [--images 96] [--recall indexes/datasets/tuxpaint-test] [--save]

For each model and runtime: image throughput on prepared arrays (batch 8, what the pipeline's
model thread sees), text throughput (batches of 32 captions), one-query latency (median of 30),
the time to load the runtime's towers, and the largest difference from PyTorch's vectors. With
--recall DATASET, `bench recall` runs for fp32 and int8 so the recall cost of int8 is measured.
Runtimes are timed in turn in one process, so their ratios share the machine's state; the JSON
carries the load average as well.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
RUNTIMES = {"torch": ("", "torch"), "onnx": ("", "onnx"), "onnx-int8": ("+int8", "onnx")}
CAPTIONS = [
    "a cat sleeping on a sofa",
    "a red bicycle leaning on a wall",
    "the household budget meeting",
    "a rocket on a launch pad",
    "a cup of coffee on a wooden table",
    "children playing football in a park",
    "who wrote one of the first compilers",
    "a close-up of a flower with water drops",
]


def _photos(n: int) -> list[Path]:
    photos = sorted((REPO / "samples" / "photos").glob("*.jp*g"))
    return [photos[i % len(photos)] for i in range(n)]


def _timed(fn, repeat: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def measure(model: str, runtime: str, images: int, reference: dict | None) -> dict:
    from searchengine.config import cache_dir
    from searchengine.encoders.registry import load_encoder
    from searchengine.media.images import load_image

    suffix, backend = RUNTIMES[runtime]
    start = time.perf_counter()
    encoder = load_encoder(model + suffix, "cpu", backend, cache_dir=cache_dir())
    encoder.embed_texts(["warm-up"])
    prepared = [encoder.prepare_image(load_image(p)) for p in _photos(8)]
    encoder.embed_images(prepared[:2])
    load_s = time.perf_counter() - start
    batches = [[prepared[(i + j) % len(prepared)] for j in range(8)] for i in range(0, images, 8)]
    image_s = _timed(lambda: [encoder.embed_images(b) for b in batches])
    texts = CAPTIONS * 4
    text_s = _timed(lambda: encoder.embed_texts(texts), repeat=5)
    single = [_timed(lambda q=q: encoder.embed_texts([q])) for q in CAPTIONS * 4]
    vectors = {"images": encoder.embed_images(prepared), "texts": encoder.embed_texts(CAPTIONS)}
    row = {
        "model": model,
        "runtime": runtime,
        "encoder_id": encoder.id,
        "runs_on": getattr(encoder, "runtime", "?"),
        "load_s": round(load_s, 2),
        "images_per_s": round(len(batches) * 8 / image_s, 1),
        "texts_per_s": round(len(texts) / text_s, 1),
        "text_query_ms_p50": round(statistics.median(single) * 1000, 2),
    }
    if reference is not None:
        row["max_abs_diff_vs_torch"] = {k: float(np.abs(vectors[k] - reference[k]).max()) for k in vectors}
        row["min_cosine_vs_torch"] = {k: float((vectors[k] * reference[k]).sum(1).min()) for k in vectors}
    return row, vectors


def recall_cost(model: str, dataset: Path) -> dict:
    from searchengine.eval.recall import run_recall

    out = {}
    for runtime in ("onnx", "onnx-int8"):
        suffix, backend = RUNTIMES[runtime]
        os.environ["SEARCHENGINE_BACKEND"] = backend
        result = run_recall(dataset, model + suffix, "cpu")
        out[runtime] = {k: result[k] for k in ("t2i", "i2t") if k in result}
    os.environ.pop("SEARCHENGINE_BACKEND", None)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["bundled"])
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--recall", type=Path, help="a dataset folder for bench recall (fp32 vs int8)")
    parser.add_argument(
        "--recall-models",
        nargs="+",
        default=["bundled"],
        help="models whose recall is measured (random-weight models have nothing to measure)",
    )
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/backends.json")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    report = {"benchmark": "backends", "threads": args.threads, "load_average": os.getloadavg()[0], "models": []}
    for model in args.models:
        rows, reference = [], None
        for runtime in RUNTIMES:
            row, vectors = measure(model, runtime, args.images, reference)
            reference = reference or vectors
            rows.append(row)
            print(json.dumps(row), flush=True)
        by = {r["runtime"]: r for r in rows}
        entry = {
            "model": model,
            "runs": rows,
            "ratios_vs_torch": {
                runtime: {key: round(by[runtime][key] / by["torch"][key], 2) for key in ("images_per_s", "texts_per_s")}
                for runtime in ("onnx", "onnx-int8")
            },
        }
        if args.recall and model in args.recall_models:
            entry["recall"] = recall_cost(model, args.recall)
        report["models"].append(entry)
    report["load_average_end"] = os.getloadavg()[0]
    print(json.dumps(report, indent=1))
    if args.save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "backends.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
