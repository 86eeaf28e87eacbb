"""OCR benchmark: character error rate, throughput, and what the gate costs photos without text.

1. CER on generated pictures of known text (searchengine/eval/text_images.py): printed pages,
   screenshot-like settings windows and signs in photos, clean and degraded (rotated, blurred,
   noisy, JPEG). Two disjoint halves: **tune** (DejaVu fonts, even-numbered sample texts, sign
   texts and backgrounds) chooses the settings compared here (sharpening before reading on/off);
   **confirm** (Liberation fonts, the odd-numbered ones) reports them. Plus a real photographed
   book page (scikit-image's `page.png`, transcribed by hand) when scikit-image is installed.
   Targets: CER ≤ 3 % clean, ≤ 8 % degraded.
2. Throughput: scanned PDF pages (rendered pages in an image-only PDF, read through
   `read_document` with OCR) as one document on 1 and 2 ONNX Runtime threads, and as two documents
   read at once on 1 thread each (what two ingest workers do); screenshots and signs per second.
   Target: ≥ 1 scanned page/s on 2 cores.
3. The gate on photos without text: per photo, today's image path (decode at the encoder's draft
   size, prepare, embed with the bundled encoder in batches of 8) against the gate on the decoded
   picture plus OCR of whatever it lets through, measured alternately in one run (wall and CPU
   time). The gate's threshold is chosen on the tune half (samples/photos and tune pictures) and
   confirmed on the other photos (benchmarks/datasets/photos.py's packaged photos) and the confirm
   pictures. Target: ≤ +10 % of the image path's time.

Usage:
    python benchmarks/ocr.py [--save] [--quick]      # --quick: fewer pictures (a smoke run)
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks" / "datasets"))

from searchengine.eval import text_images as ti  # noqa: E402
from searchengine.eval.measure import machine, save_result, to_json  # noqa: E402

log = logging.getLogger("bench.ocr")
SAMPLES = ROOT / "samples"
SPLIT_FONTS = {
    "tune": ["DejaVu Sans", "DejaVu Serif", "DejaVu Sans Mono", "DejaVu Sans Bold"],
    "confirm": ["Liberation Sans", "Liberation Serif", "Liberation Mono", "Liberation Sans Bold"],
}
# skimage.data.page(): a photographed book page (scikit-image, public domain/CC0), transcribed here.
SCAN_TRANSCRIPT = [
    "Region-based segmentation",
    "Let us first determine markers of the coins and the",
    "background. These markers are pixels that we can label",
    "unambiguously as either object or background. Here,",
    "the markers are found at the two extreme parts of the",
    "histogram of grey values:",
    ">>> markers = np.zeros_like(coins)",
]
THRESHOLDS = [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.92, 0.94, 0.95, 0.96, 0.97, 0.98]


def split_half(items: list, split: str) -> list:
    return items[0::2] if split == "tune" else items[1::2]


def text_set(split: str, quick: bool) -> list[ti.TextImage]:
    """Pages, screenshots and signs, clean and degraded, of one half."""
    from PIL import Image

    fonts = ti.available_fonts(SPLIT_FONTS[split])
    if not fonts:
        raise SystemExit(f"no fonts for {split}: apt-get install fonts-dejavu-core fonts-liberation")
    texts = split_half(sorted((SAMPLES / "texts").glob("*.md")) + sorted((SAMPLES / "texts").glob("*.txt")), split)
    backgrounds = [Image.open(p).convert("RGB") for p in split_half(sorted((SAMPLES / "photos").glob("*.jpg")), split)]
    rng = random.Random(0 if split == "tune" else 1)
    n_pages, n_shots, n_signs = (1, 1, 3) if quick else (2, 3, 6)
    items = []
    for i in range(n_pages):
        body = " ".join(ti.sentences(texts[i].read_text(encoding="utf-8", errors="replace")))
        clean = ti.page(body, fonts[i % len(fonts)])
        items += [
            clean,
            ti.degrade(
                clean, i, angle=rng.choice([-3, -2, 2, 3]), blur=rng.choice([0.8, 1.2]), noise=rng.choice([6, 10])
            ),
        ]
    for i in range(n_shots):
        clean = ti.screenshot(fonts[i % len(fonts)], seed=100 * i + len(split))
        items.append(clean)
        if i < 2:
            items.append(ti.degrade(clean, i, angle=rng.choice([-2, 2]), blur=0.8, noise=6))
    signs = split_half(ti.SIGN_TEXTS, split)
    for i in range(n_signs):
        lines, background, font = signs[i % len(signs)], backgrounds[i % len(backgrounds)], fonts[i % len(fonts)]
        items.append(ti.sign(lines, font, background, seed=i))
        items.append(
            ti.sign(
                lines,
                font,
                background,
                seed=i,
                angle=rng.choice([-12, -8, -6, 6, 8, 12]),
                blur=rng.choice([0.8, 1.2, 1.5]),
                noise=rng.choice([6, 10, 12]),
            )
        )
    return items


def cer_of(engine, items: list[ti.TextImage]) -> dict:
    """Aggregate CER (edits / reference characters) by kind × clean/degraded, and per picture."""
    groups: dict[str, list[int]] = {}
    rows = []
    for item in items:
        start = time.perf_counter()
        read = "\n".join(line.text for line in engine.read_lines(item.image))
        seconds = time.perf_counter() - start
        cer = ti.character_error_rate(item.text, read)
        chars = len(" ".join(item.text.split()))
        condition = "clean" if item.condition == "clean" else "degraded"
        for key in (f"{item.kind}/{condition}", condition):
            edits, total = groups.setdefault(key, [0, 0])
            groups[key] = [edits + round(cer * chars), total + chars]
        rows.append(
            {
                "kind": item.kind,
                "font": item.font,
                "condition": item.condition,
                "chars": chars,
                "cer": round(cer, 4),
                "seconds": round(seconds, 2),
            }
        )
        log.info("%s %s %s: CER %.3f (%.1f s)", item.kind, item.font, item.condition, cer, seconds)
    return {"cer": {key: round(e / max(n, 1), 4) for key, (e, n) in sorted(groups.items())}, "pictures": rows}


def real_scan(engine) -> dict | None:
    try:
        from skimage import data
    except ImportError:
        return None
    from PIL import Image

    image = Image.fromarray(data.page()).convert("RGB")
    read = "\n".join(line.text for line in engine.read_lines(image))
    return {
        "source": "scikit-image data.page() (a photographed book page, 384×191)",
        "cer": round(ti.character_error_rate("\n".join(SCAN_TRANSCRIPT), read), 4),
        "read": read,
    }


def throughput(items: list[ti.TextImage], quick: bool) -> dict:
    from searchengine.eval import sample_documents as make
    from searchengine.media.documents import ReadOptions, read_document
    from searchengine.media.ocr import OcrEngine

    pages = [item.image for item in items if item.kind == "page" and item.condition == "clean"]
    pages = (pages * 3)[: 2 if quick else 4]
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        pdf = make.image_pdf(Path(tmp) / "scan.pdf", pages)
        for threads in (1, 2):
            engine = OcrEngine(threads)
            engine.read_lines(pages[0].resize((400, 560)))  # load
            wall, cpu = time.perf_counter(), time.process_time()
            extraction = read_document(pdf, ReadOptions(ocr=engine.read_lines))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            result[f"scanned_pdf_one_document_{threads}_thread"] = {
                "pages": len(pages),
                "pages_per_s": round(len(pages) / wall, 3),
                "cpu_s_per_page": round(cpu / len(pages), 2),
                "passages": len(extraction.passages),
            }
        engines = [OcrEngine(1), OcrEngine(1)]
        for engine in engines:
            engine.read_lines(pages[0].resize((400, 560)))
        wall = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda e: read_document(pdf, ReadOptions(ocr=e.read_lines)), engines))
        wall = time.perf_counter() - wall
        result["scanned_pdf_two_documents_at_once_1_thread_each"] = {
            "pages": 2 * len(pages),
            "pages_per_s": round(2 * len(pages) / wall, 3),
        }
    engine = OcrEngine(1)
    for kind in ("screenshot", "sign"):
        pictures = [item.image for item in items if item.kind == kind]
        engine.read_lines(pictures[0])
        wall = time.perf_counter()
        for picture in pictures:
            engine.read_lines(picture)
        result[f"{kind}s_per_s_1_thread"] = round(len(pictures) / (time.perf_counter() - wall), 3)
    return result


def tesseract(items: list[ti.TextImage]) -> dict | None:
    """Debian's tesseract-ocr 5 (the issue's alternative) on the same pages and screenshots, one
    thread: CER and CPU seconds per picture, for comparison only."""
    import resource
    import shutil
    import subprocess

    if shutil.which("tesseract") is None:
        return None
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for item in items:
            if item.kind == "sign":
                continue
            path = Path(tmp) / "picture.png"
            item.image.save(path)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            read = subprocess.run(
                ["tesseract", str(path), "stdout"],
                capture_output=True,
                text=True,
                env={**os.environ, "OMP_THREAD_LIMIT": "1"},
            ).stdout
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            rows.append(
                {
                    "kind": item.kind,
                    "condition": item.condition,
                    "cer": round(ti.character_error_rate(item.text, read), 4),
                    "cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2),
                }
            )
    return {
        "version": subprocess.run(["tesseract", "--version"], capture_output=True, text=True).stdout.split("\n")[0],
        "pictures": rows,
    }


def photo_folders() -> dict[str, list[Path]]:
    """tune: samples/photos; confirm: the packaged photos of benchmarks/datasets/photos.py not among them."""
    import photos as sources

    tune = sorted(p for p in (SAMPLES / "photos").iterdir() if p.suffix in (".jpg", ".png"))
    seen = {hashlib.sha256(p.read_bytes()).hexdigest() for p in tune}
    confirm = []
    for source, rel, _ in sources.PHOTOS:
        path = sources.resolve(source, rel)
        if path is not None and hashlib.sha256(path.read_bytes()).hexdigest() not in seen:
            confirm.append(path)
    return {"tune": tune, "confirm": confirm}


def likelihoods(engine, images) -> list[float]:
    return [round(engine.text_likelihood(image), 4) for image in images]


def choose_threshold(photo_scores: list[float], text_scores: list[float]) -> float:
    """The threshold with the best recall on pictures of text among those that flag no tune photo
    (ties: the lowest)."""
    best = None
    for threshold in THRESHOLDS:
        flagged = sum(s >= threshold for s in photo_scores)
        recall = sum(s >= threshold for s in text_scores) / len(text_scores)
        if flagged == 0 and (best is None or recall > best[1]):
            best = (threshold, recall)
    return best[0] if best else THRESHOLDS[-1]


def gate_cost(engine, encoder, paths: list[Path], threshold: float, rounds: int) -> dict:
    """Today's image path vs gate (+ OCR of what passes), alternated batch by batch."""
    from searchengine.media.images import draft_side, load_image

    side = draft_side(encoder)
    totals = {
        "image_path_wall": 0.0,
        "image_path_cpu": 0.0,
        "gate_wall": 0.0,
        "gate_cpu": 0.0,
        "ocr_wall": 0.0,
        "ocr_cpu": 0.0,
    }
    flagged: set[str] = set()
    for _ in range(rounds):
        for start in range(0, len(paths), 8):
            batch = paths[start : start + 8]
            wall, cpu = time.perf_counter(), time.process_time()
            images = [load_image(p, draft_size=side) for p in batch]
            encoder.embed_images([encoder.prepare_image(image) for image in images])
            totals["image_path_wall"] += time.perf_counter() - wall
            totals["image_path_cpu"] += time.process_time() - cpu
            wall, cpu = time.perf_counter(), time.process_time()
            passing = [(p, image) for p, image in zip(batch, images) if engine.text_likelihood(image) >= threshold]
            totals["gate_wall"] += time.perf_counter() - wall
            totals["gate_cpu"] += time.process_time() - cpu
            wall, cpu = time.perf_counter(), time.process_time()
            for p, image in passing:
                engine.read_lines(image)
                flagged.add(p.name)
            totals["ocr_wall"] += time.perf_counter() - wall
            totals["ocr_cpu"] += time.process_time() - cpu
    n = len(paths) * rounds
    per = {k: round(v / n * 1000, 2) for k, v in totals.items()}
    return {
        "photos": len(paths),
        "rounds": rounds,
        "ms_per_photo": per,
        "flagged": sorted(flagged),
        "gate_over_image_path_wall": round(totals["gate_wall"] / totals["image_path_wall"], 4),
        "gate_and_ocr_over_image_path_wall": round(
            (totals["gate_wall"] + totals["ocr_wall"]) / totals["image_path_wall"], 4
        ),
        "gate_and_ocr_over_image_path_cpu": round(
            (totals["gate_cpu"] + totals["ocr_cpu"]) / totals["image_path_cpu"], 4
        ),
    }


