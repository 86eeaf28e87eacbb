"""Measuring helpers shared by the benchmark scripts in benchmarks/: latency percentiles,
resident memory, a description of the machine, and where results are written.

Benchmarks compare numbers taken in the same run (the machine may be shared), print one JSON
document on stdout, and write it under benchmarks/results/ when asked (`save_result`).
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from searchengine.atomic import atomic_write

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def latency_ms(run: Callable[[int], object], n: int) -> dict[str, float]:
    """p50/p99/mean wall time in ms of run(i) for i in range(n), one call at a time."""
    times = []
    for i in range(n):
        start = time.perf_counter_ns()
        run(i)
        times.append((time.perf_counter_ns() - start) / 1e6)
    return summarize_ms(times)


def summarize_ms(times: Iterable[float]) -> dict[str, float]:
    times = np.asarray(list(times), dtype=np.float64)
    if not len(times):
        return {"p50_ms": 0.0, "p99_ms": 0.0, "mean_ms": 0.0, "n": 0}
    return {
        "p50_ms": round(float(np.percentile(times, 50)), 4),
        "p99_ms": round(float(np.percentile(times, 99)), 4),
        "mean_ms": round(float(times.mean()), 4),
        "n": int(len(times)),
    }


def rss_bytes() -> int:
    """Resident memory of this process now (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def peak_rss_bytes() -> int:
    """Peak resident memory of this process so far (Linux: VmHWM)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def machine() -> dict:
    """What the numbers were measured on, including how busy the machine was."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    info = {"cpus": cpus, "platform": platform.platform(), "python": platform.python_version()}
    try:
        info["load_average_1m"] = round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover
        pass
    try:
        import faiss

        info["faiss"] = faiss.__version__
    except ImportError:  # pragma: no cover
        pass
    return info


def to_json(result: dict) -> str:
    return json.dumps(result, indent=1, ensure_ascii=False)


def save_result(result: dict, name: str, folder: Path = RESULTS) -> Path:
    """Write the result as <folder>/<name>.json; returns the path."""
    path = folder / f"{name}.json"
    atomic_write(path, to_json(result) + "\n")
    return path
