"""Text in pictures, offline: PP-OCRv4 text detection and recognition (Chinese and English), ONNX
files inside the rapidocr-onnxruntime 1.4.4 wheel (Apache-2.0), run in ONNX Runtime with a bounded
number of threads. No network is ever touched.

    engine = ocr_engine()                      # one per process (and thread count), loaded on first use
    engine.has_text(image)                     # the gate: cheap, for photos (benchmarks/ocr.py)
    engine.read_lines(image)                   # -> [OcrLine], in reading order
    engine.read_page(image)                    # the same, tesseract first for a clean scanned page
    engine.read_passages(image)                # -> [DocumentPassage] (source "ocr", boxes kept)
    engine.read_frames([(t, image), …])        # video keyframes -> [FrameText]

The gate runs the text detector alone on a small copy of the picture (GATE_SIDE) and says whether
any region looks like text; a photo without text then costs one small detector pass instead of a
full read. Settings below were chosen on the tuning half of benchmarks/ocr.py's generated set and
photos (samples/photos), and confirmed on the other half and on other packaged photos.
"""

from __future__ import annotations

import functools
import logging
import math
import statistics
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from searchengine.errors import ModelUnavailable
from searchengine.media.passages import DocumentPassage, OcrLine, ocr_passages
from searchengine.media.tesseract import read_scan, tesseract_version

# What produced a text read from a picture: the models and this module's reading settings (bump the
# suffix when a setting that changes what is read changes), for catalogs and caches to record.
MODEL_ID = "rapidocr-onnxruntime-1.4.4:PP-OCRv4-det+rec-ch/read-v1"
NOT_INSTALLED = "OCR needs rapidocr-onnxruntime 1.4.4 (Python 3.12 or older): pip install 'rapidocr-onnxruntime==1.4.4'"
DETECTOR_FILE = "ch_PP-OCRv4_det_infer.onnx"  # inside the wheel's models/ folder
MODEL_LICENCE = "Apache-2.0 (rapidocr-onnxruntime; PaddleOCR PP-OCR models)"

DET_SIDE = 960  # the detector sees the picture with its longer side at most this many pixels
GATE_SIDE = 160  # the gate's first copy of a photo: longer side in pixels (128 missed a third of the signs)
GATE_CANDIDATE = 0.5  # a region this text-like there sends the photo to a CONFIRM_SIDE copy
CONFIRM_SIDE = 320
PAGE_GATE_SIDE = 640  # the gate's copy of a page- or screen-like picture
GATE_PIXEL = 0.3  # detector probability for a pixel to count as text (PP-OCR's own binarisation threshold)
GATE_REGION = 0.5  # mean probability a region needs to count as text (0.5–0.97 all separated the tune set)
GATE_MIN_AREA = 6  # pixels of the gate's copy a text region covers at least
GATE_MAX_HEIGHT = 0.25  # and at most this share of its height (a silhouette or logo is one tall region)
PAGE_BACKGROUND = 0.4  # share of pixels in the commonest of 32 grey levels for a flat page or screen
PAGE_TONE = 192  # that background is light (paper, a light theme): at least this grey level
PAGE_CONTRAST = 40  # grey levels between the 2nd and 98th percentile: ink on it
READ_SIDE = 2400  # pictures are enlarged towards this longer side before reading (detection stays at DET_SIDE)
MAX_UPSCALE = 2.0  # by at most this factor
SHARPEN = (2, 150, 2)  # PIL UnsharpMask radius, percent, threshold before reading
MIN_CONFIDENCE = 0.8  # lines read with less confidence are dropped (every right line of the tune set scored ≥ 0.83)
# Text lines are resized to this height for the recogniser (PP-OCRv4 was trained at 48): its cost
# grows with the square of it, and recognition is most of a page's reading time (benchmarks/ocr.py).
REC_HEIGHT = 48
ROW_OVERLAP = 0.5  # boxes overlapping vertically by this share of the smaller height are one line
PORTRAIT = 1.2  # a page is at least this much taller than wide (A4 1.41, Letter 1.29; screens are wide)


