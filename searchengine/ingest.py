"""The indexing pipeline: discover → diff against the catalog → decode (parallel) → embed (batched) → commit.

Decoding runs in a thread pool a bounded number of files ahead of the model; embedding runs in
batches on the calling thread; every chunk of files is committed to the catalog in one
transaction and applied to the vector index. Unchanged files are never decoded; renamed files
keep their vectors; a file that fails is recorded with its reason and the run goes on.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Protocol

from searchengine.config import IngestSettings
from searchengine.encoders.base import Encoder
from searchengine.encoders.registry import load_encoder
from searchengine.index_folder import IndexFolder, check_model, existing_manifest, writable_index_folder
from searchengine.manifest import Manifest
from searchengine.media.discover import FoundFile, check_folder, discover
from searchengine.paths import printable
from searchengine.media.hashing import content_hash
from searchengine.config import cache_dir
from searchengine.media.segments import DecodeContext
from searchengine.calibration import current_calibration
from searchengine.pipeline import DecodedFile, decode_file, embed_group, embedding_groups
from searchengine.store.catalog import Catalog, ItemDraft, KnownFile
from searchengine.upgrades import model_to_load, upgrade_notice

log = logging.getLogger(__name__)

DECODE_AHEAD_BYTES = 256 << 20  # prepared images held by decoded files waiting to be embedded


class Progress(Protocol):
    """What the pipeline reports; the CLI draws it as a progress bar."""

    def start(self, phase: str, total: int) -> None: ...

    def advance(self, n: int = 1) -> None: ...

    def failed(self, path: str, reason: str) -> None: ...

    def media(self, path: str, stage: str, done: float, total: float | None) -> None:
        """Seconds of a recording or video processed so far in a stage ("speech", "video")."""

    def media_done(self, path: str, stage: str) -> None:
        """That stage of that file has ended (finished or failed)."""


class SilentProgress:
    """Progress that reports nothing (library callers with no progress bar)."""

    def start(self, phase: str, total: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def failed(self, path: str, reason: str) -> None:
        pass

    def media(self, path: str, stage: str, done: float, total: float | None) -> None:
        pass

    def media_done(self, path: str, stage: str) -> None:
        pass


@dataclass
class RunSummary:
    index: str
    model: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    renamed: int = 0
    removed: int = 0
    failed: int = 0
    skipped: int = 0  # entries left out with a reason (dangling or outside links, FIFOs, unreadable folders)
    segments: int = 0
    seconds: float = 0.0
    errors: list[tuple[str, str]] = field(default_factory=list)
    skipped_files: list[tuple[str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # indexed in part, and why
    notices: list[str] = field(default_factory=list)  # one-time notes for the user (see upgrades.py)

    @property
    def embedded(self) -> int:
        return self.added + self.updated

    @property
    def items_per_second(self) -> float:
        return self.embedded / self.seconds if self.seconds else 0.0

    def count(self, draft: ItemDraft, known_paths: set[str], progress: Progress) -> None:
        """Account for one committed file."""
        if draft.error:
            self.failed += 1
            self.errors.append((draft.path, draft.error))
            progress.failed(draft.path, draft.error)
        elif draft.path in known_paths:
            self.updated += 1
        else:
            self.added += 1
        if draft.note:
            self.notes.append((draft.path, draft.note))
        self.segments += len(draft.segments)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["items_per_second"] = round(self.items_per_second, 2)
        for key, name in (("errors", "reason"), ("skipped_files", "reason"), ("notes", "note")):
            data[key] = [{"path": printable(p), name: printable(r)} for p, r in getattr(self, key)]
        return data


@dataclass
class Plan:
    """What a run must do, from comparing the folder with the catalog."""

    embed: list[tuple[FoundFile, str | None]]  # (file, content hash) to decode and embed
    known_paths: set[str]  # of those, the ones the catalog had before (updates)
    moves: list[tuple[int, str, int, int]]  # (item id, new path, size, mtime) keep vectors
    renamed: int
    removed: list[str]
    unchanged: int


def plan_changes(catalog: Catalog, root: Path, found: list[FoundFile], workers: int) -> Plan:
    known = catalog.files_under(root)
    candidates = [f for f in found if _changed(known.get(str(f.path)), f)]
    found_paths = {str(f.path) for f in found}
    missing = {path: k for path, k in known.items() if path not in found_paths}
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


def _decode_ahead(pool: ThreadPoolExecutor, work: list[tuple[FoundFile, str | None]], ctx: DecodeContext,
                  window: int, max_bytes: int = DECODE_AHEAD_BYTES, max_videos: int = 2) -> Iterator[DecodedFile]:
    """Decoded files in order, with at most `window` decoding ahead of the consumer.

    Memory stays bounded too: nothing more is submitted while the decoded files waiting hold over
    max_bytes of prepared images, nor a video while max_videos are still being decoded.
    """
    pending: deque[tuple[Future, bool]] = deque()  # (future, is a video)
    for file, digest in work:
        video = file.kind == "video"
        while pending and (len(pending) >= window or _waiting_bytes(pending) > max_bytes
                           or video and sum(v and not f.done() for f, v in pending) >= max_videos):
            yield pending.popleft()[0].result()
        pending.append((pool.submit(decode_file, file, digest, ctx), video))
    while pending:
        yield pending.popleft()[0].result()


def _waiting_bytes(pending: Iterable[tuple[Future, bool]]) -> int:
    return sum(future.result().held_bytes for future, _ in pending if future.done())


def _counted(items: Iterable[DecodedFile], progress: Progress) -> Iterator[DecodedFile]:
    """Each decoded file, counted as the embedding takes it: progress moves file by file, at most
    one embedding group ahead of the vectors."""
    for item in items:
        progress.advance(1)
        yield item


def prepare_run(folder: Path, index_dir: Path, settings: IngestSettings) -> tuple[Path, Path, Manifest | None]:
    """(folder, index folder, its manifest or None for a new index), refusing what cannot be
    indexed into before any time goes into loading a model: a read-only index, half an index (a
    lost catalog or manifest: repair), an index built with another model."""
    root = check_folder(folder)
    index_dir = writable_index_folder(index_dir)
    manifest = existing_manifest(index_dir)
    if manifest is not None:
        check_model(manifest, index_dir, model=settings.model)
    return root, index_dir, manifest


def scan(root: Path, manifest: Manifest | None, settings: IngestSettings) -> tuple[list[FoundFile], list[tuple[str, str]]]:
    """The files to index under root, and the entries skipped there with their reasons."""
    skipped: list[tuple[str, str]] = []
    found = list(discover(root, exclude=settings.exclude, skipped=skipped,
                          other_roots=manifest.roots if manifest else (),
                          follow_outside_links=settings.follow_outside_links))
    return found, skipped


def index_folder(folder: Path, index_dir: Path, settings: IngestSettings = IngestSettings(),
                 progress: Progress | None = None, encoder: Encoder | None = None) -> RunSummary:
    """Bring the index at `index_dir` up to date with `folder`. Returns what changed.

    The encoder is loaded only when something must be embedded, so a run over an unchanged
    folder costs a directory walk and a catalog lookup.
    """
    progress = progress or SilentProgress()
    started = time.perf_counter()
    root, index_dir, manifest = prepare_run(folder, index_dir, settings)
    # an existing index is extended with its own encoder, even after the default changed
    model = model_to_load(settings.model, manifest)
    if encoder is None and (manifest is None or settings.model not in (manifest.model, manifest.encoder_id)):
        encoder = load_encoder(model, settings.device, settings.backend)
    progress.start("scanning", 0)
    scanning = time.perf_counter()
    found, skipped = scan(root, manifest, settings)
    log.info("found %d files under %s in %.1f s", len(found), printable(str(root)), time.perf_counter() - scanning)
    encoder_id = encoder.id if encoder else manifest.encoder_id
    dim = encoder.dim if encoder else manifest.dim
    summary = RunSummary(index=str(index_dir), model=encoder_id, skipped=len(skipped), skipped_files=skipped)
    notice = upgrade_notice(index_dir, manifest, settings.model)
    if notice:
        summary.notices.append(notice)

    with IndexFolder.open_for_writing(index_dir, settings.model, encoder_id, dim, settings.index_type,
                                      settings.max_memory) as index:
        catalog = index.catalog
        plan = plan_changes(catalog, root, found, settings.workers)
        run_id = catalog.start_run(root, encoder_id)
        catalog.record_skipped(root, skipped)
        catalog.record_moves(plan.moves)
        summary.unchanged, summary.renamed = plan.unchanged, plan.renamed
        if plan.removed:
            index.commit(run_id, [], plan.removed)
            summary.removed = len(plan.removed)
        if plan.embed:
            if encoder is None:
                encoder = load_encoder(model, settings.device, settings.backend)
                check_model(index.manifest, index.folder, encoder_id=encoder.id)
            _embed_files(index, run_id, plan, encoder, settings, progress, summary)
        if str(root) not in index.manifest.roots:
            index.manifest.roots.append(str(root))
        index.save()
        if encoder is not None:
            current_calibration(index, encoder, write=True)
        summary.seconds = time.perf_counter() - started
        catalog.finish_run(run_id, {k: getattr(summary, k) for k in ("added", "updated", "unchanged", "renamed", "removed", "failed")})
    return summary


def _embed_files(index: IndexFolder, run_id: int, plan: Plan, encoder: Encoder, settings: IngestSettings,
                 progress: Progress, summary: RunSummary) -> None:
    """Decode ahead in worker threads, embed in batches, commit chunk by chunk."""
    progress.start("indexing", len(plan.embed))
    ctx = DecodeContext(encoder, asr_model=settings.asr_model, language=settings.language,
                        device=settings.device, cache_dir=cache_dir(), progress=progress)
    window = max(2 * settings.commit_every, 4 * settings.workers)
    started = time.perf_counter()
    with ThreadPoolExecutor(settings.workers, thread_name_prefix="decode") as pool:
        decoded = _counted(_decode_ahead(pool, plan.embed, ctx, window, max_videos=settings.workers), progress)
        embedded: list[ItemDraft] = []  # waiting to be committed: commit_every files at a time
        for group in embedding_groups(decoded, settings.batch_size, every=settings.commit_every):
            embedded += embed_group(encoder, group, settings.batch_size)
            if len(embedded) >= settings.commit_every:
                _commit(index, run_id, embedded, plan, summary, progress)
                embedded = []
        if embedded:
            _commit(index, run_id, embedded, plan, summary, progress)
    log.info("decoded and embedded %d files in %.1f s", len(plan.embed), time.perf_counter() - started)


def _commit(index: IndexFolder, run_id: int, drafts: list[ItemDraft], plan: Plan, summary: RunSummary,
            progress: Progress) -> None:
    index.commit(run_id, drafts)
    for draft in drafts:
        summary.count(draft, plan.known_paths, progress)
