"""Learned image heads: a linear map from EfficientNet's pooled features into the text space,
trained with the symmetric InfoNCE loss (see searchengine_train, apart from the runtime), optionally fused with the label bridge.

The weights ship as .npz files beside this module; a file's name is the head's name and so part
of the encoder id (`bundled:lit-v1`), which is what keeps an index from mixing two versions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from searchengine.atomic import atomic_path
from searchengine.encoders.base import l2_normalize
from searchengine.encoders.bundled.heads import LabelBridge
from searchengine.errors import ModelUnavailable

WEIGHTS_DIR = Path(__file__).resolve().parent


@dataclass
class LinearMap:
    """v = normalize(W · (f − mean) + b): DeViSE / locked-image tuning with a linear head."""

    weight: np.ndarray  # [d, 1280]
    bias: np.ndarray  # [d]
    mean: np.ndarray  # [1280]

    def __call__(self, features: np.ndarray) -> np.ndarray:
        centred = np.asarray(features, np.float32) - self.mean
        return l2_normalize(centred @ self.weight.T + self.bias)


@dataclass
class FusedHead:
    """normalize(alpha · bridge + (1 − alpha) · map): late fusion of the two image embeddings."""

    bridge: LabelBridge
    map: LinearMap
    alpha: float
    name: str
    backbone: str = "lite0"  # the EfficientNet-Lite whose outputs it reads (efficientnet.BACKBONES)
    attribute_bank: np.ndarray | None = None  # [len(attributes.ATTRIBUTES), d] text vectors
    attribute_weight: float = 0.0  # share of the attribute bridge (0: none, pixels not needed)
    view: str = "centre"  # how an image is framed for the network (views.VIEWS)

    @property
    def uses_pixels(self) -> bool:
        return self.attribute_weight > 0 and self.attribute_bank is not None

    def __call__(self, logits: np.ndarray, features: np.ndarray, evidence: np.ndarray | None = None) -> np.ndarray:
        """`evidence`: attributes.evidence(pixels) for the batch, needed when `uses_pixels`."""
        mapped = self.map(features)
        out = (
            mapped
            if self.alpha <= 0
            else l2_normalize(self.alpha * self.bridge(logits, features) + (1.0 - self.alpha) * mapped)
        )
        if self.uses_pixels and evidence is not None:
            from searchengine.encoders.bundled.attributes import attribute_vectors

            out = l2_normalize(out + self.attribute_weight * attribute_vectors(evidence, self.attribute_bank))
        return out


def save_head(path: Path, head: FusedHead, **meta) -> None:
    """Write a head as .npz (float32 arrays, plus scalars and string metadata)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(
            fh,
            weight=head.map.weight.astype(np.float32),
            bias=head.map.bias.astype(np.float32),
            mean=head.map.mean.astype(np.float32),
            class_bank=head.bridge.class_bank.astype(np.float32),
            alpha=np.float32(head.alpha),
            top_k=np.int64(head.bridge.top_k),
            temperature=np.float32(head.bridge.temperature),
            backbone=np.array(head.backbone),
            view=np.array(head.view),
            **(
                {
                    "attribute_bank": head.attribute_bank.astype(np.float32),
                    "attribute_weight": np.float32(head.attribute_weight),
                }
                if head.uses_pixels
                else {}
            ),
            **{k: np.array(v) for k, v in meta.items()},
        )


def load_head(path: Path, name: str | None = None) -> FusedHead:
    path = Path(path)
    if not path.exists():
        raise ModelUnavailable(f"bundled head weights missing at {path}: reinstall searchengine")
    with np.load(path) as z:
        bridge = LabelBridge(z["class_bank"], top_k=int(z["top_k"]), temperature=float(z["temperature"]), name="bridge")
        linear = LinearMap(z["weight"], z["bias"], z["mean"])
        backbone = str(z["backbone"]) if "backbone" in z.files else "lite0"  # lit-v1 predates the field
        attributes = (z["attribute_bank"], float(z["attribute_weight"])) if "attribute_bank" in z.files else (None, 0.0)
        view = str(z["view"]) if "view" in z.files else "centre"
        return FusedHead(bridge, linear, float(z["alpha"]), name or path.stem, backbone, *attributes, view)


def shipped_head(name: str) -> FusedHead:
    """The head shipped in the package as `<name>.npz`."""
    return load_head(WEIGHTS_DIR / f"{name}.npz", name)
