"""Build an image–caption(–speech) evaluation folder from the Tux Paint stamps.

Source: Debian's ``tuxpaint-stamps-default`` (GPL-2), installed with::

    apt-get update && apt-get install -y tuxpaint-stamps-default

Each stamp is ``<dir>/<name>.png`` with a caption file ``<name>.txt``: first
line English, then one ``<locale>.utf8=<text>`` line per translation.  About
66 stamps also have an English spoken caption ``<name>_desc.ogg`` (and most
have spoken captions in other languages, ``<name>_desc_<lang>.ogg``);
``<name>.ogg`` without ``_desc`` is a sound effect, not a caption.  The
``symbols/`` folder (letters, digits, chess pieces, coins) is skipped, as are
PNGs without a caption file (mirror images, alternative Tux poses).

Usage::

    python benchmarks/datasets/tuxpaint.py OUT_DIR                # everything
    python benchmarks/datasets/tuxpaint.py OUT_DIR --split test   # test images only
    python benchmarks/datasets/tuxpaint.py OUT_DIR --limit 40     # quick subset
    python benchmarks/datasets/tuxpaint.py OUT_DIR --audio-langs fr,es --include-svg

Output (see ``common.py`` for the folder layout shared by all builders)::

    OUT/images/<category path>/<name>.png   copies of the original stamp PNGs
                                            (RGBA/LA/P, transparent background)
    OUT/audio/<category path>/<name>.ogg    English spoken caption, when present
    OUT/pairs.jsonl   {"image", "captions": [English], "audio"?,
                       "translations": {"es": "…", "pt_BR": "…", …},
                       "audio_translations"?: {"fr": "audio/…/<name>_fr.ogg"},
                       "category": "animals/birds"}
    OUT/train.jsonl, OUT/test.jsonl, OUT/split.json, OUT/LICENSE.txt

Split: 80/20 by image, ``random.Random(seed)`` (seed 0) over the sorted image
paths of all PNG stamps, so it is the same for every ``--split``/``--limit``
(``--include-svg`` adds the SVG-only stamps, which changes the draw: its
split is recorded with ``"include_svg": true``).  Note that a few stamps are
near-duplicates with identical captions (six are captioned "A flower."), and a
random split by image can put such siblings on both sides.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

try:
    from . import common
except ImportError:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import common

DEFAULT_SOURCE = Path("/usr/share/tuxpaint/stamps")
COPYRIGHT = Path("/usr/share/doc/tuxpaint-stamps-default/copyright")
SKIP_TOP = {"symbols"}
# "hi.utf8=एक कौवा|" — stray separators some translators left at line ends
_TRAILING_JUNK = re.compile(r"[\s|]+$")


_LOCALE_LINE = re.compile(r"^([A-Za-z]{2,3}(?:_[A-Za-z]{2})?(?:@\w+)?)(?:\.utf-?8)?=(.*)$", re.I)


def parse_caption_file(path: Path) -> tuple[str, dict[str, str]]:
    """English caption and {locale: caption} translations of a stamp .txt."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    english = ""
    translations: dict[str, str] = {}
    for i, line in enumerate(lines):
        m = _LOCALE_LINE.match(line.strip())
        if m is None:
            if i == 0:
                english = clean(line)
            continue
        text = clean(m.group(2))
        if text:
            translations[m.group(1)] = text
    return english, translations


def clean(text: str) -> str:
    return _TRAILING_JUNK.sub("", common.clean_text(text))


