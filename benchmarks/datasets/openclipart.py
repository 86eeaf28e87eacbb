"""Build an image–caption folder from Open Clip Art Library SVGs (training data).

Source: Debian's ``openclipart-svg`` (public domain, about 8,121 SVG paths in
22 top-level folders), rendered with ``rsvg-convert``::

    apt-get update && apt-get install -y openclipart-svg librsvg2-bin

Usage::

    python benchmarks/datasets/openclipart.py OUT_DIR                   # everything
    python benchmarks/datasets/openclipart.py OUT_DIR --limit 2000 --workers 2
    python benchmarks/datasets/openclipart.py OUT_DIR --split test

Selection.  Of the 8,121 paths, 663 are symlinks to other paths and many
drawings appear in several folders under the same file name with slightly
different bytes; each drawing is kept once (first sorted path of a file
name).  Metadata is read from the SVG's RDF block (``dc:title``,
``dc:description``, ``dc:subject``).  Series that share one caption within
a folder (1,375 near-identical "gramastar" stars, jigsaw pieces, ...) are
capped at ``--max-same-caption`` drawings each.

Captions (noisy by nature; all cleaned, duplicates dropped):
  1. the title, unless it is a collection title shared by many drawings
     ("Lemon SVG theme", "Part of the Flat Icon Collection (…)") — then the
     file name, without its author suffix, comes first;
  2. the description, when short and not an e-mail/URL or boilerplate;
  3. up to four subject keywords, joined with ", " (author names, "hash",
     "icons", "theme" and other tagging noise removed).
The cleaned keywords are also kept in a ``"keywords"`` field.

Images: PNG, ``--size`` (224) pixels square, centred on white, cropped to the
drawing (empty page margins removed; ``--no-trim`` keeps them).  Drawings that
fail to render, time out or render blank are skipped and counted.  Existing
renders of the right size are reused (``--force`` re-renders).

Split: by top-level folder, not at random (near-duplicates cluster by
folder): whole folders go to the test split, visited in a
``random.Random(seed)`` order, until about ``--test-fraction`` of the
drawings are test.  It is computed over the full selection, before
``--limit`` and rendering, so it never depends on those.  ``split.json``
names the test folders.

Output: ``OUT/images/<folder>/<name>.png``, ``pairs.jsonl`` (``"image"``,
``"captions"``, ``"keywords"``, ``"source"``, ``"group"``), ``train.jsonl``,
``test.jsonl``, ``split.json``, ``LICENSE.txt`` (see ``common.py``).
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures as cf
import json
import os
import re
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

try:
    from . import common
except ImportError:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import common

DEFAULT_SOURCE = Path("/usr/share/openclipart/svg")
COPYRIGHT = Path("/usr/share/doc/openclipart-svg/copyright")
DC = "{http://purl.org/dc/elements/1.1/}"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"

# subject tags that say nothing about what is drawn
STOP_KEYWORDS = {
    "hash",
    "none",
    "null",
    "icon",
    "icons",
    "theme",
    "themes",
    "magick",
    "unsorted",
    "special",
    "signs and symbols",
    "mimetypes",
    "mime-types",
    "mime types",
    "clip art",
    "clipart",
    "clip-art",
    "image",
    "images",
    "media",
    "svg",
    "png",
    "public domain",
    "publicdomain",
    "openclipart",
    "ocal",
    "united nations member",
    "mapsym",
    "lemon theme icon",
    "action",
    "actions",
    "application",
    "applications",
    "apps",
    "filesystem",
    "webpage",
    "menu",
    "computer",
    "recreation",
    "education",
    "office",
    "work",
    "various",
    "remix",
    "inkscape",
    "gradients",
    "r16",
    "misc",
    "other",
    "stuff",
}
# titles that name a collection rather than the drawing
COLLECTION_TITLE = re.compile(
    r"collection|theme|icon|clip ?art|svg|submission|sibmission|various|"
    r"\bby\b|\b(19|20)\d\d\b|gramastar|etiquette|aiga|iconset|series|\bset\b",
    re.I,
)
_CLIPART_BY = re.compile(r"^clipart by [^-]+ - ", re.I)
_TRAILING_NUM = re.compile(r"[\s_-]*\d+[a-z]?$", re.I)
_HAS_DIGIT = re.compile(r"\d")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_PACKAGED_NAME = re.compile(r"_(\d\d)?$")
_PERL_HASH = re.compile(r"HASH\(0x[0-9a-f]+\)", re.I)


# ---------------------------------------------------------------- metadata


def read_metadata(path: Path) -> dict:
    """title, description, subjects and creator names from an SVG's RDF."""
    meta = {"title": "", "description": "", "subjects": [], "creators": []}
    try:
        md = None
        for _, el in ET.iterparse(path, events=("end",)):
            if el.tag == "metadata" or el.tag.endswith("}metadata"):
                md = el
                break
    except ET.ParseError:
        return meta
    if md is None:
        return meta
    work = next((el for el in md.iter() if el.tag.endswith("}Work")), md)
    title = work.find(DC + "title")
    desc = work.find(DC + "description")
    subject = work.find(DC + "subject")
    meta["title"] = _clean_meta(title.text if title is not None else "")
    meta["description"] = _clean_meta(desc.text if desc is not None else "")
    if subject is not None:
        meta["subjects"] = [common.clean_text(li.text) for li in subject.iter(RDF + "li")]
        if not meta["subjects"] and subject.text:
            meta["subjects"] = [common.clean_text(x) for x in subject.text.split(",")]
    for tag in ("creator", "rights", "publisher"):
        el = work.find(DC + tag)
        if el is not None:
            meta["creators"] += [_clean_meta(t.text) for t in el.iter(DC + "title")]
    return meta


