"""Which runtime runs an encoder's towers: PyTorch, or ONNX Runtime on the CPU.

`auto` picks ONNX Runtime on the CPU (about twice PyTorch's speed on small CPUs, and no torch
import for a query) and PyTorch on a GPU. `onnx` insists on ONNX Runtime; `torch` never uses it.
(The environment variable SEARCHENGINE_BACKEND sets the default for every command: config.py.)
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import TypeVar

from searchengine.errors import ModelUnavailable, UsageError

T = TypeVar("T")
BACKENDS = ("auto", "onnx", "torch")
# An int8 model is a model of its own ("bundled+int8", vectors differ slightly), not a runtime
# choice: the registry turns the suffix into this internal backend.
INT8_SUFFIX = "+int8"
ONNX_INT8 = "onnx-int8"


def split_int8(name: str) -> tuple[str, bool]:
    """ "bundled+int8" -> ("bundled", True)."""
    return (name[: -len(INT8_SUFFIX)], True) if name.endswith(INT8_SUFFIX) else (name, False)


def int8_backend(backend: str, device: str) -> str:
    """The backend for an int8 model: ONNX Runtime on the CPU, or a one-line error."""
    if backend == "torch" or device != "cpu":
        raise UsageError(
            "int8 models ({suffix}) run in ONNX Runtime on the CPU: use {-device=cpu} and {-backend=auto} or onnx",
            suffix=INT8_SUFFIX,
        )
    if not onnxruntime_available():
        raise ModelUnavailable("int8 models need ONNX Runtime: pip install onnxruntime onnx")
    return ONNX_INT8


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise UsageError(
            "unknown {-backend=$backend}: use one of {choices}", backend=backend, choices=", ".join(BACKENDS)
        )
    return backend


def onnxruntime_available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def pick_runtime(device: str, backend: str, onnx: Callable[[str], T | None], torch: Callable[[str], T]) -> T:
    """onnx(variant) where `backend` wants ONNX Runtime and the export works (variant "fp32" or
    "int8"), else torch(device): one rule for every tower."""
    if use_onnx(device, backend):
        tower = onnx("int8" if backend == ONNX_INT8 else "fp32")
        if tower is not None:
            return tower
    return torch(device)


def use_onnx(device: str, backend: str) -> bool:
    """Whether towers should run in ONNX Runtime for this device and backend choice."""
    if backend == ONNX_INT8:
        return True
    check_backend(backend)
    if backend == "torch":
        return False
    if backend == "onnx":
        if device != "cpu":
            raise UsageError(
                "{-backend=onnx} runs on the CPU only: add {-device=cpu}, or use {-backend=torch} on a GPU"
            )
        if not onnxruntime_available():
            raise ModelUnavailable("{-backend=onnx} needs ONNX Runtime: pip install onnxruntime onnx")
        return True
    return device == "cpu" and onnxruntime_available()
