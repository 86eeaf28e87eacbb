"""The `searchengine` command's entry point: a `search` starts loading its model before anything
else is imported, and ends without tearing the interpreter down (coldstart.py says why)."""

from __future__ import annotations

import sys

from searchengine.cli.coldstart import Preload, exit_now, peek


def main() -> None:
    peeked = peek(sys.argv[1:])
    preload = Preload(**peeked) if peeked is not None else None
    from searchengine.cli.app import main as run

    try:
        run(preload)
    except SystemExit as done:
        if preload is not None and (done.code is None or isinstance(done.code, int)):
            preload.settle()
            exit_now(done.code or 0)
        raise