@dataclass(frozen=True)
class FrameText:
    """What a run of video keyframes showing the same text says."""

    start: float  # seconds: the first keyframe that shows it
    end: float  # seconds: the last one
    passages: list[DocumentPassage]


class OcrEngine:
    """PP-OCR through rapidocr-onnxruntime, loaded on first use. One read at a time, on `threads`
    ONNX Runtime threads (1 by default: on a busy 2-core machine one thread per read is faster
    than two, benchmarks/ocr.py; run reads in parallel workers for more)."""

    model_id = MODEL_ID

    def __init__(
        self,
        threads: int = 1,
        det_side: int = DET_SIDE,
        sharpen: bool = True,
        gate_side: int = GATE_SIDE,
        rec_height: int = REC_HEIGHT,
    ):
        self.threads = max(1, threads)
        self.rec_height = rec_height
        self.gate_side = gate_side
        self.det_side = det_side
        self.sharpen = sharpen
        self._ocr = None
        self._gate_session = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()

    def _engine(self):
        with self._load_lock:
            if self._ocr is None:
                self._ocr = _load(self.threads, self.det_side, self.rec_height)
            return self._ocr

    def _gate(self):
        """The text detector's own session for the gate (memory arena on: it runs on every photo)."""
        with self._load_lock:
            if self._gate_session is None:
                self._gate_session = _detector_session(self.threads)
            return self._gate_session

    def text_likelihood(self, image, larger: Callable[[], object] | None = None) -> float:
        """How likely `image` shows text, 0–1: the mean detector probability of its most text-like
        region. Cheap for a photo without text: the detector looks at a GATE_SIDE copy, and only
        when something there may be text at a CONFIRM_SIDE copy; a page- or screen-like picture
        (`page_like`), whose text is small, goes straight to a PAGE_GATE_SIDE copy (of `larger()`,
        the picture decoded larger, when `image` is a reduced copy smaller than that)."""
        thumbnail = _thumbnail(image, self.gate_side)
        if page_like(thumbnail):
            if larger is not None and max(image.size) < PAGE_GATE_SIDE:
                image = larger()
            return self._region_score(_thumbnail(image, PAGE_GATE_SIDE))
        candidate = self._region_score(thumbnail)
        if candidate < GATE_CANDIDATE:
            return candidate
        return self._region_score(_thumbnail(image, CONFIRM_SIDE))

    def _region_score(self, picture) -> float:
        """The detector's mean probability over its most text-like region of `picture` (0: none):
        a region covers at least GATE_MIN_AREA pixels and at most GATE_MAX_HEIGHT of the height."""
        import cv2
        import numpy as np

        session = self._gate()
        x = (_fit(_bgr(picture)).astype(np.float32) * (2 / 255.0) - 1.0).transpose(2, 0, 1)[None]
        with self._run_lock:
            probability = session.run(None, {session.get_inputs()[0].name: x})[0][0, 0]
        count, labels, stats, _ = cv2.connectedComponentsWithStats((probability > GATE_PIXEL).astype(np.uint8), 4)
        if count < 2:
            return 0.0
        sums = np.bincount(labels.ravel(), weights=probability.ravel(), minlength=count)
        areas, heights = stats[1:, cv2.CC_STAT_AREA], stats[1:, cv2.CC_STAT_HEIGHT]
        text_like = (areas >= GATE_MIN_AREA) & (heights <= GATE_MAX_HEIGHT * probability.shape[0])
        return float(np.where(text_like, sums[1:] / np.maximum(areas, 1), 0.0).max())

    def has_text(self, image, larger: Callable[[], object] | None = None) -> bool:
        """Whether `image` likely shows text worth reading (the gate before `read_lines`)."""
        return self.text_likelihood(image, larger) >= GATE_REGION

    def read_lines(self, image) -> list[OcrLine]:
        """Every line of text in `image` (a PIL image), in reading order: boxes on one row, left to
        right, joined into one line; rows top to bottom."""
        from PIL import Image, ImageFilter

        engine = self._engine()
        image = image.convert("RGB")
        scale = min(MAX_UPSCALE, READ_SIDE / max(image.size))
        if scale > 1:  # small text reads better enlarged: the recogniser keeps the spaces between words
            image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
        scale = max(scale, 1.0)
        if self.sharpen:  # the recogniser drops the spaces between blurred words; sharpening keeps them
            image = image.filter(ImageFilter.UnsharpMask(*SHARPEN))
        with self._run_lock:
            result, _ = engine(image)
        words = [
            OcrLine(text.strip(), float(score), tuple((int(round(x / scale)), int(round(y / scale))) for x, y in box))
            for box, text, score in (result or [])
            if float(score) >= MIN_CONFIDENCE and any(ch.isalnum() for ch in text)  # "￥★" from a pattern is no word
        ]
        return _rows(words)

    def read_page(self, image) -> list[OcrLine]:
        """The lines of a picture that may be a scanned page: read by tesseract first when it is
        installed, the picture is a page (portrait, on a light background) and the reading accounts for
        the page's ink (media/tesseract.py: about 6× faster on a clean page); else `read_lines`."""
        if image.height >= PORTRAIT * image.width and page_like(_thumbnail(image, GATE_SIDE), ink=False):
            lines = read_scan(image)
            if lines is not None:
                return lines
        return self.read_lines(image)

    def read_passages(self, image, page: int | None = None, gate: bool = False) -> list[DocumentPassage]:
        """The text of `image` as passages (source "ocr"); with `gate`, nothing for a picture the
        gate says has no text."""
        if gate and not self.has_text(image):
            return []
        return ocr_passages(self.read_lines(image), page=page)

    def read_frames(self, frames: Iterable[tuple[float, object]], gate: bool = True) -> list[FrameText]:
        """The text of video keyframes ((seconds, PIL image) in time order); consecutive frames that
        read the same are one FrameText."""
        runs: list[FrameText] = []
        for seconds, image in frames:
            passages = self.read_passages(image, gate=gate)
            said = " ".join(p.text for p in passages)
            if not said:
                continue
            if runs and " ".join(p.text for p in runs[-1].passages) == said:
                runs[-1] = FrameText(runs[-1].start, seconds, runs[-1].passages)
            else:
                runs.append(FrameText(seconds, seconds, passages))
        return runs


