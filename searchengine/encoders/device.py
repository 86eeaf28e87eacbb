"""Device and thread choice for encoders."""

from __future__ import annotations

import os
from pathlib import Path

from searchengine.errors import UsageError

DEVICES = ("auto", "cpu", "cuda")


def nvidia_driver_present() -> bool:
    """A cheap test that runs before torch is imported: no NVIDIA driver, no CUDA."""
    markers = ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/dxg")  # /dev/dxg: CUDA under WSL2
    return any(Path(marker).exists() for marker in markers)


def resolve_device(device: str) -> str:
    """'auto' becomes 'cuda' when a CUDA GPU is usable, else 'cpu'.

    torch is imported only where a GPU might be present, so a query on a CPU-only machine can
    run in ONNX Runtime without paying torch's import.
    """
    if device not in DEVICES:
        raise UsageError("unknown {-device=$device}: use one of {choices}", device=device, choices=", ".join(DEVICES))
    if device == "cpu" or (device == "auto" and not nvidia_driver_present()):
        return "cpu"
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("{-device=cuda} was asked for but no CUDA GPU is usable here: use {-device=cpu} or auto")
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
