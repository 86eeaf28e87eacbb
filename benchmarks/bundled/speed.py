"""Image encoding speed of the bundled encoder variants: pre-decoded images, batches of 8, JSON out.

    python benchmarks/bundled/speed.py [--threads 2] [--images 160] [--models bundled bundled:bridge]

Images are decoded and prepared (resize, crop, normalise) before timing, as the pipeline does in
its decode workers; what is timed is `embed_images` on prepared arrays (network + head).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--images", type=int, default=160)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--models", nargs="+", default=["bundled", "bundled:bridge"])
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from searchengine.encoders.registry import load_encoder
    from searchengine.media.images import load_image

    photos = sorted((REPO / "samples" / "photos").glob("*.jp*g"))
    for name in args.models:
        encoder = load_encoder(name, "cpu")
        prepared = [encoder.prepare_image(load_image(p)) for p in photos]
        batches = [[prepared[(i + j) % len(prepared)] for j in range(args.batch)]
                   for i in range(0, args.images, args.batch)]
        encoder.embed_images(batches[0])  # warm-up: model load, first-call allocations
        start = time.perf_counter()
        for batch in batches:
            encoder.embed_images(batch)
        seconds = time.perf_counter() - start
        n = len(batches) * args.batch
        outputs = [encoder.image_outputs(batch) for batch in batches[:4]]
        start = time.perf_counter()
        for logits, features in outputs * 25:
            encoder.head(logits, features)
        head_ms = (time.perf_counter() - start) / (len(outputs) * 25) * 1000
        print(json.dumps({"model": encoder.id, "threads": args.threads, "batch": args.batch, "images": n,
                          "images_per_s": round(n / seconds, 1), "head_ms_per_batch": round(head_ms, 3)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
