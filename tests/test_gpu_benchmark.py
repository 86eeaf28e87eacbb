"""benchmarks/gpu.py --dry-run: the GPU benchmark's steps on the CPU, tiny (issue 25).

The GPU run happens rarely, with minutes to spare, on a machine where nothing can be fixed and
rerun; this runs the same script, stage by stage, so it cannot break unseen. The numbers of a dry
run mean nothing: what is checked is that every stage ran, and that the checks it makes hold.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

SCRIPT = REPO / "benchmarks" / "gpu.py"


def _dry_run(tmp_path: Path, home: Path, *extra: str) -> dict:
    out = tmp_path / "gpu.json"
    # A shared 2-core machine can be slow: a generous budget, and OpenMP threads that sleep rather
    # than spin while they wait (PyTorch's CPU kernels crawl when spinning threads share cores).
    env = {**os.environ, "SEARCHENGINE_HOME": str(home), "PYTHONUNBUFFERED": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--dry-run",
            "--budget",
            "900",
            "--out",
            str(out),
            "--work",
            str(tmp_path / "work"),
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=1000,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert json.loads(done.stdout) == result  # printed as written
    return result


def _check_models_and_pipelines(result: dict) -> None:
    stages = result["stages"]
    for kind in ("clip", "bundled"):
        stage = stages[kind]
        assert set(stage["forward_images_per_s"]) == {"2", "4"}
        assert stage["forward_best"]["images_per_s"] > 0
        assert stage["device_vs_cpu"]["meets_target"] and stage["pipeline_vs_cpu"]["meets_target"]
        assert "cli_defaults" in stage["pipeline"] and len(stage["pipeline"]) >= 3
        for run in stage["pipeline"].values():
            assert (run["files"], run["failed"]) == (result["scale"]["images"], 0)
        assert stage["decode_prepare_images_per_s"]["per_core"] > 0
    assert stages["clip"]["model"].startswith("clip:local-dir:")
    assert set(stages["clip"]["prepare_variants_all_cores"]) >= {"torchvision", "torchvision_torch_threads_1"}
    summary = result["summary"]
    assert summary["clip"]["forward_best_batch"] in (2, 4) and "pipeline_over_forward" in summary["bundled"]


@pytest.mark.slow  # default run under 3 minutes; CI runs it (-m "")
def test_gpu_benchmark_dry_run_runs_every_stage(tmp_path, session_home):
    """Every stage but Ray (its engine has tests of its own, and Ray's start-up costs seconds)."""
    result = _dry_run(tmp_path, session_home, "--skip", "ray")
    stages = result["stages"]
    assert result["dry_run"] and set(stages) == {
        "environment",
        "folder",
        "decode",
        "clip",
        "bundled",
        "ray_stages",
        "ray",
        "cli",
        "whisper",
    }
    for name in ("environment", "folder", "decode", "clip", "bundled", "ray_stages", "cli"):
        assert stages[name]["status"] == "ok", (name, stages[name])
    assert stages["ray"]["status"] == "skipped (--skip)"
    assert stages["whisper"]["status"] in ("ok", "not run"), stages["whisper"]
    assert stages["folder"]["files"] == result["scale"]["images"] and stages["folder"]["exif_rotated"] >= 0
    decode = stages["decode"]
    assert decode["one_thread_images_per_s"]["pillow_draft"] > 0 and "torchvision_cpu_full" in decode
    if importlib.util.find_spec("simplejpeg"):
        assert decode["simplejpeg_vs_pillow"]["max_abs_pixel_diff"] == 0
    _check_models_and_pipelines(result)
    # The Ray engine's stage functions, without Ray: the same vectors as the in-process pipeline.
    ray_stages = stages["ray_stages"]
    assert ray_stages["vectors_bitwise_equal"] == ray_stages["files_embedded"] == ray_stages["files"]
    # `searchengine index` in a new process builds the catalog the library call builds.
    assert stages["cli"]["catalog_vs_in_process"]["records_equal"]
    assert not result["summary"]["not_ok"].keys() - {"ray", "whisper"}


@pytest.mark.slow
def test_gpu_benchmark_dry_run_with_ray(tmp_path, session_home):
    pytest.importorskip("ray")
    result = _dry_run(tmp_path, session_home, "--skip", "cli,whisper")
    ray = result["stages"]["ray"]
    assert ray["status"] == "ok", ray
    assert ray["catalog_vs_in_process"]["catalog_equal"]


@pytest.mark.slow  # default run under 3 minutes; CI runs it (-m "")
def test_gpu_benchmark_writes_its_json_when_a_stage_cannot_run(tmp_path, session_home):
    """A run without a GPU (not a dry run) says so in the JSON and leaves the GPU stages out."""
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    out = tmp_path / "gpu.json"
    env = {**os.environ, "SEARCHENGINE_HOME": str(session_home)}
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--out",
            str(out),
            "--work",
            str(tmp_path / "work"),
            "--images",
            "4",
            "--skip",
            "decode",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    stages = json.loads(out.read_text())["stages"]
    assert stages["environment"]["status"] == "failed" and "no CUDA GPU" in stages["environment"]["error"]
    assert stages["folder"]["status"] == "ok"
    for name in ("clip", "bundled", "ray_stages", "ray", "cli", "whisper"):
        assert stages[name]["status"] == "not run" and "no CUDA GPU" in stages[name]["reason"]
