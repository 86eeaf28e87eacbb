"""What the stages of benchmarks/gpu.py share: how much work they do, their time budgets, the
context they fill in turn, and the measuring helpers."""

from __future__ import annotations

import logging
import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger("bench.gpu")

# Targets of issue 25, on a GPU.
TARGET_FORWARD_VIT_B_32 = 2500  # images/s, fp16
TARGET_PIPELINE_OVER_FORWARD = 0.8
TARGET_COSINE = 0.999


@dataclass(frozen=True)
class Scale:
    """How much work each stage does: the GPU run's, or the dry run's (the same steps, tiny)."""

    images: int  # files in the folder
    distinct: int  # of them different
    decode_sample: int  # distinct files decoded in the decode stage
    forward_pool: int  # prepared images cycled through the forward passes
    batch_sizes: tuple[int, ...]
    forward_seconds: float  # per batch size
    compare: int  # images compared between the device and the CPU
    ray_files: int  # files of the folder the Ray stages index
    budget_s: float  # the whole run; the watchdog ends it a little after
    stage_budgets: dict = field(default_factory=dict)  # seconds per stage


GPU_SCALE = Scale(
    images=3000,
    distinct=400,
    decode_sample=120,
    forward_pool=256,
    batch_sizes=(8, 64, 128, 256, 512),
    forward_seconds=1.5,
    compare=64,
    ray_files=512,
    budget_s=330,
    stage_budgets={
        "environment": 40,
        "folder": 45,
        "decode": 35,
        "clip": 110,
        "bundled": 80,
        "ray_stages": 30,
        "ray": 30,
        "cli": 45,
        "whisper": 30,
    },
)
DRY_SCALE = Scale(
    images=12,
    distinct=6,
    decode_sample=6,
    forward_pool=4,
    batch_sizes=(2, 4),
    forward_seconds=0.1,
    compare=4,
    ray_files=6,
    budget_s=240,
    stage_budgets={
        "environment": 30,
        "folder": 20,
        "decode": 20,
        "clip": 40,
        "bundled": 60,
        "ray_stages": 30,
        "ray": 60,
        "cli": 60,
        "whisper": 40,
    },
)


class OutOfTime(Exception):
    """A stage's budget ran out: what it measured so far stays in the JSON."""


class NotRun(Exception):
    """The stage cannot run on this machine; the message says why."""


@dataclass
class Deadline:
    at: float

    def left(self) -> float:
        return self.at - time.monotonic()

    def check(self, before: str) -> None:
        if self.left() <= 0:
            raise OutOfTime(f"its budget ran out before {before}")


@dataclass
class Context:
    """What the stages share."""

    scale: Scale
    dry: bool
    device: str  # "cuda", or "cpu" in a dry run
    cores: int
    work: Path
    files: list[Path] = field(default_factory=list)
    distinct: list[Path] = field(default_factory=list)
    size_class: dict[Path, str] = field(default_factory=dict)  # distinct file -> web / screen / camera
    models: dict[str, str] = field(default_factory=dict)  # "clip" / "bundled" -> model name
    encoders: dict[str, object] = field(default_factory=dict)  # on the device
    cpu_encoders: dict[str, object] = field(default_factory=dict)
    batch: dict[str, int] = field(default_factory=dict)  # the batch size each model's pipeline ran with
    ray_folder: Path | None = None
    ray_local: Path | None = None  # the in-process index of ray_folder
    ray_settings: object = None
    blocked: str | None = None  # why the device stages cannot run, when they cannot

    @property
    def backend(self) -> str:
        """PyTorch everywhere: the GPU's runtime, and on the CPU the same code (no ONNX export)."""
        return "torch"

    def sync(self) -> None:
        if self.device == "cuda":
            import torch

            torch.cuda.synchronize()


class torch_threads:
    """PyTorch's intra-op threads set for a while (None: left alone)."""

    def __init__(self, threads: int | None):
        self.threads, self.saved = threads, None

    def __enter__(self):
        if self.threads is not None:
            import torch

            self.saved = torch.get_num_threads()
            torch.set_num_threads(self.threads)

    def __exit__(self, *exc):
        if self.saved is not None:
            import torch

            torch.set_num_threads(self.saved)


