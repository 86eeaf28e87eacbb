"""Any open_clip model: "clip:ARCH/PRETRAINED", "clip:ARCH@/path/to/weights", "clip:local-dir:/folder".

Weights come from open_clip's cache or the Hugging Face hub when online, or from a file or
folder on disk. When they cannot be had, one ModelUnavailable error says how to get them.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from searchengine.encoders import onnx_clip
from searchengine.encoders.backend import INT8_SUFFIX, ONNX_INT8, use_onnx
from searchengine.encoders.base import Runtime, l2_normalize, stack_prepared
from searchengine.encoders.device import configure_torch, resolve_device
from searchengine.encoders.onnx_towers import FP32, INT8, TowerCache
from searchengine.errors import ModelUnavailable, UnknownModel

log = logging.getLogger(__name__)

HUB_HOST = "huggingface.co"


@dataclass(frozen=True)
class ClipSpec:
    """What to build: an architecture (or a local-dir/hf-hub name) and where its weights are."""

    arch: str
    pretrained: str | None  # a tag known to open_clip, a weights file, or None for schema names

    @classmethod
    def parse(cls, spec: str) -> ClipSpec:
        if spec.startswith(("local-dir:", "hf-hub:")):
            return cls(spec, None)
        if "@" in spec:
            arch, path = spec.split("@", 1)
            return cls(arch, str(Path(path).expanduser().resolve()))
        if "/" in spec:
            arch, tag = spec.split("/", 1)
            return cls(arch, tag)
        raise UnknownModel(
            "model 'clip:{spec}' names no weights: use clip:ARCH/PRETRAINED (e.g. clip:ViT-B-32/laion2b_s34b_b79k), "
            "clip:ARCH@/path/to/weights.pt or clip:local-dir:/folder",
            spec=spec,
        )

    @property
    def local_path(self) -> Path | None:
        if self.arch.startswith("local-dir:"):
            return Path(self.arch.removeprefix("local-dir:")).expanduser()
        if self.pretrained and ("/" in self.pretrained or self.pretrained.endswith((".pt", ".bin", ".safetensors"))):
            return Path(self.pretrained)
        return None


def _fingerprint(path: Path) -> str:
    """A cheap content fingerprint of weights: size + hash of the first and last MiB of each file."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for file in files:
        size = file.stat().st_size
        digest.update(f"{file.name}:{size}".encode())
        with file.open("rb") as fh:
            digest.update(fh.read(1 << 20))
            if size > 2 << 20:
                fh.seek(-(1 << 20), 2)
                digest.update(fh.read())
    return digest.hexdigest()[:12]


