"""Convert a Karpathy-split JSON (Flickr30k, Flickr8k, COCO) into an
evaluation folder.

Input: ``dataset_flickr30k.json`` / ``dataset_coco.json`` from Karpathy's
"Deep Visual-Semantic Alignments" release::

    {"images": [{"filename": "1000092795.jpg", "filepath": "val2014"?,
                 "split": "train|val|test|restval", "imgid": 0, "cocoid"?: …,
                 "sentences": [{"raw": "Two young guys …", "tokens": […]}, …]},
                …], "dataset": "flickr30k"}

and the folder of the original images (``--images``).  An image is looked up
at ``IMAGES/<filepath>/<filename>`` (COCO layout) and then at
``IMAGES/<filename>`` (Flickr layout).

Usage::

    python benchmarks/datasets/karpathy.py OUT_DIR --json dataset_flickr30k.json \\
        --images flickr30k-images --split test            # the 1k test images
    python benchmarks/datasets/karpathy.py OUT_DIR --json dataset_coco.json \\
        --images coco --split test --mode copy            # the 5k test images

Images are not duplicated by default: ``OUT/images/[<filepath>/]<filename>``
is a **symbolic link** to the absolute path of the original (``--mode
symlink``), so OUT stays small but only works while the originals stay where
they are; ``--mode hardlink`` (same file system) or ``--mode copy`` make a
self-contained folder.  ``pairs.jsonl`` lists ``images/…`` paths relative to
OUT either way, and every caption of the image (``raw``, whitespace-cleaned),
plus ``"id"`` (``cocoid`` or ``imgid``).

``--split`` picks what is written: ``train`` (the JSON's train),
``trainval`` (train + restval, the usual training set for COCO), ``val``,
``test``, or ``all`` (everything, plus ``train.jsonl`` (train + restval),
``val.jsonl`` and ``test.jsonl``).  ``split.json`` records the JSON's split
of every image (restval counted as train).  ``--limit N`` keeps the first N
images of the chosen split in JSON order.  Missing image files are an error
unless ``--allow-missing`` (then they are skipped and counted).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

try:
    from . import common
except ImportError:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import common

SPLIT_OF = {"train": "train", "restval": "train", "val": "val", "test": "test"}
SELECT = {
    "train": {"train"},
    "trainval": {"train", "restval"},
    "val": {"val"},
    "test": {"test"},
    "all": {"train", "restval", "val", "test"},
}


def locate(images: Path, entry: dict) -> tuple[Path | None, str]:
    """Original file of an entry and its path under OUT/images/."""
    name = entry["filename"]
    sub = entry.get("filepath") or ""
    rel = f"{sub}/{name}" if sub else name
    for cand in (images / sub / name, images / name):
        if cand.is_file():
            return cand, rel
    return None, rel


def place(src: Path, dst: Path, mode: str) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    target = src.resolve()
    if dst.is_symlink() or dst.exists():
        if mode == "symlink" and dst.is_symlink() and Path(os.readlink(dst)) == target:
            return
        if mode != "symlink" and not dst.is_symlink():
            s, d = target.stat(), dst.stat()
            if (s.st_ino == d.st_ino and s.st_dev == d.st_dev) or (
                mode == "copy" and s.st_size == d.st_size and int(s.st_mtime) == int(d.st_mtime)
            ):
                return
        dst.unlink()
    if mode == "symlink":
        dst.symlink_to(target)
    elif mode == "hardlink":
        os.link(target, dst)
    else:
        shutil.copy2(target, dst)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Convert a Karpathy-split JSON (Flickr30k/COCO) to pairs.jsonl.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument("out", type=Path, help="output folder (created)")
    ap.add_argument(
        "--json", type=Path, required=True, dest="json_file", help="dataset_flickr30k.json / dataset_coco.json"
    )
    ap.add_argument("--images", type=Path, required=True, help="folder of the original images")
    ap.add_argument("--split", choices=sorted(SELECT), default="test")
    ap.add_argument(
        "--mode", choices=["symlink", "hardlink", "copy"], default="symlink", help="how images are put under OUT/images"
    )
    ap.add_argument("--limit", type=int, default=None, help="first N images of the split, in JSON order")
    ap.add_argument("--allow-missing", action="store_true", help="skip images whose file is missing instead of failing")
    args = ap.parse_args(argv)

    data = json.loads(args.json_file.read_text(encoding="utf-8"))
    entries = data["images"] if isinstance(data, dict) else data
    wanted = SELECT[args.split]
    images = args.images.resolve()

    assignment: dict[str, str] = {}
    pairs, missing, no_caption, n_selected = [], [], 0, 0
    for entry in entries:
        split = entry.get("split", "")
        if split not in SPLIT_OF:
            continue
        src, rel = locate(images, entry)
        image = f"images/{rel}"
        assignment[image] = SPLIT_OF[split]
        if split not in wanted or (args.limit and n_selected >= args.limit):
            continue
        captions = common.dedupe(
            common.clean_text(s.get("raw") or " ".join(s.get("tokens", []))) for s in entry.get("sentences", [])
        )
        if not captions:
            no_caption += 1
            continue
        if src is None:
            missing.append(rel)
            continue
        n_selected += 1
        pair = {"image": image, "captions": captions, "id": entry.get("cocoid", entry.get("imgid"))}
        pairs.append((src, pair))

    if missing and not args.allow_missing:
        sys.exit(
            f"error: {len(missing)} image(s) not found under {images} "
            f"(first: {missing[0]}); check --images or pass --allow-missing"
        )
    if not pairs:
        sys.exit(f"error: no images of split {args.split!r} found")

    out = common.prepare_out(args.out, "karpathy")
    for src, pair in pairs:
        place(src, out / pair["image"], args.mode)
    written = "all" if args.split == "all" else SPLIT_OF.get(args.split, "train")
    meta = {
        "builder": "karpathy",
        "source": str(args.json_file.resolve()),
        "dataset": data.get("dataset") if isinstance(data, dict) else None,
        "images_dir": str(images),
        "seed": None,
        "method": "the Karpathy JSON's own 'split' field (restval counted as train)",
        "mode": args.mode,
        "selected": args.split,
        "limit": args.limit,
    }
    counts = common.write_dataset(out, [p for _, p in pairs], assignment, written, meta)
    # when only part of the JSON was written, per-split counts describe the JSON
    counts.update(missing=len(missing), no_caption=no_caption, mode=args.mode)
    common.write_license(
        out,
        f"Images linked or copied from {images}; captions from {args.json_file.name}.\n"
        "Flickr30k and COCO images keep their own terms of use (Flickr30k: "
        "non-commercial research; COCO: the images' Flickr licences), and the\n"
        "captions their datasets' licences. Nothing is redistributed by this folder.",
        None,
    )
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
