"""The pipeline's own functions as Ray Data stages, one dataset row per chunk of files.

- `decode_chunk` (CPU tasks): each file of a chunk through `ingest.decode.decode_file`, exactly as the
  in-process decode workers run it (images prepared for the encoder, texts split into passages,
  recordings transcribed).
- `EmbedShards` (an actor pool): holds the encoder once per actor, embeds a chunk with
  `ingest.embed.embed_decoded` (the same image and text batches as the in-process pipeline, so the
  vectors are the same) and writes the result as a shard file.

A row is a whole chunk so that every stage sees the chunks the in-process pipeline commits: same
batches, same order of segment ids once the driver commits them in order.
"""

from __future__ import annotations

import os
import pickle
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from searchengine.distributed.shards import shard_name, write_shard
from searchengine.encoders.registry import load_encoder
from searchengine.ingest.decode import decode_file
from searchengine.ingest.decoders import DecodeContext
from searchengine.ingest.embed import embed_decoded

# One decode context (and so one encoder for prepare_image) per worker process, reused by every
# task that process runs.
_CONTEXTS: dict[tuple, object] = {}


def _context(
    model: str,
    backend: str | None,
    asr_model: str | None,
    language: str | None,
    cache: str,
    ocr: bool = True,
    ocr_video: bool = False,
):
    key = (model, backend, asr_model, language, cache, ocr, ocr_video)
    if key not in _CONTEXTS:
        encoder = load_encoder(
            model, "cpu", backend, cache_dir=Path(cache)
        )  # decoding uses only its CPU-side preprocessing
        _CONTEXTS[key] = DecodeContext(
            encoder,
            asr_model=asr_model,
            language=language,
            device="cpu",
            cache_dir=Path(cache),
            ocr=ocr,
            ocr_video=ocr_video,
        )
    return _CONTEXTS[key]


def decode_chunk(
    batch: dict,
    model: str,
    backend: str | None,
    asr_model: str | None,
    language: str | None,
    cache: str,
    threads: int = 1,
    env: dict | None = None,
    ocr: bool = True,
    ocr_video: bool = False,
) -> dict:
    """Rows {position, files: pickled [(FoundFile, hash)]} → {position, decoded: pickled [DecodedFile]}.
    The files of a chunk are decoded by `threads` threads, as the in-process decode workers do;
    env: the driver's settings (SEARCHENGINE_HOME, …), applied before anything loads."""
    os.environ.update(env or {})
    ctx = _context(model, backend, asr_model, language, cache, ocr, ocr_video)
    decoded = []
    with ThreadPoolExecutor(max(1, threads), thread_name_prefix="decode") as pool:
        for files in batch["files"]:
            work = pickle.loads(files)
            decoded.append(pickle.dumps(list(pool.map(lambda fd: decode_file(fd[0], fd[1], ctx), work))))
    return {"position": np.asarray(batch["position"]), "decoded": np.array(decoded, dtype=object)}


def _use_threads(threads: int) -> None:
    """Ray starts a worker with OMP_NUM_THREADS = the CPUs it asked for (1), and BLAS reads that
    when it loads: set the model's threads back, or sums would run in another order and the
    vectors differ from in-process ones in the last bits. (A runtime_env would do it too, but
    then Ray starts a new process for the actor instead of using one it keeps ready: seconds.)"""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        from threadpoolctl import threadpool_limits  # installed with scikit-learn (sentence-transformers)

        threadpool_limits(threads)
    except ImportError:  # pragma: no cover
        pass
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


class EmbedShards:
    """An embedding actor: the encoder loaded once; each call embeds one chunk and writes its shard."""

    def __init__(
        self,
        model: str,
        device: str,
        backend: str | None,
        batch_size: int,
        shards_dir: str,
        cache: str,
        threads: int | None = None,
        env: dict | None = None,
    ):
        os.environ.update(env or {})
        if threads:
            _use_threads(threads)
        self.encoder = load_encoder(model, device, backend, cache_dir=Path(cache))
        self.batch_size = batch_size
        self.shards_dir = Path(shards_dir)

    def __call__(self, batch: dict) -> dict:
        names, counts = [], []
        for position, blob in zip(batch["position"], batch["decoded"]):
            decoded = pickle.loads(blob)
            drafts = embed_decoded(self.encoder, decoded, self.batch_size)
            name = shard_name(int(position), self.encoder.id, ((d.path, d.content_hash) for d in drafts))
            write_shard(self.shards_dir / name, drafts, self.encoder.id)
            names.append(name)
            counts.append(len(drafts))
        return {
            "position": np.asarray(batch["position"]),
            "shard": np.array(names, dtype=object),
            "files": np.asarray(counts),
        }
