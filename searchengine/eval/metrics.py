"""Recall@k from similarity scores: pessimistic about ties, pooled over equivalent answers.

A query's rank is 1 + the number of wrong gallery entries that score at least as high as its
best correct entry. Counting ties against the query keeps a degenerate encoder (every score
equal) at chance instead of at perfect recall. A query may have several correct entries
(image→text: every caption whose text equals one of the image's captions); the best of them
decides. A query none of whose correct entries can be reached has an infinite rank.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from math import comb

import numpy as np

KS = (1, 5, 10)


def pessimistic_ranks(scores: np.ndarray, correct: np.ndarray, reachable: np.ndarray | None = None) -> np.ndarray:
    """Rank (1 = first) of each query's best correct entry; inf when none is reachable.

    scores [nq, ng]: similarity of every query to every gallery entry.
    correct [nq, ng] bool: which entries count as a right answer for each query.
    reachable [nq, ng] bool or None: the entries a search returned (an ANN result list);
    entries outside it neither count as found nor push the correct one down.
    """
    scores = np.asarray(scores, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    if scores.shape != correct.shape:
        raise ValueError(f"scores {scores.shape} and correct {correct.shape} differ in shape")
    if reachable is not None:
        reachable = np.asarray(reachable, dtype=bool)
        scores = np.where(reachable, scores, -np.inf)
        correct = correct & reachable
    best = np.where(correct, scores, -np.inf).max(axis=1, initial=-np.inf)
    beaten_by = ((scores >= best[:, None]) & ~correct & np.isfinite(scores)).sum(axis=1)
    return np.where(np.isfinite(best), 1.0 + beaten_by, np.inf)


def recall_at(ranks: np.ndarray, ks: Sequence[int] = KS) -> dict[str, float]:
    """{"R@k": share of queries ranked k or better}, rounded to 4 places."""
    ranks = np.asarray(ranks, dtype=np.float64)
    if not len(ranks):
        return {f"R@{k}": 0.0 for k in ks}
    return {f"R@{k}": round(float(np.mean(ranks <= k)), 4) for k in ks}


def chance_recall(n_correct: Iterable[int], gallery: int, ks: Sequence[int] = KS) -> dict[str, float]:
    """Expected recall@k of a random ordering, for queries with n_correct right answers each.

    A query with m right answers among `gallery` entries is found in the top k with
    probability 1 - C(gallery - m, k) / C(gallery, k).
    """
    counts = list(n_correct)
    out = {}
    for k in ks:
        if not counts or gallery <= 0:
            out[f"R@{k}"] = 0.0
            continue
        total = comb(gallery, min(k, gallery))
        hit = [1.0 - comb(gallery - m, min(k, gallery)) / total for m in counts]
        out[f"R@{k}"] = round(float(np.mean(hit)), 4)
    return out


def knn_recall(found_scores: np.ndarray, exact_scores: np.ndarray, tolerance: float = 1e-5) -> float:
    """Recall@k of an approximate k-NN result against exact search, tolerating ties.

    found_scores [nq, k]: the true similarity of each result the approximate index returned
    (-inf where it returned fewer than k). exact_scores [nq, k]: the exact top-k similarities.
    A result counts when it scores at least the exact k-th best (less `tolerance`, for float
    rounding), so an index that returns a different one of several tied vectors is not
    penalised (as faiss.contrib's check_ref_knn_with_draws).
    """
    found_scores = np.asarray(found_scores, dtype=np.float64)
    exact_scores = np.asarray(exact_scores, dtype=np.float64)
    k = exact_scores.shape[1]
    if not len(exact_scores) or not k:
        return 0.0
    good = (found_scores >= exact_scores[:, -1:] - tolerance).sum(axis=1)
    return float(np.mean(np.minimum(good, k) / k))
