"""Frozen features for training and evaluation, computed once and cached as .npy files.

Images go through exactly the path indexing takes (`load_image` → `prepare_image` →
EfficientNet-Lite0), so a head trained on these features sees what it will see in use.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from searchengine.atomic import atomic_path, atomic_write

log = logging.getLogger(__name__)


@dataclass
class ImageFeatures:
    paths: list[str]  # relative to the dataset folder
    logits: np.ndarray  # [n, 1000] float32
    features: np.ndarray  # [n, 1280] float32, pooled


def _key(parts: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def image_features(
    folder: Path, paths: Sequence[str], cache: Path, batch_size: int = 8, backbone: str = "lite0", view: str = "centre"
) -> ImageFeatures:
    """EfficientNet logits and pooled features of `folder/path` for each path, cached by path list.

    `backbone` names the network (efficientnet.BACKBONES); `view` the part of the image it sees:
    "centre" (what indexing uses), or another view of `views.VIEWS` (test-time view experiments)."""
    folder = Path(folder)
    key = _key([folder.resolve().as_posix(), *paths])
    tag = "" if (backbone, view) == ("lite0", "centre") else f"{backbone}-{view}-"
    base = Path(cache) / f"images-{tag}{folder.name}-{key}"
    if base.with_suffix(".logits.npy").exists():
        return ImageFeatures(
            list(paths), np.load(base.with_suffix(".logits.npy")), np.load(base.with_suffix(".features.npy"))
        )
    from searchengine.encoders.bundled.encoder import BundledEncoder
    from searchengine.encoders.bundled.heads import LabelBridge
    from searchengine.encoders.bundled.views import VIEWS
    from searchengine.media.images import load_image

    encoder = BundledEncoder(LabelBridge(np.zeros((1000, 1), np.float32)), _towers(), backbone=backbone)
    prepare = VIEWS[view]
    logits, features = [], []
    log.info("encoding %d images of %s (%s, %s view)", len(paths), folder, backbone, view)
    for start in range(0, len(paths), batch_size):
        batch = [prepare(encoder, load_image(folder / p)) for p in paths[start : start + batch_size]]
        lo, fe = encoder.image_outputs(batch)
        logits.append(lo)
        features.append(fe)
    out = ImageFeatures(list(paths), np.concatenate(logits), np.concatenate(features))
    for suffix, array in ((".logits.npy", out.logits), (".features.npy", out.features)):
        with atomic_path(base.with_suffix(suffix)) as tmp, open(tmp, "wb") as fh:
            np.save(fh, array)
    atomic_write(base.with_suffix(".json"), json.dumps({"folder": str(folder), "paths": list(paths)}))
    return out


def text_embeddings(
    texts: Sequence[str], cache: Path, tower: str, embed: Callable[[Sequence[str]], np.ndarray]
) -> np.ndarray:
    """[n, d] unit vectors of `texts` by the text tower `tower`, cached by content."""
    base = Path(cache) / f"texts-{tower}-{_key([tower, *texts])}.npy"
    if base.exists():
        return np.load(base)
    log.info("embedding %d texts with %s", len(texts), tower)
    vectors = np.asarray(embed(list(texts)), dtype=np.float32)
    with atomic_path(base) as tmp, open(tmp, "wb") as fh:
        np.save(fh, vectors)
    return vectors


def image_evidence(
    folder: Path, paths: Sequence[str], cache: Path, backbone: str = "lite0", view: str = "centre"
) -> np.ndarray:
    """attributes.evidence of each image's `view` (as the tower of `backbone` sees it), cached."""
    from searchengine.encoders.bundled.attributes import ATTRIBUTES, evidence

    folder = Path(folder)
    key = _key([folder.resolve().as_posix(), *paths, *ATTRIBUTES])
    path = Path(cache) / f"evidence-{backbone}-{view}-{folder.name}-{key}.npy"
    if path.exists():
        return np.load(path)
    from searchengine.encoders.bundled.encoder import BundledEncoder
    from searchengine.encoders.bundled.heads import LabelBridge
    from searchengine.encoders.bundled.views import VIEWS
    from searchengine.media.images import load_image

    encoder = BundledEncoder(LabelBridge(np.zeros((1000, 1), np.float32)), _towers(), backbone=backbone)
    rows = [evidence(encoder.pixels([VIEWS[view](encoder, load_image(folder / p))]))[0] for p in paths]
    out = np.asarray(rows, np.float32).reshape(len(paths), len(ATTRIBUTES))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, out)
    return out


def _towers():
    """The bundled towers' exports, in the model cache the product uses ($SEARCHENGINE_HOME/cache)."""
    from searchengine.config import cache_dir
    from searchengine.encoders.onnx_towers import TowerCache

    return TowerCache(cache_dir())
