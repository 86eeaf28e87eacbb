"""A reader that stops reading (`searchengine search … | head -n 1`) ends the command quietly, with
the status of a command killed by SIGPIPE, as grep's or cat's would be, and nothing on stderr."""

from __future__ import annotations

import os
import sys

CLOSED_PIPE = 128 + 13  # 128 + SIGPIPE


def silence_stdout() -> None:
    """Send whatever stdout still holds nowhere, so that no later flush fails again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def flushed(code: int | str | None) -> int | str | None:
    """`code`, after flushing stdout; CLOSED_PIPE when its reader has gone."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
        return CLOSED_PIPE
    except (OSError, ValueError):
        return code or 1
    return code
