"""Shared helpers for the evaluation-dataset builders in this folder.

Every builder writes one folder in the project's evaluation format
(see ``ARCHITECTURE.md``, "Evaluation dataset format")::

    OUT/
      pairs.jsonl    the pairs held in this folder, one JSON object a line:
                     {"image": "images/…/x.png", "captions": ["…", …],
                      "audio": "audio/…/x.ogg"?, …extra fields}
                     paths are relative to OUT.
      train.jsonl    (``--split all`` only) the training pairs, same format
      test.jsonl     (``--split all`` only) the held-out pairs, same format
      val.jsonl      (only where the source defines a validation split)
      split.json     {"builder", "seed", "method", "written", "train": [...],
                     "test": [...], ...}: the split of every item of the
                     source, as image paths relative to OUT, whether or not
                     this folder holds them (so a test-only or ``--limit``
                     folder still records which images are training images).
      LICENSE.txt    the licence of the source material

``--split all`` (the default) writes every item and the per-split files;
``--split test`` (or ``train``) writes only that split's images and pairs, so
the folder can be handed directly to ``searchengine bench recall``.  The split
of an item never depends on ``--split`` or ``--limit``: it is computed over the
full source listing with a fixed seed, and ``--limit`` only selects which
items are written.

Anything that trains should read ``train.jsonl`` (``load_pairs(folder,
"train")``) and never ``pairs.jsonl`` of an ``--split all`` folder.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

SPLIT_FILE = "split.json"
PAIRS_FILE = "pairs.jsonl"
SPLIT_NAMES = ("train", "val", "test")
OWNED_DIRS = ("images", "audio")

_WS = re.compile(r"\s+")


def clean_text(text: str | None) -> str:
    """NFC-normalise, collapse whitespace and strip; ``None`` gives ``""``."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text)
    return _WS.sub(" ", text).strip()


def dedupe(items: Iterable[str]) -> list[str]:
    """Drop empty strings and case-insensitive repeats, keeping order."""
    seen: set[str] = set()
    out = []
    for item in items:
        key = item.casefold()
        if item and key not in seen:
            seen.add(key)
            out.append(item)
    return out


# ---------------------------------------------------------------- splits


def random_split(keys: Iterable[str], test_fraction: float, seed: int) -> set[str]:
    """Keys of the test split: ``round(test_fraction * n)`` keys drawn with
    ``random.Random(seed)`` from the sorted keys (stable across runs)."""
    order = sorted(set(keys))
    random.Random(seed).shuffle(order)
    n_test = round(test_fraction * len(order))
    return set(order[:n_test])


def group_split(sizes: Mapping[str, int], test_fraction: float, seed: int) -> set[str]:
    """Groups of the test split, for splitting by group (folder) rather than
    by item: groups are visited in a ``random.Random(seed)`` order and one is
    added to the test split when that brings the test share closer to
    ``test_fraction`` of all items."""
    order = sorted(sizes)
    random.Random(seed).shuffle(order)
    total = sum(sizes.values())
    target = test_fraction * total
    test: set[str] = set()
    n_test = 0
    for group in order:
        if abs(n_test + sizes[group] - target) < abs(n_test - target):
            test.add(group)
            n_test += sizes[group]
    return test


def sample_limit(keys: Sequence[str], limit: int | None, seed: int) -> list[str]:
    """``limit`` keys drawn reproducibly (independently of the split's own
    draw), returned sorted; all keys, sorted, when ``limit`` is falsy."""
    keys = sorted(set(keys))
    if not limit or limit >= len(keys):
        return keys
    return sorted(random.Random(f"limit-{seed}").sample(keys, limit))


# ---------------------------------------------------------------- files


def write_jsonl(path: Path, rows: Iterable[Mapping]) -> int:
    """Write rows as JSON lines (UTF-8, atomically); returns the row count."""
    path = Path(path)
    n = 0
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    os.replace(tmp, path)
    return n


