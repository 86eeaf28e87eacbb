"""Every FAISS backend against exact search on the same data (ties tolerated), plus remove/save/load;
IVF-PQ with exact re-ranking, its choice from size and memory budget, its lists on disk and mapped."""

from __future__ import annotations

import numpy as np
import pytest

from searchengine.vectors.choice import choose, choose_kind, estimate_bytes, nlist_for, parse_size
from searchengine.vectors.factory import build_index, load_index
from searchengine.vectors.pq import sample_rows

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
    # every kind storing the vectors scores what it finds exactly, so searches need no re-scoring
    assert index.exact_scores
    row_of = {int(i): r for r, i in enumerate(ids)}
    exact = np.einsum("qkd,qd->qk", vectors[[[row_of[int(i)] for i in row] for row in found]], queries)
    np.testing.assert_allclose(scores, exact, atol=1e-4)


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf", "ivfpq"])
def test_remove_save_load(kind, tmp_path):
    vectors = _clustered(500)
    ids = np.arange(500, dtype=np.int64) * 3
    index = build_index(kind, DIM, ids, vectors, params={"m": 8})
    exact = lambda found: vectors[found // 3]  # noqa: E731 (the stored vectors, as the catalog gives them)
    assert index.exact_scores == (kind != "ivfpq")  # PQ codes alone give approximate scores
    index.rerank_with(exact)  # IVF-PQ re-ranks with them; the other kinds have exact scores already
    assert index.exact_scores
    index.remove(ids[:100])
    assert index.ntotal == 400
    _, found = index.search(vectors[:100], 5)
    assert not set(found.ravel().tolist()) & set(ids[:100].tolist())
    path = tmp_path / "vectors.faiss"
    index.save(path)
    loaded = load_index(path, kind, DIM, index.params())
    loaded.rerank_with(exact)
    assert loaded.ntotal == 400
    a = index.search(vectors[200:210], 5)[1]
    b = loaded.search(vectors[200:210], 5)[1]
    np.testing.assert_array_equal(a, b)
    # the vector itself is found first after the round trip
    assert (b[:, 0] == ids[200:210]).mean() >= 0.9


def test_auto_choice_grows_with_the_collection():
    big = 64 * 2**30
    assert choose_kind(0, max_memory=big) == "flat"
    assert choose_kind(10_000, max_memory=big) == "flat"
    assert choose_kind(500_000, max_memory=big) == "hnsw"
    assert choose_kind(5_000_000, max_memory=big) == "ivfpq"


def test_memory_budget_picks_the_index_like_autofaiss():
    # 1M × 512: HNSW needs ~2.3 GB; under 1 GB the compressed index takes over, with d/8-byte codes
    assert estimate_bytes("hnsw", 1_000_000, 512) > 2 * 2**30
    tight = choose(1_000_000, 512, max_memory=2**30)
    assert tight.kind == "ivfpq" and tight.params["m"] == 64 and not tight.params["ondisk"]
    assert tight.params["fastscan"] and tight.params["nbits"] == 4  # in memory: 4-bit fast-scan codes
    assert tight.memory_bytes <= 2**30
    # a smaller budget: smaller codes; smaller still: the lists go to disk, with 8-bit codes
    assert choose(10_000_000, 512, max_memory=400 * 2**20).params["m"] == 64  # 32 bytes a vector
    assert choose(10_000_000, 512, max_memory=300 * 2**20).params["m"] == 32
    on_disk = choose(100_000_000, 512, max_memory=2**30)
    assert on_disk.params["ondisk"] and on_disk.memory_bytes <= 2**30
    assert not on_disk.params["fastscan"] and on_disk.params["nbits"] == 8
    assert choose(2_000, 512, max_memory=1).kind == "flat"  # too few to train a quantizer on
    assert parse_size("8G") == 8 * 2**30 and parse_size("512MB") == 512 * 2**20 and parse_size("1000") == 1000
    assert nlist_for(1_000_000) == 2048 and nlist_for(5_000_000) == 4096


def test_training_sample_holds_both_modalities():
    is_text = np.zeros(10_000, bool)
    is_text[-200:] = True  # texts: 2 % of the collection, all at the end (indexed last)
    rows = sample_rows(10_000, is_text, 1_000)
    assert len(rows) == 1_000 and len(set(rows.tolist())) == 1_000
    assert is_text[rows].sum() == 200  # all of them: fewer than a quarter of the sample
    is_text[-5_000:] = True
    rows = sample_rows(10_000, is_text, 1_000)
    assert 400 <= is_text[rows].sum() <= 600


def _two_modalities(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Clustered vectors with a modality gap: a fifth are 'texts', shifted along a shared direction."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(size=(100, 64))
    gap = np.random.default_rng(7).normal(size=64)
    is_text = rng.random(n) < 0.2
    x = centres[rng.integers(0, 100, n)] + 0.5 * rng.normal(size=(n, 64)) + 1.5 * is_text[:, None] * gap
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), is_text


@pytest.mark.parametrize("opq", [False, True])
def test_ivfpq_with_exact_rerank_meets_recall_against_flat(opq):
    vectors, is_text = _two_modalities(12_000)
    ids = np.arange(12_000, dtype=np.int64) * 2 + 5
    queries, _ = _two_modalities(100, seed=1)
    index = build_index("ivfpq", 64, ids, vectors, is_text=is_text, params={"opq": opq})
    assert index.kind == "ivfpq" and index.params()["opq"] is opq and index.params()["m"] == 8
    flat = build_index("flat", 64, ids, vectors)
    _, true_ids = flat.search(queries, 10)
    row_of = {int(i): r for r, i in enumerate(ids)}
    index.rerank_with(lambda found: vectors[[row_of[int(i)] for i in found]])
    scores, found = index.search(queries, 10)
    assert _recall(found, true_ids) >= 0.95
    exact = np.einsum("qkd,qd->qk", vectors[[[row_of[int(i)] for i in row] for row in found]], queries)
    np.testing.assert_allclose(scores, exact, atol=1e-5)  # re-ranked scores are the exact ones


def test_ivfpq_lists_on_disk_save_load_and_copy_on_write(tmp_path):
    vectors, is_text = _two_modalities(3_000)
    ids = np.arange(3_000, dtype=np.int64)
    index = build_index("ivfpq", 64, ids, vectors, is_text=is_text, params={"ondisk": True}, data_dir=tmp_path)
    path = tmp_path / "vectors.faiss"
    index.save(path)
    first = list(tmp_path.glob("vectors.*.ivfdata"))
    assert index.ondisk and len(first) == 1
    reader = load_index(path, "ivfpq", 64, index.params(), mmap=True)
    before = reader.search(vectors[:20], 5)[1]
    writer = load_index(path, "ivfpq", 64, index.params())
    writer.remove(ids[:100])
    writer.add(ids[:10] + 10_000, vectors[:10])
    # the saved data file is untouched until the writer saves: the reader still sees the old lists
    np.testing.assert_array_equal(reader.search(vectors[:20], 5)[1], before)
    assert load_index(path, "ivfpq", 64, index.params(), mmap=True).ntotal == 3_000
    writer.save(path)
    files = list(tmp_path.glob("vectors.*.ivfdata"))
    assert len(files) == 1 and files != first  # the old data file is gone, a new one holds the lists
    again = load_index(path, "ivfpq", 64, writer.params(), mmap=True)
    assert again.ntotal == 2_910
    assert not set(again.search(vectors[:100], 5)[1].ravel().tolist()) & set(ids[:100].tolist())


def test_mapped_load_searches_like_a_read(tmp_path):
    vectors = _clustered(2_000)
    ids = np.arange(2_000, dtype=np.int64) + 1
    for kind in ("flat", "hnsw", "ivf"):
        path = tmp_path / f"{kind}.faiss"
        built = build_index(kind, DIM, ids, vectors)
        built.save(path)
        mapped = load_index(path, kind, DIM, built.params(), mmap=True)
        np.testing.assert_array_equal(mapped.search(vectors[:10], 5)[1], built.search(vectors[:10], 5)[1])


def test_index_folder_keeps_an_ivfpq_on_disk_within_its_budget(tmp_path):
    """An index folder asked for ivfpq under a tiny --max-memory: lists on disk, searched mapped and
    re-ranked from the catalog, changed copy-on-write, one data file left after saving."""
    from searchengine.store.folder import IndexFolder
    from searchengine.store.records import ItemDraft, SegmentDraft

    vectors, is_text = _two_modalities(2_000)
    folder = tmp_path / "index"
    with IndexFolder.open_for_writing(folder, "test", "test-encoder", 64, "ivfpq", max_memory=1) as index:
        run = index.catalog.start_run(tmp_path, "test-encoder")
        drafts = [
            ItemDraft(
                f"/data/{i}.{'txt' if t else 'jpg'}",
                "text" if t else "image",
                1,
                1,
                f"h{i}",
                [SegmentDraft(0, v, text="words" if t else None)],
            )
            for i, (v, t) in enumerate(zip(vectors, is_text))
        ]
        index.commit(run, drafts)
        index.save()
        assert index.manifest.index_type == "ivfpq" and index.manifest.index_params["ondisk"]
        assert index.manifest.max_memory == 1
        index.commit(run, [], [d.path for d in drafts[:50]])
        index.save()
    assert len(list(folder.glob("vectors.*.ivfdata"))) == 1
    with IndexFolder.open(folder) as opened:
        held = opened.vectors
        assert held.kind == "ivfpq" and held.ntotal == 1_950
        np.testing.assert_array_equal(held.ids(), opened.catalog.segment_ids())
        ids = opened.catalog.segment_ids()
        scores, found = held.search(vectors[100:110], 1)
        np.testing.assert_array_equal(found[:, 0], ids[50:60])  # each vector finds itself, exactly scored
        np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)


