"""`searchengine open RANK` and `search --open`: a result opened with the desktop's default
application. Every search remembers its results (in $SEARCHENGINE_HOME/last-search.json) so that
`open 3` opens the third hit of the last search, wherever that search ran."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence

from searchengine.atomic import atomic_write
from searchengine.config import home
from searchengine.errors import SearchEngineError, UsageError

log = logging.getLogger(__name__)

LAST_SEARCH = "last-search.json"


def remember(query: str, hits: Sequence) -> None:
    """Keep the results of a search for `open`. A search never fails for want of it."""
    record = {"query": query, "hits": [{"rank": h.rank, "path": h.path, "kind": h.kind} for h in hits]}
    try:
        atomic_write(home() / LAST_SEARCH, json.dumps(record))
    except OSError as exc:
        log.debug("could not keep the results for `open`: %s", exc)


def remembered(rank: int) -> str:
    """The path of hit `rank` of the last search."""
    try:
        record = json.loads((home() / LAST_SEARCH).read_text(encoding="utf-8"))
        paths = {int(h["rank"]): h["path"] for h in record["hits"]}
    except FileNotFoundError:
        raise UsageError("no search to open a result of yet: run `searchengine search` first") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"the last search's results cannot be read ({exc}): search again") from None
    if rank not in paths:
        shown = f"ranks 1 to {len(paths)}" if paths else "no results"
        raise UsageError(f"the last search ({record.get('query')!r}) has no result {rank}: it listed {shown}")
    return paths[rank]


def open_file(path: str) -> None:
    """Hand `path` to the desktop's handler for its type, without waiting for it."""
    if not os.path.exists(path):
        raise UsageError(f"{path} is no longer there: search again, or re-index its folder")
    if sys.platform == "win32":
        os.startfile(path)  # noqa: S606 - the platform's own handler
        return
    opener = "open" if sys.platform == "darwin" else "xdg-open"
    found = shutil.which(opener)
    if found is None:
        raise SearchEngineError(
            f"cannot open files here: {opener} is not installed"
            + (" (the xdg-utils package)" if opener == "xdg-open" else "")
            + f"; the file is {path}"
        )
    subprocess.Popen(
        [found, path],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
