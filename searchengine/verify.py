"""verify: do the catalog, the vector index, the manifest and the files on disk agree?
repair: make them agree again without starting from scratch, and say what was done.

The catalog holds every vector, so a missing, stale or damaged vector file is rebuilt from it. A
lost or unreadable manifest is rewritten from the catalog, whose runs record the model that
embedded its vectors. A damaged catalog is salvaged table by table, rowid range by rowid range,
into a new one, the old file kept aside; a missing or unsalvageable catalog is rebuilt by
re-indexing the folders the manifest lists. (SQLite's `.recover`, which also reads rows under a
damaged interior page, needs the sqlite_dbpage table: neither Python's sqlite3 nor Debian's
sqlite3 command is built with it.) Files whose stored vectors are damaged or lost are dropped and, like files changed on disk,
embedded again from the recorded folders. Files under a folder that cannot be reached now (an
unmounted drive) are kept.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from searchengine.calibration import CALIBRATION, OLD_FILES, Calibration
from searchengine.encoders.base import Encoder
from searchengine.errors import IndexFormatError, IndexNotFound, ManifestMissing, SearchEngineError
from searchengine.ingest.run import sync_folder
from searchengine.ingest.settings import IngestSettings
from searchengine.paths import printable
from searchengine.store.folder import CATALOG, MANIFEST, VECTORS, IndexFolder, exists, writable_index_folder
from searchengine.store.manifest import Manifest, encoder_name
from searchengine.store.reader import CatalogOutdated, CatalogReader, connect, missing
from searchengine.vectors.factory import load_index

TABLES = ("meta", "items", "runs", "errors", "skipped", "segments")  # parents before children


@dataclass
class Report:
    index: str
    problems: list[str] = field(default_factory=list)  # inconsistencies inside the index folder
    missing_files: list[str] = field(default_factory=list)  # indexed, gone from disk
    changed_files: list[str] = field(default_factory=list)  # indexed, changed on disk since
    unreachable_roots: list[str] = field(default_factory=list)  # indexed folders not there now: not checked
    repaired: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Everything agrees: no damage, and every indexed file is on disk as indexed."""
        return not (self.problems or self.missing_files or self.changed_files)

    def as_dict(self) -> dict:
        data = asdict(self)
        for key in ("missing_files", "changed_files", "unreachable_roots"):
            data[key] = [printable(p) for p in data[key]]
        return {**data, "ok": self.ok}


# --- verify -------------------------------------------------------------------------------------------
def verify(index_dir: Path) -> Report:
    folder = Path(index_dir).expanduser().resolve()
    report = Report(printable(str(folder)))
    if not exists(folder) and not (folder / CATALOG).is_file():
        raise IndexNotFound(f"no index at {printable(str(folder))}")
    manifest = _check_manifest(folder, report)
    if not (folder / CATALOG).is_file():
        report.problems.append(str(missing(folder / CATALOG)))
        return report
    try:
        catalog = CatalogReader(folder / CATALOG)
    except IndexFormatError as exc:
        report.problems.append(str(exc))
        return report
    try:
        _check_catalog(catalog, manifest, folder, report)
    except (IndexFormatError, sqlite3.DatabaseError) as exc:
        report.problems.append(f"catalog: {exc}")
    finally:
        catalog.close()
    return report


def _check_manifest(folder: Path, report: Report) -> Manifest | None:
    if not exists(folder):
        report.problems.append(f"{printable(str(folder / MANIFEST))} is missing: repair rewrites it from the catalog")
        return None
    try:
        return Manifest.read(folder)
    except IndexFormatError as exc:
        report.problems.append(str(exc))
        return None


def _check_catalog(catalog, manifest: Manifest | None, folder: Path, report: Report) -> None:
    report.problems += [f"catalog: {p}" for p in catalog.integrity_problems()]
    if any(p.startswith("catalog") for p in report.problems):
        return  # reading on would only fail, or read damaged rows
    runs = catalog.recorded_runs()
    if manifest is None:
        return
    if runs and runs[0][1] != manifest.encoder_id:
        report.problems.append(
            f"the manifest says {manifest.encoder_id} but the catalog's vectors were made by {runs[0][1]}"
        )
    bad = catalog.bad_vector_items(manifest.dim)
    if bad:
        report.problems.append(f"{len(bad)} files have damaged stored vectors")
    _check_vectors(IndexFolder(folder, manifest, catalog, writable=False), report)
    counts = catalog.counts()
    if manifest.counts and manifest.counts.get("segments") != counts["segments"]:
        report.problems.append("manifest counts differ from the catalog")
    if _damaged_calibration(folder):
        report.problems.append(f"{CALIBRATION} is unreadable (the next search recomputes it)")
    report.problems += [f"{p}: repair rebuilds it" for p in catalog.word_index_problems()]
    _check_files(catalog, manifest, report)