def attempt(out: dict, key: str, fn: Callable) -> None:
    """out[key] = fn(), or what went wrong: a side measurement that fails leaves the stage going."""
    try:
        out[key] = fn()
    except OutOfTime:
        raise
    except Exception as exc:
        log.exception("%s failed", key)
        out[key] = {"error": f"{exc.__class__.__name__}: {exc}"}


def per_second(fn: Callable, n: int, repeats: bool = False) -> float:
    """n / seconds of fn(); with repeats, fn returns how many times it did n."""
    started = time.perf_counter()
    times = fn()
    elapsed = time.perf_counter() - started
    return (times if repeats else 1) * n / elapsed


def spread(files: list[Path], n: int) -> list[Path]:
    """n of the files, evenly spread over them (the distinct files cycle through the size classes)."""
    if len(files) <= n:
        return list(files)
    step = len(files) / n
    return [files[int(i * step)] for i in range(n)]


def cosines(a: np.ndarray, b: np.ndarray) -> dict:
    cos = np.sum(a * b, axis=1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    return {
        "images": int(len(a)),
        "min_cosine": round(float(cos.min()), 6),
        "mean_cosine": round(float(cos.mean()), 6),
        "max_abs_diff": float(np.abs(a - b).max()),
        "target": TARGET_COSINE,
        "meets_target": bool(cos.min() >= TARGET_COSINE),
    }


def cpu_encoder(kind: str, name: str, ctx: Context):
    """The reference: the same model in PyTorch on the CPU, float32 (loaded once)."""
    from searchengine.config import cache_dir
    from searchengine.encoders.registry import load_encoder

    if kind not in ctx.cpu_encoders:
        ctx.cpu_encoders[kind] = load_encoder(name, "cpu", "torch", cache_dir=cache_dir())
    return ctx.cpu_encoders[kind]


def run_pipeline(encoder, folder: Path, index_dir: Path, settings) -> dict:
    from searchengine.config import cache_dir
    from searchengine.ingest.run import sync_folder

    shutil.rmtree(index_dir, ignore_errors=True)
    summary = sync_folder(folder, index_dir, settings, encoder=encoder, cache_dir=cache_dir())
    return {
        "batch_size": settings.batch_size,
        "workers": settings.workers,
        "commit_every": settings.commit_every,
        "files": summary.embedded,
        "failed": summary.failed,
        "seconds": round(summary.seconds, 2),
        "images_per_s": round(summary.items_per_second, 1),
        "errors": [reason for _, reason in summary.errors[:3]],
    }


def catalog_vectors(index_dir: Path) -> dict[str, np.ndarray]:
    with sqlite3.connect(index_dir / "catalog.sqlite") as db:
        rows = db.execute(
            "SELECT items.path, segments.vector FROM segments JOIN items ON items.id = segments.item_id "
            "ORDER BY segments.id"
        ).fetchall()
    return {path: np.frombuffer(blob, dtype=np.float32) for path, blob in rows}


def _catalog_rows(index_dir: Path) -> tuple[list, list]:
    """Items and segments, as tests/test_distributed.py compares two catalogs."""
    with sqlite3.connect(index_dir / "catalog.sqlite") as db:
        items = db.execute(
            "SELECT id, path, kind, size, mtime_ns, content_hash, status, error FROM items ORDER BY id"
        ).fetchall()
        segments = db.execute(
            "SELECT id, item_id, ordinal, char_start, char_end, t_start, t_end, text, vector FROM segments ORDER BY id"
        ).fetchall()
    return items, segments


def compare_catalogs(index_dir: Path, reference: Path) -> dict:
    items, segments = _catalog_rows(index_dir)
    want_items, want_segments = _catalog_rows(reference)
    mine, theirs = catalog_vectors(index_dir), catalog_vectors(reference)
    common = sorted(set(mine) & set(theirs))
    result = {
        "items": len(items),
        "reference_items": len(want_items),
        "catalog_equal": (items, segments) == (want_items, want_segments),
        "records_equal": items == want_items and [s[:8] for s in segments] == [s[:8] for s in want_segments],
        "vectors_bitwise_equal": sum(mine[p].tobytes() == theirs[p].tobytes() for p in common),
    }
    if common:
        result["vectors"] = cosines(np.stack([mine[p] for p in common]), np.stack([theirs[p] for p in common]))
    return result
