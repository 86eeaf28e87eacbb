"""The Ray executor (`searchengine index FOLDER --engine ray`): an indexing run's decoding and
embedding as a Ray Data job.

The driver (ingest/run.py, in this process) does what only it can do: walk the folder, compare it
with the catalog, and commit. Ray runs the rest on any number of machines:
decoding as CPU tasks, embedding in a pool of actors that each hold the model once (one GPU per
actor where the cluster has GPUs), every chunk of files written as a shard file (vectors +
segment records, Parquet) in `<index>/shards/`. The driver commits the shards to the catalog and
the vector index in the order of the plan, so the catalog is the one the in-process pipeline
builds, then deletes them.

Resumable: a run that is killed leaves the shards it had not committed; the next run commits
those whose files have not changed since, and embeds only the rest. Nothing is embedded twice.

Where Ray runs: `--address` (or RAY_ADDRESS) names a cluster (`auto`, `ray://head:10001`); without
one Ray starts here, in process, with this machine's cores. On a cluster every node needs
searchengine installed (`pip install 'searchengine[scale]'`) and the folder to index, the index
folder and the model cache on storage all nodes see at the same paths (the actors write shards
into the index folder). A large IVF-PQ index is also encoded in shards on Ray tasks and merged.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from searchengine.distributed import require_ray
from searchengine.distributed.shards import SHARDS, read_shard
from searchengine.distributed.stages import EmbedShards, decode_chunk
from searchengine.ingest.executor import Work
from searchengine.ingest.summary import RunSummary
from searchengine.store.records import ItemDraft

log = logging.getLogger(__name__)

# Environment the Ray workers need to find the same models and state as the driver.
PASSED_ENV = ("SEARCHENGINE_HOME", "SEARCHENGINE_BACKEND", "HF_HOME", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
# Ray CPUs a decode task asks for: two a core. Like the in-process decode threads (each task runs
# --workers of them), decoding shares the cores with inference: it waits on the disk meanwhile.
DECODE_CPUS = 0.5
THREADS_PER_ACTOR = 4  # CPU-only clusters: one embedding actor per this many cores


@dataclass
class RaySummary(RunSummary):
    engine: str = "ray"
    resumed: int = 0  # files committed from the shards of an earlier, interrupted run
    chunks: int = 0  # chunks of files sent to Ray in this run
    actors: int = 0


class RayExecutor:
    """Decode on Ray tasks, embed on Ray actors (shards in the index folder), hand the drafts back in
    plan order; a run killed half-way leaves shards the next one commits instead of embedding again.
    `address`: the cluster (None: $RAY_ADDRESS, else Ray started here); `actors`: embedding actors
    (None: one a GPU, else one per THREADS_PER_ACTOR cores)."""

    summary_type = RaySummary

    def __init__(self, address: str | None = None, actors: int | None = None):
        self.ray = require_ray()
        self.cluster = _Cluster(self.ray, address)
        self.actors = actors

    def driver_device(self, device: str) -> str:
        return "cpu"  # the driver's encoder gives its id, size and calibration; the actors embed

    @property
    def map_shards(self) -> Callable:
        return self.cluster.map  # a large IVF-PQ is encoded in shards on Ray tasks

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc) -> None:
        self.cluster.close()

    def drafts(self, work: Work) -> Iterator[list[ItemDraft]]:
        for drafts in self._chunks(work):
            yield drafts
            work.progress.advance(len(drafts))  # once the driver committed them

    def _chunks(self, work: Work) -> Iterator[list[ItemDraft]]:
        remaining = yield from _resume(work)
        if remaining:
            self.cluster.connect()
            yield from _embed_on_ray(self.ray, work, remaining, self.actors)


class _Cluster:
    """Ray, connected on first use; shut down at the end if this run started it."""

    def __init__(self, ray, address: str | None):
        self.ray, self.address, self.started = ray, address, False

    def connect(self) -> None:
        self.started = connect(self.ray, self.address) or self.started

    def map(self, fn: Callable, args: Iterable[tuple]) -> Iterator:
        self.connect()
        return ray_map(fn, args)

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()
            self.started = False


def connect(ray, address: str | None) -> bool:
    """Join the cluster at `address` / RAY_ADDRESS, or start Ray here. True when this call started it."""
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address == "local":
        address = None
    logging.getLogger("ray._private.authentication").setLevel(logging.ERROR)  # "token auth is enabled" notes
    ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    return True


def _quiet_ray_data() -> None:
    """Our progress bar reports the run; Ray Data's would write over it on stderr."""
    from ray.data import DataContext

    context = DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # not even "progress bars disabled"