def gate_sweep(engine, decoded: dict, sets: dict) -> dict:
    """Scores of every photo and picture of text; the threshold chosen on tune; recall and photos
    flagged at every threshold; the gate's own time per photo (no OCR)."""
    start = time.process_time()
    photo_scores = {split: likelihoods(engine, images) for split, images in decoded.items()}
    n_photos = sum(len(images) for images in decoded.values())
    gate_ms = (time.process_time() - start) / n_photos * 1000
    text_scores = {split: likelihoods(engine, [item.image for item in items]) for split, items in sets.items()}
    threshold = choose_threshold(photo_scores["tune"], text_scores["tune"])
    sweep = {
        str(t): {
            split: {
                "photos_flagged": sum(s >= t for s in photo_scores[split]),
                "photos": len(photo_scores[split]),
                "text_recall": round(sum(s >= t for s in text_scores[split]) / len(text_scores[split]), 3),
            }
            for split in ("tune", "confirm")
        }
        for t in THRESHOLDS
    }
    return {
        "threshold_chosen_on_tune": threshold,
        "gate_cpu_ms_per_photo": round(gate_ms, 2),
        "at_chosen": sweep[str(threshold)],
        "thresholds": sweep,
        "missed_text_pictures_confirm": [
            f"{item.kind} {item.font} {item.condition} ({score})"
            for item, score in zip(sets["confirm"], text_scores["confirm"])
            if score < threshold
        ],
    }