def _damaged_calibration(folder: Path) -> bool:
    """A calibration file that cannot be read; one of an earlier format (kept from before an
    upgrade) is not damage: the next search computes it again."""
    return (
        (folder / CALIBRATION).is_file() and Calibration.read(folder) is None and not Calibration.older_format(folder)
    )


def _check_vectors(index: IndexFolder, report: Report) -> None:
    manifest, path = index.manifest, index.folder / VECTORS
    generation = index.catalog.generation()
    if not path.is_file():
        report.problems.append(f"vector file {path.name} is missing")
        return
    if manifest.vectors_generation != generation:
        report.problems.append(
            f"vector file is stale (catalog generation {generation}, vectors {manifest.vectors_generation})"
        )
        return
    try:
        index.check_vector_file(full=True)
        held = load_index(path, manifest.index_type, manifest.dim, manifest.index_params).ids()
    except SearchEngineError as exc:
        report.problems.append(str(exc))
        return
    expected = index.catalog.segment_ids()
    if not np.array_equal(held, expected):
        extra, lost = np.setdiff1d(held, expected).size, np.setdiff1d(expected, held).size
        report.problems.append(f"vector file disagrees with the catalog ({extra} extra, {lost} missing ids)")


def _check_files(catalog, manifest: Manifest, report: Report) -> None:
    reachable, unreachable = _roots(manifest)
    report.unreachable_roots = unreachable
    for path, known in sorted(catalog.all_files().items()):
        if any(_under(path, root) for root in unreachable):
            continue
        try:
            st = os.stat(path)
        except OSError:
            report.missing_files.append(path)
            continue
        if st.st_size != known.size or st.st_mtime_ns != known.mtime_ns:
            report.changed_files.append(path)


def _roots(manifest: Manifest) -> tuple[list[str], list[str]]:
    """The indexed folders that are there now, and those that are not (an unmounted drive)."""
    reachable = [r for r in manifest.roots if os.path.isdir(r)]
    return reachable, [r for r in manifest.roots if r not in reachable]


def _under(path: str, root: str) -> bool:
    return path.startswith(root.rstrip(os.sep) + os.sep)


# --- repair -------------------------------------------------------------------------------------------
def repair(index_dir: Path, encoder: Encoder | None = None, *, cache_dir: Path) -> Report:
    """Make the index consistent again; returns what was found and done (verify's report after it).
    `encoder` (the index's) is used when files must be embedded again; loaded when needed otherwise
    (`cache_dir`: the model cache)."""
    folder = writable_index_folder(index_dir)
    done: list[str] = []
    _upgrade_schema(folder, done)
    before = verify(folder)
    if not (folder / CATALOG).is_file():
        return _rebuild_from_sources(folder, _manifest_or_none(folder), done, encoder, cache_dir)
    if _catalog_damaged(before):
        try:
            _salvage_catalog(folder, done)
        except IndexFormatError as exc:
            done.append(str(exc))
            return _rebuild_from_sources(folder, _manifest_or_none(folder), done, encoder, cache_dir)
    manifest = _manifest_or_none(folder)
    if manifest is None:
        manifest = _manifest_from_catalog(folder)
        done.append(f"rewrote {MANIFEST} from the catalog (vectors made by {manifest.encoder_id})")
    changed = _fix_catalog_and_vectors(folder, manifest, done)
    salvaged = any(line.startswith("salvaged") for line in done)
    if changed or salvaged:
        _reindex(folder, manifest, done, encoder, cache_dir)
    after = verify(folder)
    after.repaired = done
    return after


