"""What an indexing run reports as it goes; the command line draws it as a progress bar."""

from __future__ import annotations

from typing import Protocol

PAGES = "pages"  # the media stage whose done and total are pages, not seconds


class Progress(Protocol):
    """A run's progress: phases with a count of files, failures, and long recordings and videos."""

    def start(self, phase: str, total: int) -> None: ...

    def advance(self, n: int = 1) -> None: ...

    def failed(self, path: str, reason: str) -> None: ...

    def media(self, path: str, stage: str, done: float, total: float | None) -> None:
        """Seconds of a recording or video processed so far in a stage ("speech", "video"); for
        the stage PAGES, pages of a document (a PDF whose scanned pages are read with OCR)."""

    def media_done(self, path: str, stage: str) -> None:
        """That stage of that file has ended (finished or failed)."""


class SilentProgress:
    """Progress that reports nothing (library callers with no progress bar)."""

    def start(self, phase: str, total: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def failed(self, path: str, reason: str) -> None:
        pass

    def media(self, path: str, stage: str, done: float, total: float | None) -> None:
        pass

    def media_done(self, path: str, stage: str) -> None:
        pass
