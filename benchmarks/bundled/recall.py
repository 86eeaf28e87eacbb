"""Recall of the bundled encoders on every evaluation set, side by side, through `bench recall`'s
pipeline (`searchengine.eval.recall.run_recall`: the images indexed as a user's files would be).

    python benchmarks/bundled/recall.py --save        # benchmarks/results/bundled-recall.json

Sets (build them first, see each builder): the photo test split (English, and its Chinese,
Spanish and German translations), the second photo set (photos2), the Tux Paint test split.
Models: lit-v1 beside lit-v2, and the multilingual variants. A set or model that is missing is
reported as such, not skipped silently.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "benchmarks" / "results" / "bundled-recall.json"
DATASETS = REPO / "indexes" / "datasets"
# name -> (folder under DATASETS, split)
SETS = {
    "photos-test": ("photos", "test"),
    "photos-test-zh": ("photos-zh", None),
    "photos-test-es": ("photos-es", None),
    "photos-test-de": ("photos-de", None),
    "photos2": ("photos2", "test"),
    "tux-test": ("tuxpaint", "test"),
}
MODELS = ["bundled:lit-v1", "bundled:lit-v2", "bundled:lit-multilingual-v1"]
ENGLISH_ONLY = {"bundled:lit-v1", "bundled:lit-v2"}  # not run on the translated captions


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", type=Path, default=DATASETS)
    ap.add_argument("--models", nargs="+", default=MODELS)
    ap.add_argument("--sets", nargs="+", default=list(SETS))
    ap.add_argument("--save", action="store_true")
    args = ap.parse_args()

    from searchengine.config import cache_dir
    from searchengine.encoders.registry import load_encoder
    from searchengine.errors import SearchEngineError
    from searchengine.eval.recall import run_recall

    out: dict = {"benchmark": "bundled-recall", "cpus": os.cpu_count(), "results": {}}
    for model in args.models:
        try:
            encoder = load_encoder(model, "cpu", cache_dir=cache_dir())
        except SearchEngineError as exc:
            out["results"][model] = {"error": str(exc)}
            continue
        rows = out["results"].setdefault(model, {})
        for name in args.sets:
            folder, split = SETS[name]
            if model in ENGLISH_ONLY and name.startswith("photos-test-"):
                continue
            if not (args.datasets / folder).exists():
                rows[name] = {"error": f"{args.datasets / folder} not built"}
                continue
            r = run_recall(args.datasets / folder, model=model, device="cpu", split=split, encoder=encoder)
            rows[name] = {
                "n_images": r["n_images"],
                "n_captions": r["n_captions"],
                "t2i": r["t2i"],
                "i2t": r["i2t"],  # as an image query ranks texts (hubness taken off, calibration.py)
                "i2t_cosine": r["i2t_cosine"],  # by cosine alone
                "chance": r["chance"],
            }
            print(
                f"{model:32s} {name:16s} T→I R@1 {r['t2i']['R@1']:.3f} R@10 {r['t2i']['R@10']:.3f}  "
                f"I→T R@1 {r['i2t']['R@1']:.3f} R@10 {r['i2t']['R@10']:.3f}",
                flush=True,
            )
    if args.save:
        RESULTS.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
