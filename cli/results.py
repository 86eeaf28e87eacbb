"""One query's results on stdout, remembered for `open`, and the exit status: 1 when nothing is
found (as grep), with one line on stderr that says why, except with --json."""

from __future__ import annotations

import typer

from .opener import open_file, remember
from .output import print_hits, stderr


def show_results(
    ix,
    query,
    options: dict,
    as_json: bool = False,
    paths_only: bool = False,
    preview: bool = False,
    open_best: bool = False,
) -> None:
    """`ix`: the searchengine.Index searched; options: Index.search's keywords."""
    hits = ix.search(query, **options)
    print_hits(hits, as_json, paths_only=paths_only, preview=preview)
    if hits:
        remember(query.describe(), hits)
        if open_best:
            open_file(hits[0].path)
        return
    if as_json:
        return
    stderr.print(why_nothing(ix, options, query), highlight=False, markup=False)
    raise typer.Exit(1)


def why_nothing(ix, options: dict, query=None) -> str:
    from searchengine.lexical import parse

    glob, glob_case, min_score = options.get("glob"), options.get("glob_case", False), options.get("min_score")
    if glob and not ix.files_match(glob, glob_case=glob_case):
        return f"no indexed file matches --glob {glob!r}" + (" (with --glob-case)" if glob_case else "")
    if query is not None and query.text and parse(query.text).required:
        return 'no match: no indexed file holds the "quoted words", name: or path: of the query'
    if options.get("lexical_only"):
        return "no match: no indexed text or file name holds these words (--lexical-only)"
    if min_score is not None:
        return f"no match: nothing scored {min_score:g} or more (--min-score)"
    return "no match: nothing indexed is of that kind and passes the filters"
