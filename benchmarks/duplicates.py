"""Near-duplicate photos: precision and recall of `duplicates` over thresholds, and its speed at 100k.

Quality, on the set of benchmarks/datasets/duplicates.py (real photos, edited copies, burst shots
and other photos of the same scenes), indexed with the bundled model:

    python benchmarks/datasets/duplicates.py /tmp/dupset --seed 0
    searchengine index /tmp/dupset/images --index /tmp/dupidx
    python benchmarks/duplicates.py quality /tmp/dupset /tmp/dupidx

Every candidate pair (stored vectors at least IMAGE_CANDIDATE_COSINE alike) gets its score under
each check: the stored vectors alone (cosine), plain pHash and dHash (imagehash), and the
crop-aware fingerprint the product uses. Files are grouped as `duplicates` groups them (connected
file to keep and the files at or above the threshold to it); a pair of files counts as found when they end
in one group, and is right when they are of one family (a photo and its edited copies). The
threshold of each check is chosen on the `val` split (the highest recall with precision ≥ 0.95,
else the best F1) and reported on `test`.

Speed, with synthetic vectors in a real catalog (100k photos, 1 % of them near copies):

    python benchmarks/duplicates.py speed --n 100000

writes benchmarks/results/duplicates.json (both parts) and duplicates.png (the P/R curves).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
TARGET_PRECISION = 0.95


def _truth(dataset: Path) -> dict[str, dict]:
    rows = (json.loads(line) for line in open(dataset / "truth.jsonl", encoding="utf-8"))
    return {str((dataset / r["path"]).resolve()): r for r in rows}


def _scores(dataset: Path, index_dir: Path):
    """Per split: the file paths, the candidate pairs and each check's score of them."""
    import imagehash
    from PIL import Image

    from searchengine.duplicates import IMAGE_CANDIDATE_COSINE, close_pairs
    from searchengine.media.fingerprint import fingerprint, similarity
    from searchengine.store.folder import IndexFolder

    truth = _truth(dataset)
    with IndexFolder.open(index_dir) as index:
        ids, vectors = index.catalog.picture_vectors("image", index.manifest.dim)
        paths = {row[0]: row[1] for row in index.catalog.ok_items(["image"])}
    out = {}
    for split in ("val", "test"):
        rows = [k for k, i in enumerate(ids) if truth.get(paths[int(i)], {}).get("split") == split]
        files = [paths[int(ids[k])] for k in rows]
        pairs = close_pairs(vectors[rows], IMAGE_CANDIDATE_COSINE)
        prints, plain = {}, {}
        for path in files:
            prints[path] = fingerprint(Path(path))
            with Image.open(path) as image:
                image = image.convert("RGB")
                plain[path] = (imagehash.phash(image), imagehash.dhash(image))
        scores = {"vectors": [], "phash": [], "dhash": [], "fingerprint": []}
        for i, j, cosine in pairs:
            a, b = files[i], files[j]
            scores["vectors"].append(cosine)
            scores["phash"].append(1 - (plain[a][0] - plain[b][0]) / 64)
            scores["dhash"].append(1 - (plain[a][1] - plain[b][1]) / 64)
            scores["fingerprint"].append(similarity(prints[a], prints[b]))
        keys = [(-prints[f].width * prints[f].height, os.stat(f).st_mtime, len(f)) for f in files]  # keep order
        out[split] = (files, np.array([(i, j) for i, j, _ in pairs], dtype=np.int64).reshape(-1, 2), scores, keys)
    return truth, out


