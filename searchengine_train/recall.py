"""Recall@k for image↔text retrieval over a captioned set, with ties counted against the query.

Identical captions are pooled: a text query is one unique caption, and it is answered correctly
when any image it describes ranks within k. An image query is answered correctly when any of its
captions ranks within k among all unique captions. An item whose score equals the best relevant
score counts as ranked above it, so a constant embedding scores chance, not perfect.
"""

from __future__ import annotations

import numpy as np


def _ranks(scores: np.ndarray, relevant: list[list[int]]) -> np.ndarray:
    """1-based pessimistic rank of the best relevant item per query row."""
    ranks = np.empty(len(scores), dtype=np.int64)
    for q, rel in enumerate(relevant):
        row = scores[q]
        best = row[rel].max()
        mask = np.ones(len(row), dtype=bool)
        mask[rel] = False
        ranks[q] = 1 + int(np.count_nonzero(row[mask] >= best))
    return ranks


def retrieval_recall(
    image_vectors: np.ndarray,
    text_vectors: np.ndarray,
    image_of_text: list[list[int]],
    ks: tuple[int, ...] = (1, 5, 10),
) -> dict[str, float]:
    """{"t2i_r1", …, "i2t_r10"} for unit image vectors [n, d] and unique caption vectors [m, d]."""
    scores = text_vectors @ image_vectors.T
    t2i = _ranks(scores, image_of_text)
    texts_of_image: list[list[int]] = [[] for _ in range(len(image_vectors))]
    for t, images in enumerate(image_of_text):
        for i in images:
            texts_of_image[i].append(t)
    i2t = _ranks(scores.T, texts_of_image)
    out = {}
    for k in ks:
        out[f"t2i_r{k}"] = float(np.mean(t2i <= k))
    for k in ks:
        out[f"i2t_r{k}"] = float(np.mean(i2t <= k))
    return out