def reader_id() -> str:
    """What reads text in pictures here, for caches to key on: MODEL_ID, and tesseract's version
    when it reads scanned pages first (`OcrEngine.read_page`)."""
    version = tesseract_version()
    return MODEL_ID if version is None else f"{MODEL_ID}+tesseract-{version}/scan-v1"


@functools.cache
def ocr_engine(threads: int = 1) -> OcrEngine:
    """The process's OCR engine for `threads` ONNX Runtime threads per read."""
    return OcrEngine(threads)


def page_like(image, ink: bool = True) -> bool:
    """Whether a (small) picture looks like a page, a scan or a screen in a light theme: most of it
    is one light background tone (PAGE_BACKGROUND, PAGE_TONE), with ink on it (PAGE_CONTRAST; not
    asked with `ink` False: a letter of three lines has too little for the percentiles)."""
    import numpy as np

    grey = np.asarray(image.convert("L"))
    levels = np.bincount(grey.ravel(), minlength=256)
    counts = levels.reshape(32, 8).sum(axis=1)
    low, high = np.searchsorted(np.cumsum(levels), (0.02 * grey.size, 0.98 * grey.size))
    return (
        counts.max() / grey.size >= PAGE_BACKGROUND
        and counts.argmax() * 8 >= PAGE_TONE
        and (not ink or high - low >= PAGE_CONTRAST)
    )


