"""Which runtime runs an encoder's towers: PyTorch, or ONNX Runtime on the CPU.

`auto` picks ONNX Runtime on the CPU (about twice PyTorch's speed on small CPUs, and no torch
import for a query) and PyTorch on a GPU. `onnx` insists on ONNX Runtime; `torch` never uses it.
The environment variable SEARCHENGINE_BACKEND sets the default for every command.
"""

from __future__ import annotations

import importlib.util
import os

from searchengine.errors import ModelUnavailable, UsageError

BACKENDS = ("auto", "onnx", "torch")
BACKEND_ENV = "SEARCHENGINE_BACKEND"


def default_backend() -> str:
    return os.environ.get(BACKEND_ENV, "auto") or "auto"


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r}: use one of {', '.join(BACKENDS)}")
    return backend


def onnxruntime_available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def use_onnx(device: str, backend: str) -> bool:
    """Whether towers should run in ONNX Runtime for this device and backend choice."""
    check_backend(backend)
    if backend == "torch":
        return False
    if backend == "onnx":
        if device != "cpu":
            raise UsageError("--backend onnx runs on the CPU only: add --device cpu, or use --backend torch on a GPU")
        if not onnxruntime_available():
            raise ModelUnavailable("--backend onnx needs ONNX Runtime: pip install onnxruntime onnx")
        return True
    return device == "cpu" and onnxruntime_available()