def write_json(path: Path, obj) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_pairs(folder: str | Path, split: str | None = None) -> list[dict]:
    """Pairs of a dataset folder: ``pairs.jsonl``, or ``<split>.jsonl``.

    For a folder built with ``--split test`` (no per-split files),
    ``load_pairs(folder, "test")`` falls back to ``pairs.jsonl`` after
    checking against ``split.json`` that it holds only that split.
    """
    folder = Path(folder)
    if split is None:
        return read_jsonl(folder / PAIRS_FILE)
    if (folder / f"{split}.jsonl").exists():
        return read_jsonl(folder / f"{split}.jsonl")
    meta = json.loads((folder / SPLIT_FILE).read_text(encoding="utf-8"))
    if meta.get("written") != split:
        raise FileNotFoundError(f"{folder} has no {split}.jsonl and holds split {meta.get('written')!r}")
    return read_jsonl(folder / PAIRS_FILE)


def prepare_out(out: Path, builder: str) -> Path:
    """Create OUT, refusing a non-empty folder that no builder made."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        meta = out / SPLIT_FILE
        ok = False
        if meta.exists():
            try:
                ok = "builder" in json.loads(meta.read_text(encoding="utf-8"))
            except ValueError:
                ok = False
        if not ok:
            sys.exit(
                f"error: {out} is not empty and was not made by a dataset builder "
                f"(no {SPLIT_FILE}); choose an empty or new folder"
            )
    out.mkdir(parents=True, exist_ok=True)
    return out


def copy_file(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` unless an identical-looking copy is there."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        s, d = src.stat(), dst.stat()
        if s.st_size == d.st_size and int(s.st_mtime) == int(d.st_mtime):
            return
    except FileNotFoundError:
        pass
    shutil.copy2(src, dst)


def prune(out: Path, keep: Iterable[str]) -> int:
    """Delete files under OUT's builder-owned folders (images/, audio/) that
    are not in ``keep`` (paths relative to OUT), then empty folders.
    Returns the number of files removed."""
    out = Path(out)
    keep = set(keep)
    removed = 0
    for sub in OWNED_DIRS:
        base = out / sub
        if not base.exists():
            continue
        for dirpath, dirnames, filenames in os.walk(base, topdown=False):
            for name in filenames:
                path = Path(dirpath) / name
                if path.relative_to(out).as_posix() not in keep:
                    path.unlink()
                    removed += 1
            for name in dirnames:
                path = Path(dirpath) / name
                if path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
                    path.rmdir()
    return removed


def write_dataset(
    out: Path,
    pairs: Sequence[dict],
    assignment: Mapping[str, str],
    written: str,
    meta: Mapping,
) -> dict:
    """Write pairs.jsonl (+ per-split files when ``written == "all"``) and
    split.json.

    ``pairs`` hold every selected item (each with an ``"image"`` key);
    ``assignment`` maps the image path of every item of the source (selected
    or not) to its split name, and is what split.json lists; ``written`` is
    ``"all"`` or one split name.  Files written under OUT by the builder and
    not listed in the written pairs are pruned.  Returns counts.
    """
    out = Path(out)
    by_split: dict[str, list[dict]] = {}
    for pair in pairs:
        by_split.setdefault(assignment[pair["image"]], []).append(pair)
    if written == "all":
        chosen = list(pairs)
    else:
        chosen = by_split.get(written, [])
    write_jsonl(out / PAIRS_FILE, chosen)
    for name in SPLIT_NAMES:
        path = out / f"{name}.jsonl"
        if written == "all" and name in by_split:
            write_jsonl(path, by_split[name])
        elif path.exists():
            path.unlink()
    split = {"builder": meta.get("builder"), **meta, "written": written}
    for name in SPLIT_NAMES:
        listed = sorted(img for img, s in assignment.items() if s == name)
        if listed or name != "val":
            split[name] = listed
    write_json(out / SPLIT_FILE, split)
    keep = set()
    for pair in chosen:
        keep.add(pair["image"])
        if pair.get("audio"):
            keep.add(pair["audio"])
        keep.update((pair.get("audio_translations") or {}).values())
    pruned = prune(out, keep)
    counts = {
        "written": written,
        "images": len(chosen),
        "captions": sum(len(p["captions"]) for p in chosen),
        "audio": sum(1 for p in chosen if p.get("audio")),
        "pruned_stale_files": pruned,
    }
    for name in SPLIT_NAMES:
        if name in by_split or name != "val":
            counts[name] = len(by_split.get(name, []))
    return counts


def write_license(out: Path, header: str, copyright_file: Path | None) -> None:
    text = header.rstrip() + "\n"
    if copyright_file and Path(copyright_file).exists():
        text += "\n" + "-" * 72 + "\n" + Path(copyright_file).read_text(encoding="utf-8", errors="replace")
    (Path(out) / "LICENSE.txt").write_text(text, encoding="utf-8")


# ---------------------------------------------------------------- rendering


def _rsvg(src: Path, tmp: Path, box: int, timeout: float):
    """Render ``src`` to fit a ``box``×``box`` square, transparent; an RGBA image."""
    from PIL import Image

    cmd = ["rsvg-convert", "-a", "-w", str(box), "-h", str(box), "-u", "-o", str(tmp), str(src)]
    proc = subprocess.run(cmd, capture_output=True, timeout=timeout)
    if proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError("rsvg: " + (msg[-1] if msg else f"exit {proc.returncode}"))
    with Image.open(tmp) as im:
        return im.convert("RGBA")


def render_svg(
    src: Path,
    dst: Path,
    size: int,
    background: str | None = "white",
    square: bool = True,
    trim: bool = False,
    timeout: float = 60.0,
) -> str | None:
    """Render an SVG with ``rsvg-convert`` so that its longer side is ``size``
    pixels, flattened on ``background`` (None keeps transparency) and, if
    ``square``, centred on a ``size``×``size`` canvas.  With ``trim``, empty
    page margins are cut off (a drawing that fills little of its page is
    re-rendered larger first, up to 4×) and a 3 % margin is left.  Returns
    None on success or a short reason on failure (nothing is left at ``dst``).
    """
    from PIL import Image

    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".part.png")
    try:
        im = _rsvg(src, tmp, size, timeout)
        bbox = im.getchannel("A").getbbox()
        if bbox is None:
            return "blank render"
        if trim:
            inner = max(1, round(size * 0.94))
            side = max(bbox[2] - bbox[0], bbox[3] - bbox[1])
            if side < 0.9 * inner:  # re-render so the drawing itself is ~inner px
                scale = min(4.0, 1.02 * inner / side)
                im = _rsvg(src, tmp, int(size * scale), timeout)
                bbox = im.getchannel("A").getbbox() or bbox
            im = im.crop(bbox)
            if max(im.size) != inner:
                ratio = inner / max(im.size)
                new = (max(1, round(im.width * ratio)), max(1, round(im.height * ratio)))
                im = im.resize(new, Image.LANCZOS)
        if background:
            flat = Image.new("RGBA", im.size, background)
            flat.alpha_composite(im)
            im = flat.convert("RGB")
            bg = Image.new("RGB", (1, 1), background).getpixel((0, 0))
            if im.getextrema() == tuple((c, c) for c in bg):
                return "blank render"  # only background-coloured pixels
        if square and im.size != (size, size):
            canvas = Image.new(im.mode, (size, size), background or (0, 0, 0, 0))
            canvas.paste(im, ((size - im.width) // 2, (size - im.height) // 2))
            im = canvas
        im.save(dst)
        return None
    except subprocess.TimeoutExpired:
        return f"timeout after {timeout:.0f} s"
    except Exception as exc:  # a broken file must not stop the build
        msg = str(exc) if isinstance(exc, RuntimeError) else f"{type(exc).__name__}: {exc}"
        return msg.splitlines()[0][:200]
    finally:
        tmp.unlink(missing_ok=True)


def have_rsvg() -> bool:
    return shutil.which("rsvg-convert") is not None