def _upgrade_schema(folder: Path, done: list[str]) -> None:
    """A catalog of an older schema is migrated first (anything else wrong with it, verify reports)."""
    try:
        CatalogReader(folder / CATALOG).close()
    except CatalogOutdated as exc:
        IndexFolder.upgrade(folder)
        done.append(f"upgraded the catalog from schema version {exc.version}")
    except IndexFormatError:
        pass


def _manifest_or_none(folder: Path) -> Manifest | None:
    try:
        return Manifest.read(folder) if exists(folder) else None
    except ManifestMissing:
        return None


def _catalog_damaged(report: Report) -> bool:
    return any(p.startswith("catalog") and "missing" not in p for p in report.problems)


def _fix_catalog_and_vectors(folder: Path, manifest: Manifest, done: list[str]) -> list[str]:
    """Drop damaged and vanished files, rebuild the vector file, write the manifest. Returns the
    files changed on disk since they were indexed (re-indexing embeds them again)."""
    with IndexFolder.open_to_repair(folder, manifest) as index:
        run_id = index.catalog.start_run(folder, manifest.encoder_id)
        reachable, unreachable = _roots(manifest)
        gone, changed = [], []
        for path, known in index.catalog.all_files().items():
            if any(_under(path, root) for root in unreachable):
                continue
            try:
                st = os.stat(path)
            except OSError:
                gone.append(path)
                continue
            if st.st_size != known.size or st.st_mtime_ns != known.mtime_ns:
                changed.append(path)
        damaged = index.catalog.bad_vector_items(manifest.dim)
        dropped = sorted(set(damaged) | set(gone))
        index.rebuild_vectors()  # from the catalog, whatever the file said
        index.catalog.rebuild_words()
        if dropped:
            index.commit(run_id, [], dropped)
            done.append(f"dropped {len(gone)} files gone from disk and {len(damaged)} with damaged vectors")
        if unreachable:
            done.append(f"kept the files under {', '.join(map(printable, unreachable))}: not reachable now")
        index.save()
        index.catalog.finish_run(run_id, {"removed": len(dropped)})
        done.append("rebuilt the vector file and the word index from the catalog")
    if _damaged_calibration(folder):
        (folder / CALIBRATION).unlink()
        done.append(f"removed an unreadable {CALIBRATION} (the next search recomputes it)")
    return changed + damaged


def _reindex(folder: Path, manifest: Manifest, done: list[str], encoder: Encoder | None, cache_dir: Path) -> None:
    """Embed again what the catalog lost or what changed, from the folders the index records."""
    reachable, _ = _roots(manifest)
    settings = IngestSettings(
        model=encoder_name(manifest), index_type=manifest.index_type_requested, max_memory=manifest.max_memory
    )
    for root in reachable:
        summary = sync_folder(Path(root), folder, settings, encoder=encoder, cache_dir=cache_dir)
        done.append(
            f"re-indexed {printable(root)}: {summary.added} added, {summary.updated} updated, {summary.failed} failed"
        )


def _rebuild_from_sources(
    folder: Path, manifest: Manifest | None, done: list[str], encoder: Encoder | None, cache_dir: Path
) -> Report:
    """No usable catalog: set it aside and re-index the folders the manifest lists."""
    if manifest is None:
        raise IndexFormatError(
            "index {folder} has neither a usable catalog nor a manifest: re-index into a new {-index} folder",
            folder=printable(str(folder)),
        )
    roots = [Path(r) for r in _roots(manifest)[0]]
    if not roots:
        raise IndexFormatError(
            "catalog {catalog} is lost and none of the indexed folders ({roots}) can be reached: re-index into a new "
            "{-index} folder",
            catalog=printable(str(folder / CATALOG)),
            roots=", ".join(map(printable, manifest.roots)) or "none recorded",
        )
    if (folder / CATALOG).is_file():
        os.replace(folder / CATALOG, folder / (CATALOG + ".damaged"))
        done.append(f"kept the unusable catalog as {CATALOG}.damaged")
    for name in (CATALOG + "-wal", CATALOG + "-shm", VECTORS, CALIBRATION, *OLD_FILES, MANIFEST):
        (folder / name).unlink(missing_ok=True)  # the manifest is written anew by the first run below
    settings = IngestSettings(
        model=encoder_name(manifest), index_type=manifest.index_type_requested, max_memory=manifest.max_memory
    )
    for root in roots:
        summary = sync_folder(root, folder, settings, encoder=encoder, cache_dir=cache_dir)
        done.append(
            f"catalog was lost: re-indexed {printable(str(root))} ({summary.added} files, {summary.failed} failed)"
        )
    after = verify(folder)
    after.repaired = done
    return after


