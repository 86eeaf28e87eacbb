"""A search result: one segment of one file, its scores and where in the file it is."""

from __future__ import annotations

from dataclasses import dataclass

from searchengine.paths import json_path


@dataclass(frozen=True)
class Hit:
    rank: int
    score: float  # calibrated: comparable across kinds; ranks the results
    raw_score: float  # cosine similarity in the encoder's space
    path: str
    kind: str
    start: float | None  # recordings and videos: seconds
    end: float | None
    text: str | None  # the passage or the words said
    item_id: int
    segment_id: int
    char_start: int | None = None  # text passages: offsets into the decoded document
    char_end: int | None = None
    confidence: str = "low"  # "high" | "medium" | "low" (confidence.py)
    page: int | None = None  # documents: the PDF page the passage is on (1-based)
    source: str | None = None  # passages: "text" (the file's own words) or "ocr" (read in a picture or scan)
    matched: tuple[str, ...] = ("meaning",)  # why it was found: "words" (the word index), "meaning" (the vectors)

    def as_json(self) -> dict:
        """The hit as `search --json` and the API give it; a path that is not UTF-8 is shown, plus
        its bytes (paths.json_path)."""
        shown = {
            "rank": self.rank,
            "score": self.score,
            "confidence": self.confidence,
            "raw_score": self.raw_score,
            "path": self.path,
            "kind": self.kind,
            "start": self.start,
            "end": self.end,
            "page": self.page,
            "text": self.text,
            "source": self.source,
            "item_id": self.item_id,
            "segment_id": self.segment_id,
            "char_start": self.char_start,
            "char_end": self.char_end,
            "matched": list(self.matched),
        }
        return shown | json_path(self.path)
