"""Text read from pictures, cached by the file's content hash and the OCR's model id, so no picture
or scanned page is read twice: re-indexing, another index, a rename or another encoder reuse it.

One JSON file per (model, content hash) in the model cache, holding the lines of each picture read
from the file: key 0 for a picture, the page number for a PDF's scanned pages. A picture the gate
found no text in is not recorded (the gate costs less than writing the file would).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from searchengine.atomic import atomic_write
from searchengine.media.passages import OcrLine

PICTURE = 0  # the key of a picture's own lines (pages of a PDF are 1, 2, …)


class OcrCache:
    """The cache folder (the model cache's "ocr" folder)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def lines(self, content_hash: str, model_id: str) -> FileLines:
        key = "".join(c if c.isalnum() else "_" for c in model_id)
        return FileLines(self.folder / key / f"{content_hash}.json")


class FileLines:
    """The lines read from one file's pictures: get(page) → lines, or None when not read yet; put(page, lines)."""

    def __init__(self, path: Path):
        self.path = path
        self._pages: dict[int, list[OcrLine]] | None = None
        self._lock = threading.Lock()

    def _read(self) -> dict[int, list[OcrLine]]:
        if self._pages is None:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                self._pages = {
                    int(page): [OcrLine(text, float(conf), tuple(tuple(p) for p in box)) for text, conf, box in lines]
                    for page, lines in data["pages"].items()
                }
            except (OSError, ValueError, KeyError, TypeError):
                self._pages = {}
        return self._pages

    def get(self, page: int = PICTURE) -> list[OcrLine] | None:
        with self._lock:
            return self._read().get(page)

    def put(self, page: int, lines: list[OcrLine]) -> None:
        with self._lock:
            pages = self._read()
            pages[page] = list(lines)
            data = {
                "pages": {
                    str(p): [[line.text, line.confidence, [list(point) for point in line.box]] for line in kept]
                    for p, kept in sorted(pages.items())
                }
            }
            atomic_write(self.path, json.dumps(data, ensure_ascii=False))
