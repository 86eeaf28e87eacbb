"""Keep an index current with folders as they change: `watch` and `serve --watch`.

A `Watcher` listens to the folders' file-system events (the `watchdog` package: inotify on Linux)
and applies them through the index's incremental path (`Index.apply`, one run for a burst): new
and changed files are embedded, deleted ones dropped, and a renamed or moved file keeps its vectors
(its content hash is known). It first catches up (an `Index.sync` of every folder), listening already,
so that nothing changed meanwhile is missed.

Events are gathered until the folders have been quiet for `debounce` seconds, so a copy of a
thousand files is one run. A file is taken once it is complete: after its writer closed it (where
the system says so) and its size and modification time have not changed for `settle` seconds;
one still growing waits for the next round. An error in a run is reported and the run's files are
tried again later; another process holding the index's writer lock (an `index` run) is waited for.
`stop()` (or Ctrl-C in the CLI) ends it between runs, or interrupts a run, whose committed
batches stay.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from searchengine.api import Index
from searchengine.errors import IndexLocked, SearchEngineError
from searchengine.ingest.summary import RunSummary
from searchengine.kinds import kind_of
from searchengine.media.discover import IGNORE_FILE, ignore_spec, left_out

log = logging.getLogger(__name__)

DEBOUNCE = 0.5  # seconds of quiet that end a burst of events
SETTLE = 0.5  # seconds a file's size and mtime must stay the same before it is read
OPEN_PATIENCE = 30.0  # a file opened for writing and never closed is taken after this long unchanged
RETRY = 2.0  # seconds before files of a failed or locked run are tried again


@dataclass
class Batch:
    """What one run applies: paths to add or update, paths to drop."""

    changed: set[str] = field(default_factory=set)
    gone: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.changed or self.gone)


@dataclass
class WatchEvent:
    """What a run did, for whoever shows it: its summary (or the error)."""

    added: RunSummary | None = None
    error: Exception | None = None
    catch_up: bool = False
    waiting: int = 0  # files not complete yet, left for a later run


Report = Callable[[WatchEvent], None]


class _Pending:
    """Paths changed since the last run, gathered from watchdog's thread. What a sync of the watched
    folders would leave out (hidden entries, their .searchengineignore rules, `exclude` patterns)
    is left out here too, or a watched change would index a file the next sync drops again."""

    def __init__(self, index_dir: Path, folders: Iterable[Path] = (), exclude: Iterable[str] = ()):
        self._lock = threading.Condition()
        self._changed: dict[str, float] = {}  # path -> time of its last event
        self._gone: set[str] = set()
        self._writing: set[str] = set()  # opened for writing, not closed yet
        self._last = 0.0
        self._skip = str(index_dir) + os.sep
        self._exclude = tuple(exclude)
        # deepest first, so a path is judged by the innermost watched folder that holds it
        self._rules = {
            folder: ignore_spec(folder, self._exclude)
            for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True)
        }

    def _wanted(self, path: str, is_directory: bool) -> bool:
        if path.startswith(self._skip) or path == self._skip[:-1]:
            return False
        return is_directory or kind_of(Path(path)) is not None

    def _ignored(self, path: str, is_directory: bool) -> bool:
        target = Path(path)
        for folder in self._rules:
            if target.is_relative_to(folder):
                if target.name == IGNORE_FILE and target.parent == folder:  # the rules changed
                    self._rules[folder] = ignore_spec(folder, self._exclude)
                return left_out(target, folder, self._rules[folder], is_directory)
        return False

    def changed(self, path: str, is_directory: bool, writing: bool | None = None, complete: bool = False) -> None:
        """complete: the file is whole already (moved here), no need to let it settle."""
        if self._ignored(path, is_directory) or not self._wanted(path, is_directory):
            return
        with self._lock:
            self._changed[path] = time.monotonic() - (OPEN_PATIENCE if complete else 0.0)
            self._gone.discard(path)
            if writing:
                self._writing.add(path)
            elif writing is False:
                self._writing.discard(path)
            self._touch()

    def gone(self, path: str, is_directory: bool) -> None:
        if not self._wanted(path, is_directory):
            return
        with self._lock:
            self._gone.add(path)
            self._changed.pop(path, None)
            self._writing.discard(path)
            self._touch()

    def _touch(self) -> None:
        self._last = time.monotonic()
        self._lock.notify_all()

    def wait(self, debounce: float, stop: threading.Event, timeout: float | None = None) -> bool:
        """Until something is pending and the folders were quiet for `debounce` s (True), or stop."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while not stop.is_set():
                now = time.monotonic()
                if (self._changed or self._gone) and now - self._last >= debounce:
                    return True
                if deadline is not None and now >= deadline:
                    return False
                self._lock.wait(timeout=min(debounce, 0.25))
        return False

    def take(self, settle: float) -> tuple[Batch, int]:
        """The batch ready to run, and how many changed files are not complete yet (left pending)."""
        now = time.monotonic()
        batch = Batch()
        with self._lock:
            ready: set[str] = set()
            waiting: list[str] = []
            settling = False  # a file of this burst about to be complete: what is gone waits for it (a move)
            for path, when in self._changed.items():
                if path in self._writing and now - when < OPEN_PATIENCE:
                    waiting.append(path)
                elif now - when >= settle and _settled(path, settle):
                    ready.add(path)
                else:
                    waiting.append(path)
                    settling = True
            folders = [p for p in ready if os.path.isdir(p)]
            for folder in folders:  # a folder is walked whole: it waits for the files in it
                if any(w.startswith(folder + os.sep) for w in waiting):
                    ready.discard(folder)
                    settling = True
            if settling and self._gone:
                return batch, len(self._changed)
            batch.gone, self._gone = self._gone, set()
            walked = tuple(f + os.sep for f in folders if f in ready)
            for path in ready:
                del self._changed[path]
                self._writing.discard(path)
            batch.changed = {p for p in ready if not p.startswith(walked)} if walked else ready
            return batch, len(self._changed)

    def put_back(self, batch: Batch) -> None:
        with self._lock:
            now = time.monotonic()
            for path in batch.changed:
                self._changed.setdefault(path, now)
            self._gone |= batch.gone - set(self._changed)
            self._last = now