def _clean_meta(text: str | None) -> str:
    return "" if _PERL_HASH.fullmatch((text or "").strip()) else common.clean_text(text)


def name_tokens(creators: list[str]) -> set[str]:
    toks = set()
    for c in creators:
        for t in re.split(r"[^\w]+", c.lower()):
            if len(t) >= 2:
                toks.add(t)
    return toks


def words_from_filename(stem: str, creator_toks: set[str]) -> str:
    """'digital-camera_aj_ashton_01' with creator 'AJ Ashton' -> 'digital camera'."""
    parts = stem.split("_")
    # Debian renamed most files "<title>_<author, truncated>_<NN>"
    if _PACKAGED_NAME.search(stem):
        for i in range(1, len(parts)):
            p = parts[i].lower()
            if len(p) >= 2 and any(t.startswith(p) for t in creator_toks):
                parts = parts[:i]
                break
    words = []
    for part in parts:
        for w in re.split(r"[-\s.]+", _CAMEL.sub(" ", part)):
            w = w.rstrip("0123456789")
            if w and not _HAS_DIGIT.search(w):
                words.append(w.lower())
    return " ".join(words)


def clean_title(title: str) -> str:
    t = _CLIPART_BY.sub("", title).replace("_", " ")
    t = _TRAILING_NUM.sub("", t)
    t = common.clean_text(t).strip(" -.,:;")
    return t if re.search(r"[^\W\d_]{2}", t) else ""


def clean_keywords(subjects, creators, exclude_words) -> list[str]:
    creator_full = {c.lower() for c in creators if c}
    ctoks = name_tokens(creators)
    out = []
    for s in subjects:
        k = common.clean_text((s or "").replace("_", " ")).lower().strip(" .,;")
        if (
            not k
            or k in STOP_KEYWORDS
            or k in creator_full
            or k in ctoks
            or _HAS_DIGIT.search(k)
            or len(k) < 3
            or "theme" in k
            or "@" in k
            or "http" in k
            or len(k) > 40
        ):
            continue
        if k in exclude_words or k.rstrip("s") in exclude_words:
            continue
        out.append(k)
    return common.dedupe(out)


