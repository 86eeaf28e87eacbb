"""The `searchengine` command's entry point.

For `search`, the index's model starts loading before the CLI library is imported: Typer and the
pydantic models it builds for each option take ~0.45 s of a cold query here, and the model's load
(mostly outside the GIL) fits beside them. The arguments are only peeked at; Typer still parses
them, and a search whose index, device or backend differ from the peek loads its own.
"""

from __future__ import annotations

import os
import sys


def _peek(args: list[str]) -> dict | None:
    """index, device, backend and texts of a `search` command line; None for anything else."""
    while args and (args[0] == "--verbose" or args[0].startswith("-v") and set(args[0][1:]) == {"v"}):
        args = args[1:]  # the command's own options come first
    if not args or args[0] != "search" or "--help" in args:
        return None
    values = {"--index": None, "--device": "auto", "--backend": os.environ.get("SEARCHENGINE_BACKEND") or "auto"}
    rest = iter(args[1:])
    for arg in rest:
        name, eq, value = arg.partition("=")
        if name in values:
            values[name] = value if eq else next(rest, None)
    return {"index": values["--index"], "device": values["--device"], "backend": values["--backend"],
            "texts": "--image" not in args and "--like" not in args, "one_query": "--queries" not in args}


def _verbosity(args: list[str]) -> int:
    """The -v count among the options before the command (where Typer takes them)."""
    count = 0
    for arg in args:
        if arg == "--verbose":
            count += 1
        elif arg.startswith("-v") and set(arg[1:]) == {"v"}:
            count += len(arg) - 1
        else:
            break
    return count


def main() -> None:
    from searchengine.cli.logs import configure

    configure(_verbosity(sys.argv[1:]))  # before the early model load, whose lines follow -v too
    peeked = _peek(sys.argv[1:])
    if peeked is not None:
        from searchengine.warmup import preload

        preload(**peeked)
    from searchengine.cli.app import main as run
    from searchengine.cli.pipes import flushed

    try:
        run()
        code = 0
    except SystemExit as done:
        code = done.code
    code = flushed(code)  # a reader gone away (| head) ends the command quietly
    if peeked is not None and (code is None or isinstance(code, int)):
        _exit_now(code or 0)
    sys.exit(code)


def _exit_now(code: int) -> None:
    """End a finished search without tearing the interpreter down: its output is written and the
    index is closed (a search writes nothing else), and unloading ONNX Runtime, FAISS and every
    module costs a cold query another 0.2 s here."""
    import logging

    logging.shutdown()
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        code = code or 1
    os._exit(code)