def find_stamps(source: Path, include_svg: bool) -> list[dict]:
    """All captioned stamps under ``source`` (outside symbols/), sorted."""
    stamps = []
    for txt in sorted(source.rglob("*.txt")):
        rel = txt.relative_to(source)
        if rel.parts[0] in SKIP_TOP:
            continue
        stem = txt.with_suffix("")
        png, svg = stem.with_suffix(".png"), stem.with_suffix(".svg")
        if png.exists():
            image, kind = png, "png"
        elif include_svg and svg.exists():
            image, kind = svg, "svg"
        else:
            continue
        stamps.append(
            {
                "src": image,
                "kind": kind,
                "txt": txt,
                "rel": rel.with_suffix("").as_posix(),  # e.g. animals/birds/crow
            }
        )
    return stamps


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Build a Tux Paint stamps image–caption dataset folder.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument("out", type=Path, help="output folder (created)")
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="Tux Paint stamps folder")
    ap.add_argument(
        "--split",
        choices=["all", "train", "test"],
        default="all",
        help="which split to write into OUT (split.json always records both)",
    )
    ap.add_argument("--seed", type=int, default=0, help="split seed")
    ap.add_argument("--test-fraction", type=float, default=0.2)
    ap.add_argument(
        "--limit", type=int, default=None, help="write only N stamps (a seeded sample; their split is unchanged)"
    )
    ap.add_argument("--no-translations", action="store_true", help="leave out the 'translations' field")
    ap.add_argument(
        "--audio-langs",
        default="",
        help="comma-separated languages of extra spoken captions to copy "
        "into 'audio_translations' (e.g. fr,es; 'all' for every one)",
    )
    ap.add_argument(
        "--include-svg",
        action="store_true",
        help="also include SVG-only stamps, rendered to PNG with rsvg-convert (changes the split draw)",
    )
    ap.add_argument("--svg-size", type=int, default=400, help="longer side in pixels of rendered SVG stamps")
    args = ap.parse_args(argv)

    source = args.source
    if not source.is_dir():
        sys.exit(
            f"error: {source} not found; install it with `apt-get update && apt-get install -y tuxpaint-stamps-default`"
        )
    if args.include_svg and not common.have_rsvg():
        sys.exit("error: --include-svg needs rsvg-convert (apt-get install -y librsvg2-bin)")

    stamps = find_stamps(source, args.include_svg)
    if not stamps:
        sys.exit(f"error: no captioned stamps found under {source}")
    for s in stamps:
        s["image"] = f"images/{s['rel']}.png"
    test_images = common.random_split((s["image"] for s in stamps), args.test_fraction, args.seed)
    assignment = {s["image"]: ("test" if s["image"] in test_images else "train") for s in stamps}
    chosen = set(common.sample_limit([s["image"] for s in stamps], args.limit, args.seed))
    stamps = [s for s in stamps if s["image"] in chosen]

    audio_langs = {x.strip() for x in args.audio_langs.split(",") if x.strip()}
    out = common.prepare_out(args.out, "tuxpaint")

    pairs, skipped, failed = [], [], []
    for s in stamps:
        english, translations = parse_caption_file(s["txt"])
        if not english:
            skipped.append(s["rel"])
            continue
        pair: dict = {"image": s["image"], "captions": [english]}
        stem = s["txt"].with_suffix("")
        desc = stem.with_name(stem.name + "_desc.ogg")
        if desc.exists():
            pair["audio"] = f"audio/{s['rel']}.ogg"
        if translations and not args.no_translations:
            pair["translations"] = translations
        if audio_langs:
            extra = {}
            for ogg in sorted(stem.parent.glob(stem.name + "_desc_*.ogg")):
                lang = ogg.name[len(stem.name) + len("_desc_") : -len(".ogg")]
                if "all" in audio_langs or lang in audio_langs:
                    extra[lang] = f"audio/{s['rel']}_{lang}.ogg"
            if extra:
                pair["audio_translations"] = extra
        pair["category"] = str(Path(s["rel"]).parent.as_posix())
        pair["source"] = s["src"].relative_to(source).as_posix()

        if assignment[pair["image"]] == args.split or args.split == "all":
            # copy only what this folder will hold
            dst = out / pair["image"]
            if s["kind"] == "png":
                common.copy_file(s["src"], dst)
            elif not (dst.exists() and dst.stat().st_mtime >= s["src"].stat().st_mtime):
                err = common.render_svg(s["src"], dst, args.svg_size, background=None, square=False)
                if err:
                    failed.append(f"{s['rel']}: {err}")
                    continue
            if "audio" in pair:
                common.copy_file(desc, out / pair["audio"])
            for lang, rel in pair.get("audio_translations", {}).items():
                common.copy_file(stem.with_name(f"{stem.name}_desc_{lang}.ogg"), out / rel)
        pairs.append(pair)

    meta = {
        "builder": "tuxpaint",
        "source": str(source),
        "seed": args.seed,
        "method": f"random by image, test fraction {args.test_fraction}, "
        "random.Random(seed).shuffle over sorted image paths",
        "test_fraction": args.test_fraction,
        "include_svg": args.include_svg,
        "limit": args.limit,
    }
    counts = common.write_dataset(out, pairs, assignment, args.split, meta)
    common.write_license(
        out,
        "Images, captions and spoken captions in this folder come from the Debian\n"
        "package tuxpaint-stamps-default (Tux Paint stamps), licensed under the\n"
        "GNU General Public License, version 2 or later. Its copyright file follows.",
        COPYRIGHT,
    )
    counts.update(skipped_no_english=len(skipped), render_failed=len(failed))
    if failed:
        print("\n".join("render failed: " + f for f in failed), file=sys.stderr)
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
