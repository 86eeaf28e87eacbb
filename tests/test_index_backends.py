"""Every FAISS backend against exact search on the same data (ties tolerated), plus remove/save/load."""

from __future__ import annotations

import numpy as np
import pytest

from searchengine.index.faiss_index import build_index, choose_kind, load_index

DIM = 32


def _clustered(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, DIM))
    x = centres[rng.integers(0, 20, n)] + 0.3 * rng.normal(size=(n, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _exact(vectors, ids, queries, k):
    scores = queries @ vectors.T
    order = np.argsort(-scores, axis=1)[:, :k]
    return ids[order], np.take_along_axis(scores, order, axis=1)


def _recall(found_ids, true_ids) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found_ids, true_ids)]))


@pytest.mark.parametrize("kind, floor", [("flat", 1.0), ("hnsw", 0.95), ("ivf", 0.9)])
def test_backend_matches_exact_search(kind, floor):
    vectors = _clustered(3000)
    ids = np.arange(1000, 4000, dtype=np.int64)  # segment ids are not positions
    queries = _clustered(50, seed=1)
    index = build_index(kind, DIM, ids, vectors)
    assert index.kind == kind and index.ntotal == 3000
    scores, found = index.search(queries, 10)
    true_ids, true_scores = _exact(vectors, ids, queries, 10)
    if kind == "flat":
        # exact: same scores; ids may differ only between equal scores
        np.testing.assert_allclose(scores, true_scores, atol=1e-5)
    assert _recall(found, true_ids) >= floor


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_remove_save_load(kind, tmp_path):
    vectors = _clustered(500)
    ids = np.arange(500, dtype=np.int64) * 3
    index = build_index(kind, DIM, ids, vectors)
    index.remove(ids[:100])
    assert index.ntotal == 400
    _, found = index.search(vectors[:100], 5)
    assert not set(found.ravel().tolist()) & set(ids[:100].tolist())
    path = tmp_path / "vectors.faiss"
    index.save(path)
    loaded = load_index(path, kind, DIM, index.params())
    assert loaded.ntotal == 400
    a = index.search(vectors[200:210], 5)[1]
    b = loaded.search(vectors[200:210], 5)[1]
    np.testing.assert_array_equal(a, b)
    # the vector itself is found first after the round trip
    assert (b[:, 0] == ids[200:210]).mean() >= 0.9


def test_auto_choice_grows_with_the_collection():
    assert choose_kind(0) == "flat"
    assert choose_kind(10_000) == "flat"
    assert choose_kind(500_000) == "hnsw"
    assert choose_kind(5_000_000) == "ivf"
