"""The ONNX Runtime path: export, verification, cache, fallback, and the same results as PyTorch."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from searchengine.config import cache_dir
from searchengine.encoders.onnx_towers import ExportFailed, TowerCache, export_tower, read_info
from searchengine.encoders.registry import load_encoder
from searchengine.errors import UsageError

from conftest import PHOTOS, SAMPLES, TEXTS

SAMPLE_PHOTOS = sorted(PHOTOS.glob("*.jpg"))[:8]


def test_tiny_open_clip_export_round_trip(tiny_clip_dir):
    onnx = load_encoder(f"clip:local-dir:{tiny_clip_dir}", "cpu", "onnx", cache_dir=cache_dir())
    torch_ = load_encoder(f"clip:local-dir:{tiny_clip_dir}", "cpu", "torch", cache_dir=cache_dir())
    assert (onnx.runtime, torch_.runtime) == ("onnxruntime-cpu", "torch-cpu")
    assert onnx.id == torch_.id and onnx.dim == torch_.dim == 32
    for tower in ("image", "text"):
        info = read_info(TowerCache(cache_dir()).path(onnx.id, tower))
        assert info is not None and info["max_abs_diff"] < 1e-3, info

    images = [Image.open(p) for p in SAMPLE_PHOTOS[:3]]
    texts = ["a cat", "Grace Hopper's compiler", "ünïcode and 中文", "word " * 120]
    np.testing.assert_allclose(onnx.embed_images(images), torch_.embed_images(images), atol=1e-4)
    np.testing.assert_allclose(onnx.embed_texts(texts), torch_.embed_texts(texts), atol=1e-4)

    again = load_encoder(
        f"clip:local-dir:{tiny_clip_dir}", "cpu", "onnx", cache_dir=cache_dir()
    )  # from the cache: no PyTorch model
    assert again._torch is None
    np.testing.assert_allclose(again.embed_texts(texts), onnx.embed_texts(texts), atol=1e-6)


def test_the_plain_python_clip_tokenizer_is_the_exported_one(tiny_clip_dir):
    from tokenizers import Tokenizer

    from searchengine.encoders.clip_bpe import ClipBpe
    from searchengine.encoders.onnx_clip import ClipTokens

    encoder = load_encoder(f"clip:local-dir:{tiny_clip_dir}", "cpu", "onnx", cache_dir=cache_dir())
    text_path = TowerCache(cache_dir()).path(encoder.id, "text")
    saved = text_path.with_name(read_info(text_path)["tokenizer"])
    tokens = ClipTokens(saved)  # checks the port and saves it beside tokenizer.json
    assert isinstance(tokens._tok, ClipBpe) and saved.with_suffix(".bpe").is_file()
    rng = np.random.default_rng(0)
    alphabet = list("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 .,;:!?'\"-()\t\né€ßçÑİΣσ猫の한ä😀½²")
    texts = ["a red bicycle by the sea", "ΣΊΣΥΦΟΣ", "", "word " * 120] + [
        "".join(rng.choice(alphabet, size=int(n))) for n in rng.integers(1, 90, size=300)
    ]
    want = np.array([e.ids for e in Tokenizer.from_file(str(saved)).encode_batch(texts)])
    np.testing.assert_array_equal(ClipBpe.load(saved.with_suffix(".bpe")).encode(texts), want)


def test_an_export_that_does_not_match_pytorch_is_refused(tmp_path):
    import torch

    class Noisy(torch.nn.Module):  # a random op: ONNX Runtime's draws differ from PyTorch's
        def forward(self, x):
            return x + torch.rand_like(x)

    path = tmp_path / "noisy.onnx"
    sample = {"x": np.zeros((2, 4), np.float32)}
    with pytest.raises(ExportFailed, match="differs from PyTorch"):
        export_tower(Noisy(), sample, ["y"], {"x": {0: "n"}}, path)
    assert list(tmp_path.iterdir()) == []  # nothing half-written is left for the cache to trust

    def export(target):
        return export_tower(Noisy(), sample, ["y"], {"x": {0: "n"}}, target)

    towers = TowerCache(tmp_path / "cache")
    assert towers.ensure_exported("test:noisy", "tower", export) is None  # the caller falls back to PyTorch
    assert read_info(towers.path("test:noisy", "tower")) is None


def test_backend_choice_is_checked():
    with pytest.raises(UsageError, match="unknown backend"):
        load_encoder("bundled", "cpu", "tensorrt", cache_dir=cache_dir())
    with pytest.raises(UsageError, match="ONNX Runtime on the CPU"):
        load_encoder("bundled+int8", "cpu", "torch", cache_dir=cache_dir())


def test_int8_is_a_model_of_its_own_close_to_fp32(bundled, tiny_clip_dir):
    int8 = load_encoder("bundled+int8", "cpu", cache_dir=cache_dir())
    assert int8.id == bundled.id + "+int8"
    texts = ["a cat sleeping on a sofa", "the household budget", "a rocket on a launch pad"]
    images = [Image.open(p) for p in SAMPLE_PHOTOS[:3]]
    for fp32_vectors, int8_vectors in (
        (bundled.embed_texts(texts), int8.embed_texts(texts)),
        (bundled.embed_images(images), int8.embed_images(images)),
    ):
        np.testing.assert_allclose(np.linalg.norm(int8_vectors, axis=1), 1.0, atol=1e-4)
        assert ((fp32_vectors * int8_vectors).sum(1) > 0.9).all()
    assert np.abs(bundled.embed_texts(texts) - int8.embed_texts(texts)).max() > 1e-3  # really quantised
    tiny = load_encoder(f"clip:local-dir:{tiny_clip_dir}+int8", "cpu", cache_dir=cache_dir())
    assert tiny.id.endswith("+int8") and tiny.embed_texts(["a cat"]).shape == (1, 32)


@pytest.fixture(scope="module")
def bundled_torch():
    return load_encoder("bundled", "cpu", "torch", cache_dir=cache_dir())


def test_bundled_onnx_and_torch_agree_and_rank_alike(bundled, bundled_torch):
    assert bundled.runtime == "onnxruntime-cpu" and bundled_torch.runtime == "torch-cpu"
    images = [Image.open(p) for p in SAMPLE_PHOTOS]
    passages = [p.read_text(encoding="utf-8", errors="replace")[:600] for p in sorted(TEXTS.glob("*.md"))]
    queries = [q.strip() for q in (SAMPLES / "queries.txt").read_text().splitlines() if q.strip() and ":" not in q]
    onnx_gallery = np.vstack([bundled.embed_images(images), bundled.embed_texts(passages)])
    torch_gallery = np.vstack([bundled_torch.embed_images(images), bundled_torch.embed_texts(passages)])
    np.testing.assert_allclose(onnx_gallery, torch_gallery, atol=2e-4)
    onnx_q, torch_q = bundled.embed_texts(queries), bundled_torch.embed_texts(queries)
    np.testing.assert_allclose(onnx_q, torch_q, atol=1e-4)
    top = 5
    onnx_rank = np.argsort(-(onnx_q @ onnx_gallery.T), axis=1)[:, :top]
    torch_rank = np.argsort(-(torch_q @ torch_gallery.T), axis=1)[:, :top]
    assert (onnx_rank == torch_rank).all()


def test_a_cold_text_query_does_not_import_torch(bundled, media_folder, tmp_path, session_home):
    from searchengine.ingest.run import sync_folder
    from searchengine.ingest.settings import IngestSettings

    index_dir = tmp_path / "index"
    sync_folder(media_folder, index_dir, IngestSettings(model="bundled", device="cpu"), cache_dir=cache_dir())
    env = {"SEARCHENGINE_HOME": str(session_home), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    # -X importtime lists every module the real command imports (it ends with os._exit: no hook runs)
    out = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "searchengine",
            "search",
            "a cup of coffee",
            "--index",
            str(index_dir),
            "-k",
            "1",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)[0]["path"].endswith("coffee_cup.jpg")
    imported = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
    heavy = {"torch", "transformers", "sentence_transformers", "open_clip", "timm", "sqlalchemy"}
    assert len(imported) > 100 and not imported & heavy, imported & heavy