def _grouped_pr(files, pairs, score, threshold, truth, keys) -> tuple[float, float]:
    """Precision and recall of the pairs of files that end in one group, grouped as `duplicates`
    groups them (a file to keep and the files alike to it)."""
    from collections import Counter

    from searchengine.duplicates import grouped

    score = np.asarray(score)
    kept = [(int(i), int(j), float(s)) for (i, j), s in zip(pairs, score, strict=True) if s >= threshold]
    family = [truth[f]["family"] for f in files]
    found = right = 0
    for members, _, _ in grouped([], kept, lambda i: keys[i]):
        found += len(members) * (len(members) - 1) // 2
        right += sum(c * (c - 1) // 2 for c in Counter(family[m] for m in members).values())
    positives = sum(c * (c - 1) // 2 for c in Counter(family).values())
    return (right / found if found else 1.0), right / positives


def quality(dataset: Path, index_dir: Path) -> dict:
    truth, by_split = _scores(dataset, index_dir)
    grids = {
        "vectors": np.round(np.arange(0.85, 1.0001, 0.005), 3),
        "phash": np.round(1 - np.arange(0, 25) / 64, 4),
        "dhash": np.round(1 - np.arange(0, 25) / 64, 4),
        "fingerprint": np.round(1 - np.arange(0, 25) / 64, 4),
    }
    result = {}
    for check, grid in grids.items():
        curves = {}
        for split, (files, pairs, scores, keys) in by_split.items():
            curves[split] = [(float(t), *_grouped_pr(files, pairs, scores[check], t, truth, keys)) for t in grid]
        meeting = [c for c in curves["val"] if c[1] >= TARGET_PRECISION]
        chosen = (
            max(meeting, key=lambda c: (c[2], c[0]))
            if meeting
            else max(curves["val"], key=lambda c: 2 * c[1] * c[2] / max(c[1] + c[2], 1e-9))
        )
        on_test = next(c for c in curves["test"] if c[0] == chosen[0])
        result[check] = {
            "threshold": chosen[0],
            "val": {"precision": round(chosen[1], 4), "recall": round(chosen[2], 4)},
            "test": {"precision": round(on_test[1], 4), "recall": round(on_test[2], 4)},
            "curve": {s: [[t, round(p, 4), round(r, 4)] for t, p, r in c] for s, c in curves.items()},
        }
    result["data"] = {
        split: {"files": len(files), "candidate_pairs": len(pairs)} for split, (files, pairs, *_) in by_split.items()
    }
    _plot(result)
    return result


def _plot(result: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    for check in ("vectors", "phash", "dhash", "fingerprint"):
        curve = np.array(result[check]["curve"]["test"])
        ax.plot(curve[:, 2], curve[:, 1], marker=".", label=f"{check} (test)")
        chosen = result[check]["test"]
        ax.plot(chosen["recall"], chosen["precision"], "k*", markersize=9)
    ax.axhline(0.95, color="grey", lw=0.6, ls="--")
    ax.axvline(0.90, color="grey", lw=0.6, ls="--")
    ax.set_xlabel("recall (pairs of one family found in one group)")
    ax.set_ylabel("precision")
    ax.set_title("Near-duplicate photos over thresholds (★ chosen on val)")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(RESULTS / "duplicates.png", dpi=110)


def speed(n: int, dim: int = 384, copies: float = 0.01) -> dict:
    """`Index.duplicates` over n synthetic photo vectors stored in a real catalog (the files do not
    exist: the candidate pairs are found, their fingerprints cannot be read and are left out;
    fingerprinting is timed per file on the real set instead)."""
    from searchengine.duplicates import IMAGE_CANDIDATE_COSINE, close_pairs, find_duplicates
    from searchengine.store.catalog import Catalog
    from searchengine.store.reader import CatalogReader
    from searchengine.store.records import ItemDraft, SegmentDraft

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    k = int(n * copies)
    vectors[n - k :] = vectors[:k] + rng.standard_normal((k, dim)).astype(np.float32) * 0.02  # near copies
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        catalog = Catalog(folder / "catalog.sqlite")
        run = catalog.start_run(folder, "synthetic")
        for start in range(0, n, 10_000):
            drafts = [
                ItemDraft(f"/nonexistent/p{i:06d}.jpg", "image", 1000, i, f"{i:040x}", [SegmentDraft(0, vectors[i])])
                for i in range(start, min(n, start + 10_000))
            ]
            catalog.commit_batch(run, drafts)
        catalog.close()
        reader = CatalogReader(folder / "catalog.sqlite")
        started = time.perf_counter()
        groups = find_duplicates(reader, dim, kind="image")
        total = time.perf_counter() - started
        started = time.perf_counter()
        ids, stored = reader.picture_vectors("image", dim)
        read = time.perf_counter() - started
        started = time.perf_counter()
        pairs = close_pairs(stored, IMAGE_CANDIDATE_COSINE)
        search = time.perf_counter() - started
        reader.close()
    baseline_s, baseline_found = _faiss_range_search(stored, IMAGE_CANDIDATE_COSINE, n - k)
    planted = sum(1 for i, j, _ in pairs if j - i == n - k)
    return {
        "n": n,
        "dim": dim,
        "duplicates_s": round(total, 2),
        "read_vectors_s": round(read, 2),
        "close_pairs_s": round(search, 2),
        "faiss_ivf_range_search_s": round(baseline_s, 2),
        "faiss_ivf_planted_found": baseline_found,
        "ratio_close_pairs_to_faiss_ivf": round(search / baseline_s, 3),
        "load_average": [round(v, 1) for v in os.getloadavg()],
        "candidate_pairs": len(pairs),
        "planted_pairs": k,
        "planted_found": planted,
        "groups": len(groups),
        "note": "the files do not exist: candidates are found, their fingerprints cannot be read (0 groups)",
    }


def _faiss_range_search(x: np.ndarray, radius: float, offset: int) -> tuple[float, int]:
    """The straightforward way, for comparison in the same run: a FAISS IVF (4·√n lists, nprobe 8)
    range search of every vector."""
    import faiss

    started = time.perf_counter()
    x = np.ascontiguousarray(x / np.linalg.norm(x, axis=1, keepdims=True), dtype=np.float32)
    n, dim = x.shape
    lists = int(4 * np.sqrt(n))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
    index.cp.niter = 10
    index.train(x[np.random.default_rng(0).choice(n, size=min(n, lists * 40), replace=False)])
    index.add(x)
    index.nprobe = 8
    lims, _, found = index.range_search(x, radius)
    rows = np.repeat(np.arange(n), np.diff(lims.astype(np.int64)))
    return time.perf_counter() - started, int(np.count_nonzero(found - rows == offset))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    q = sub.add_parser("quality")
    q.add_argument("dataset", type=Path)
    q.add_argument("index", type=Path)
    s = sub.add_parser("speed")
    s.add_argument("--n", type=int, default=100_000)
    args = ap.parse_args(argv)
    out = RESULTS / "duplicates.json"
    result = json.loads(out.read_text()) if out.exists() else {}
    if args.what == "quality":
        result["quality"] = quality(args.dataset.resolve(), args.index)
        for check in ("vectors", "phash", "dhash", "fingerprint"):
            r = result["quality"][check]
            print(
                f"{check:12} threshold {r['threshold']}: val P {r['val']['precision']} R {r['val']['recall']}"
                f" | test P {r['test']['precision']} R {r['test']['recall']}",
                file=sys.stderr,
            )
    else:
        result["speed"] = speed(args.n)
        print(json.dumps(result["speed"]), file=sys.stderr)
    out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
