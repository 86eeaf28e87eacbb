"""How a run's files are decoded and embedded: an executor turns the plan's files into drafts for
the catalog, chunk by chunk, in the order of the plan (so segment ids come out the same whichever
executor ran). The driver (run.py) commits each chunk as it comes.

`LocalExecutor` does it in this process: decoding in a thread pool a bounded number of files ahead
of the model, embedding in batches on the calling thread. The Ray executor (distributed/) runs the
same decode and embed functions on a cluster.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from searchengine.encoders.base import Encoder
from searchengine.ingest.decode import DecodedFile, decode_file
from searchengine.ingest.decoders import DecodeContext
from searchengine.ingest.embed import embed_group, embedding_groups
from searchengine.ingest.progress import Progress
from searchengine.ingest.settings import IngestSettings
from searchengine.ingest.summary import RunSummary
from searchengine.kinds import VIDEO
from searchengine.media.discover import FoundFile
from searchengine.store.records import ItemDraft

if TYPE_CHECKING:
    from searchengine.store.folder import IndexFolder

DECODE_AHEAD_BYTES = 256 << 20  # prepared images held by decoded files waiting to be embedded


@dataclass
class Work:
    """What a run hands its executor: the files to embed (in plan order) and everything about how."""

    files: list[tuple[FoundFile, str | None]]  # (file, content hash)
    index: IndexFolder  # being written (an executor may keep work in its folder)
    encoder: Encoder  # the driver's
    model: str  # the name that loads that encoder elsewhere
    settings: IngestSettings
    cache_dir: Path
    progress: Progress
    summary: RunSummary


class Executor(Protocol):
    """A way to decode and embed a run's files. Used as a context manager around the run."""

    summary_type: type[RunSummary]  # the summary it reports in (its own fields added)

    def driver_device(self, device: str) -> str:
        """Where the driver's own copy of the encoder runs (its id, size and calibration)."""

    def drafts(self, work: Work) -> Iterator[list[ItemDraft]]:
        """Chunks of drafts, in the order of work.files; work.progress advanced by one for each file
        as it is embedded (or taken from an earlier run's work)."""

    @property
    def map_shards(self) -> Callable | None:
        """How IVF-PQ shards are encoded when the vector index is rebuilt (None: in process)."""

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc) -> None: ...


class LocalExecutor:
    """Decode ahead in worker threads, embed in batches here, chunk by chunk."""

    summary_type = RunSummary
    map_shards = None

    def driver_device(self, device: str) -> str:
        return device

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def drafts(self, work: Work) -> Iterator[list[ItemDraft]]:
        settings = work.settings
        ctx = DecodeContext(
            work.encoder,
            asr_model=settings.asr_model,
            language=settings.language,
            device=settings.device,
            cache_dir=work.cache_dir,
            progress=work.progress,
            ocr=settings.ocr,
            ocr_video=settings.ocr and settings.ocr_video,
        )
        window = max(2 * settings.commit_every, 4 * settings.workers)
        with ThreadPoolExecutor(settings.workers, thread_name_prefix="decode") as pool:
            decoded = counted(decode_ahead(pool, work.files, ctx, window, max_videos=settings.workers), work.progress)
            embedded: list[ItemDraft] = []  # waiting to be committed: commit_every files at a time
            for group in embedding_groups(decoded, settings.batch_size, every=settings.commit_every):
                embedded += embed_group(work.encoder, group, settings.batch_size)
                if len(embedded) >= settings.commit_every:
                    yield embedded
                    embedded = []
            if embedded:
                yield embedded


def decode_ahead(
    pool: ThreadPoolExecutor,
    work: list[tuple[FoundFile, str | None]],
    ctx: DecodeContext,
    window: int,
    max_bytes: int = DECODE_AHEAD_BYTES,
    max_videos: int = 2,
) -> Iterator[DecodedFile]:
    """Decoded files in order, with at most `window` decoding ahead of the consumer.

    Memory stays bounded too: nothing more is submitted while the decoded files waiting hold over
    max_bytes of prepared images, nor a video while max_videos are still being decoded.
    """
    pending: deque[tuple[Future, bool]] = deque()  # (future, is a video)
    for file, digest in work:
        video = file.kind == VIDEO
        while pending and (
            len(pending) >= window
            or _waiting_bytes(pending) > max_bytes
            or video
            and sum(v and not f.done() for f, v in pending) >= max_videos
        ):
            yield pending.popleft()[0].result()
        pending.append((pool.submit(decode_file, file, digest, ctx), video))
    while pending:
        yield pending.popleft()[0].result()


def _waiting_bytes(pending: Iterable[tuple[Future, bool]]) -> int:
    return sum(future.result().held_bytes for future, _ in pending if future.done())


def counted(items: Iterable[DecodedFile], progress: Progress) -> Iterator[DecodedFile]:
    """Each decoded file, counted as the embedding takes it: progress moves file by file, at most
    one embedding group ahead of the vectors."""
    for item in items:
        progress.advance(1)
        yield item
