"""The indexing run, one driver for every executor: find files → plan against the catalog →
decode and embed (the executor) → commit chunk by chunk → save the vectors, the manifest and the
calibration.

`sync_folder` brings an index up to date with a folder (new, changed, renamed and removed files);
`add_files` adds or updates given files and touches nothing else; `remove_files` drops given
files (or everything under given folders). Unchanged files are never decoded; renamed and touched
files keep their vectors; a file that fails is recorded with its reason and the run goes on. The
encoder is loaded only when something must be embedded, so a run over an unchanged folder costs a
directory walk and a catalog lookup.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from searchengine.calibrate import refresh_calibration
from searchengine.encoders.base import Encoder
from searchengine.encoders.registry import load_encoder
from searchengine.ingest.executor import Executor, LocalExecutor, Work
from searchengine.ingest.plan import Plan, plan_files, plan_folder, plan_moves
from searchengine.ingest.progress import Progress, SilentProgress
from searchengine.ingest.settings import IngestSettings
from searchengine.ingest.summary import RunSummary
from searchengine.ingest.upgrades import model_to_load, upgrade_notice
from searchengine.media.discover import FoundFile, check_folder, discover, find_files
from searchengine.store.folder import IndexFolder, check_model, existing_manifest, writable_index_folder
from searchengine.store.manifest import Manifest
from searchengine.store.reader import CatalogReader

log = logging.getLogger(__name__)

Found = tuple[list[FoundFile], list[tuple[str, str]]]  # files, and (path, reason) of entries skipped


Loader = Callable[[str, str], Encoder]  # (model name, device) -> the encoder, loaded


def sync_folder(
    folder: Path,
    index_dir: Path,
    settings: IngestSettings = IngestSettings(),
    progress: Progress | None = None,
    encoder: Encoder | None = None,
    *,
    cache_dir: Path,
    executor: Executor | None = None,
    loader: Loader | None = None,
) -> RunSummary:
    """Bring the index at `index_dir` up to date with `folder`. Returns what changed.

    cache_dir: the model cache; encoder: the index's encoder when already loaded, else `loader`
    loads it when something must be embedded (default: the registry, with the settings' backend);
    executor: how files are decoded and embedded (default: threads in this process)."""
    root = check_folder(folder)

    def find(manifest: Manifest | None) -> Found:
        skipped: list[tuple[str, str]] = []
        found = list(
            discover(
                root,
                exclude=settings.exclude,
                skipped=skipped,
                other_roots=manifest.roots if manifest else (),
                follow_outside_links=settings.follow_outside_links,
            )
        )
        return found, skipped

    return _run(
        index_dir,
        settings,
        find,
        lambda catalog, found: plan_folder(catalog, root, found, settings.workers),
        progress,
        encoder,
        cache_dir,
        executor,
        loader,
        root=root,
    )


def add_files(
    paths: Iterable[Path | str],
    index_dir: Path,
    settings: IngestSettings = IngestSettings(),
    progress: Progress | None = None,
    encoder: Encoder | None = None,
    *,
    cache_dir: Path,
    executor: Executor | None = None,
    loader: Loader | None = None,
) -> RunSummary:
    """Add the given files (and the files under given folders) to the index, or update them where
    they changed; nothing else in the index is touched. Their folders are not recorded as the
    index's own (a later sync of them, or a repair, does not follow from this)."""
    paths = list(paths)

    def find(manifest: Manifest | None) -> Found:
        skipped: list[tuple[str, str]] = []
        return list(find_files(paths, skipped, settings.exclude)), skipped

    return _run(
        index_dir,
        settings,
        find,
        lambda catalog, found: plan_files(catalog, found, settings.workers),
        progress,
        encoder,
        cache_dir,
        executor,
        loader,
        root=None,
    )


def apply_changes(
    changed: Iterable[Path | str],
    gone: Iterable[Path | str],
    index_dir: Path,
    settings: IngestSettings = IngestSettings(),
    progress: Progress | None = None,
    encoder: Encoder | None = None,
    *,
    cache_dir: Path,
    loader: Loader | None = None,
) -> RunSummary:
    """Apply what a watcher saw, in one run: `changed` files (and folders) are added or updated,
    `gone` paths (files, or folders: everything under them) that no longer exist are removed, and
    a file gone from one path and found under another keeps its vectors (renamed)."""
    changed = [Path(p).absolute() for p in changed if Path(p).exists()]
    gone_paths = [str(Path(p).absolute()) for p in gone if not Path(p).exists() and not Path(p).is_symlink()]

    def find(manifest: Manifest | None) -> Found:
        skipped: list[tuple[str, str]] = []
        return list(find_files(changed, skipped, settings.exclude)), skipped

    return _run(
        index_dir,
        settings,
        find,
        lambda catalog, found: plan_moves(catalog, found, gone_paths, settings.workers),
        progress,
        encoder,
        cache_dir,
        None,
        loader,
        root=None,
    )


def remove_files(paths: Iterable[Path | str], index_dir: Path) -> RunSummary:
    """Drop the given files, and every file under the given folders, from the index (what it does
    not hold is left alone). Nothing is embedded, so no encoder is loaded."""
    started = time.perf_counter()
    index_dir = writable_index_folder(index_dir)
    manifest = existing_manifest(index_dir)
    summary = RunSummary(index=str(index_dir), model=manifest.encoder_id if manifest else "")
    if manifest is None:
        return summary
    with IndexFolder.open_for_writing(index_dir, manifest.model, manifest.encoder_id, manifest.dim, "auto") as index:
        held = _held(index.catalog, [Path(p).expanduser().absolute() for p in paths])
        run_id = index.catalog.start_run(index.folder, manifest.encoder_id)
        if held:
            index.commit(run_id, [], held)
        index.save()
        summary.removed = len(held)
        summary.seconds = time.perf_counter() - started
        index.catalog.finish_run(run_id, summary.counts())
    return summary


def _held(catalog: CatalogReader, paths: list[Path]) -> list[str]:
    """The catalog's paths among `paths` and under those of them that name folders."""
    held = set(catalog.files_at([str(p) for p in paths]))
    for path in paths:
        held |= set(catalog.files_under(path))
    return sorted(held)


def prepare_index(index_dir: Path, settings: IngestSettings) -> tuple[Path, Manifest | None]:
    """(index folder, its manifest or None for a new index), refusing what cannot be indexed into
    before any time goes into loading a model: a read-only index, half an index (a lost catalog or
    manifest: repair), an index built with another model."""
    index_dir = writable_index_folder(index_dir)
    manifest = existing_manifest(index_dir)
    if manifest is not None:
        check_model(manifest, index_dir, model=settings.model)
    return index_dir, manifest


def _run(
    index_dir: Path,
    settings: IngestSettings,
    find: Callable[[Manifest | None], Found],
    make_plan: Callable[[CatalogReader, list[FoundFile]], Plan],
    progress: Progress | None,
    encoder: Encoder | None,
    cache_dir: Path,
    executor: Executor | None,
    loader: Loader | None,
    root: Path | None,
) -> RunSummary:
    executor = executor or LocalExecutor()
    progress = progress or SilentProgress()
    started = time.perf_counter()
    index_dir, manifest = prepare_index(index_dir, settings)
    # an existing index is extended with its own encoder, even after the default changed
    model = model_to_load(settings.model, manifest)

    def load() -> Encoder:
        device = executor.driver_device(settings.device)
        if loader is not None:
            return loader(model, device)
        return load_encoder(model, device, settings.backend, cache_dir=cache_dir)

    if encoder is None and (manifest is None or settings.model not in (manifest.model, manifest.encoder_id)):
        encoder = load()
    progress.start("scanning", 0)
    scanning = time.perf_counter()
    found, skipped = find(manifest)
    log.info("found %d files in %.1f s", len(found), time.perf_counter() - scanning)
    encoder_id = encoder.id if encoder else manifest.encoder_id
    dim = encoder.dim if encoder else manifest.dim
    summary = executor.summary_type(index=str(index_dir), model=encoder_id, skipped=len(skipped), skipped_files=skipped)
    notice = upgrade_notice(index_dir, manifest, settings.model, cache_dir)
    if notice:
        summary.notices.append(notice)

    with (
        IndexFolder.open_for_writing(
            index_dir, settings.model, encoder_id, dim, settings.index_type, settings.max_memory
        ) as index,
        executor,
    ):
        catalog = index.catalog
        plan = make_plan(catalog, found)
        run_id = catalog.start_run(root or index.folder, encoder_id)
        if root is not None:
            catalog.record_skipped(root, skipped)
        catalog.record_moves(plan.moves)
        summary.unchanged, summary.renamed = plan.unchanged, plan.renamed
        if plan.removed:
            index.commit(run_id, [], plan.removed)
            summary.removed = len(plan.removed)
        if plan.embed:
            if encoder is None:
                encoder = load()
                check_model(index.manifest, index.folder, encoder_id=encoder.id)
            progress.start("indexing", len(plan.embed))
            work = Work(plan.embed, index, encoder, model, settings, cache_dir, progress, summary)
            embedding = time.perf_counter()
            for drafts in executor.drafts(work):
                index.commit(run_id, drafts)
                for draft in drafts:
                    summary.count(draft, plan.known_paths, progress)
            log.info("decoded and embedded %d files in %.1f s", len(plan.embed), time.perf_counter() - embedding)
        if root is not None and str(root) not in index.manifest.roots:
            index.manifest.roots.append(str(root))
        index.save(map_shards=executor.map_shards)
        if encoder is not None:
            refresh_calibration(index, encoder, cache_dir)
        summary.seconds = time.perf_counter() - started
        catalog.finish_run(run_id, summary.counts())
    return summary