def good_description(desc: str, title: str, common_descs: set[str]) -> bool:
    d = desc.lower()
    return bool(
        desc
        and re.search(r"[^\W\d_]{3}", desc)
        and len(desc) <= 200
        and len(desc.split()) <= 30
        and "@" not in desc
        and not _PERL_HASH.search(desc)
        and "http" not in d
        and "www." not in d
        and d.strip(" .") != title.lower().strip(" .")
        and d not in common_descs
    )


# ---------------------------------------------------------------- selection


def select_drawings(source: Path) -> list[dict]:
    """One entry per distinct drawing (regular files, first path per file name)."""
    seen: dict[str, Path] = {}
    for path in sorted(source.rglob("*.svg")):
        if path.is_symlink() or not path.is_file():
            continue
        seen.setdefault(path.name, path)
    drawings = []
    for path in sorted(seen.values()):
        rel = path.relative_to(source)
        drawings.append({"src": path, "rel": rel.as_posix(), "group": rel.parts[0] if len(rel.parts) > 1 else "."})
    return drawings


def caption_drawings(drawings: list[dict]) -> None:
    """Fill in 'captions' and 'keywords' (an empty list if nothing usable)."""
    titles = collections.Counter()
    descs = collections.Counter()
    for d in drawings:
        d["meta"] = read_metadata(d["src"])
        titles[d["meta"]["title"].lower()] += 1
        descs[d["meta"]["description"].lower()] += 1
    common_descs = {t for t, n in descs.items() if n >= 5}
    for d in drawings:
        m = d["meta"]
        ctoks = name_tokens(m["creators"])
        title = clean_title(m["title"])
        if title.lower() in {c.lower() for c in m["creators"]}:
            title = ""
        shared = titles[m["title"].lower()] >= 5
        from_name = words_from_filename(Path(d["rel"]).stem, ctoks)
        captions = []
        if shared or not title:
            captions.append(from_name)
            if title and not COLLECTION_TITLE.search(m["title"]):
                captions.append(title)
        else:
            captions.append(title)
        if good_description(m["description"], title, common_descs):
            captions.append(m["description"])
        captions = common.dedupe(c for c in captions if c)
        words = {w for c in captions[:1] for w in c.lower().split()}
        keywords = clean_keywords(m["subjects"], m["creators"], words)
        if keywords:
            kw_caption = ", ".join(keywords[:4])
            if not captions or kw_caption.lower() != captions[0].lower():
                captions.append(kw_caption)
        d["captions"] = common.dedupe(captions)
        d["keywords"] = keywords


def cap_series(drawings: list[dict], max_same: int) -> tuple[list[dict], int]:
    """Keep at most ``max_same`` drawings per (folder, first caption)."""
    if not max_same:
        return drawings, 0
    count = collections.Counter()
    kept = []
    for d in drawings:
        key = (str(Path(d["rel"]).parent), d["captions"][0].lower())
        count[key] += 1
        if count[key] <= max_same:
            kept.append(d)
    return kept, len(drawings) - len(kept)


# ---------------------------------------------------------------- main