def _load(threads: int, det_side: int, rec_height: int = REC_HEIGHT):
    try:
        from rapidocr_onnxruntime import RapidOCR
        from rapidocr_onnxruntime.utils import get_logger
    except ImportError as exc:
        raise ModelUnavailable(NOT_INSTALLED) from exc

    for name in ("RapidOCR", "OrtInferSession"):  # the package logs to its own stderr handlers
        logger = get_logger(name)
        logger.handlers.clear()
        logger.setLevel(logging.WARNING)
    engine = RapidOCR(
        intra_op_num_threads=threads,
        inter_op_num_threads=1,
        det_limit_type="max",
        det_limit_side_len=det_side,
        text_score=MIN_CONFIDENCE,
        print_verbose=False,
        max_side_len=2 * READ_SIDE,
        # the direction classifier turned 2 of 18 upright lines of a clean page upside down
        # (benchmarks/ocr.py); pictures arrive upright (EXIF orientation applied)
        use_cls=False,
    )
    engine.text_rec.rec_image_shape = [3, rec_height, engine.text_rec.rec_image_shape[2]]
    return engine


def _thumbnail(image, side: int):
    """An RGB copy with its longer side at most `side` (bilinear: a few times cheaper than the
    bicubic of Image.thumbnail, and the detector scores the same pictures alike, benchmarks/ocr.py)."""
    from PIL import Image

    image = image.convert("RGB") if image.mode != "RGB" else image
    scale = side / max(image.size)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def _detector_session(threads: int):
    import onnxruntime

    try:
        import rapidocr_onnxruntime
    except ImportError as exc:
        raise ModelUnavailable(NOT_INSTALLED) from exc

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    model = Path(rapidocr_onnxruntime.__file__).parent / "models" / DETECTOR_FILE
    return onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


def _bgr(image):
    import numpy as np

    return np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])


def _fit(array):
    """`array` with both sides rounded to multiples of 32 (the detector's stride)."""
    import cv2

    h, w = array.shape[:2]
    size = (max(32, round(w / 32) * 32), max(32, round(h / 32) * 32))
    return array if size == (w, h) else cv2.resize(array, size, interpolation=cv2.INTER_AREA)


def _rows(words: list[OcrLine]) -> list[OcrLine]:
    """Boxes grouped into lines, each line's boxes left to right, lines top to bottom; measured
    along the text's own direction (the median slope of the boxes), so a tilted sign or page
    reads line by line."""
    if not words:
        return []
    slope = statistics.median(_slope(w.box) for w in words)
    cos, sin = math.cos(-slope), math.sin(-slope)

    def level(box) -> list[tuple[float, float]]:  # the box in a frame where the text runs horizontally
        return [(x * cos - y * sin, x * sin + y * cos) for x, y in box]

    spans = {id(w): (min(y for _, y in level(w.box)), max(y for _, y in level(w.box))) for w in words}
    rows: list[list[OcrLine]] = []
    for word in sorted(words, key=lambda w: sum(spans[id(w)])):
        top, bottom = spans[id(word)]
        for row in rows:
            row_top, row_bottom = spans[id(row[-1])]
            if min(bottom, row_bottom) - max(top, row_top) >= ROW_OVERLAP * min(bottom - top, row_bottom - row_top):
                row.append(word)
                break
        else:
            rows.append([word])
    lines = []
    for row in rows:
        row.sort(key=lambda w: min(x for x, _ in level(w.box)))
        lines.append(OcrLine(" ".join(w.text for w in row), min(w.confidence for w in row), _union(row)))
    return lines


def _slope(box) -> float:
    """The angle of the box's top edge (radians; positive: falling to the right)."""
    (x0, y0), (x1, y1) = box[0], box[1]
    return math.atan2(y1 - y0, x1 - x0) if x1 != x0 else 0.0


def _union(row: list[OcrLine]):
    if len(row) == 1:
        return row[0].box
    xs = [x for w in row for x, _ in w.box]
    ys = [y for w in row for _, y in w.box]
    return ((min(xs), min(ys)), (max(xs), min(ys)), (max(xs), max(ys)), (min(xs), max(ys)))
