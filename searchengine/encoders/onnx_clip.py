"""What an open_clip model needs to run without torch: its towers as ONNX graphs, its image
preprocessing in Pillow + numpy, and its BPE tokenizer in the `tokenizers` library.

Each piece is checked against open_clip's own at export time (pixels, token ids, tower outputs);
a model whose preprocessing or tokenizer cannot be reproduced stays on PyTorch.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path

import numpy as np

from searchengine.atomic import atomic_path
from searchengine.encoders.onnx_towers import ExportFailed, export_tower

log = logging.getLogger(__name__)

CHECK_TEXTS = [
    "a photo of a red bicycle",
    "Grace Hopper wrote one of the first compilers!",
    "le chat dort sur le canapé, 3 fois",
    "  spaces   and\ttabs ",
    "word " * 100,  # longer than the context: truncation must match
]


# -- image preprocessing -------------------------------------------------------------------------

_FILTERS = {"bicubic": 3, "bilinear": 2}  # PIL.Image.Resampling values


def _size(cfg: dict) -> tuple[int, int]:
    size = cfg.get("size", ())
    return (size, size) if isinstance(size, int) else tuple(size)


class Preprocess:
    """open_clip's eval transform ('shortest' or 'squash' resize, centre crop, normalise) in Pillow."""

    def __init__(self, cfg: dict):
        self.size = _size(cfg)
        self.mode = cfg["resize_mode"]
        self.filter = _FILTERS[cfg["interpolation"]]
        self.mean = np.asarray(cfg["mean"], np.float32).reshape(3, 1, 1)
        self.std = np.asarray(cfg["std"], np.float32).reshape(3, 1, 1)

    @staticmethod
    def supports(cfg: dict) -> bool:
        size = _size(cfg)
        return (
            cfg.get("interpolation") in _FILTERS
            and len(size) == 2
            and (cfg.get("resize_mode") == "squash" or (cfg.get("resize_mode") == "shortest" and size[0] == size[1]))
        )

    def __call__(self, image) -> np.ndarray:
        image = image.convert("RGB")
        height, width = self.size
        if self.mode == "squash":
            image = image.resize((width, height), self.filter)
        else:  # torchvision Resize(int) then CenterCrop, as open_clip composes them
            short, long = sorted(image.size)
            new_long = int(height * long / short)
            size = (height, new_long) if image.width <= image.height else (new_long, height)
            if image.size != size:
                image = image.resize(size, self.filter)
            top = int(round((image.height - height) / 2.0))
            left = int(round((image.width - width) / 2.0))
            image = image.crop((left, top, left + width, top + height))
        array = np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / 255.0
        return (array - self.mean) / self.std


def _check_preprocess(torch_clip, prepare: Preprocess) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for size in ((317, 211), (97, 160), (640, 640)):
        image = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
        diff = float(np.abs(prepare(image) - torch_clip.prepare_image(image)).max())
        if diff > 1e-4:
            raise ExportFailed(f"Pillow preprocessing differs from open_clip's by {diff:.1e}")


# -- tokenizer --------------------------------------------------------------------------------------

_CLIP_SPLIT = r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""