def _render_one(args):
    src, dst, size, timeout, force, trim = args
    if not force and dst.exists():
        try:
            from PIL import Image

            with Image.open(dst) as im:
                if im.size == (size, size):
                    return None, True
        except Exception:
            pass
    return common.render_svg(src, dst, size, background="white", square=True, trim=trim, timeout=timeout), False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Render Open Clip Art SVGs into an image–caption dataset folder.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument("out", type=Path, help="output folder (created)")
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    ap.add_argument("--split", choices=["all", "train", "test"], default="all")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--test-fraction", type=float, default=0.2)
    ap.add_argument(
        "--limit", type=int, default=None, help="render only N drawings (a seeded sample; splits unchanged)"
    )
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel rsvg-convert processes")
    ap.add_argument("--size", type=int, default=224, help="output side in pixels")
    ap.add_argument(
        "--max-same-caption", type=int, default=5, help="max drawings per (folder, first caption); 0 = no cap"
    )
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per render")
    ap.add_argument(
        "--no-trim", action="store_true", help="keep each drawing's page margins (default: crop to the drawing)"
    )
    ap.add_argument("--force", action="store_true", help="re-render existing PNGs")
    args = ap.parse_args(argv)

    if not args.source.is_dir():
        sys.exit(
            f"error: {args.source} not found; install it with "
            "`apt-get update && apt-get install -y openclipart-svg librsvg2-bin`"
        )
    if not common.have_rsvg():
        sys.exit("error: rsvg-convert not found; apt-get install -y librsvg2-bin")

    t0 = time.time()
    drawings = select_drawings(args.source)
    n_distinct = len(drawings)
    caption_drawings(drawings)
    no_caption = [d for d in drawings if not d["captions"]]
    drawings = [d for d in drawings if d["captions"]]
    drawings, n_capped = cap_series(drawings, args.max_same_caption)
    for d in drawings:
        d["image"] = "images/" + str(Path(d["rel"]).with_suffix(".png").as_posix())
    sizes = collections.Counter(d["group"] for d in drawings)
    test_groups = common.group_split(sizes, args.test_fraction, args.seed)
    assignment = {d["image"]: ("test" if d["group"] in test_groups else "train") for d in drawings}
    chosen = set(common.sample_limit([d["image"] for d in drawings], args.limit, args.seed))
    drawings = [d for d in drawings if d["image"] in chosen]
    t_meta = time.time() - t0

    out = common.prepare_out(args.out, "openclipart")
    todo = [d for d in drawings if args.split in ("all", assignment[d["image"]])]
    jobs = [(d["src"], out / d["image"], args.size, args.timeout, args.force, not args.no_trim) for d in todo]
    t1 = time.time()
    failures: dict[str, str] = {}
    reused = 0
    with cf.ThreadPoolExecutor(max_workers=max(1, args.workers)) as pool:
        for d, (err, was_there) in zip(todo, pool.map(_render_one, jobs)):
            reused += was_there
            if err:
                failures[d["image"]] = err
    t_render = time.time() - t1

    pairs = []
    for d in drawings:
        if d["image"] in failures:
            continue
        pairs.append(
            {
                "image": d["image"],
                "captions": d["captions"],
                "keywords": d["keywords"],
                "source": d["rel"],
                "group": d["group"],
            }
        )
    meta = {
        "builder": "openclipart",
        "source": str(args.source),
        "seed": args.seed,
        "method": "by top-level folder: whole folders to test, random.Random(seed) "
        f"order, until about {args.test_fraction} of drawings",
        "test_fraction": args.test_fraction,
        "test_groups": sorted(test_groups),
        "train_groups": sorted(set(sizes) - test_groups),
        "size": args.size,
        "trim": not args.no_trim,
        "max_same_caption": args.max_same_caption,
        "limit": args.limit,
    }
    counts = common.write_dataset(out, pairs, assignment, args.split, meta)
    common.write_license(
        out,
        "Images in this folder are renderings of SVG drawings from the Debian\n"
        "package openclipart-svg (Open Clip Art Library), dedicated to the public\n"
        "domain. Captions are derived from the drawings' metadata. Its copyright\n"
        "file follows.",
        COPYRIGHT,
    )
    reasons = collections.Counter(e.split(":")[0] for e in failures.values())
    counts.update(
        distinct_drawings=n_distinct,
        no_caption=len(no_caption),
        capped_series=n_capped,
        selected=len(drawings),
        rendered=len(todo) - len(failures),
        reused_existing=reused,
        render_failed=len(failures),
        failure_reasons=dict(reasons),
        test_groups=sorted(test_groups),
        seconds_metadata=round(t_meta, 1),
        seconds_render=round(t_render, 1),
        renders_per_second=(round((len(todo) - reused) / t_render, 1) if t_render > 0 and len(todo) > reused else None),
    )
    for image, err in sorted(failures.items()):
        print(f"render failed: {image}: {err}", file=sys.stderr)
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