def _hub_reachable(timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def _hub_offline(offline: bool):
    """Make huggingface_hub answer from its cache alone (no 60 s of retries against a dead network)."""
    if not offline:
        yield
        return
    from huggingface_hub import constants

    saved = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = saved


class OpenClipEncoder:
    """An open_clip model; on the CPU its towers run in ONNX Runtime once exported (see onnx_towers).

    Nothing heavy happens until a tower is needed: a text query on an exported model loads the
    text graph and a `tokenizers` tokenizer, never torch, open_clip or the image graph.
    """

    def __init__(self, spec: ClipSpec, device: str, backend: str, towers: TowerCache):
        self.spec = spec
        self.device = device
        self.backend = backend
        self.towers = towers
        local = spec.local_path
        if local is not None and not local.exists():
            raise ModelUnavailable("weights not found at {path}: give the path of an open_clip checkpoint", path=local)
        if local is not None:
            self.id = f"clip:{spec.arch.split(':')[0] if spec.arch.startswith('local-dir:') else spec.arch}@{_fingerprint(local)}"
        else:
            self.id = f"clip:{spec.arch}/{spec.pretrained}" if spec.pretrained else f"clip:{spec.arch}"
        self._fp32_id = self.id  # exported graphs are cached under the fp32 model's id
        self._variant = FP32
        if backend == ONNX_INT8:
            self.id, self._variant = self.id + INT8_SUFFIX, INT8
        self._torch: TorchClip | None = None
        self._onnx: dict[str, object] = {}  # tower name -> OnnxTower, once loaded
        self._onnx_info: dict[str, dict] = {}
        if use_onnx(device, backend) and self._export_towers():
            self.dim = int(self._onnx_info["text"]["dim"])
            cfg = self._onnx_info["image"].get("preprocess")
            self._prepare = onnx_clip.Preprocess(cfg) if cfg else (lambda image: self.torch.prepare_image(image))
        else:
            self._onnx_info = {}
            self.dim = self.torch.dim
            self._prepare = self.torch.prepare_image

    @property
    def runtime(self) -> str:
        return ("onnxruntime" if self._onnx_info else "torch") + f"-{self.device}"

    @property
    def torch(self) -> TorchClip:
        if self._torch is None:
            self._torch = TorchClip(self.spec, self.device)
        return self._torch

    def _export_towers(self) -> bool:
        """Make sure both towers are exported (from the PyTorch model, once); False: stay on PyTorch."""
        for name, export in (("image", onnx_clip.export_image), ("text", onnx_clip.export_text)):
            info = self.towers.ensure_exported(
                self._fp32_id, name, lambda path, export=export: export(self.torch, path)
            )
            if self._variant == INT8:
                info = self.towers.int8_info(self._fp32_id, name, info)
            if info is None:
                return False
            self._onnx_info[name] = info
        return True

    def _tower(self, name: str):
        tower = self._onnx.get(name)
        if tower is None:
            tower = self._onnx[name] = self.towers.load(self._fp32_id, name, self._onnx_info[name], self._variant)
        return tower

    def prepare_image(self, image) -> np.ndarray:
        return self._prepare(image)

    def embed_images(self, images: Sequence) -> np.ndarray:
        if not images:
            return np.zeros((0, self.dim), np.float32)
        batch = stack_prepared(self, images)
        if self._onnx_info:
            return l2_normalize(self._tower("image")(pixels=batch)[0])
        return self.torch.embed_images(batch)

    def prepare_texts(self) -> None:
        """Load what a text query needs. On ONNX Runtime the graph loads (outside the GIL) while
        the tokenizer does (inside it), side by side: ~0.2 s less of a cold query."""
        if not self._onnx_info:
            self.embed_texts(["warm-up"])
            return
        import threading

        graph = threading.Thread(target=self._tower, args=("text",), name="text-graph-load")
        graph.start()
        try:
            onnx_clip.tokenizer(self.towers, self._fp32_id, self._onnx_info["text"])
        finally:
            graph.join()
        self._tower("text")  # raises here what the thread could not

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        if self._onnx_info:
            tokens = onnx_clip.tokenizer(self.towers, self._fp32_id, self._onnx_info["text"]).encode(list(texts))
            return l2_normalize(self._tower("text")(tokens=tokens)[0])
        return self.torch.embed_texts(list(texts))


class TorchClip:
    """The open_clip model in PyTorch: loading (hub, cache or file), preprocessing, both towers."""

    def __init__(self, spec: ClipSpec, device: str, precision: str | None = None):
        self.spec = spec
        self.device = device
        # open_clip's "fp16" on a GPU: convolutions, linear layers and attention in half precision,
        # LayerNorms and embeddings in float32. float32 on the CPU.
        self.precision = precision or ("fp16" if device == "cuda" else "fp32")
        self._load()

    def _load(self) -> None:
        import open_clip
        import torch

        configure_torch(self.device)
        offline = self.spec.local_path is None and not _hub_reachable()
        try:
            with _hub_offline(offline):
                model, _, preprocess = open_clip.create_model_and_transforms(
                    self.spec.arch,
                    pretrained=self.spec.pretrained,
                    device=self.device,
                    precision=self.precision,
                )
        except Exception as exc:  # open_clip raises RuntimeError/ValueError/FileNotFoundError/HF errors
            where = "offline, and they are not in the local cache" if offline else str(exc).splitlines()[0]
            raise ModelUnavailable(
                "cannot load open_clip weights for {arch}/{pretrained} ({where}): run once where huggingface.co is "
                "reachable to cache them, or pass clip:ARCH@/path/to/weights.pt",
                arch=self.spec.arch,
                pretrained=self.spec.pretrained or "",
                where=where,
            ) from exc
        self.model = model.eval()
        self.preprocess = preprocess
        self.tokenizer = open_clip.get_tokenizer(self.spec.arch)
        with torch.inference_mode():
            probe = self.model.encode_text(self.tokenizer(["probe"]).to(self.device))
        self.dim = int(probe.shape[-1])

    def prepare_image(self, image) -> np.ndarray:
        return self.preprocess(image.convert("RGB")).numpy()

    def _to_numpy(self, tensor) -> np.ndarray:
        return l2_normalize(tensor.float().cpu().numpy())

    def embed_images(self, batch: np.ndarray) -> np.ndarray:
        import torch

        pixels = torch.from_numpy(batch).to(self.device, dtype=self.input_dtype)
        with torch.inference_mode():
            return self._to_numpy(self.model.encode_image(pixels))

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        import torch

        tokens = self.tokenizer(texts).to(self.device)
        with torch.inference_mode():
            return self._to_numpy(self.model.encode_text(tokens))

    @property
    def input_dtype(self):
        """The dtype the image tower takes: that of its weights. Not the model's first parameter's:
        under "fp16" that is a float32 embedding, and float32 pixels fail in the half-precision
        patch convolution."""
        import torch

        return {"fp16": torch.float16, "bf16": torch.bfloat16}.get(self.precision, torch.float32)


def load_clip(spec: str, runtime: Runtime) -> OpenClipEncoder:
    towers = TowerCache(runtime.cache_dir, prepack=not runtime.quick_start)
    return OpenClipEncoder(ClipSpec.parse(spec), resolve_device(runtime.device), runtime.backend, towers)