@pytest.mark.parametrize("ondisk", [False, True])
def test_ivfpq_shards_encoded_apart_and_merged_hold_the_same_index(ondisk, tmp_path):
    """What the Ray engine does with a large IVF-PQ: chunks encoded from the trained index
    elsewhere (here: by a plain map), merged into the index (in memory, or its on-disk lists)."""
    from searchengine.vectors.factory import add_chunks
    from searchengine.vectors.ivfpq import IvfPqIndex

    vectors, is_text = _two_modalities(4_000)
    ids = np.arange(4_000, dtype=np.int64) * 7
    chunks = [(ids[i : i + 1_000], vectors[i : i + 1_000]) for i in range(0, 4_000, 1_000)]
    params = {"opq": False, "ondisk": ondisk}
    whole = IvfPqIndex.train(
        64, 4_000, lambda rows: vectors[rows], is_text, params, tmp_path / "a.x.ivfdata" if ondisk else None
    )
    add_chunks(whole, chunks)
    sharded = IvfPqIndex.train(
        64, 4_000, lambda rows: vectors[rows], is_text, params, tmp_path / "b.x.ivfdata" if ondisk else None
    )
    add_chunks(sharded, chunks, map_shards=lambda fn, args: (fn(*a) for a in args))
    assert sharded.ntotal == whole.ntotal == 4_000
    np.testing.assert_array_equal(sharded.ids(), np.sort(ids))
    np.testing.assert_array_equal(sharded.search(vectors[:50], 10)[1], whole.search(vectors[:50], 10)[1])
