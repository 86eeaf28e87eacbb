"""One query's results on stdout, remembered for `open`, and the exit status: 1 when nothing is
found (as grep), with one line on stderr that says why, except with --json."""

from __future__ import annotations

import typer

from .opener import open_file, remember
from .output import print_hits, stderr


def show_results(searcher, query, filters, k: int, segments: bool, as_json: bool = False, paths_only: bool = False,
                 preview: bool = False, open_best: bool = False) -> None:
    hits = searcher.search(query, filters, k=k, segments=segments)
    print_hits(hits, as_json, paths_only=paths_only, preview=preview)
    if hits:
        remember(query.describe(), hits)
        if open_best:
            open_file(hits[0].path)
        return
    if as_json:
        return
    stderr.print(why_nothing(searcher, filters), highlight=False, markup=False)
    raise typer.Exit(1)


def why_nothing(searcher, filters) -> str:
    if searcher.glob_matches_no_file(filters):
        return f"no indexed file matches --glob {filters.path_glob!r}" + (" (with --glob-case)" if filters.glob_case else "")
    if filters.min_score is not None:
        return f"no match: nothing scored {filters.min_score:g} or more (--min-score)"
    return "no match: nothing indexed is of that kind and passes the filters"
