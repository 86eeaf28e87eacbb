"""The engine stages of benchmarks/gpu.py: the Ray engine's stages without Ray, `--engine ray`,
the CLI in a new process, and Whisper on the GPU."""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from gpu_run import Context, Deadline, NotRun, catalog_vectors, compare_catalogs, cosines, run_pipeline

ROOT = Path(__file__).resolve().parents[1]

# Measured here on 2026-12-04 (pip download, cp312 manylinux wheels): why two parts of the issue
# cannot run on this project's GPU machine, whose calls carry at most 64 MiB.
RAY_NOT_HERE = (
    "ray is not installed here, and its wheel cannot travel to the GPU machine: "
    "ray 2.60.0 for CPython 3.12 is 79 MB, over the 64 MiB a device call carries"
)
WHISPER_NOT_HERE = (
    "ctranslate2 is not installed here, and cannot travel to the GPU machine: its wheel "
    "(4.8.5, cp312) is 43 MB and Whisper base's weights 145 MB, over the 64 MiB a device "
    "call carries; that wheel is also built against CUDA 12 (it loads libcublas.so.12), "
    "while the GPU machine has CUDA 13's libraries"
)


def _ray_folder(ctx: Context) -> tuple[Path, Path, object]:
    """The first ray_files files of the folder, and their in-process index on the device (made once)."""
    from searchengine.ingest.settings import IngestSettings

    if ctx.ray_folder is None:
        kind = "bundled"
        if kind not in ctx.encoders:
            raise NotRun("the bundled stage did not load its encoder")
        folder = ctx.work / "ray-images"
        folder.mkdir(parents=True, exist_ok=True)
        for path in ctx.files[: ctx.scale.ray_files]:
            shutil.copy2(path, folder / path.name)
        batch = ctx.batch.get(kind, 64)
        settings = IngestSettings(
            model=ctx.models[kind],
            device=ctx.device,
            backend=ctx.backend,
            workers=ctx.cores,
            batch_size=batch,
            commit_every=max(64, batch),
        )
        local = ctx.work / "ray-local-index"
        run_pipeline(ctx.encoders[kind], folder, local, settings)
        ctx.ray_folder, ctx.ray_local, ctx.ray_settings = folder, local, settings
    return ctx.ray_folder, ctx.ray_local, ctx.ray_settings


def stage_ray_stages(out: dict, deadline: Deadline, ctx: Context) -> None:
    """The Ray engine's decode tasks and embedding actor (GPU) as plain calls, without Ray."""
    from searchengine.config import cache_dir
    from searchengine.distributed.shards import read_shard
    from searchengine.distributed.stages import EmbedShards, decode_chunk
    from searchengine.media.discover import discover
    from searchengine.media.hashing import content_hash

    folder, local, settings = _ray_folder(ctx)
    out["model"], out["files"] = settings.model, len(list(folder.iterdir()))
    found = list(discover(folder))
    work = [(f, content_hash(f.path)) for f in found]
    chunks = [work[i : i + settings.commit_every] for i in range(0, len(work), settings.commit_every)]
    shards = ctx.work / "ray-stage-shards"
    shutil.rmtree(shards, ignore_errors=True)
    shards.mkdir()
    started = time.perf_counter()
    actor = EmbedShards(
        model=settings.model,
        device=ctx.device,
        backend=settings.backend,
        batch_size=settings.batch_size,
        shards_dir=str(shards),
        cache=str(cache_dir()),
        threads=ctx.cores,
        env={},
    )
    out["actor_load_s"] = round(time.perf_counter() - started, 2)
    out["actor_device"] = actor.encoder.device
    started = time.perf_counter()
    for position, chunk in enumerate(chunks):
        deadline.check(f"chunk {position}")
        decoded = decode_chunk(
            {"position": np.array([position]), "files": np.array([pickle.dumps(chunk)], dtype=object)},
            model=settings.model,
            backend=settings.backend,
            asr_model=None,
            language=None,
            cache=str(cache_dir()),
            threads=ctx.cores,
        )
        actor(decoded)
    out["decode_and_embed_s"] = round(time.perf_counter() - started, 2)
    drafts = [d for shard in sorted(shards.glob("*.parquet")) for d in read_shard(shard)[1]]
    mine = {d.path: d.segments[0].vector for d in drafts if d.segments}
    theirs = catalog_vectors(local)
    common = sorted(set(mine) & set(theirs))
    out["files_embedded"] = len(mine)
    out["vectors_bitwise_equal"] = sum(np.asarray(mine[p], np.float32).tobytes() == theirs[p].tobytes() for p in common)
    if common:
        out["vectors_vs_in_process"] = cosines(
            np.stack([mine[p] for p in common]), np.stack([theirs[p] for p in common])
        )
    shutil.rmtree(shards, ignore_errors=True)


def stage_ray(out: dict, deadline: Deadline, ctx: Context) -> None:
    """`--engine ray` (the Ray executor) with GPU actors on the same files as the in-process run."""
    try:
        import ray
    except ImportError:
        raise NotRun(RAY_NOT_HERE) from None
    from searchengine.config import cache_dir
    from searchengine.distributed.executor import RayExecutor
    from searchengine.ingest.run import sync_folder

    folder, local, settings = _ray_folder(ctx)
    out["ray"] = ray.__version__
    started = time.perf_counter()
    ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        out["ray_start_s"] = round(time.perf_counter() - started, 2)
        resources = ray.cluster_resources()
        out["cluster"] = {"CPU": resources.get("CPU"), "GPU": resources.get("GPU", 0)}
        index_dir = ctx.work / "ray-index"
        shutil.rmtree(index_dir, ignore_errors=True)
        summary = sync_folder(folder, index_dir, settings, cache_dir=cache_dir(), executor=RayExecutor())
        out.update(
            {
                "files": summary.embedded,
                "failed": summary.failed,
                "seconds": round(summary.seconds, 2),
                "images_per_s": round(summary.items_per_second, 1),
                "chunks": summary.chunks,
                "actors": summary.actors,
                "gpu_actors": bool(out["cluster"]["GPU"]) and ctx.device == "cuda",
            }
        )
        out["catalog_vs_in_process"] = compare_catalogs(index_dir, local)
    finally:
        ray.shutdown()