def indexing_cost(paths: list[Path], rounds: int) -> dict:
    """Whole indexing runs (searchengine.Index.sync, bundled encoder, a fresh index each time) of a
    folder of photos without text, OCR on and off alternately: what the user waits for."""
    import shutil

    from searchengine import Index

    seconds: dict[str, list[float]] = {"ocr_on": [], "ocr_off": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        for i, path in enumerate(paths):
            shutil.copy2(path, folder / f"{i:03d}{path.suffix.lower()}")
        for r in range(rounds + 1):  # the first round warms the caches and is not counted
            for name, ocr in (
                (("ocr_off", False), ("ocr_on", True)) if r % 2 else (("ocr_on", True), ("ocr_off", False))
            ):
                with Index.open(Path(tmp) / f"index-{name}-{r}", model="bundled") as ix:
                    started = time.perf_counter()
                    ix.sync(folder, ocr=ocr, workers=2)
                    if r:
                        seconds[name].append(time.perf_counter() - started)
    on, off = sum(seconds["ocr_on"]), sum(seconds["ocr_off"])
    return {
        "photos": len(paths),
        "rounds": rounds,
        "seconds": {k: [round(s, 2) for s in v] for k, v in seconds.items()},
        "ocr_on_over_off": round(on / off - 1, 4),
    }


def gate(sets: dict, quick: bool) -> dict:
    from searchengine.encoders.registry import load_encoder
    from searchengine.media.images import load_image
    from searchengine.media.ocr import GATE_SIDE, OcrEngine

    folders = photo_folders()
    decoded = {split: [load_image(p, draft_size=384) for p in paths] for split, paths in folders.items()}
    result = {"sides": {}}
    for side in sorted({128, GATE_SIDE, 192}):
        engine = OcrEngine(1, gate_side=side)
        result["sides"][str(side)] = gate_sweep(engine, decoded, sets)
        log.info("gate side %d: %s", side, result["sides"][str(side)]["at_chosen"])
    engine = OcrEngine(1)
    threshold = result["sides"][str(GATE_SIDE)]["threshold_chosen_on_tune"]
    import torch

    torch.set_num_threads(2)
    from searchengine.config import cache_dir

    encoder = load_encoder("bundled", "cpu", cache_dir=cache_dir())
    encoder.embed_images([encoder.prepare_image(decoded["tune"][0])])  # warm
    result["cost_at_default_side"] = {
        split: gate_cost(engine, encoder, paths, threshold, rounds=1 if quick else 2)
        for split, paths in folders.items()
    }
    result["indexing_runs"] = {
        split: indexing_cost(paths, rounds=1 if quick else 3) for split, paths in folders.items()
    }
    return result


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--save", action="store_true", help="write benchmarks/results/ocr.json")
    ap.add_argument("--quick", action="store_true", help="a few pictures of each kind (a smoke run)")
    ap.add_argument(
        "--only",
        choices=("cer", "throughput", "gate"),
        action="append",
        help="run only these parts (repeatable; saved as ocr-PART.json beside the full run's ocr.json)",
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.only:
        return partial(args)
    from searchengine.media.ocr import MODEL_ID, OcrEngine

    began = time.perf_counter()
    result = {"benchmark": "ocr", "machine": machine(), "model": MODEL_ID}
    sets = {split: text_set(split, args.quick) for split in ("tune", "confirm")}
    variants = {"sharpen": OcrEngine(1, sharpen=True), "no_sharpen": OcrEngine(1, sharpen=False)}
    result["tune"] = {name: cer_of(engine, sets["tune"]) for name, engine in variants.items()}
    chosen = min(
        variants, key=lambda name: result["tune"][name]["cer"]["degraded"] + result["tune"][name]["cer"]["clean"]
    )
    result["chosen_on_tune"] = chosen
    engine = variants[chosen]
    result["confirm"] = cer_of(engine, sets["confirm"])
    result["real_scan"] = real_scan(engine)
    result["tesseract_confirm"] = tesseract(sets["confirm"])
    confirm = result["confirm"]["cer"]
    result["targets"] = {
        "clean_cer_max": 0.03,
        "degraded_cer_max": 0.08,
        "scanned_pages_per_s_min": 1.0,
        "photo_overhead_max": 0.10,
    }
    result["throughput"] = throughput(sets["confirm"], args.quick)
    result["gate"] = gate(sets, args.quick)
    best_pages = max(v["pages_per_s"] for k, v in result["throughput"].items() if k.startswith("scanned"))
    result["meets"] = {
        "clean_cer": confirm["clean"] <= 0.03,
        "degraded_cer": confirm["degraded"] <= 0.08,
        "scanned_pages_per_s": best_pages >= 1.0,
        "photo_overhead_confirm_wall": result["gate"]["cost_at_default_side"]["confirm"][
            "gate_and_ocr_over_image_path_wall"
        ]
        <= 0.10,
    }
    result["machine"]["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    result["seconds"] = round(time.perf_counter() - began, 1)
    print(to_json(result))
    if args.save:
        log.info("saved %s", save_result(result, "ocr"))


def partial(args) -> None:
    """Some parts of the benchmark (--only), e.g. after a change to the gate or to page reading."""
    from searchengine.media.ocr import MODEL_ID, OcrEngine

    began = time.perf_counter()
    parts = sorted(set(args.only))
    result = {"benchmark": "ocr-" + "-".join(parts), "machine": machine(), "model": MODEL_ID}
    sets = {split: text_set(split, args.quick) for split in ("tune", "confirm")}
    if "cer" in parts:  # the recogniser's input height, chosen on tune (CER, then time), reported on confirm
        variants = {height: OcrEngine(1, rec_height=height) for height in (48, 40)}
        result["tune_rec_height"] = {str(h): cer_of(engine, sets["tune"]) for h, engine in variants.items()}
        result["tune_rec_height_seconds"] = {
            h: round(sum(p["seconds"] for p in r["pictures"]), 1) for h, r in result["tune_rec_height"].items()
        }
        chosen = min(
            variants,
            key=lambda h: (
                round(result["tune_rec_height"][str(h)]["cer"]["clean"], 3),
                round(result["tune_rec_height"][str(h)]["cer"]["degraded"], 2),
                result["tune_rec_height_seconds"][str(h)],
            ),
        )
        result["rec_height_chosen_on_tune"] = chosen
        result["confirm"] = cer_of(variants[chosen], sets["confirm"])
    if "throughput" in parts:
        result["throughput"] = throughput(sets["confirm"], args.quick)
    if "gate" in parts:
        result["gate"] = gate(sets, args.quick)
    result["machine"]["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    result["seconds"] = round(time.perf_counter() - began, 1)
    print(to_json(result))
    if args.save:
        log.info("saved %s", save_result(result, result["benchmark"]))


if __name__ == "__main__":
    main()
