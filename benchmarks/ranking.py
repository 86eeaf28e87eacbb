"""Cross-modal ranking benchmark: does calibration interleave kinds fairly, and does the cutoff work?

A mixed collection from the Tux Paint stamps that have a spoken caption: for each concept an
image (the stamp), a short note that mentions it between two unrelated sentences of real prose,
and a recording (the spoken caption, transcribed). The
concepts are split (seeded): "present" ones are indexed, "absent" ones are not. Captions of
present concepts are the queries; captions of absent concepts are the queries that should get
"no good match".

    python benchmarks/datasets/tuxpaint.py indexes/datasets/tuxpaint      # once
    python benchmarks/ranking.py indexes/datasets/tuxpaint [--model NAME] [--save]

Prints JSON:
- per kind, recall@10 searched alone vs in `--type any` ranked by calibrated score, and ranked
  by raw cosine (what an uncalibrated engine does); target: calibrated any >= 0.9 x alone.
- cutoff: share of absent-concept queries answered with nothing (target >= 0.8), and recall@10
  of present concepts with and without the default cutoff (target: drop <= 5 % relative).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from pathlib import Path

KINDS = ("image", "text", "audio")


FILLER = Path(__file__).resolve().parent.parent / "samples" / "texts"


def filler_sentences() -> list[str]:
    """Real, varied prose (the sample texts) to surround each concept's mention, as notes would."""
    import re

    sentences = []
    for path in sorted(FILLER.glob("*.md")) + sorted(FILLER.glob("*.txt")):
        text = path.read_bytes().decode("utf-8", errors="ignore")
        sentences += [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if 40 < len(s.strip()) < 200 and "#" not in s]
    return sentences


def build_collection(dataset: Path, folder: Path, seed: int = 0, absent_share: float = 0.3):
    pairs = [json.loads(line) for line in (dataset / "pairs.jsonl").read_text().splitlines() if line.strip()]
    by_caption = {}
    for pair in pairs:
        if pair.get("audio"):
            by_caption.setdefault(pair["captions"][0].strip().lower(), pair)  # one concept per caption
    concepts = sorted(by_caption.items())
    random.Random(seed).shuffle(concepts)
    rng = random.Random(seed)
    filler = filler_sentences()
    n_absent = int(len(concepts) * absent_share)
    absent, present = concepts[:n_absent], concepts[n_absent:]
    for i, (caption, pair) in enumerate(present):
        stem = f"c{i:03d}"
        for kind, source, suffix in (("image", pair["image"], ".png"), ("audio", pair["audio"], ".ogg")):
            (folder / kind).mkdir(parents=True, exist_ok=True)
            shutil.copy2(dataset / source, folder / kind / f"{stem}{suffix}")
        (folder / "text").mkdir(exist_ok=True)
        subject = pair["captions"][0].strip().rstrip(".")
        before, after = rng.sample(filler, 2)
        (folder / "text" / f"{stem}.txt").write_text(f"{before} Then we drew {subject.lower()}. {after}\n", encoding="utf-8")
    return [(pair["captions"][0], f"c{i:03d}") for i, (_, pair) in enumerate(present)], [p["captions"][0] for _, p in absent]


def recall_at(ranked_stems: list[str], stem: str, k: int = 10) -> float:
    return float(stem in ranked_stems[:k])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--model", default="bundled")
    parser.add_argument("--save", action="store_true")
    args = parser.parse_args()

    from searchengine.config import DEFAULT_MIN_SCORE, IngestSettings
    from searchengine.ingest import index_folder
    from searchengine.query import Filters, Query, Searcher

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "collection"
        present, absent = build_collection(args.dataset, folder)
        index_folder(folder, Path(tmp) / "index", IngestSettings(model=args.model, language="en"))
        searcher = Searcher.open(Path(tmp) / "index")
        stem = lambda hit: Path(hit.path).stem  # noqa: E731
        alone = {k: [] for k in KINDS}
        mixed_calibrated = {k: [] for k in KINDS}
        mixed_raw = {k: [] for k in KINDS}
        with_cutoff, without_cutoff = [], []
        for caption, target in present:
            query = Query(text=caption)
            for kind in KINDS:
                hits = searcher.search(query, Filters(kind=kind, min_score=None), k=10)
                alone[kind].append(recall_at([stem(h) for h in hits if h.kind == kind], target))
            everything = searcher.search(query, Filters(min_score=None), k=10_000)
            by_raw = sorted(everything, key=lambda h: h.raw_score, reverse=True)
            for kind in KINDS:
                mixed_calibrated[kind].append(recall_at([stem(h) if h.kind == kind else "" for h in everything], target))
                mixed_raw[kind].append(recall_at([stem(h) if h.kind == kind else "" for h in by_raw], target))
            without_cutoff.append(recall_at([stem(h) for h in everything], target))
            cut = searcher.search(query, Filters(min_score=DEFAULT_MIN_SCORE), k=10)
            with_cutoff.append(recall_at([stem(h) for h in cut], target))
        empty = [not searcher.search(Query(text=c), Filters(min_score=DEFAULT_MIN_SCORE), k=10) for c in absent]
        model = searcher.encoder.id
        searcher.close()

    mean = lambda xs: round(sum(xs) / max(len(xs), 1), 3)  # noqa: E731
    per_kind = {
        kind: {"alone": mean(alone[kind]), "any_calibrated": mean(mixed_calibrated[kind]), "any_raw": mean(mixed_raw[kind]),
               "ratio_calibrated": round(mean(mixed_calibrated[kind]) / max(mean(alone[kind]), 1e-9), 3),
               "ratio_raw": round(mean(mixed_raw[kind]) / max(mean(alone[kind]), 1e-9), 3)}
        for kind in KINDS
    }
    result = {
        "model": model, "concepts_present": len(present), "concepts_absent": len(absent),
        "recall@10_per_kind": per_kind,
        "cutoff": {"min_score": DEFAULT_MIN_SCORE, "absent_answered_with_nothing": mean(empty),
                   "present_recall@10_no_cutoff": mean(without_cutoff), "present_recall@10_with_cutoff": mean(with_cutoff)},
        "seconds": round(time.perf_counter() - started, 1),
    }
    from searchengine.eval.measure import machine, save_result, to_json

    result["machine"] = machine()
    print(to_json(result))
    if args.save:
        save_result(result, "ranking")

if __name__ == "__main__":
    main()
