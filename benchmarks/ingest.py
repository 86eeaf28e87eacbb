"""Ingestion benchmark: the encoder's pure forward speed vs the whole pipeline, and a re-run.

1. Throughput, in one run, same images, same threads: the image encoder's forward pass over
   images decoded and prepared beforehand (pure inference, batches of the pipeline's size) against
   `index_folder` over the same files (discover, hash, decode, resize, embed, store, save). Rounds
   alternate (forward, pipeline, forward, …) so both see the same machine load; the ratio per
   round and its median are reported. Target: pipeline ≥ 90 % of forward.
2. Re-run: a folder of --files small text files (10k by default) is indexed once, then indexed
   again unchanged, in process (encoder already loaded) and as the CLI a user runs (a new
   process: start-up and model loading included). Target: ≤ 5 s. Resident memory is sampled at
   every commit of the first indexing, to see whether it grows with the collection.

Usage:
    python benchmarks/ingest.py                       # samples/photos × 10 = 210 images; 10k texts
    python benchmarks/ingest.py --images indexes/datasets/tuxpaint/images --limit 300 --save
    python benchmarks/ingest.py --files 2000 --rounds 1 --repeat 2     # quicker
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from searchengine.config import cache_dir
from searchengine.encoders.registry import DEFAULT_MODEL, load_encoder  # noqa: E402
from searchengine.eval.measure import machine, rss_bytes, save_result, to_json  # noqa: E402
from searchengine.ingest.run import sync_folder  # noqa: E402
from searchengine.ingest.settings import IngestSettings  # noqa: E402
from searchengine.media.images import load_image  # noqa: E402
from searchengine.media.kinds import IMAGE_EXTENSIONS  # noqa: E402

log = logging.getLogger("bench.ingest")
ROOT = Path(__file__).resolve().parents[1]

WORDS = {
    "adj": "red quiet old bright small heavy green frozen wooden noisy".split(),
    "noun": "garden bicycle kettle harbour letter violin lantern meadow tractor ledger".split(),
    "verb": "rests waits shines leans sits hides turns stands drifts sleeps".split(),
}


class MemorySampler:
    """A Progress that records resident memory after every batch the pipeline commits."""

    def __init__(self):
        self.done = 0
        self.samples: list[tuple[int, float]] = []

    def start(self, phase: str, total: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        self.done += n
        self.samples.append((self.done, rss_bytes() / 2**20))

    def failed(self, path: str, reason: str) -> None:
        log.warning("failed: %s", reason)


def image_folder(source: Path, repeat: int, limit: int | None, out: Path) -> list[Path]:
    """Copies of the images under source (repeated `repeat` times), as the folder to index."""
    images = sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    if limit:
        images = images[:limit]
    out.mkdir(parents=True)
    copies = []
    for r in range(repeat):
        for i, path in enumerate(images):
            copy = out / f"{r:02d}-{i:05d}{path.suffix.lower()}"
            shutil.copyfile(path, copy)
            copies.append(copy)
    return copies


def forward_throughput(encoder, files: list[Path], batch_size: int) -> float:
    """Images per second of embed_images over images decoded and prepared beforehand."""
    prepared = [encoder.prepare_image(load_image(p)) for p in files]
    started = time.perf_counter()
    for start in range(0, len(prepared), batch_size):
        encoder.embed_images(prepared[start : start + batch_size])
    return len(prepared) / (time.perf_counter() - started)


def pipeline_throughput(encoder, folder: Path, settings: IngestSettings, work: Path) -> tuple[float, dict]:
    index_dir = work / f"index-{time.monotonic_ns()}"
    summary = sync_folder(folder, index_dir, settings, encoder=encoder, cache_dir=cache_dir())
    shutil.rmtree(index_dir)
    return summary.embedded / summary.seconds, {
        "files": summary.embedded,
        "seconds": round(summary.seconds, 2),
        "failed": summary.failed,
    }


def throughput(args, encoder, work: Path) -> dict:
    import torch

    files = image_folder(args.images, args.repeat, args.limit, work / "images")
    settings = IngestSettings(model=args.model, device=args.device, workers=args.workers)
    encoder.embed_images([encoder.prepare_image(load_image(files[0]))] * settings.batch_size)  # warm up
    rounds = []
    for r in range(args.rounds):
        forward = forward_throughput(encoder, files, settings.batch_size)
        pipeline, detail = pipeline_throughput(encoder, work / "images", settings, work)
        rounds.append(
            {
                "forward_images_per_s": round(forward, 2),
                "pipeline_images_per_s": round(pipeline, 2),
                "ratio": round(pipeline / forward, 3),
                "pipeline": detail,
            }
        )
        log.info(
            "round %d: forward %.1f images/s, pipeline %.1f images/s (%.0f %%)",
            r + 1,
            forward,
            pipeline,
            100 * pipeline / forward,
        )
    ratio = statistics.median(r["ratio"] for r in rounds)
    return {
        "images": len(files),
        "source": str(args.images),
        "repeat": args.repeat,
        "batch_size": settings.batch_size,
        "decode_workers": settings.workers,
        "torch_threads": torch.get_num_threads(),
        "rounds": rounds,
        "forward_images_per_s": statistics.median(r["forward_images_per_s"] for r in rounds),
        "pipeline_images_per_s": statistics.median(r["pipeline_images_per_s"] for r in rounds),
        "ratio_median": ratio,
        "target_ratio": 0.9,
        "meets_target": ratio >= 0.9,
    }


def text_folder(n: int, out: Path, seed: int) -> None:
    rng = random.Random(seed)
    for i in range(n):
        sub = out / f"{i // 1000:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        words = {k: rng.choice(v) for k, v in WORDS.items()}
        noun2 = rng.choice(WORDS["noun"])
        (sub / f"note-{i:05d}.txt").write_text(
            f"Note {i}: the {words['adj']} {words['noun']} {words['verb']} near the {noun2}.\n", encoding="utf-8"
        )


def rerun(args, encoder, work: Path) -> dict:
    folder, index_dir = work / "texts", work / "text-index"
    text_folder(args.files, folder, args.seed)
    settings = IngestSettings(model=args.model, device=args.device, workers=args.workers)
    memory = MemorySampler()
    first = sync_folder(folder, index_dir, settings, progress=memory, encoder=encoder, cache_dir=cache_dir())
    log.info("indexed %d text files in %.1f s", first.embedded, first.seconds)
    in_process = []
    for _ in range(args.rerun_repeat):
        again = sync_folder(folder, index_dir, settings, encoder=encoder, cache_dir=cache_dir())
        assert again.unchanged == args.files and again.embedded == 0, again
        in_process.append(round(again.seconds, 2))
    cli = []
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    for _ in range(args.rerun_repeat):
        started = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "searchengine",
                "index",
                str(folder),
                "--index",
                str(index_dir),
                "--model",
                args.model,
                "--json",
                "-q",
            ],
            capture_output=True,
            text=True,
            env=env,
        )
        wall = time.perf_counter() - started
        if done.returncode:
            raise RuntimeError(done.stderr)
        reported = json.loads(done.stdout.strip().splitlines()[-1])
        cli.append({"wall_s": round(wall, 2), "reported_s": round(reported["seconds"], 2)})
    samples = memory.samples
    growth = None
    if len(samples) >= 4:  # MB per 1k files between the first quarter and the end
        (n0, m0), (n1, m1) = samples[len(samples) // 4], samples[-1]
        growth = round((m1 - m0) / max(1, n1 - n0) * 1000, 2)
    best_cli = min(c["wall_s"] for c in cli)
    return {
        "files": args.files,
        "first_index_s": round(first.seconds, 2),
        "first_files_per_s": round(first.items_per_second, 1),
        "rerun_in_process_s": in_process,
        "rerun_cli": cli,
        "rss_mb_during_first_index": {
            "files": [n for n, _ in samples[:: max(1, len(samples) // 10)]],
            "rss_mb": [round(m, 1) for _, m in samples[:: max(1, len(samples) // 10)]],
        },
        "rss_growth_mb_per_1k_files": growth,
        "target_s": 5.0,
        "meets_target_in_process": min(in_process) <= 5.0,
        "meets_target_cli": best_cli <= 5.0,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--images", type=Path, default=ROOT / "samples" / "photos", help="folder of images")
    parser.add_argument("--limit", type=int, default=None, help="use at most this many of its images")
    parser.add_argument("--repeat", type=int, default=10, help="copies of each image (more work per round)")
    parser.add_argument("--rounds", type=int, default=2, help="forward/pipeline rounds, alternating")
    parser.add_argument("--workers", type=int, default=IngestSettings().workers, help="decode threads")
    parser.add_argument("--files", type=int, default=10_000, help="text files for the re-run test (0: skip)")
    parser.add_argument("--rerun-repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/ingest.json")
    parser.add_argument("--name", default="ingest")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)

    started = time.perf_counter()
    result = {"benchmark": "ingest", "machine": machine(), "model": args.model}
    encoder = load_encoder(args.model, args.device, cache_dir=cache_dir())
    result["encoder_id"] = encoder.id
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        if args.repeat and args.rounds:
            result["throughput"] = throughput(args, encoder, Path(tmp))
        if args.files:
            result["rerun"] = rerun(args, encoder, Path(tmp))
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["machine"]["load_average_1m_at_end"] = machine().get("load_average_1m")
    print(to_json(result))
    if args.save:
        log.info("wrote %s", save_result(result, args.name))


if __name__ == "__main__":
    main()
