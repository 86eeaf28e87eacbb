"""Device and thread choice for encoders."""

from __future__ import annotations

import os

from searchengine.errors import UsageError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str) -> str:
    """'auto' becomes 'cuda' when a CUDA GPU is usable, else 'cpu'."""
    if device not in DEVICES:
        raise UsageError(f"unknown device {device!r}: use one of {', '.join(DEVICES)}")
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for but no CUDA GPU is usable here: use --device cpu or auto")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def cpu_threads() -> int:
    """Threads for CPU inference: every core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def configure_torch(device: str) -> None:
    import torch

    if device == "cpu":
        torch.set_num_threads(cpu_threads())
