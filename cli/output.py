"""How results look: a table for people, JSON for programs. Results to stdout, the rest to stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from searchengine.paths import REPLACE_ERRORS
from searchengine.query import Hit

# A file name that is not UTF-8 is shown with U+FFFD for its bad bytes: output stays valid UTF-8.
for _stream in (sys.stdout, sys.stderr):
    if hasattr(_stream, "reconfigure"):
        _stream.reconfigure(errors=REPLACE_ERRORS)

# Piped output keeps whole paths on one line; a terminal gets its own width.
stdout = Console(soft_wrap=False, width=None if sys.stdout.isatty() else 200)
stderr = Console(stderr=True, soft_wrap=True)


def clock(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes:02d}:{secs:02d}"


def snippet(hit: Hit, width: int = 90) -> str:
    text = " ".join((hit.text or "").split())
    if len(text) > width:
        text = text[: width - 1].rstrip() + "…"
    if hit.start is not None:
        return f"{clock(hit.start)}–{clock(hit.end)}  {text}"
    return text


WEAK_RULE = "weaker matches"
NO_STRONG_MATCH = "no strong match: the closest are listed, none is likely what you are looking for"


def hits_table(hits: Sequence[Hit]) -> Table:
    """Best first; a rule marks where the low-confidence hits begin, and they are dimmed."""
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("#", style="dim", justify="right")
    table.add_column("score", justify="right")
    table.add_column("confidence")
    table.add_column("kind", style="cyan")
    table.add_column("path", style="green", overflow="fold", ratio=3)
    table.add_column("match", overflow="ellipsis", no_wrap=True, ratio=2)
    weak_from = next((i for i, h in enumerate(hits) if h.confidence == "low"), None)
    for i, hit in enumerate(hits):
        if i == weak_from and i > 0:
            table.add_row("", "", "", "", f"[dim]── {WEAK_RULE} ──[/dim]", "")
        style = "dim" if hit.confidence == "low" else None
        table.add_row(str(hit.rank), f"{hit.score:.3f}", hit.confidence, hit.kind, hit.path, snippet(hit), style=style)
    return table


def print_hits(hits: Sequence[Hit], as_json: bool, cutoff: float | None = None) -> None:
    if hits and hits[0].confidence == "low":
        stderr.print(NO_STRONG_MATCH, highlight=False)
    if as_json:
        json_line([h.as_json() for h in hits], indent=2)
    elif hits:
        stdout.print(hits_table(hits))
    elif cutoff is not None:
        stderr.print(f"no match: nothing scored {cutoff:g} or more (--min-score)", highlight=False)
    else:
        stderr.print("no match: nothing indexed is of that kind and passes the filters", highlight=False)


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
