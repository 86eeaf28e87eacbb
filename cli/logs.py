"""How much a command says on stderr besides its results, progress and summary (-v, -vv).

- default: our own warnings only. No third-party warnings or log lines (FAISS's loader,
  sentence-transformers, ONNX Runtime, Ray, Python's `warnings`).
- `-v`: what a user can act on: the model and runtime chosen, one-time preparations, timings,
  every file skipped or failed and why.
- `-vv`: everything: debug lines, other libraries' log lines and Python warnings, each with its
  logger's name.

Lines go through the progress bar's console, so they print above a live bar instead of through it.
"""

from __future__ import annotations

import logging
import sys
import warnings

# (our threshold, third-party threshold) per verbosity
QUIET = logging.CRITICAL + 1
LEVELS = {0: (logging.WARNING, QUIET), 1: (logging.INFO, QUIET), 2: (logging.DEBUG, logging.DEBUG)}


def ours(record: logging.LogRecord) -> bool:
    return record.name == "searchengine" or record.name.startswith("searchengine.")


class ConsoleHandler(logging.Handler):
    """Log records as plain lines on the stderr console, filtered by whose they are."""

    def __init__(self, verbosity: int):
        super().__init__(logging.DEBUG)
        self.verbosity = verbosity
        self.ours_level, self.theirs_level = LEVELS[min(verbosity, 2)]

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "preparing", None) and not getattr(record, "on_bar", False):
            return True  # a one-time wait is said even without -v (unless a progress bar shows it)
        return record.levelno >= (self.ours_level if ours(record) else self.theirs_level)

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info and self.verbosity >= 2:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
        if self.verbosity >= 2:
            return f"{record.levelname.lower()} {record.name}: {message}"
        if getattr(record, "preparing", None):
            return message + "…"
        return message if record.levelno < logging.WARNING else f"{record.levelname.lower()}: {message}"

    def emit(self, record: logging.LogRecord) -> None:
        from .output import stderr

        try:
            stderr.print(self.format(record), markup=False, highlight=False, soft_wrap=True)
        except Exception:  # a log line must never end the command
            self.handleError(record)


def configure(verbosity: int) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, ConsoleHandler):
            root.removeHandler(handler)
    root.addHandler(ConsoleHandler(verbosity))
    root.setLevel(min(LEVELS[min(verbosity, 2)]))
    logging.getLogger("searchengine.preparing").setLevel(logging.INFO)  # see ConsoleHandler.filter
    if verbosity >= 2:
        logging.captureWarnings(True)
    elif not sys.warnoptions:  # a user's own -W or PYTHONWARNINGS still wins
        warnings.simplefilter("ignore")


def verbosity() -> int:
    """The -v count the command runs with (0 when logging was not configured here)."""
    return max((h.verbosity for h in logging.getLogger().handlers if isinstance(h, ConsoleHandler)), default=0)
