"""Encoders: shapes, normalisation, semantics (bundled), and the open_clip loading path (tiny random model)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from searchengine.config import cache_dir
from searchengine.encoders.onnx_towers import TowerCache
from searchengine.encoders.registry import load_encoder
from searchengine.errors import ModelUnavailable, UnknownModel

from conftest import PHOTOS


def _assert_unit_rows(vectors: np.ndarray, n: int, dim: int) -> None:
    assert vectors.dtype == np.float32
    assert vectors.shape == (n, dim)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_bundled_shapes_and_norms(bundled):
    images = [Image.open(PHOTOS / "cat_chelsea.jpg"), Image.open(PHOTOS / "coffee_cup.jpg")]
    _assert_unit_rows(bundled.embed_images(images), 2, bundled.dim)
    _assert_unit_rows(bundled.embed_texts(["a cat", "a cup of coffee", "a rocket"]), 3, bundled.dim)
    assert bundled.embed_texts([]).shape == (0, bundled.dim)
    assert bundled.id.startswith("bundled:")


def test_bundled_prepared_and_pil_images_agree(bundled):
    image = Image.open(PHOTOS / "rocket_launch_pad.jpg")
    a = bundled.embed_images([image])
    b = bundled.embed_images([bundled.prepare_image(image)])
    np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize(
    "photo, caption",
    [
        ("cat_chelsea.jpg", "a photo of a cat"),
        ("coffee_cup.jpg", "a cup of coffee"),
        ("rocket_launch_pad.jpg", "a rocket on a launch pad"),
        ("dahlia_flower.jpg", "a close-up of a flower"),
    ],
)
def test_bundled_ranks_the_right_caption_first(bundled, photo, caption):
    captions = [
        "a photo of a cat",
        "a cup of coffee",
        "a rocket on a launch pad",
        "a close-up of a flower",
        "a spreadsheet of household expenses",
    ]
    image = bundled.embed_images([Image.open(PHOTOS / photo)])
    scores = (image @ bundled.embed_texts(captions).T)[0]
    assert captions[int(np.argmax(scores))] == caption


def test_unknown_model_names():
    with pytest.raises(UnknownModel, match="unknown model"):
        load_encoder("nonsense", "cpu", cache_dir=cache_dir())
    with pytest.raises(UnknownModel, match="bundled variant"):
        load_encoder("bundled:nope", "cpu", cache_dir=cache_dir())
    with pytest.raises(UnknownModel, match="names no weights"):
        load_encoder("clip:ViT-B-32", "cpu", cache_dir=cache_dir())


def test_open_clip_local_dir(tiny_clip_dir):
    encoder = load_encoder(f"clip:local-dir:{tiny_clip_dir}", "cpu", cache_dir=cache_dir())
    assert encoder.dim == 32
    _assert_unit_rows(encoder.embed_images([Image.open(PHOTOS / "cat_chelsea.jpg")] * 3), 3, 32)
    _assert_unit_rows(encoder.embed_texts(["a cat", "a dog"]), 2, 32)
    again = load_encoder(f"clip:local-dir:{tiny_clip_dir}", "cpu", cache_dir=cache_dir())
    assert again.id == encoder.id  # the id follows the weights, not the object
    np.testing.assert_allclose(again.embed_texts(["a cat"]), encoder.embed_texts(["a cat"]), atol=1e-5)


@pytest.mark.slow  # default run under 3 minutes; CI runs it (-m "")
def test_open_clip_weights_file(tiny_clip_dir, tmp_path):
    import open_clip

    # A known architecture with a local weights file: clip:ARCH@/path
    model = open_clip.create_model("RN50", pretrained=None)
    import torch

    weights = tmp_path / "rn50-random.pt"
    torch.save(model.state_dict(), weights)
    encoder = load_encoder(f"clip:RN50@{weights}", "cpu", cache_dir=cache_dir())
    assert encoder.id.startswith("clip:RN50@")
    _assert_unit_rows(encoder.embed_texts(["hello"]), 1, encoder.dim)


def test_open_clip_missing_weights_say_what_to_do(tmp_path):
    with pytest.raises(ModelUnavailable, match="weights not found"):
        load_encoder(f"clip:ViT-B-32@{tmp_path / 'missing.pt'}", "cpu", cache_dir=cache_dir())
    with pytest.raises(ModelUnavailable, match="clip:ARCH@/path/to/weights.pt"):
        load_encoder("clip:ViT-B-32/laion2b_s34b_b79k", "cpu", cache_dir=cache_dir())


def test_bundled_tower_scales_uint8_crops_as_the_host_does(bundled):
    """The image towers take prepared uint8 crops and scale them where they run (on a GPU: on
    the device); the result is exactly that of the float pixels scaled on the host."""
    from searchengine.encoders.bundled import efficientnet

    crops = np.stack(
        [bundled.prepare_image(Image.open(PHOTOS / name)) for name in ("cat_chelsea.jpg", "brick_wall.jpg")]
    )
    assert crops.dtype == np.uint8
    pixels = efficientnet.scale_pixels(crops)
    assert pixels.dtype == np.float32 and pixels.min() >= -1.0 and pixels.max() <= 1.0
    np.testing.assert_array_equal(pixels, bundled.pixels(list(crops)))
    for backend in ("torch", "auto"):
        tower = efficientnet.image_tower(TowerCache(cache_dir()), "cpu", backend)
        for from_crops, from_pixels in zip(tower(crops), tower(pixels)):
            np.testing.assert_array_equal(from_crops, from_pixels)


def test_bundled_image_model_is_one_per_device():
    """A tower on another device gets its own copy: `Module.to` moves a model in place, and the
    CPU tower (or an ONNX export) must keep its weights where they are. ("meta" stands in for a GPU.)"""
    from searchengine.encoders.bundled import efficientnet

    cpu = efficientnet.load_efficientnet_lite0("cpu")
    other = efficientnet.load_efficientnet_lite0("meta")
    assert other is not cpu
    assert next(other.parameters()).device.type == "meta"
    assert next(cpu.parameters()).device.type == "cpu"
    assert efficientnet.load_efficientnet_lite0() is cpu
    efficientnet._load_efficientnet.cache_clear()  # leave no meta model behind for other tests


def test_open_clip_in_half_precision_embeds_images(tiny_clip_dir):
    """On a GPU open_clip runs in fp16 (`--device cuda`): its weights are half precision, but its
    first parameter is a float32 embedding, so the images must be cast to the weights' dtype.
    PyTorch runs fp16 on the CPU too, which is where this is checked."""
    from searchengine.encoders.openclip import ClipSpec, TorchClip

    spec = ClipSpec.parse(f"local-dir:{tiny_clip_dir}")
    half, full = TorchClip(spec, "cpu", precision="fp16"), TorchClip(spec, "cpu")
    assert half.model.visual.conv1.weight.dtype.itemsize == 2
    images = [Image.open(PHOTOS / name) for name in ("cat_chelsea.jpg", "coffee_cup.jpg", "brick_wall.jpg")]
    batch = np.stack([full.prepare_image(image) for image in images])
    a, b = half.embed_images(batch), full.embed_images(batch)
    _assert_unit_rows(a, 3, full.dim)
    assert np.sum(a * b, axis=1).min() > 0.999
    _assert_unit_rows(half.embed_texts(["a cat", "a cup"]), 2, full.dim)
