"""The indexing progress bar (rich, on stderr), following --quiet.

One line counts files; while a recording is transcribed or a video's keyframes are read, a line
of its own shows how many seconds of it are done ("speech talk.m4a ━━━━ 03:12/10:00").
"""

from __future__ import annotations

from pathlib import Path

from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, TaskID, TextColumn, TimeRemainingColumn
from rich.text import Text

from .output import clock, stderr

_NAME_WIDTH = 32


class _DoneColumn(ProgressColumn):
    """Files as "12/40"; seconds of media as "03:12/10:00" (the total unknown: "03:12")."""

    def render(self, task) -> Text:
        if task.fields.get("media"):
            done = clock(task.completed)
            return Text(f"{done}/{clock(task.total)}" if task.total is not None else done, style="progress.download")
        total = "?" if task.total is None else f"{int(task.total)}"
        return Text(f"{int(task.completed)}/{total}", style="progress.download")


class BarProgress:
    """Implements searchengine.ingest.Progress with a rich progress bar."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self._bar = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), _DoneColumn(),
            TimeRemainingColumn(), console=stderr, transient=True, disable=quiet,
        )
        self._task: TaskID | None = None
        self._media: dict[tuple[str, str], TaskID] = {}

    def __enter__(self) -> BarProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
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
            self._bar.console.print(f"[yellow]skipped[/] {reason}", markup=True, highlight=False)

    def media(self, path: str, stage: str, done: float, total: float | None) -> None:
        key = (path, stage)
        task = self._media.get(key)
        if task is None:  # each file is reported by the one thread decoding it; rich locks its own state
            name = Path(path).name
            if len(name) > _NAME_WIDTH:
                name = name[: _NAME_WIDTH - 1] + "…"
            task = self._media[key] = self._bar.add_task(f"  {stage} {name}", total=total, media=True)
        self._bar.update(task, completed=min(done, total) if total else done, total=total)

    def media_done(self, path: str, stage: str) -> None:
        task = self._media.pop((path, stage), None)
        if task is not None:
            self._bar.remove_task(task)
