"""PyTorch towers exported once to ONNX, verified, cached, and run in ONNX Runtime.

An exported tower is a `.onnx` file plus a `.json` sidecar in the model cache the caller names
(`TowerCache`: `<cache>/onnx/<model id>/<tower>-<key>.onnx`). The key covers the model id, the tower, this
module's export format and the versions of torch, onnx and onnxruntime, so upgrading any of them
exports again instead of trusting a stale graph. An export is kept only if ONNX Runtime's outputs
match PyTorch's on sample inputs (the largest absolute difference is stored in the sidecar);
otherwise the caller is told to stay on PyTorch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from searchengine.atomic import atomic_path, atomic_write
from searchengine.errors import ModelUnavailable, SearchEngineError
from searchengine.preparing import preparing

log = logging.getLogger(__name__)

EXPORT_FORMAT = 1
OPSET = 17
FP32, INT8 = "fp32", "int8"
DEFAULT_TOLERANCE = 1e-3  # on unit-scale outputs; fp32 graphs agree to ~1e-5


class ExportFailed(Exception):
    """The tower could not be exported or did not match PyTorch; run it in PyTorch instead."""


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def runtime_versions() -> dict[str, str]:
    return {name: _version(name) for name in ("torch", "onnx", "onnxruntime")}


def session(path: Path, threads: int | None = None, save_optimized: Path | None = None, prepack: bool = True):
    """An ONNX Runtime CPU session with full graph optimisation and one intra-op pool.

    With `save_optimized`, the graph after ONNX Runtime's hardware-independent rewrites is also
    written there, its weights in a file beside it (see optimized_session). prepack=False skips
    pre-packing the weights: a session four times faster to make (ViT-B-32-256 text tower: 0.08 s
    instead of 0.32 s) and a quarter slower per call (75 vs 55 ms), for a process that runs a graph
    once or twice, such as a one-query search.
    """
    import onnxruntime as ort

    from searchengine.encoders.device import cpu_threads

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if save_optimized is not None:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        options.optimized_model_filepath = str(save_optimized)
        weights = save_optimized.name.removesuffix(".onnx") + ".weights"
        options.add_session_config_entry("session.optimized_model_external_initializers_file_name", weights)
        options.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
    options.intra_op_num_threads = threads or cpu_threads()
    options.inter_op_num_threads = 1
    # Idle pool threads sleep instead of spinning: while indexing, decode workers need those cores.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if not prepack:
        options.add_session_config_entry("session.disable_prepacking", "1")
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def optimized_session(path: Path, threads: int | None = None, prepack: bool = True):
    """A session for the exported graph at `path`, from its optimised copy (made on first use).

    The copy keeps its weights in a separate file, which ONNX Runtime memory-maps instead of
    parsing them out of the protobuf: a session starts in a quarter of the time (ViT-B-32 text
    tower: 0.2-0.3 s instead of 0.7-1.0 s), which is most of a cold query. The weights file is
    named after the process that wrote it, so two first uses at once never write the same file.
    """
    optimized = path.with_name(f"{path.stem}.optimized.onnx")
    if optimized.exists():
        return session(optimized, threads, prepack=prepack)
    path.with_suffix(".opt.onnx").unlink(missing_ok=True)  # the previous layout, weights inline
    tmp = path.with_name(f"{path.stem}.optimized.{os.getpid()}.onnx")
    try:
        runner = session(path, threads, save_optimized=tmp)
    except Exception as exc:  # e.g. a graph ONNX Runtime cannot serialise: run it unsaved
        log.info("could not save an optimised copy of %s (%s)", path.name, exc)
        tmp.unlink(missing_ok=True)
        tmp.with_suffix(".weights").unlink(missing_ok=True)
        return session(path, threads, prepack=prepack)
    if tmp.exists():
        tmp.replace(optimized)
    return session(optimized, threads, prepack=prepack) if optimized.exists() else runner


@dataclass
class OnnxTower:
    """One exported graph in an ONNX Runtime session; called with named numpy inputs."""

    path: Path
    info: dict
    threads: int | None = None
    prepack: bool = True

    def __post_init__(self):
        self._session = optimized_session(self.path, self.threads, self.prepack)
        self.output_names = [o.name for o in self._session.get_outputs()]

    def __call__(self, **inputs: np.ndarray) -> list[np.ndarray]:
        return self._session.run(None, inputs)


def read_info(path: Path) -> dict | None:
    sidecar = path.with_suffix(".json")
    if not (path.exists() and sidecar.exists()):
        return None
    try:
        info = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return None
    return info if info.get("format") == EXPORT_FORMAT else None


def export_tower(
    module,
    inputs: dict[str, np.ndarray],
    output_names: Sequence[str],
    dynamic_axes: dict[str, dict[int, str]],
    path: Path,
    check_inputs: Sequence[dict[str, np.ndarray]] = (),
    tolerance: float = DEFAULT_TOLERANCE,
    extra: dict | None = None,
) -> dict:
    """Export `module` to `path` (atomically), verified against PyTorch on `inputs` and `check_inputs`.

    Returns the sidecar facts; raises ExportFailed when export or verification fails.
    """
    import torch

    module = module.eval()
    fastpath = torch.backends.mha.get_fastpath_enabled()
    with atomic_path(path, suffix=".onnx") as tmp:  # the graph is renamed into place once it is verified
        try:
            # nn.MultiheadAttention's fused fast path has no ONNX form; the plain path traces.
            torch.backends.mha.set_fastpath_enabled(False)
            with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer notes about constants; verification below decides
                torch.onnx.export(
                    module,
                    tuple(torch.from_numpy(v) for v in inputs.values()),
                    str(tmp),
                    input_names=list(inputs),
                    output_names=list(output_names),
                    dynamic_axes=dynamic_axes,
                    opset_version=OPSET,
                    do_constant_folding=True,
                    dynamo=False,
                )
            diff = _max_difference(module, tmp, [inputs, *check_inputs])
        except ExportFailed:
            raise
        except Exception as exc:  # torch.onnx raises many kinds; all mean "stay on PyTorch"
            raise ExportFailed(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc
        finally:
            torch.backends.mha.set_fastpath_enabled(fastpath)
        if not diff <= tolerance:
            raise ExportFailed(f"ONNX output differs from PyTorch by {diff:.2e} (tolerance {tolerance:.0e})")
        info = {
            "format": EXPORT_FORMAT,
            "max_abs_diff": diff,
            "versions": runtime_versions(),
            "inputs": list(inputs),
            "outputs": list(output_names),
            **(extra or {}),
        }
        atomic_write(path.with_suffix(".json"), json.dumps(info, indent=1))
    return info


def _max_difference(module, onnx_path: Path, batches: Sequence[dict[str, np.ndarray]]) -> float:
    import torch

    runner = session(onnx_path)
    worst = 0.0
    for batch in batches:
        with torch.no_grad():
            expected = module(*(torch.from_numpy(v) for v in batch.values()))
        expected = expected if isinstance(expected, (tuple, list)) else (expected,)
        got = runner.run(None, batch)
        for want, have in zip(expected, got):
            worst = max(worst, float(np.max(np.abs(want.float().numpy() - have))))
    return worst


@dataclass(frozen=True)
class TowerCache:
    """Where exported towers are kept (`root`, the model cache the caller passes in) and how their
    sessions start: prepack=False for a process that runs a graph once or twice (see session)."""

    root: Path
    prepack: bool = True

    def path(self, model_id: str, tower: str, variant: str = FP32) -> Path:
        facts = json.dumps([model_id, tower, variant, EXPORT_FORMAT, runtime_versions()], sort_keys=True)
        key = hashlib.sha256(facts.encode()).hexdigest()[:12]
        folder = re.sub(r"[^A-Za-z0-9._-]+", "_", model_id).strip("_") or "model"
        return self.root / "onnx" / folder / f"{tower}-{variant}-{key}.onnx"

    def ensure_exported(self, model_id: str, tower: str, export: Callable[[Path], dict]) -> dict | None:
        """The tower's sidecar facts, exporting it first when absent; None (with a note) when export fails.

        `export(path)` builds the PyTorch module and calls `export_tower`; it runs only on a cache miss.
        """
        path = self.path(model_id, tower)
        info = read_info(path)
        if info is not None:
            return info
        try:
            log.info("exporting the %s tower of %s to %s", tower, model_id, path.parent)
            with preparing(f"exporting {model_id.split(':')[-1]} to ONNX"):
                info = export(path)
        except SearchEngineError:
            raise  # the model itself cannot be had: no runtime can help
        except Exception as exc:  # ExportFailed, or anything a model's own code raises while exporting
            log.warning("ONNX export of the %s tower of %s failed (%s): running it in PyTorch", tower, model_id, exc)
            return None
        log.info("%s tower exported; largest difference from PyTorch %.1e", tower, info["max_abs_diff"])
        return info

    def quantized_copy(self, model_id: str, tower: str, info: dict) -> dict:
        """An int8 copy of an exported tower (dynamic quantisation of MatMul/Gemm weights), made once.

        Its vectors differ slightly from the fp32 tower's, which is why an int8 encoder has an id
        of its own ("+int8"): the recall it costs is measured in benchmarks/backends.py.
        """
        from onnxruntime.quantization import QuantType, quantize_dynamic

        source, target = self.path(model_id, tower), self.path(model_id, tower, INT8)
        existing = read_info(target)
        if existing is not None:
            return existing
        root = logging.getLogger()
        level = root.level
        with preparing(f"quantising {model_id.split(':')[-1]} to int8"), atomic_path(target, suffix=".onnx") as tmp:
            try:
                root.setLevel(logging.ERROR)  # the quantiser's advice to pre-process is not for our users
                quantize_dynamic(
                    str(source), str(tmp), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"]
                )
            except Exception as exc:  # the quantiser raises whatever its graph passes raise
                raise ExportFailed(f"int8 quantisation failed: {type(exc).__name__}: {exc}") from exc
            finally:
                root.setLevel(level)
            quantized = {**info, "quantization": "dynamic int8 weights (MatMul, Gemm)"}
            atomic_write(target.with_suffix(".json"), json.dumps(quantized, indent=1))
        return quantized

    def int8_info(self, model_id: str, tower: str, info: dict | None) -> dict:
        """The int8 copy's facts; an int8 model has no PyTorch fallback, so failing here is an error."""
        try:
            if info is None:
                raise ExportFailed("the fp32 export failed")
            return self.quantized_copy(model_id, tower, info)
        except ExportFailed as exc:
            raise ModelUnavailable(
                "no int8 {tower} tower for {model_id} ({reason}): use the model without +int8",
                tower=tower,
                model_id=model_id,
                reason=exc,
            ) from exc

    def load(self, model_id: str, tower: str, info: dict, variant: str = FP32, threads: int | None = None) -> OnnxTower:
        """The exported tower (facts `info`) in an ONNX Runtime session."""
        return OnnxTower(self.path(model_id, tower, variant), info, threads, self.prepack)

    def tower(
        self, model_id: str, tower: str, export: Callable[[Path], dict], threads: int | None = None, variant: str = FP32
    ) -> OnnxTower | None:
        """The tower in an ONNX Runtime session (exported first when absent); None when export fails.

        `variant` "int8" runs the dynamically quantised copy (made from the fp32 export).
        """
        info = self.ensure_exported(model_id, tower, export)
        if variant == INT8:
            info = self.int8_info(model_id, tower, info)
        if info is None:
            return None
        return self.load(model_id, tower, info, variant, threads)
