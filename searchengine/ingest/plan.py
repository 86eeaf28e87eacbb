"""What a run must do: the files found, compared with what the catalog remembers of them.

Unchanged files (same size and mtime) are left alone; a touched file with the same content keeps
its vectors; a file that appears where one with the same content disappeared is a rename and keeps
its vectors; everything else new or changed is decoded and embedded; what a folder no longer holds
is removed. Content hashes are computed only for files whose size or mtime changed.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from searchengine.media.discover import FoundFile
from searchengine.media.hashing import content_hash
from searchengine.store.reader import CatalogReader
from searchengine.store.records import KnownFile


@dataclass
class Plan:
    """What a run must do, from comparing the files found with the catalog."""

    embed: list[tuple[FoundFile, str | None]]  # (file, content hash) to decode and embed
    known_paths: set[str]  # of those, the ones the catalog had before (updates)
    moves: list[tuple[int, str, int, int]]  # (item id, new path, size, mtime) keep vectors
    renamed: int
    removed: list[str]
    unchanged: int


def plan_folder(catalog: CatalogReader, root: Path, found: list[FoundFile], workers: int) -> Plan:
    """A folder's run: what the catalog has under `root` and is not found any more is removed (or
    was renamed)."""
    return plan_changes(catalog, catalog.files_under(root), found, workers, drop_missing=True)


def plan_files(catalog: CatalogReader, found: list[FoundFile], workers: int) -> Plan:
    """Given files only: new and changed ones are embedded, nothing else is touched."""
    return plan_changes(catalog, catalog.files_at([str(f.path) for f in found]), found, workers, drop_missing=False)


def plan_moves(catalog: CatalogReader, found: list[FoundFile], gone: list[str], workers: int) -> Plan:
    """Given files and paths gone (files, or folders: everything under them): new and changed
    files are embedded, gone ones removed, and a gone file that is found again under a new path
    (same content) keeps its vectors, a rename."""
    known = catalog.files_at([str(f.path) for f in found] + gone)
    for path in gone:
        known.update(catalog.files_under(Path(path)))
    return plan_changes(catalog, known, found, workers, drop_missing=True)


def plan_changes(
    catalog: CatalogReader, known: dict[str, KnownFile], found: list[FoundFile], workers: int, drop_missing: bool
) -> Plan:
    candidates = [f for f in found if _changed(known.get(str(f.path)), f)]
    found_paths = {str(f.path) for f in found}
    missing = {path: k for path, k in known.items() if path not in found_paths} if drop_missing else {}
    with ThreadPoolExecutor(workers) as pool:
        hashes = list(pool.map(_safe_hash, (f.path for f in candidates)))
    by_hash = catalog.files_with_hashes(h for h in hashes if h)

    embed, moves, renamed = [], [], 0
    for f, digest in zip(candidates, hashes):
        path = str(f.path)
        before = known.get(path)
        if digest and before and before.status == "ok" and before.content_hash == digest:
            moves.append((before.id, path, f.size, f.mtime_ns))  # touched, same content
            continue
        source = next((k for k in by_hash.get(digest, []) if k.path in missing), None) if digest else None
        if source is not None and before is None:
            del missing[source.path]
            moves.append((source.id, path, f.size, f.mtime_ns))
            renamed += 1
            continue
        embed.append((f, digest))
    return Plan(
        embed=embed,
        known_paths={str(f.path) for f, _ in embed if str(f.path) in known},
        moves=moves,
        renamed=renamed,
        removed=sorted(missing),
        unchanged=len(found) - len(candidates) + len(moves) - renamed,  # touched files count as unchanged
    )


def _changed(known: KnownFile | None, f: FoundFile) -> bool:
    return known is None or known.size != f.size or known.mtime_ns != f.mtime_ns


def _safe_hash(path: Path) -> str | None:
    try:
        return content_hash(path)
    except OSError:
        return None  # reported when decoding fails
