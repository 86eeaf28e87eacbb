"""Search results as text: a layout that fits the terminal, or one hit per line for a pipe.

On a terminal each hit takes one line for rank, score, confidence, kind and path (shortened to
fit: relative to the current folder or ~, ellipsized in the middle, the file name always whole)
and, when it has one, a second line for where it matched (a time range, a page) and the matching
text, cut to the width. Piped, each hit is one tab-separated line with the absolute path and the
whole text, for grep, cut and awk (`--json` for programs that want every field).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.cells import cell_len, set_cell_size
from rich.text import Text

if TYPE_CHECKING:
    from searchengine.hits import Hit

GAP = "  "
ELLIPSIS = "…"
WEAK_RULE = "weaker matches"
# widths of the fixed columns: score as "12.34", confidence "medium", kind "image"
SCORE_WIDTH, CONFIDENCE_WIDTH, KIND_WIDTH = 6, 6, 5
CONFIDENCE_STYLE = {"high": "green", "medium": "yellow", "low": "dim"}


def clock(seconds: float | None) -> str:
    """01:05, or 1:02:05 past the hour."""
    if seconds is None:
        return ""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def where(hit: Hit) -> str:
    """Where in the file the hit is: "01:05–01:12" in a recording or video, "p. 3" in a document."""
    if hit.start is not None:
        return f"{clock(hit.start)}–{clock(hit.end if hit.end is not None else hit.start)}"
    page = getattr(hit, "page", None)
    return f"p. {page}" if page is not None else ""


def one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def shown_path(path: str, cwd: Path | None = None, home: Path | None = None) -> str:
    """The path relative to the current folder when under it, else with ~ for the home folder."""
    cwd = Path.cwd() if cwd is None else cwd
    home = Path.home() if home is None else home
    p = Path(path)
    for base, prefix in ((cwd, ""), (home, "~/")):
        try:
            relative = p.relative_to(base)
        except ValueError:
            continue
        if relative.parts:
            return prefix + relative.as_posix()
    return path


def ellipsize_path(path: str, width: int) -> str:
    """`path` in at most `width` cells, folders left out from the middle ("~/Pictures/…/2019/cat.jpg").
    The file name is never cut: a name wider than `width` is returned whole."""
    if cell_len(path) <= width:
        return path
    *folders, name = path.split("/")
    head: list[str] = []
    tail: list[str] = []

    def joined(h: list[str], t: list[str]) -> str:
        return "/".join([*h, ELLIPSIS, *t, name])

    if not folders or cell_len(joined([], [])) > width:
        return name
    # the first folder (~, /, the top folder) anchors the path; then the nearest folders say the most
    if len(folders) > 1 and cell_len(joined(folders[:1], [])) <= width:
        head = folders[:1]
    for i in range(len(folders) - 1, len(head), -1):  # the ellipsis stands for one folder at least
        if cell_len(joined(head, [folders[i], *tail])) > width:
            break
        tail = [folders[i], *tail]
    return joined(head, tail)


def cut(text: str, width: int) -> str:
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return text
    return set_cell_size(text, width - 1).rstrip() + ELLIPSIS


def _path_text(path: str, width: int, style: str | None) -> Text:
    shown = ellipsize_path(shown_path(path), width)
    folder, slash, name = shown.rpartition("/")
    text = Text(style=style or "")
    if slash:
        text.append(folder + slash, style="dim")
    text.append(name, style="bold" if style is None else "")
    return text


def terminal_blocks(hits: Sequence[Hit], width: int) -> Iterator[tuple[Hit | None, list[Text]]]:
    """The hits laid out for a terminal `width` cells wide: (None, [header]), then (hit, its one or
    two lines) for each hit, best first but the weak ("low") ones after the others, under a rule,
    as the web page lists them: interleaving kinds (`--type any`) can put a "medium" hit below a
    "low" one. Each keeps its rank."""
    rank_width = max(1, len(str(max((h.rank for h in hits), default=1))))
    fixed = [rank_width, SCORE_WIDTH, CONFIDENCE_WIDTH, KIND_WIDTH]
    path_width = max(12, width - sum(fixed) - len(GAP) * len(fixed))
    indent = " " * (rank_width + len(GAP))
    header = GAP.join(
        [
            f"{'#':>{rank_width}}",
            f"{'score':>{SCORE_WIDTH}}",
            f"{'conf.':<{CONFIDENCE_WIDTH}}",
            f"{'kind':<{KIND_WIDTH}}",
            "path",
        ]
    )
    yield None, [Text(header, style="bold")]
    hits = [h for h in hits if h.confidence != "low"] + [h for h in hits if h.confidence == "low"]
    weak_from = next((i for i, h in enumerate(hits) if h.confidence == "low"), None)
    for i, hit in enumerate(hits):
        lines = []
        if i == weak_from and i > 0:
            rule = f"── {WEAK_RULE} "
            lines.append(Text(indent + rule + "─" * max(0, width - len(indent) - cell_len(rule)), style="dim"))
        dim = "dim" if hit.confidence == "low" else None
        line = Text(style=dim or "")
        line.append(f"{hit.rank:>{rank_width}}", style="dim")
        line.append(GAP + f"{hit.score:>{SCORE_WIDTH}.2f}")
        line.append(GAP)
        line.append(f"{hit.confidence:<{CONFIDENCE_WIDTH}}", style=CONFIDENCE_STYLE.get(hit.confidence, ""))
        line.append(GAP)
        line.append(f"{hit.kind:<{KIND_WIDTH}}", style="cyan")
        line.append(GAP)
        line.append_text(_path_text(hit.path, path_width, dim))
        lines.append(line)
        place, words = where(hit), one_line(hit.text)
        if place or words:
            detail = Text(indent, style=dim or "")
            if place:
                detail.append(place, style="magenta")
                detail.append(GAP if words else "")
            detail.append(cut(words, width - cell_len(detail.plain)))
            lines.append(detail)
        yield hit, lines


def terminal_lines(hits: Sequence[Hit], width: int) -> list[Text]:
    return [line for _, lines in terminal_blocks(hits, width) for line in lines]


def indent_of(hits: Sequence[Hit]) -> int:
    """Where a hit's second line begins (under the score)."""
    return max(1, len(str(max((h.rank for h in hits), default=1)))) + len(GAP)


def piped_lines(hits: Sequence[Hit]) -> list[str]:
    """One tab-separated line per hit: rank, score, confidence, kind, absolute path, where, text."""
    return [
        "\t".join(
            [str(h.rank), f"{h.score:.3f}", h.confidence, h.kind, h.path.replace("\t", " "), where(h), one_line(h.text)]
        )
        for h in hits
    ]


def terminal_width(default: int = 80) -> int:
    try:
        return os.get_terminal_size().columns or default
    except OSError:
        return default