def _clip_bpe_tokenizer(simple, context_length: int):
    """open_clip's SimpleTokenizer as a `tokenizers` Tokenizer (the same vocabulary and merges)."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    merges = [pair for pair, _ in sorted(simple.bpe_ranks.items(), key=lambda item: item[1])]
    bpe = models.BPE(
        vocab=dict(simple.encoder),
        merges=merges,
        unk_token="<|endoftext|>",
        end_of_word_suffix="</w>",
        continuing_subword_prefix="",
        fuse_unk=False,
    )
    tok = Tokenizer(bpe)
    tok.normalizer = normalizers.Sequence(
        [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()]
    )
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_CLIP_SPLIT), behavior="removed", invert=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    sot, eot = simple.sot_token_id, simple.eot_token_id
    tok.post_processor = processors.TemplateProcessing(
        single="<|startoftext|> $A <|endoftext|>",
        special_tokens=[("<|startoftext|>", sot), ("<|endoftext|>", eot)],
    )
    tok.add_special_tokens(["<|startoftext|>", "<|endoftext|>"])
    tok.enable_truncation(context_length)
    tok.enable_padding(pad_id=0, pad_token="!", length=context_length)
    return tok


# the port in clip_bpe.py must give the `tokenizers` ids on these too (accents, scripts, final sigma)
_BPE_CHECKS = CHECK_TEXTS + ["İstanbul ΣΊΣΥΦΟΣ straße", "一只猫在沙发上 кошка γάτα 🐈‍⬛", "don't x² ½ 12345 ..."]


class ClipTokens:
    """Texts -> int64 token ids [n, context], as open_clip's tokenizer returns them.

    From the plain-Python port (clip_bpe.py, ~0.03 s to load) saved beside the export, else from
    the `tokenizers` tokenizer saved with it (~0.2 s; exports made before the port have only
    that). Both were checked against open_clip's own tokenizer when the tower was exported; nothing
    is compared at run time.
    """

    def __init__(self, path: Path):
        from searchengine.encoders.clip_bpe import ClipBpe

        self._tok = ClipBpe.load(path.with_suffix(".bpe")) or _hf_tokens(path)

    def encode(self, texts: list[str]) -> np.ndarray:
        return self._tok.encode(texts)


class _HfTokens:
    def __init__(self, tokenizer):
        self._tok = tokenizer

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.array([e.ids for e in self._tok.encode_batch(texts)], dtype=np.int64)


def _hf_tokens(path: Path) -> _HfTokens:
    from tokenizers import Tokenizer

    return _HfTokens(Tokenizer.from_file(str(path)))


def _save_bpe(path: Path) -> None:
    """The plain-Python port of the tokenizer saved at `path`, saved beside it when it gives exactly
    its token ids on the checks (else it is left out, and `tokenizers` runs instead)."""
    from searchengine.encoders.clip_bpe import ClipBpe

    try:
        bpe = ClipBpe.from_tokenizer_json(path)
    except (ImportError, OSError, KeyError, ValueError) as exc:
        log.info("no plain-Python CLIP tokenizer (%s): using tokenizers", exc)
        return
    if not np.array_equal(bpe.encode(_BPE_CHECKS), _hf_tokens(path).encode(_BPE_CHECKS)):
        log.warning("the plain-Python CLIP tokenizer differs from tokenizers' on %s: using tokenizers", path.name)
        return
    bpe.save(path.with_suffix(".bpe"))


@lru_cache(maxsize=4)
def _tokens(path: str) -> ClipTokens:
    return ClipTokens(Path(path))


def tokenizer(towers, model_id: str, info: dict) -> ClipTokens:
    """The text tower's tokenizer, saved beside its export in `towers` (an onnx_towers.TowerCache)."""
    return _tokens(str(towers.path(model_id, "text").with_name(info["tokenizer"])))


def _save_tokenizer(torch_clip, path: Path) -> str:
    from open_clip.tokenizer import SimpleTokenizer

    simple = torch_clip.tokenizer
    if not isinstance(simple, SimpleTokenizer):
        raise ExportFailed(f"{type(simple).__name__} is not reproduced without torch yet")
    tok = _clip_bpe_tokenizer(simple, simple.context_length)
    want = simple(CHECK_TEXTS).numpy()
    got = np.array([e.ids for e in tok.encode_batch(CHECK_TEXTS)], dtype=np.int64)
    if want.shape != got.shape or not np.array_equal(want, got):
        raise ExportFailed("the tokenizers port does not reproduce open_clip's token ids")
    name = f"{path.stem}.tokenizer.json"
    with atomic_path(path.with_name(name)) as tmp:
        tok.save(str(tmp))
    _save_bpe(path.with_name(name))
    return name


# -- towers -------------------------------------------------------------------------------------------


def export_image(torch_clip, path: Path) -> dict:
    import torch

    if torch_clip.device != "cpu":
        raise ExportFailed("export runs on the CPU model only")
    cfg = dict(torch_clip.model.visual.preprocess_cfg)
    prepare = Preprocess(cfg) if Preprocess.supports(cfg) else None
    if prepare is not None:
        _check_preprocess(torch_clip, prepare)

    class ImageTower(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, pixels):
            return self.model.encode_image(pixels)

    height, width = _size(cfg)
    rng = np.random.default_rng(0)
    sample = {"pixels": rng.standard_normal((2, 3, height, width)).astype(np.float32)}
    check = {"pixels": rng.standard_normal((3, 3, height, width)).astype(np.float32)}
    return export_tower(
        ImageTower(torch_clip.model),
        sample,
        ["embedding"],
        {"pixels": {0: "batch"}, "embedding": {0: "batch"}},
        path,
        check_inputs=[check],
        tolerance=1e-3,
        extra={"dim": torch_clip.dim, "preprocess": json.loads(json.dumps(cfg)) if prepare else None},
    )


def export_text(torch_clip, path: Path) -> dict:
    import torch

    if torch_clip.device != "cpu":
        raise ExportFailed("export runs on the CPU model only")
    path.parent.mkdir(parents=True, exist_ok=True)
    tokenizer_name = _save_tokenizer(torch_clip, path)

    class TextTower(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, tokens):
            return self.model.encode_text(tokens)

    tokens = torch_clip.tokenizer(CHECK_TEXTS).numpy().astype(np.int64)
    return export_tower(
        TextTower(torch_clip.model),
        {"tokens": tokens[:2]},
        ["embedding"],
        {"tokens": {0: "batch"}, "embedding": {0: "batch"}},
        path,
        check_inputs=[{"tokens": tokens}],
        tolerance=1e-3,
        extra={"dim": torch_clip.dim, "tokenizer": tokenizer_name},
    )
