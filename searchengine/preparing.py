"""One-time preparations a user waits for (exporting a model to ONNX, assembling Whisper), announced
through logging so that a front end can show them while they run.

The start record carries `preparing` (what is being done), the end record `prepared` (the same
words); both are INFO lines of the logger "searchengine.preparing" for everyone else.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


@contextmanager
def preparing(what: str) -> Iterator[None]:
    """Announce `what` ("exporting the image tower of … to ONNX") for as long as the block runs."""
    started = time.perf_counter()
    log.info("%s (once)", what, extra={"preparing": what})
    try:
        yield
    finally:
        log.info("%s: done in %.1f s", what, time.perf_counter() - started, extra={"prepared": what})