def _manifest_from_catalog(folder: Path) -> Manifest:
    """A manifest for a catalog that lost its own: the model from the runs that embedded its vectors,
    the dimension from the vectors, the indexed folders from the runs."""
    catalog = CatalogReader(folder / CATALOG)
    try:
        runs = catalog.recorded_runs()
        dim = catalog.stored_dim()
    finally:
        catalog.close()
    models = [model for _, model in runs]
    if not models or dim is None:
        raise IndexFormatError(
            "the catalog of {folder} records no run with vectors: re-index into a new {-index} folder",
            folder=printable(str(folder)),
        )
    roots = list(dict.fromkeys(root for root, _ in reversed(runs) if Path(root) != folder))
    return Manifest(model=models[0], encoder_id=models[0], dim=dim, index_type="flat", roots=roots)


# --- salvaging a damaged catalog --------------------------------------------------------------------
def _salvage_catalog(folder: Path, done: list[str]) -> None:
    """Copy every row SQLite can still read into a fresh catalog, keeping the damaged file aside.

    Rows are read in rowid ranges, halving a range that fails until single unreadable rows are
    skipped. Files that lost rows are dropped so re-indexing embeds them again; IndexFormatError
    when not even the list of tables can be read.
    """
    from searchengine.store.catalog import Catalog

    path = folder / CATALOG
    salvaged = folder / (CATALOG + ".salvaged")
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{salvaged}{suffix}").unlink(missing_ok=True)
    held_ids = _vector_file_ids(folder)
    try:
        source = connect(path, read_only=True)
        tables = {r[0] for r in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise IndexFormatError(f"catalog {printable(str(path))} is damaged beyond salvage ({exc})") from exc
    if "items" not in tables:
        source.close()
        raise IndexFormatError(f"catalog {printable(str(path))} is damaged beyond salvage (no table of files left)")
    Catalog(salvaged).close()
    target = connect(salvaged, read_only=False)
    target.execute("PRAGMA foreign_keys = OFF")
    columns = {t: [r[1] for r in target.execute(f"PRAGMA table_info({t})")] for t in TABLES}
    copied = 0
    for table in TABLES:
        if table not in tables:
            continue
        names = ", ".join(columns[table])
        for rows in _readable_rows(source, table, names):
            target.executemany(
                f"INSERT OR IGNORE INTO {table} ({names}) VALUES ({','.join('?' * len(columns[table]))})", rows
            )
            copied += len(rows)
    dropped = _drop_incomplete_items(target, held_ids)
    generation = _manifest_generation(folder) + 1  # past anything derived from the old catalog
    target.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('generation', ?)", (str(generation),))
    target.commit()
    target.close()
    source.close()
    os.replace(path, folder / (CATALOG + ".damaged"))
    for suffix in ("-wal", "-shm"):
        (folder / (CATALOG + suffix)).unlink(missing_ok=True)
    os.replace(salvaged, path)
    done.append(
        f"salvaged {copied} readable rows into a new catalog; {dropped} files lost some of theirs and "
        f"are embedded again, like files whose rows were lost whole (the old file is kept as {CATALOG}.damaged)"
    )


def _readable_rows(con, table: str, names: str, chunk: int = 256, budget: int = 20_000):
    """Batches of the rows of a table that can still be read, whatever pages are damaged.

    Reads forward in chunks. Where a chunk fails: a row that can still be located is read alone
    (or counted lost); where not even that works (a damaged interior page), it looks further ahead
    in doubling steps for the next row it can locate, and searches the skipped span by halving it
    for rows still readable. At most `budget` failing reads are spent on one table.
    """
    cursor = -(1 << 63)
    failures = 0
    while failures < budget:
        try:
            rows = con.execute(
                f"SELECT rowid, {names} FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?", (cursor, chunk)
            ).fetchall()
        except sqlite3.DatabaseError:
            failures += 1
        else:
            if rows:
                yield [r[1:] for r in rows]
                cursor = rows[-1][0]
            if len(rows) < chunk:
                return
            continue
        located = _first_rowid(con, table, cursor + 1)
        if located is not None:
            one = _row(con, table, names, located)
            yield [one] if one is not None else []
            failures += one is None
            cursor = located
            continue
        probe, located = _locate_ahead(con, table, cursor)
        found, spent = _search_span(con, table, names, cursor + 1, probe - 1, budget - failures)
        failures += spent + 1
        yield found
        if located is None:
            return
        cursor = located - 1


def _first_rowid(con, table: str, low: int) -> int | None:
    try:
        row = con.execute(f"SELECT rowid FROM {table} WHERE rowid >= ? ORDER BY rowid LIMIT 1", (low,)).fetchone()
    except sqlite3.DatabaseError:
        return None
    return None if row is None else row[0]


def _row(con, table: str, names: str, rowid: int):
    try:
        return con.execute(f"SELECT {names} FROM {table} WHERE rowid = ?", (rowid,)).fetchone()
    except sqlite3.DatabaseError:
        return None


def _locate_ahead(con, table: str, cursor: int) -> tuple[int, int | None]:
    """(probe, first rowid at or past it) for the first probe cursor + 2^i where a seek succeeds;
    (probe, None) when none does or no row lies beyond."""
    step = 1
    while step < 1 << 62:
        try:
            row = con.execute(
                f"SELECT rowid FROM {table} WHERE rowid >= ? ORDER BY rowid LIMIT 1", (cursor + step,)
            ).fetchone()
            return cursor + step, (None if row is None else row[0])
        except sqlite3.DatabaseError:
            step *= 2
    return cursor + step, None


def _search_span(con, table: str, names: str, low: int, high: int, budget: int) -> tuple[list, int]:
    """(readable rows, failed reads) in rowids low..high, by halving."""
    found: list = []
    spent = 0
    stack = [(low, high)] if low <= high else []
    while stack and spent < budget:
        a, b = stack.pop()
        try:
            found += con.execute(f"SELECT {names} FROM {table} WHERE rowid BETWEEN ? AND ?", (a, b)).fetchall()
        except sqlite3.DatabaseError:
            spent += 1
            if a < b:
                middle = (a + b) // 2
                stack += [(middle + 1, b), (a, middle)]
    return found, spent


def _drop_incomplete_items(con, held_ids: np.ndarray | None) -> int:
    """Delete files that lost rows: segments without their file, files without (all) their segments.
    A file lost a segment when its ordinals have a gap, or when the old vector file holds an id
    the salvaged catalog lacks next to that file's segments (segment ids run in order within a file)."""
    con.execute("DELETE FROM segments WHERE item_id NOT IN (SELECT id FROM items)")
    suspects = {
        r[0]
        for r in con.execute("SELECT id FROM items WHERE status = 'ok' AND id NOT IN (SELECT item_id FROM segments)")
    }
    suspects |= {
        r[0]
        for r in con.execute(
            "SELECT item_id FROM segments GROUP BY item_id HAVING max(ordinal) + 1 != count(*) OR min(ordinal) != 0"
        )
    }
    if held_ids is not None and len(held_ids):
        kept = np.array([r for r in con.execute("SELECT id, item_id FROM segments ORDER BY id")], dtype=np.int64)
        if len(kept):
            for lost_id in np.setdiff1d(held_ids, kept[:, 0]):
                at = int(np.searchsorted(kept[:, 0], lost_id))
                suspects |= {int(kept[i, 1]) for i in (at - 1, at) if 0 <= i < len(kept)}
    for item_id in suspects:
        con.execute("DELETE FROM segments WHERE item_id = ?", (item_id,))
        con.execute("DELETE FROM items WHERE id = ?", (item_id,))
    return len(suspects)


def _vector_file_ids(folder: Path) -> np.ndarray | None:
    """The segment ids the old vector file holds, if it can be read (to tell which files lost rows)."""
    try:
        manifest = Manifest.read(folder)
        return load_index(folder / VECTORS, manifest.index_type, manifest.dim, manifest.index_params).ids()
    except (SearchEngineError, OSError):
        return None


def _manifest_generation(folder: Path) -> int:
    try:
        return int(Manifest.read(folder).vectors_generation)
    except (SearchEngineError, OSError, TypeError, ValueError):
        return 0