def _worker_env() -> dict:
    return {name: os.environ[name] for name in PASSED_ENV if name in os.environ}


def _embed_on_ray(ray, work: Work, remaining: list, actors: int | None) -> Iterator[list[ItemDraft]]:
    """Decode on Ray tasks, embed on Ray actors, hand the shards' drafts back in plan order."""
    import ray.data

    _quiet_ray_data()
    settings, summary = work.settings, work.summary
    shards_dir = work.index.folder / SHARDS
    chunks = [remaining[i : i + settings.commit_every] for i in range(0, len(remaining), settings.commit_every)]
    pool, threads, gpus = _actor_pool(ray, settings.device, actors)
    summary.chunks, summary.actors = len(chunks), pool
    rows = [{"position": i, "files": pickle.dumps(chunk)} for i, chunk in enumerate(chunks)]
    data = ray.data.from_items(rows, override_num_blocks=len(rows))
    data = data.map_batches(
        decode_chunk,
        batch_size=1,
        num_cpus=DECODE_CPUS,
        **_task_pool(ray, _decode_tasks(ray, pool, gpus)),
        fn_kwargs={
            "model": work.model,
            "backend": settings.backend,
            "asr_model": settings.asr_model,
            "language": settings.language,
            "cache": str(work.cache_dir),
            "threads": settings.workers,
            "env": _worker_env(),
            "ocr": settings.ocr,
            "ocr_video": settings.ocr and settings.ocr_video,
        },
    )
    # max_restarts is passed as Ray Data's own code says to, a way it also calls deprecated
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated")
        data = data.map_batches(
            EmbedShards,
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=pool),
            # a lost actor fails the run, whose shards the next run resumes from (Ray's core would otherwise
            # warn on stderr that restarting an actor whose arguments are in its object store may fail)
            max_restarts=0,
            num_cpus=1,
            num_gpus=gpus,
            fn_constructor_kwargs={
                "model": work.model,
                "device": "cuda" if gpus else "cpu",
                "backend": settings.backend,
                "batch_size": settings.batch_size,
                "shards_dir": str(shards_dir),
                "cache": str(work.cache_dir),
                "threads": threads,
                "env": _worker_env(),
            },
        )
    waiting: dict[int, str] = {}
    next_position = 0
    for position, shard_name in _finished_shards(data):
        waiting[position] = shard_name
        while next_position in waiting:  # in plan order: the in-process pipeline's segment ids
            shard = shards_dir / waiting.pop(next_position)
            _, drafts = read_shard(shard)
            yield drafts  # committed by the driver before the next is asked for
            shard.unlink()
            next_position += 1
    with contextlib.suppress(OSError):
        shards_dir.rmdir()  # empty now


def _finished_shards(data) -> Iterator[tuple[int, str]]:
    """(chunk position, shard file name) as each actor call returns. Taken block by block with
    no prefetch: `iter_rows` holds every row back until the next block arrives, so each commit
    (and the progress bar) would trail by one chunk."""
    for batch in data.iter_batches(batch_size=None, prefetch_batches=0, batch_format="numpy"):
        for position, name in zip(batch["position"], batch["shard"]):
            yield int(position), str(name)


