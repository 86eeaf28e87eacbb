"""verify: do the catalog, the vector index, the manifest and the files on disk agree?
repair: fix what can be fixed without starting from scratch.

The catalog holds every vector, so a missing, stale or damaged vector file is rebuilt from it;
files whose stored vectors are damaged, or that left the disk, are dropped from the catalog so
the next `index` run embeds them again (or not at all).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from searchengine.calibration import CALIBRATION
from searchengine.errors import IndexFormatError, SearchEngineError
from searchengine.index_folder import CATALOG, VECTORS, IndexFolder
from searchengine.manifest import Manifest


@dataclass
class Report:
    index: str
    problems: list[str] = field(default_factory=list)  # inconsistencies inside the index folder
    missing_files: list[str] = field(default_factory=list)  # indexed, gone from disk
    changed_files: list[str] = field(default_factory=list)  # indexed, changed on disk since
    repaired: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


def verify(index_dir: Path) -> Report:
    folder = Path(index_dir).expanduser().resolve()
    report = Report(str(folder))
    try:
        index = IndexFolder.open(folder)
    except IndexFormatError as exc:
        report.problems.append(str(exc))
        return report
    with index:
        _check(index, report)
    return report


def _check(index: IndexFolder, report: Report) -> None:
    catalog, manifest = index.catalog, index.manifest
    report.problems += [f"catalog: {p}" for p in catalog.integrity_problems()]
    bad = catalog.bad_vector_items(manifest.dim)
    if bad:
        report.problems.append(f"{len(bad)} files have damaged stored vectors")
    vectors_path = index.folder / VECTORS
    generation = catalog.generation()
    if not vectors_path.is_file():
        report.problems.append(f"vector file {vectors_path.name} is missing")
    elif manifest.vectors_generation != generation:
        report.problems.append(
            f"vector file is stale (catalog generation {generation}, vectors {manifest.vectors_generation})")
    else:
        try:
            from searchengine.index.faiss_index import load_index

            held = load_index(vectors_path, manifest.index_type, manifest.dim, manifest.index_params).ids()
            expected = catalog.segment_ids()
            if not np.array_equal(held, expected):
                extra, lost = np.setdiff1d(held, expected).size, np.setdiff1d(expected, held).size
                report.problems.append(f"vector file disagrees with the catalog ({extra} extra, {lost} missing ids)")
        except SearchEngineError as exc:
            report.problems.append(str(exc))
    counts = catalog.counts()
    if manifest.counts and manifest.counts.get("segments") != counts["segments"]:
        report.problems.append("manifest counts differ from the catalog")
    for path, known in sorted(catalog.all_files().items()):
        try:
            st = os.stat(path)
        except OSError:
            report.missing_files.append(path)
            continue
        if st.st_size != known.size or st.st_mtime_ns != known.mtime_ns:
            report.changed_files.append(path)


def repair(index_dir: Path, model: str | None = None) -> Report:
    """Make the index consistent again; returns what was found and done."""
    folder = Path(index_dir).expanduser().resolve()
    before = verify(folder)
    manifest = Manifest.read(folder)
    if _catalog_damaged(before):
        try:
            _salvage_catalog(folder, before)
        except IndexFormatError:
            return _rebuild_from_sources(folder, manifest, before)
    with IndexFolder.open_for_writing(folder, manifest.model, manifest.encoder_id, manifest.dim,
                                      manifest.index_type_requested) as index:
        run_id = index.catalog.start_run(folder, manifest.encoder_id)
        dropped = sorted(set(index.catalog.bad_vector_items(manifest.dim)) | set(before.missing_files))
        index._vectors = index._rebuild(manifest.index_type)  # from the catalog, whatever the file said
        if dropped:
            index.commit(run_id, [], dropped)
            before.repaired.append(f"dropped {len(dropped)} files that are gone or damaged (re-index to embed them again)")
        index.save()
        index.catalog.finish_run(run_id, {"removed": len(dropped)})
        before.repaired.append("rebuilt the vector file from the catalog")
    after = verify(folder)
    after.repaired = before.repaired
    return after


def _rebuild_from_sources(folder: Path, manifest: Manifest, report: Report) -> Report:
    """The catalog is unreadable: set it aside and re-index the folders the manifest lists."""
    from searchengine.config import IngestSettings
    from searchengine.index_folder import encoder_name
    from searchengine.ingest import index_folder

    os.replace(folder / CATALOG, folder / (CATALOG + ".damaged"))
    for name in (CATALOG + "-wal", CATALOG + "-shm", VECTORS, CALIBRATION, "calibration.json"):
        (folder / name).unlink(missing_ok=True)
    roots = [Path(r) for r in manifest.roots if Path(r).is_dir()]
    if not roots:
        raise IndexFormatError(
            f"catalog {folder / CATALOG} is damaged beyond repair and no indexed folder is known: "
            "re-index into a new --index folder")
    model = encoder_name(manifest)
    for root in roots:
        index_folder(root, folder, IngestSettings(model=model, index_type=manifest.index_type_requested))
    after = verify(folder)
    after.repaired = report.repaired + [
        f"catalog was unreadable (kept as {CATALOG}.damaged): re-indexed {', '.join(map(str, roots))}"]
    return after


def _catalog_damaged(report: Report) -> bool:
    return any(p.startswith("catalog") for p in report.problems)


def _salvage_catalog(folder: Path, report: Report) -> None:
    """Copy every row SQLite can still read into a fresh catalog, keeping the damaged file aside.

    Rows are read in rowid ranges, halving a range that fails until single unreadable rows are
    skipped. Files that lose their segments this way are dropped so the next run re-embeds them.
    """
    import sqlite3

    from searchengine.store.catalog import Catalog

    path = folder / CATALOG
    salvaged = folder / (CATALOG + ".salvaged")
    copied = lost = 0
    try:
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        tables = [r[0] for r in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    except sqlite3.DatabaseError as exc:
        raise IndexFormatError(f"catalog {path} is damaged beyond repair ({exc}): re-index into a new --index folder") from exc
    for suffix in ("", "-wal", "-shm"):
        Path(f"{salvaged}{suffix}").unlink(missing_ok=True)
    Catalog(salvaged).close()
    target = sqlite3.connect(salvaged)
    target.execute("PRAGMA foreign_keys = OFF")
    for table in ("meta", "items", "runs", "errors", "segments"):
        if table not in tables:
            continue
        for rows, failed in _readable_rows(source, table):
            if rows:
                marks = ",".join("?" * len(rows[0]))
                target.executemany(f"INSERT OR IGNORE INTO {table} VALUES ({marks})", rows)
            copied += len(rows)
            lost += failed
    # segments of lost items, and items that lost their segments, go: the next run re-embeds the files
    target.execute("DELETE FROM segments WHERE item_id NOT IN (SELECT id FROM items)")
    target.execute("DELETE FROM items WHERE status = 'ok' AND id NOT IN (SELECT item_id FROM segments)")
    target.commit()
    target.close()
    source.close()
    os.replace(path, folder / (CATALOG + ".damaged"))
    for suffix in ("-wal", "-shm"):
        (folder / (CATALOG + suffix)).unlink(missing_ok=True)
    os.replace(salvaged, path)
    report.repaired.append(
        f"copied {copied} readable rows into a new catalog ({lost} unreadable rows lost; old file kept as {CATALOG}.damaged)")


def _readable_rows(con, table: str, chunk: int = 512):
    """(rows, number of unreadable rows) for successive rowid ranges of a table."""
    import sqlite3

    try:
        top = con.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0] or 0
    except sqlite3.DatabaseError:
        top = 1 << 22
    stack = [(start, min(start + chunk - 1, top)) for start in range(0, top + 1, chunk)]
    stack.reverse()
    while stack:
        low, high = stack.pop()
        try:
            yield con.execute(f"SELECT * FROM {table} WHERE rowid BETWEEN ? AND ?", (low, high)).fetchall(), 0
        except sqlite3.DatabaseError:
            if low == high:
                yield [], 1
                continue
            middle = (low + high) // 2
            stack += [(middle + 1, high), (low, middle)]
