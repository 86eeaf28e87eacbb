"""How results look: a table for people, JSON for programs. Results to stdout, the rest to stderr."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console

from searchengine.paths import REPLACE_ERRORS

from .pipes import CLOSED_PIPE, silence_stdout

if TYPE_CHECKING:
    from searchengine.hits import Hit

# A file name that is not UTF-8 is shown with U+FFFD for its bad bytes: output stays valid UTF-8.
for _stream in (sys.stdout, sys.stderr):
    if hasattr(_stream, "reconfigure"):
        _stream.reconfigure(errors=REPLACE_ERRORS)


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """The reader went away (| head): end quietly, as cli/pipes.py says."""
        self.quiet = True
        silence_stdout()
        raise SystemExit(CLOSED_PIPE)


# Piped output is written as plain lines (table.py); a terminal gets its own width.
stdout = _Console(soft_wrap=False, width=None if sys.stdout.isatty() else 200)
stderr = _Console(stderr=True, soft_wrap=True)


NO_STRONG_MATCH = "no strong match: the closest are listed, none is likely what you are looking for"


def print_hits(hits: Sequence[Hit], as_json: bool = False, paths_only: bool = False, preview: bool = False) -> None:
    """Results on stdout: JSON, absolute paths one a line, a layout for the terminal, or one
    tab-separated line per hit for a pipe."""
    from .table import piped_lines

    if hits and hits[0].confidence == "low" and not paths_only:
        stderr.print(NO_STRONG_MATCH, highlight=False)
    if as_json:
        json_line([h.as_json() for h in hits], indent=2)
    elif paths_only:  # the exact bytes of each name, for xargs, even where they are not UTF-8
        sys.stdout.flush()
        sys.stdout.buffer.write(b"".join(os.fsencode(h.path) + b"\n" for h in hits))
        sys.stdout.buffer.flush()
    elif stdout.is_terminal:
        show_terminal(hits, preview)
    else:
        write_lines(piped_lines(hits))


def show_terminal(hits: Sequence[Hit], preview: bool) -> None:
    from .table import indent_of, terminal_blocks

    for hit, lines in terminal_blocks(hits, stdout.width):
        for line in lines:
            stdout.print(line, soft_wrap=True, highlight=False)
        if preview and hit is not None:
            from .preview import thumbnail

            picture = thumbnail(hit.path, hit.kind, indent_of(hits))
            if picture is not None:
                stdout.print(picture)


def write_lines(lines) -> None:
    sys.stdout.write("".join(f"{line}\n" for line in lines))
    sys.stdout.flush()


def json_line(data, indent: int | None = None) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=indent) + "\n")
    sys.stdout.flush()


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"
