"""Shared fixtures. All state goes under a temporary SEARCHENGINE_HOME; models load once per session."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"
PHOTOS = SAMPLES / "photos"
TEXTS = SAMPLES / "texts"


@pytest.fixture(scope="session")
def session_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("searchengine-home")
    return home


@pytest.fixture(autouse=True)
def isolated_home(session_home, monkeypatch) -> Path:
    """Every test sees the same temporary SEARCHENGINE_HOME (caches shared, nothing in the user's folders)."""
    monkeypatch.setenv("SEARCHENGINE_HOME", str(session_home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return session_home


@pytest.fixture(scope="session")
def bundled(session_home):
    """The bundled encoder, loaded once."""
    os.environ["SEARCHENGINE_HOME"] = str(session_home)
    from searchengine.config import cache_dir
    from searchengine.encoders.registry import load_encoder

    return load_encoder("bundled", "cpu", cache_dir=cache_dir())


def run_cli(*args, home, check=True, timeout=600, env=None, cwd=REPO, **options) -> subprocess.CompletedProcess:
    """`python -m searchengine ARGS` in a subprocess, as a user runs it (text output captured)."""
    env = {**os.environ, "SEARCHENGINE_HOME": str(home), "HF_HUB_OFFLINE": "1", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "searchengine", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=cwd,
        **options,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def demo_index(tmp_path_factory, session_home):
    """The sample folder (photos, texts, recordings) indexed once, through the command line."""
    index = tmp_path_factory.mktemp("demo") / "index"
    proc = run_cli("index", SAMPLES, "--index", index, "--json", home=session_home)
    return index, json.loads(proc.stdout)


@pytest.fixture
def media_folder(tmp_path) -> Path:
    """A small folder of real photos and texts copied from the samples."""
    folder = tmp_path / "media"
    (folder / "photos").mkdir(parents=True)
    (folder / "texts").mkdir()
    for name in ("cat_chelsea.jpg", "coffee_cup.jpg", "rocket_launch_pad.jpg", "dahlia_flower.jpg"):
        shutil.copy2(PHOTOS / name, folder / "photos" / name)
    for name in ("bicycle_repair_guide.md", "household_budget_meeting.txt", "recette_creme_brulee_latin1.txt"):
        shutil.copy2(TEXTS / name, folder / "texts" / name)
    return folder


TINY_CLIP = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 16, "head_width": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory):
    """An open_clip model folder (config + weights) with random weights: the real local loading path."""
    import open_clip
    import torch

    folder = tmp_path_factory.mktemp("tiny-clip")
    torch.manual_seed(0)
    model = open_clip.CLIP(**TINY_CLIP)
    torch.save(model.state_dict(), folder / "open_clip_pytorch_model.bin")
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_CLIP, "preprocess_cfg": {}}))
    return folder
