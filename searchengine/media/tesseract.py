"""A fast first reading of scanned pages: Debian's tesseract-ocr, when it is installed.

PP-OCR (ocr.py) reads any picture, but a dense A4 page costs it 8 CPU-seconds (its recogniser
runs once per line); tesseract reads a clean page as well (CER 0.06 %) in 1–1.5. It fails
differently, though: on a blurred or tilted scan it skips whole regions while staying sure of what
it read (benchmarks/ocr_scans.py: a page read at 27 % of its ink, mean word confidence 95). So a
reading is kept only when it accounts for the page's ink: the dark marks of the page
(Otsu-binarised; specks and marks touching the edge, a scanner's shadow, left out) lie inside the
boxes of the words it read for at least SCAN_COVERAGE of their area, and its words' mean confidence
is at least SCAN_CONFIDENCE. Otherwise `read_scan` says None and the caller reads the page with
PP-OCR. A scan with a figure, a signature or a stamp is read by PP-OCR: slower, never worse.

English only (the `eng` data Debian's tesseract-ocr ships); a page in another script reads with
low confidence and falls back. Runs the `tesseract` command (one thread: indexing reads pages in
parallel workers), the picture on its standard input, TSV on its output.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import os
import shutil
import subprocess

from searchengine.media.passages import OcrLine

log = logging.getLogger(__name__)

SCAN_COVERAGE = 0.97  # share of the page's ink inside the words read (good readings: 0.998–1.0)
SCAN_CONFIDENCE = 80.0  # tesseract's mean word confidence, 0–100 (good readings: 94–97)
BOX_PAD = 3  # pixels around each word box that still count as the word's ink
MIN_MARK = 6  # pixels: smaller marks are specks, not ink
SECONDS = 120  # a page that takes longer is left to PP-OCR
PAGE_SEGMENTATION = "3"  # tesseract's --psm: fully automatic page layout


@functools.cache
def tesseract_version() -> str | None:
    """The installed tesseract's version ("5.3.0"), or None when there is none with English data."""
    command = shutil.which("tesseract")
    if command is None:
        return None
    try:
        languages = subprocess.run([command, "--list-langs"], capture_output=True, text=True, timeout=10)
        version = subprocess.run([command, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if "eng" not in languages.stdout.split():
        return None
    first = (version.stdout or version.stderr).split("\n")[0].split()
    return first[1] if len(first) > 1 else "unknown"


def read_scan(image) -> list[OcrLine] | None:
    """The lines of a scanned page (a PIL image) read by tesseract, top to bottom; None when
    tesseract is not installed, fails, or its reading does not account for the page."""
    if tesseract_version() is None:
        return None
    words = _words(image)
    if words is None:
        return None
    if not words:  # a blank page (the back of a sheet) has nothing to read; marks it did not read, PP-OCR tries
        return [] if ink_coverage(image, []) == 1.0 else None
    confidence = sum(w[1] for w in words) / len(words)
    if confidence < SCAN_CONFIDENCE or ink_coverage(image, [w[2] for w in words]) < SCAN_COVERAGE:
        return None
    return _lines(words)


def ink_coverage(image, boxes: list[tuple[int, int, int, int]]) -> float:
    """The share of the page's ink (marks of at least MIN_MARK pixels that do not touch its edge)
    inside the (left, top, width, height) boxes, each padded by BOX_PAD; 1.0 for a blank page."""
    import cv2
    import numpy as np

    grey = np.asarray(image.convert("L"))
    _, dark = cv2.threshold(grey, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(dark.astype(np.uint8), connectivity=8)
    left, top = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    right, bottom = left + stats[:, cv2.CC_STAT_WIDTH], top + stats[:, cv2.CC_STAT_HEIGHT]
    height, width = grey.shape
    edge = (left == 0) | (top == 0) | (right == width) | (bottom == height)
    marks = (stats[:, cv2.CC_STAT_AREA] >= MIN_MARK) & ~edge
    marks[0] = False  # the background
    ink = marks[labels]
    total = int(ink.sum())
    if not total:
        return 1.0
    inside = np.zeros_like(ink)
    for x, y, w, h in boxes:
        inside[max(0, y - BOX_PAD) : y + h + BOX_PAD, max(0, x - BOX_PAD) : x + w + BOX_PAD] = True
    return float((ink & inside).sum()) / total


Word = tuple[str, float, tuple[int, int, int, int], tuple[int, int, int]]  # text, confidence, box, line key


def _words(image) -> list[Word] | None:
    """Every word tesseract reads in `image`, in its reading order; None when it fails."""
    buffer = io.BytesIO()
    image.convert("L").save(buffer, format="PNG")
    try:
        done = subprocess.run(
            ["tesseract", "stdin", "stdout", "-l", "eng", "--psm", PAGE_SEGMENTATION, "tsv"],
            input=buffer.getvalue(),
            capture_output=True,
            timeout=SECONDS,
            env={**os.environ, "OMP_THREAD_LIMIT": "1"},
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.info("tesseract did not read a page (%s): PP-OCR reads it", exc)
        return None
    if done.returncode != 0:
        log.info("tesseract failed on a page (%s): PP-OCR reads it", done.stderr.decode(errors="replace").strip())
        return None
    rows = csv.DictReader(
        io.StringIO(done.stdout.decode("utf-8", errors="replace")), delimiter="\t", quoting=csv.QUOTE_NONE
    )
    words = []
    for row in rows:
        text = (row.get("text") or "").strip()
        if row.get("level") != "5" or not text:
            continue
        box = (int(row["left"]), int(row["top"]), int(row["width"]), int(row["height"]))
        line = (int(row["block_num"]), int(row["par_num"]), int(row["line_num"]))
        words.append((text, float(row["conf"]), box, line))
    return words


def _lines(words: list[Word]) -> list[OcrLine]:
    """Words joined into tesseract's lines, each with the box around its words and their mean
    confidence (0–1), in reading order."""
    grouped: dict[tuple[int, int, int], list[Word]] = {}
    for word in words:
        grouped.setdefault(word[3], []).append(word)
    lines = []
    for members in grouped.values():
        x0 = min(w[2][0] for w in members)
        y0 = min(w[2][1] for w in members)
        x1 = max(w[2][0] + w[2][2] for w in members)
        y1 = max(w[2][1] + w[2][3] for w in members)
        text = " ".join(w[0] for w in members)
        confidence = sum(w[1] for w in members) / len(members) / 100
        lines.append(OcrLine(text, round(confidence, 4), ((x0, y0), (x1, y0), (x1, y1), (x0, y1))))
    return lines
