"""`watch` latency: a new photo searchable, a deleted one gone, and a burst of 1,000 files in one run.

    python benchmarks/watch.py [--model bundled] [--burst 1000]

A Watcher (debounce 0.5 s, settle 0.5 s: the CLI's defaults) runs in a thread over a temporary
folder of real photos (samples/photos) indexed with the model. Latency is measured from the moment
the file is closed (or unlinked) to the moment `Index.search` in this process finds it (or no
longer does), polling every 50 ms. The burst copies BURST distinct generated pictures in one go
and counts the runs the watcher made for them. Writes benchmarks/results/watch.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"


def _found(ix, path: Path) -> bool:
    return any(h.path == str(path) for h in ix.search(path.stem.replace("_", " "), kind="image", k=200))


def _until(check, timeout: float = 60.0) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if check():
            return time.perf_counter() - started
        time.sleep(0.05)
    return float("inf")


def _pictures(folder: Path, n: int) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for i in range(n):
        base = rng.integers(0, 255, size=(3,))
        pixels = np.clip(base + rng.normal(0, 40, size=(96, 128, 3)), 0, 255).astype("uint8")
        Image.fromarray(pixels).save(folder / f"burst_{i:04d}.jpg", quality=85)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="bundled")
    ap.add_argument("--burst", type=int, default=1000)
    args = ap.parse_args(argv)
    from searchengine import Index
    from searchengine.watch import Watcher

    photos = sorted((REPO / "samples" / "photos").glob("*.jpg"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder, index_dir = tmp / "media", tmp / "index"
        folder.mkdir()
        for photo in photos[:10]:
            shutil.copy2(photo, folder / photo.name)
        runs = []
        with Index.open(index_dir, model=args.model) as writer, Index.open(index_dir, model=args.model) as reader:
            writer.sync(folder)
            watcher = Watcher(writer, [folder], report=runs.append, workers=2)
            thread = threading.Thread(target=watcher.run, daemon=True)
            thread.start()
            _until(lambda: bool(runs))  # caught up
            reader.search("warm up", k=1)
            added, removed = [], []
            for photo in photos[10:15]:
                target = folder / photo.name
                shutil.copyfile(photo, target)  # closed when this returns
                started = time.perf_counter()
                _until(lambda t=target: _found(reader, t))
                added.append(round(time.perf_counter() - started, 2))
            for photo in photos[10:15]:
                target = folder / photo.name
                target.unlink()
                started = time.perf_counter()
                _until(lambda t=target: not _found(reader, t))
                removed.append(round(time.perf_counter() - started, 2))
            time.sleep(watcher.debounce + watcher.settle + 1)  # the last deletion's run has returned
            before, reported = watcher.runs, len(runs)
            _pictures(tmp / "burst", args.burst)
            started = time.perf_counter()
            shutil.copytree(tmp / "burst", folder / "burst")
            copied = time.perf_counter() - started
            done = _until(lambda: reader.status()["counts"]["by_kind"]["image"]["items"] >= 10 + args.burst, 1200)
            _until(lambda: watcher.runs > before, 60)  # the run that committed them has returned
            time.sleep(watcher.debounce + watcher.settle + 1)  # and no other followed
            burst_runs = watcher.runs - before
            burst_counts = [e.added.counts() if e.added else str(e.error) for e in runs[reported:]]
            watcher.stop()
            thread.join(timeout=60)
    result = {
        "model": args.model,
        "new_photo_searchable_s": added,
        "deleted_photo_gone_s": removed,
        "burst_files": args.burst,
        "burst_copy_s": round(copied, 2),
        "burst_indexed_s": round(done, 1),
        "burst_runs": burst_runs,
        "burst_run_counts": burst_counts,
    }
    print(json.dumps(result), file=sys.stderr)
    (RESULTS / "watch.json").write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