CLI_BOOTSTRAP = """
import importlib.util, sys
from pathlib import Path
root = Path(sys.argv.pop(1))
sys.path.insert(0, str(root))
try:
    import searchengine.cli  # installed: the package maps cli/ onto searchengine.cli
except ImportError:  # a checkout that is not installed (the GPU machine): map it here
    spec = importlib.util.spec_from_file_location("searchengine.cli", root / "cli" / "__init__.py",
                                                  submodule_search_locations=[str(root / "cli")])
    module = importlib.util.module_from_spec(spec)
    sys.modules["searchengine.cli"] = module
    spec.loader.exec_module(module)
from searchengine.cli.launch import main
sys.argv[0] = "searchengine"
main()
"""


def stage_cli(out: dict, deadline: Deadline, ctx: Context) -> None:
    """`searchengine index FOLDER --device cuda --json` in a new process, as a user runs it."""
    folder, local, _ = _ray_folder(ctx)
    index_dir = ctx.work / "cli-index"
    shutil.rmtree(index_dir, ignore_errors=True)
    command = [
        "index",
        str(folder),
        "--index",
        str(index_dir),
        "--model",
        "bundled",
        "--device",
        ctx.device,
        "--json",
        "-q",
    ]
    if ctx.dry:
        command += ["--backend", "torch"]  # the CPU's default would export the model to ONNX first
    out["command"] = "searchengine " + " ".join(command[:1] + ["FOLDER"] + command[2:])
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CLI_BOOTSTRAP, str(ROOT), *command],
        capture_output=True,
        text=True,
        timeout=max(5.0, deadline.left()),
    )
    out["wall_s"] = round(time.perf_counter() - started, 2)
    out["exit_code"] = done.returncode
    if done.returncode:
        out["stderr"] = done.stderr.strip().splitlines()[-8:]
        raise RuntimeError(f"the CLI exited with {done.returncode}: {out['stderr'][-1] if out['stderr'] else ''}")
    reported = json.loads(done.stdout.strip().splitlines()[-1])
    out["reported"] = {k: reported.get(k) for k in ("added", "failed", "seconds", "items_per_second", "model")}
    out["catalog_vs_in_process"] = compare_catalogs(index_dir, local)


def stage_whisper(out: dict, deadline: Deadline, ctx: Context) -> None:
    """Whisper base through faster-whisper / CTranslate2, real-time factor on the device."""
    import ctypes

    libraries = {}
    for name in ("libcublas.so.12", "libcudnn.so.9", "libcublas.so.13"):
        try:
            ctypes.CDLL(name)
            libraries[name] = True
        except OSError:
            libraries[name] = False
    out["libraries_found"] = libraries
    try:
        import ctranslate2
    except ImportError:
        raise NotRun(WHISPER_NOT_HERE) from None
    out["ctranslate2"] = ctranslate2.__version__
    out["ctranslate2_cuda_devices"] = ctranslate2.get_cuda_device_count()
    try:
        import av  # noqa: F401
        import faster_whisper  # noqa: F401
    except ImportError as exc:
        raise NotRun(f"faster-whisper or PyAV is not installed here ({exc.name})") from None
    device = "cuda" if ctx.device == "cuda" else "cpu"
    if device == "cuda" and not out["ctranslate2_cuda_devices"]:
        raise NotRun("CTranslate2 sees no CUDA device here")
    if device == "cuda" and not libraries["libcublas.so.12"]:
        raise NotRun("CTranslate2's wheel needs CUDA 12's cuBLAS (libcublas.so.12), which this machine lacks")
    from searchengine.audio.transcribe import Transcriber
    from searchengine.config import cache_dir
    from searchengine.errors import ModelUnavailable

    try:
        from searchengine.audio.whisper_model import bundled_whisper_dir

        bundled_whisper_dir(cache_dir())
    except ModelUnavailable as exc:
        raise NotRun(f"the bundled Whisper base is not installed here: {exc}") from None
    recordings = sorted((ROOT / "samples" / "audio").glob("*.ogg"))
    if ctx.dry:
        recordings = recordings[:1]
    transcriber = Transcriber(device=device, language="en", cache_dir=cache_dir())
    started = time.perf_counter()
    first = transcriber.transcribe(recordings[0])  # loads the model
    out["first_file_s"] = round(time.perf_counter() - started, 2)
    out["device"], out["compute_type"] = device, "float16" if device == "cuda" else "int8"
    audio = elapsed = 0.0
    if ctx.dry:  # the dry run times the first file, model loading included
        audio, elapsed, recordings = first.duration, out["first_file_s"], []
    for path in recordings:
        deadline.check(f"transcribing {path.name}")
        started = time.perf_counter()
        transcript = transcriber.transcribe(path)
        elapsed += time.perf_counter() - started
        audio += transcript.duration
    out.update(
        {
            "recordings": len(recordings) or 1,
            "audio_s": round(audio, 1),
            "transcribe_s": round(elapsed, 2),
            "real_time_factor": round(elapsed / audio, 4) if audio else None,
            "note": "short clips: each pays for a whole 30-s Whisper window",
        }
    )