def _settled(path: str, settle: float) -> bool:
    """Whether a file (not a folder) has kept its size and mtime for `settle` seconds; a path gone
    or a folder counts as settled (the run drops or walks it)."""
    try:
        st = os.stat(path)
    except OSError:
        return True
    if os.path.isdir(path):
        return True
    return time.time() - st.st_mtime >= settle


def _handler(pending: _Pending):
    from watchdog.events import DirDeletedEvent, FileClosedEvent, FileSystemEventHandler

    class Handler(FileSystemEventHandler):
        def on_created(self, event):
            pending.changed(os.fsdecode(event.src_path), event.is_directory)  # moved in, or about to be written

        def on_modified(self, event):
            if not event.is_directory:  # a folder's own mtime: its entries have their own events
                pending.changed(os.fsdecode(event.src_path), False, writing=True)

        def on_closed(self, event):
            if isinstance(event, FileClosedEvent):
                pending.changed(os.fsdecode(event.src_path), False, writing=False)

        def on_deleted(self, event):
            pending.gone(os.fsdecode(event.src_path), isinstance(event, DirDeletedEvent))

        def on_moved(self, event):
            pending.gone(os.fsdecode(event.src_path), event.is_directory)
            pending.changed(os.fsdecode(event.dest_path), event.is_directory, complete=True)

    return Handler()


class Watcher:
    """Watch `folders` and keep the index at `index` current with them (see the module's doc).

    options: what Index.add takes (workers, batch_size, …)."""

    def __init__(
        self,
        index: Index,
        folders: Iterable[str | Path],
        *,
        debounce: float = DEBOUNCE,
        settle: float = SETTLE,
        report: Report | None = None,
        **options,
    ):
        self.index = index
        self.folders = [Path(f).expanduser().absolute() for f in folders]
        self.debounce = debounce
        self.settle = settle
        self.report = report or (lambda event: None)
        self.options = options
        self.stop_event = threading.Event()
        self._pending = _Pending(index.path, self.folders, options.get("exclude", ()))
        self.runs = 0  # runs that applied changes (not counting the catch-up)

    def stop(self) -> None:
        self.stop_event.set()

    def run(self, catch_up: bool = True) -> None:
        """Watch until stop(): catch up first, then apply each burst of changes as one run."""
        from watchdog.observers import Observer

        observer = Observer()
        for folder in self.folders:
            observer.schedule(_handler(self._pending), os.fsencode(folder), recursive=True)
        observer.start()
        try:
            if catch_up:
                self._catch_up()
            while not self.stop_event.is_set():
                if not self._pending.wait(max(self.debounce, self.settle), self.stop_event, timeout=1.0):
                    continue
                self._apply()
        finally:
            observer.stop()
            observer.join(timeout=5)

    def _catch_up(self) -> None:
        for folder in self.folders:
            while not self.stop_event.is_set():
                try:
                    self.report(WatchEvent(added=self.index.sync(folder, **self.options), catch_up=True))
                    break
                except IndexLocked as exc:
                    self.report(WatchEvent(error=exc, catch_up=True))
                    self.stop_event.wait(RETRY)
                except (SearchEngineError, OSError) as exc:
                    self.report(WatchEvent(error=exc, catch_up=True))
                    break

    def _apply(self) -> None:
        batch, waiting = self._pending.take(self.settle)
        if not batch:
            self.stop_event.wait(min(self.settle, 0.25))
            return
        event = WatchEvent(waiting=waiting)
        try:
            event.added = self.index.apply(sorted(batch.changed), sorted(batch.gone), **self.options)
            self.runs += 1
        except (SearchEngineError, OSError) as exc:
            event.error = exc
            self._pending.put_back(batch)
            self.report(event)
            self.stop_event.wait(RETRY)
            return
        log.info("applied %d changed and %d gone paths", len(batch.changed), len(batch.gone))
        self.report(event)


def describe(event: WatchEvent, render: Callable[[Exception], str] = str) -> str:
    """One line for a person: what a run did (`render` words an error)."""
    if event.error is not None:
        text = render(event.error)
        return f"{'catching up: ' if event.catch_up else ''}{text} (tried again)"
    parts = []
    for summary in (event.added,):
        if summary is None:
            continue
        for name in ("added", "updated", "renamed", "removed", "failed"):
            if getattr(summary, name):
                parts.append(f"{getattr(summary, name)} {name}")
    if event.waiting:
        parts.append(f"{event.waiting} still being written")
    head = "caught up" if event.catch_up else "updated"
    return f"{head}: " + (", ".join(parts) if parts else "nothing changed")
