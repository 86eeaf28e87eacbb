"""The indexing progress bar (rich, on stderr), following --quiet.

One line counts files ("indexing ━━━━━━ 12/40 3.1 files/s eta 0:00:09"), advancing file by
file; while a recording is transcribed or a video's keyframes are read, a line of its own shows
how many seconds of it are done ("speech talk.m4a ━━━━ 03:12/10:00 2.5× real time"), and while
a PDF's scanned pages are read, how many pages ("OCR scan.pdf ━━━━ 3/40 pages 4.2 s/page"; where
tesseract is not installed, that it would read clean ones faster: media/tesseract.py). A one-time
preparation (exporting a model to ONNX, assembling Whisper: searchengine.preparing) gets a line
of its own while it runs, so a first run never sits at 0 without saying why.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text

from searchengine.ingest.progress import PAGES

from .output import stderr
from .table import clock

_NAME_WIDTH = 32


class _DoneColumn(ProgressColumn):
    """Files as "12/40"; seconds of media as "03:12/10:00" (the total unknown: "03:12")."""

    def render(self, task) -> Text:
        if task.fields.get("note"):
            return Text("")
        if task.fields.get("media"):
            done = clock(task.completed)
            return Text(f"{done}/{clock(task.total)}" if task.total is not None else done, style="progress.download")
        if task.fields.get("pages"):
            return Text(f"{int(task.completed)}/{int(task.total or 0)} pages", style="progress.download")
        total = "?" if task.total is None else f"{int(task.total)}"
        return Text(f"{int(task.completed)}/{total}", style="progress.download")


class _RateColumn(ProgressColumn):
    """Files per second and the time left; for media, how many times faster than real time."""

    def render(self, task) -> Text:
        speed = task.speed
        if task.fields.get("note") or not speed or task.finished:
            return Text("")
        if task.fields.get("media"):
            return Text(f"{speed:.1f}× real time", style="progress.data.speed")
        if task.fields.get("pages"):
            rate = f"{1 / speed:.1f} s/page" if speed < 0.95 else f"{speed:.1f} pages/s"
            return Text(rate + task.fields.get("hint", ""), style="progress.data.speed")
        rate = f"{speed:.1f} files/s" if speed >= 0.95 else f"{1 / speed:.1f} s/file"
        left = task.time_remaining
        eta = "" if left is None else f"  eta {timedelta(seconds=int(round(left)))}"
        return Text(rate + eta, style="progress.data.speed")


class _PreparationLines(logging.Handler):
    """Shows searchengine.preparing's announcements as lines of the bar while they run."""

    def __init__(self, progress: BarProgress):
        super().__init__(logging.INFO)
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        what = getattr(record, "preparing", None)
        if what is not None and stderr.is_terminal:
            self.progress.note_started(what)
            record.on_bar = True  # logs.ConsoleHandler need not print it too
        done = getattr(record, "prepared", None)
        if done is not None:
            self.progress.note_ended(done)


class BarProgress:
    """Implements searchengine.ingest.Progress with a rich progress bar."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self._bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            _DoneColumn(),
            _RateColumn(),
            TimeElapsedColumn(),
            console=stderr,
            transient=True,
            disable=quiet or not stderr.is_terminal,
            speed_estimate_period=20,
        )
        self._task: TaskID | None = None
        self._media: dict[tuple[str, str], TaskID] = {}
        self._notes: dict[str, TaskID] = {}
        self._handler = _PreparationLines(self)
        self._logger = logging.getLogger("searchengine.preparing")

    def __enter__(self) -> BarProgress:
        self._bar.start()
        if not self.quiet:
            self._logger.addHandler(self._handler)
        return self

    def __exit__(self, *exc) -> None:
        self._logger.removeHandler(self._handler)
        self._bar.stop()

    def start(self, phase: str, total: int) -> None:
        if self._task is not None:
            self._bar.remove_task(self._task)
        self._task = self._bar.add_task(phase, total=total or None)

    def advance(self, n: int = 1) -> None:
        if self._task is not None:
            self._bar.advance(self._task, n)

    def failed(self, path: str, reason: str) -> None:
        if not self.quiet:
            self._bar.console.print(f"[yellow]failed[/] {reason}", markup=True, highlight=False)

    def media(self, path: str, stage: str, done: float, total: float | None) -> None:
        key = (path, stage)
        task = self._media.get(key)
        if task is None:  # each file is reported by the one thread decoding it; rich locks its own state
            pages = stage == PAGES  # read with OCR: pages, not seconds
            task = self._media[key] = self._bar.add_task(
                f"  {'OCR' if pages else stage} {_short(Path(path).name)}",
                total=total,
                media=not pages,
                pages=pages,
                hint=_ocr_hint() if pages else "",
            )
        self._bar.update(task, completed=min(done, total) if total else done, total=total)

    def media_done(self, path: str, stage: str) -> None:
        task = self._media.pop((path, stage), None)
        if task is not None:
            self._bar.remove_task(task)

    def note_started(self, what: str) -> None:
        """A one-time preparation began: a line that says so until it ends."""
        if what not in self._notes:
            self._notes[what] = self._bar.add_task(f"{what} (once)", total=None, note=True)

    def note_ended(self, what: str) -> None:
        task = self._notes.pop(what, None)
        if task is not None:
            self._bar.remove_task(task)


def _ocr_hint() -> str:
    """Beside the pace of scanned pages read by PP-OCR alone: that tesseract would read clean ones faster."""
    from searchengine.media.tesseract import tesseract_version

    return "" if tesseract_version() else "  (install tesseract-ocr to read clean scans ~4× faster)"


def _short(name: str) -> str:
    return name if len(name) <= _NAME_WIDTH else name[: _NAME_WIDTH - 1] + "…"
