"""The indexing progress bar (rich, on stderr), following --quiet."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeRemainingColumn

from .output import stderr


class BarProgress:
    """Implements searchengine.ingest.Progress with a rich progress bar."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self._bar = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeRemainingColumn(), console=stderr, transient=True, disable=quiet,
        )
        self._task = None

    def __enter__(self) -> "BarProgress":
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