def _decode_tasks(ray, actors: int, gpus: float) -> int:
    """Decode tasks at a time: one a CPU the embedding actors leave (Ray would otherwise fill
    every CPU with decoding first and start the actors only when some finished). Each task
    decodes with --workers threads, so one a core keeps up with the model; every further one is
    a worker process to start (~2 s of a core: Python, Ray Data, the decoders) for nothing."""
    cpus = int(ray.cluster_resources().get("CPU", 1))
    return max(1, cpus - actors)


def _task_pool(ray, size: int) -> dict:
    try:
        return {"compute": ray.data.TaskPoolStrategy(size=size)}
    except (AttributeError, TypeError):  # Ray Data before TaskPoolStrategy(size=…)
        return {"concurrency": size}


def _actor_pool(ray, device: str, actors: int | None) -> tuple[int, int, float]:
    """(number of embedding actors, threads each, GPUs each)."""
    resources = ray.cluster_resources()
    cpus, gpus = int(resources.get("CPU", 1)), int(resources.get("GPU", 0))
    if device == "cpu":
        gpus = 0
    if gpus:
        return actors or gpus, max(1, cpus // (actors or gpus)), 1.0
    pool = actors or max(1, cpus // THREADS_PER_ACTOR)
    largest_node = max((int(n["Resources"].get("CPU", 1)) for n in ray.nodes() if n.get("Alive")), default=cpus)
    return pool, max(1, min(largest_node, cpus // pool)), 0.0


def _resume(work: Work) -> Iterator[list[ItemDraft]]:
    """The drafts an interrupted run left in shards that still hold (chunks, in plan order); returns
    the plan entries left to embed."""
    settings, summary = work.settings, work.summary
    shards_dir = work.index.folder / SHARDS
    files = sorted(shards_dir.glob("*.parquet")) if shards_dir.is_dir() else []
    for tmp in shards_dir.glob(".*.tmp") if shards_dir.is_dir() else []:
        tmp.unlink(missing_ok=True)  # a shard an actor was writing when the run stopped
    if not files:
        return list(work.files)
    order = {str(f.path): i for i, (f, _) in enumerate(work.files)}
    wanted = {str(f.path): (f.size, f.mtime_ns, digest) for f, digest in work.files}
    usable: dict[str, ItemDraft] = {}
    for shard in files:
        try:
            shard_encoder, drafts = read_shard(shard)
        except Exception as exc:  # a damaged shard is only lost work: embed its files again
            log.warning("ignoring unreadable shard %s: %s", shard.name, exc)
            continue
        if shard_encoder != work.encoder.id:
            continue
        for draft in drafts:
            if wanted.get(draft.path) == (draft.size, draft.mtime_ns, draft.content_hash):
                usable[draft.path] = draft
    resumed = sorted(usable.values(), key=lambda d: order[d.path])
    for start in range(0, len(resumed), settings.commit_every):
        yield resumed[start : start + settings.commit_every]
    summary.resumed = len(resumed)
    for shard in files:  # committed, or stale (their files changed or are indexed already)
        shard.unlink(missing_ok=True)
    if resumed:
        log.info("resumed %d files from %d shards of an interrupted run", len(resumed), len(files))
    return [(f, digest) for f, digest in work.files if str(f.path) not in usable]


def ray_map(fn: Callable, args: Iterable[tuple], in_flight: int | None = None) -> Iterator:
    """fn(*a) for each a on Ray tasks, results in order, at most `in_flight` outstanding. Large
    bytes arguments (a trained index) go to the object store once and are shared by every task."""
    ray = require_ray()
    remote = ray.remote(fn)
    in_flight = in_flight or max(2, int(ray.cluster_resources().get("CPU", 2)))
    stored: dict[int, tuple[bytes, object]] = {}

    def shared(value):
        if isinstance(value, bytes) and len(value) > 1 << 20:
            if id(value) not in stored:
                stored[id(value)] = (value, ray.put(value))
            return stored[id(value)][1]
        return value

    pending = []
    for a in args:
        pending.append(remote.remote(*[shared(v) for v in a]))
        if len(pending) >= in_flight:
            yield ray.get(pending.pop(0))
    for ref in pending:
        yield ray.get(ref)
