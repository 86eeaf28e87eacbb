"""Zero-shot tags: the ImageNet classes EfficientNet-Lite0 finds most likely in an image.

These are the labels the label bridge reasons over, so they also show what the bundled encoder
"sees" in a picture.
"""

from __future__ import annotations

from pathlib import Path

from searchengine.encoders.bundled.heads import softmax
from searchengine.encoders.bundled.labels import class_descriptions


def image_tags(path: str | Path, cache_dir: Path, k: int = 5, device: str = "cpu") -> list[tuple[str, float]]:
    """The k most likely ImageNet labels of the image at `path`, as (label, probability), best first.

    Labels are the class lemmas ("tabby, tabby cat"). Raises DecodeError for an unreadable image
    and ModelUnavailable when the bundled image model is not installed. `cache_dir`: the model
    cache (the image tower's ONNX export).
    """
    import numpy as np

    from searchengine.encoders.bundled.encoder import BundledEncoder
    from searchengine.encoders.bundled.heads import LabelBridge
    from searchengine.encoders.onnx_towers import TowerCache
    from searchengine.media.images import load_image

    encoder = BundledEncoder(LabelBridge(np.zeros((1000, 1), np.float32)), TowerCache(Path(cache_dir)), device=device)
    logits, _ = encoder.image_outputs([encoder.prepare_image(load_image(Path(path)))])
    probs = softmax(logits)[0]
    top = np.argsort(-probs)[: max(0, k)]
    labels = class_descriptions()
    return [(labels[i], float(probs[i])) for i in top]
