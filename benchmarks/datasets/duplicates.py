"""Build a near-duplicate photo set: real photos, edited copies of them, and look-alikes that are not copies.

Every packaged photo of ``photos.py`` and ``photos2.py`` is a *scene*. A scene larger than
``SCENE_SIDE`` on its shorter side gives three *bases* (the photos a camera could have taken):

- ``a``: a window over about 60 % of the scene;
- ``b``: a window over another region of the same scene (same place, another photo);
- ``burst``: window ``a`` moved by 6–15 % of its width (more where it is larger, so that neither
  shot holds all of the other) and up to 6 % of its height, 0–6 % larger or smaller, its exposure
  changed by up to 5 % (the next shot of a burst).

A smaller scene is one base, the whole photo. The scene itself is never in the set. Every base gets
three *copies*, edits that keep it the same photo, in rotation over ``EDITS``: resized, re-encoded
as JPEG at quality 30–60, cropped by 5–15 % of each side, brighter or darker, more or less
contrast, another format (PNG, WebP), and resized + cropped + re-encoded together.

Ground truth: a base and its copies form one *family*; two files are duplicates exactly when they
are of one family. Bases of one scene (``a``, ``b``, ``burst``) and different photos of similar
subjects (several flowers, grass, gravel, castles, monkeys …) are the negatives that matter.

Split: scenes are drawn at random (``random.Random(seed)``, over the sorted scene names) into two
halves, ``val`` (choose settings there) and ``test`` (report there); a family never spans both.

Output::

    OUT/images/<split>/<scene>/<base>[-<edit>].<ext>
    OUT/truth.jsonl   {"path": relative path, "scene", "family", "edit" ("" for a base), "split",
                       "base_path": the family's base}
    OUT/LICENSE.txt   the photos' licences (as photos.py and photos2.py write them)

Bases are written with an mtime of 2020-01-01 (+ a second per file), copies a year later, so the
base is the oldest file of its family (and the largest, except for a re-saved PNG/WebP or a
brightness change of the same size, where age decides).

Usage::

    python benchmarks/datasets/duplicates.py OUT_DIR [--seed 0]

Needs the photo sources of photos.py and photos2.py (scikit-image, scikit-learn, matplotlib from
PyPI; Debian wallpaper packages and gcompris-qt-data); missing ones are skipped and counted.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

try:
    from . import photos, photos2
except ImportError:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import photos
    import photos2

SCENE_SIDE = 700  # scenes at least this large on their shorter side give three bases
WINDOW = 0.6  # a base window's side, as a fraction of the scene's
BASE_TIME = 1577836800  # 2020-01-01 UTC
COPY_TIME = BASE_TIME + 366 * 86400


@dataclass(frozen=True)
class Scene:
    name: str
    load: Callable  # () -> PIL RGB image
    source: str  # package and path, for the record


def scenes() -> tuple[list[Scene], list[str], set[str]]:
    """Every packaged photo that is installed, the ones that are not, and the sources used."""
    found, missing, used = [], [], set()
    for source, rel, _ in photos.PHOTOS:
        path = photos.resolve(source, rel)
        key = Path(photos.image_key(source, rel)).stem
        if path is None:
            missing.append(f"{source}:{rel}")
            continue
        found.append(Scene(f"{source}-{key}", _file_loader(path), f"{photos.SOURCES[source][1]}: {path}"))
        used.add(("photos", source))
    for activity, offset, _want, _query in photos2.GCOMPRIS:
        rcc = photos2.RCC / f"{activity}.rcc"
        if photos2.cut_webp(rcc, offset) is None:
            missing.append(f"gcompris:{activity}@{offset}")
            continue
        found.append(
            Scene(
                f"gcompris-{activity}-{offset}",
                _webp_loader(rcc, offset),
                f"gcompris-qt-data (Debian): {rcc} at byte {offset}",
            )
        )
        used.add(("photos2", "gcompris"))
    for source, where, _query, package in photos2.FILES:
        path = where() if callable(where) else Path(where)
        if path is None or not Path(path).exists():
            missing.append(f"{source}:{where if not callable(where) else _query}")
            continue
        name = Path(path).parts[-4] if source == "plasma" else Path(path).stem
        scene = f"{source}-{name}"
        if any(s.name == scene for s in found):
            continue
        found.append(Scene(scene, _file_loader(Path(path)), f"{package}: {path}"))
        used.add(("photos2", source))
    return found, missing, used


def _file_loader(path: Path) -> Callable:
    def load():
        from PIL import Image, ImageOps

        with Image.open(path) as image:
            return ImageOps.exif_transpose(image).convert("RGB")

    return load


def _webp_loader(rcc: Path, offset: int) -> Callable:
    return lambda: photos2.cut_webp(rcc, offset)


# ------------------------------------------------------------------------------------- bases


def bases(scene, rng: random.Random) -> Iterator[tuple[str, object]]:
    """(base name, image) for one scene image: a, b and burst windows, or the whole photo."""
    from PIL import ImageEnhance

    width, height = scene.size
    if min(width, height) < SCENE_SIDE:
        yield "whole", scene
        return
    w, h = round(width * WINDOW), round(height * WINDOW)
    ax, ay = rng.randint(0, (width - w) // 4), rng.randint(0, height - h)  # a: towards the left
    yield "a", scene.crop((ax, ay, ax + w, ay + h))
    bx, by = rng.randint(3 * (width - w) // 4, width - w), rng.randint(0, height - h)  # b: the right
    yield "b", scene.crop((bx, by, bx + w, by + h))
    scale = rng.uniform(0.94, 1.06)
    bw, bh = round(w * scale), round(h * scale)
    # moved further than it grew, so that neither shot holds the whole of the other
    shift = rng.uniform(0.06, 0.15) + max(scale - 1, 0)
    dx = round(w * shift) * rng.choice((1, -1))
    dy = round(h * rng.uniform(0, 0.06)) * rng.choice((1, -1))
    x, y = ax + dx, min(max(ay + dy, 0), height - bh)
    if not 0 <= x <= width - bw:  # off the scene: move the other way
        x = ax - dx
    x = min(max(x, 0), width - bw)
    shot = scene.crop((x, y, x + bw, y + bh)).resize((w, h))
    yield "burst", ImageEnhance.Brightness(shot).enhance(rng.uniform(0.95, 1.05))


# ------------------------------------------------------------------------------------- edits


def _resized(image, rng):
    f = rng.uniform(0.25, 0.6)
    return image.resize((max(1, round(image.width * f)), max(1, round(image.height * f))), _lanczos()), "jpg", {}


def _jpeg(image, rng):
    return image, "jpg", {"quality": rng.randint(30, 60)}


def _cropped(image, rng):
    return _crop(image, rng, 0.05, 0.15), "jpg", {"quality": 90}


def _brightness(image, rng):
    from PIL import ImageEnhance

    factor = rng.choice((rng.uniform(0.7, 0.85), rng.uniform(1.15, 1.35)))
    return ImageEnhance.Brightness(image).enhance(factor), "jpg", {"quality": 90}


def _contrast(image, rng):
    from PIL import ImageEnhance

    factor = rng.choice((rng.uniform(0.65, 0.85), rng.uniform(1.2, 1.5)))
    return ImageEnhance.Contrast(image).enhance(factor), "jpg", {"quality": 90}


def _format(image, rng):
    return (image, "png", {}) if rng.random() < 0.5 else (image, "webp", {"quality": 85})


def _combined(image, rng):
    image = _crop(image, rng, 0.03, 0.10)
    f = rng.uniform(0.4, 0.7)
    image = image.resize((round(image.width * f), round(image.height * f)), _lanczos())
    return image, "jpg", {"quality": rng.randint(40, 70)}


def _crop(image, rng, low: float, high: float):
    cut_w, cut_h = rng.uniform(low, high), rng.uniform(low, high)
    w, h = round(image.width * (1 - cut_w)), round(image.height * (1 - cut_h))
    x, y = rng.randint(0, image.width - w), rng.randint(0, image.height - h)
    return image.crop((x, y, x + w, y + h))


def _lanczos():
    from PIL import Image

    return Image.Resampling.LANCZOS


EDITS = {
    "resized": _resized,
    "jpeg": _jpeg,
    "cropped": _cropped,
    "brightness": _brightness,
    "contrast": _contrast,
    "format": _format,
    "combined": _combined,
}
COPIES_PER_BASE = 3


def save(image, path: Path, ext: str, options: dict) -> Path:
    path = path.with_suffix("." + ext)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP"}[ext]
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    path.write_bytes(buffer.getvalue())
    return path


def build(out: Path, seed: int = 0) -> dict:
    found, missing, used = scenes()
    names = sorted(s.name for s in found)
    val = set(random.Random(seed).sample(names, len(names) // 2))
    rows, edit_turn, stamp = [], 0, 0
    for scene in sorted(found, key=lambda s: s.name):
        split = "val" if scene.name in val else "test"
        rng = random.Random(f"{seed}:{scene.name}")
        for base_name, base in bases(scene.load(), rng):
            folder = out / "images" / split / scene.name
            base_path = save(base, folder / base_name, "jpg", {"quality": 92})
            family = f"{scene.name}/{base_name}"
            entries = [(base_path, "")]
            for _ in range(COPIES_PER_BASE):
                edit = list(EDITS)[edit_turn % len(EDITS)]
                edit_turn += 1
                image, ext, options = EDITS[edit](base, rng)
                entries.append((save(image, folder / f"{base_name}-{edit}", ext, options), edit))
            for path, edit in entries:
                moment = (BASE_TIME if not edit else COPY_TIME) + stamp
                stamp += 1
                os.utime(path, (moment, moment))
                rows.append(
                    {
                        "path": str(path.relative_to(out)),
                        "scene": scene.name,
                        "family": family,
                        "edit": edit,
                        "split": split,
                        "base_path": str(base_path.relative_to(out)),
                        "source": scene.source,
                    }
                )
    with open(out / "truth.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(row) + "\n" for row in rows)
    _write_licences(out, used)
    return {
        "scenes": len(found),
        "families": len({r["family"] for r in rows}),
        "files": len(rows),
        "val_files": sum(r["split"] == "val" for r in rows),
        "missing_sources": len(missing),
        "seed": seed,
    }


def _write_licences(out: Path, used: set[tuple[str, str]]) -> None:
    parts = ["Photos in this folder were cut and edited from photos that ship in packages.\n"]
    first = {source for builder, source in used if builder == "photos"}
    if first:
        parts.append(photos.license_text(first))
    for builder, source in sorted(used):
        if builder == "photos2":
            note = photos2.LICENCES[source]
            parts.append(f"\n== {source}\n")
            parts.append(
                Path(note).read_text(encoding="utf-8", errors="replace")
                if note.startswith("/") and Path(note).exists()
                else note + "\n"
            )
    (out / "LICENSE.txt").write_text("".join(parts), encoding="utf-8")


def load_truth(out: Path) -> list[dict]:
    with open(out / "truth.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Build the near-duplicate photo set.")
    ap.add_argument("out", type=Path, help="output folder (created)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    counts = build(args.out, args.seed)
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
