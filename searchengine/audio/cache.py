"""Transcripts cached by content hash and speech model, so no recording is transcribed twice.

Re-indexing with another encoder, into another index, or after a rename reuses them.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from searchengine.atomic import atomic_write
from searchengine.audio.transcribe import Transcript, TranscriptSegment


class TranscriptCache:
    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def _path(self, content_hash: str, model_id: str, language: str | None) -> Path:
        key = "".join(c if c.isalnum() else "_" for c in f"{model_id}-{language or 'auto'}")
        return self.folder / key / f"{content_hash}.json"

    def get(self, content_hash: str, model_id: str, language: str | None) -> Transcript | None:
        path = self._path(content_hash, model_id, language)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return Transcript(data["duration"], data["language"], [TranscriptSegment(**s) for s in data["segments"]])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, content_hash: str, model_id: str, language: str | None, transcript: Transcript) -> None:
        atomic_write(self._path(content_hash, model_id, language), json.dumps(asdict(transcript), ensure_ascii=False))
