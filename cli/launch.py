"""The `searchengine` command's entry point: logging set up first (the early model load's lines
follow -v too), a `search` starts loading its model before anything else is imported, and ends
without tearing the interpreter down (coldstart.py says why); a reader gone away (| head) ends any
command quietly."""

from __future__ import annotations

import sys

from searchengine.cli.coldstart import Preload, exit_now, peek, verbosity


def main() -> None:
    from searchengine.cli.logs import configure

    configure(verbosity(sys.argv[1:]))
    peeked = peek(sys.argv[1:])
    preload = Preload(**peeked) if peeked is not None else None
    from searchengine.cli.app import main as run
    from searchengine.cli.pipes import flushed

    try:
        run(preload)
        code = 0
    except SystemExit as done:
        code = done.code
    code = flushed(code)
    if preload is not None and (code is None or isinstance(code, int)):
        preload.settle()
        exit_now(code or 0)
    sys.exit(code)
