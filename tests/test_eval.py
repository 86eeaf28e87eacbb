"""Recall@k: the computation on hand-checked examples, and `bench recall` end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from searchengine.errors import UsageError
from searchengine.eval.dataset import Pair, load_pairs
from searchengine.eval.metrics import chance_recall, knn_recall, pessimistic_ranks, recall_at
from searchengine.eval.recall import write_gallery

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "photos"


def test_ranks_count_ties_against_the_query():
    scores = np.array(
        [
            [0.9, 0.5, 0.1],  # right answer (0) clearly first
            [0.7, 0.7, 0.2],  # right answer (1) tied with a wrong one: rank 2, not 1
            [0.3, 0.3, 0.3],  # all tied: last
        ]
    )
    correct = np.eye(3, dtype=bool)
    ranks = pessimistic_ranks(scores, correct)
    assert ranks.tolist() == [1, 2, 3]
    assert recall_at(ranks, ks=(1, 2, 3)) == {"R@1": 0.3333, "R@2": 0.6667, "R@3": 1.0}


def test_a_constant_encoder_scores_no_better_than_last():
    ranks = pessimistic_ranks(np.zeros((4, 4)), np.eye(4, dtype=bool))
    assert ranks.tolist() == [4, 4, 4, 4]


def test_image_to_text_pools_identical_captions(tmp_path):
    # Gallery: "A flower." (image 0's), "A flower." (image 1's), "A dog." (image 2's).
    gallery = write_gallery(
        [
            Pair(Path("/x/0.png"), ("A flower.",)),
            Pair(Path("/x/1.png"), ("A flower.",)),
            Pair(Path("/x/2.png"), ("A dog.",)),
        ],
        tmp_path / "gallery",
    )
    correct = gallery.correct_captions(np.arange(3))
    assert correct.tolist() == [[True, True, False], [True, True, False], [False, False, True]]
    assert gallery.n_correct_captions() == [2, 2, 1]
    # Image 0 scores image 1's caption highest: same text, so it counts as found at rank 1.
    scores = np.array([[0.2, 0.8, 0.5], [0.1, 0.2, 0.9], [0.4, 0.4, 0.4]])
    assert pessimistic_ranks(scores, correct).tolist() == [1, 2, 3]  # last: the two flowers tie with the dog


def test_ranks_through_a_search_only_see_what_it_returned():
    scores = np.array([[0.9, 0.8, 0.7], [0.9, 0.8, 0.7]])
    correct = np.array([[False, False, True], [True, False, False]])
    returned = np.array([[True, False, True], [False, True, True]])
    ranks = pessimistic_ranks(scores, correct, returned)
    assert ranks[0] == 2  # the wrong entry it skipped (0.8) does not push the answer down
    assert np.isinf(ranks[1])  # the answer was not returned at all
    assert recall_at(ranks, ks=(2,)) == {"R@2": 0.5}


def test_chance_level_follows_gallery_size():
    assert chance_recall([1], 10, ks=(1, 5, 10)) == {"R@1": 0.1, "R@5": 0.5, "R@10": 1.0}
    assert chance_recall([2], 10, ks=(1,)) == {"R@1": 0.2}
    assert chance_recall([1], 1000, ks=(10,)) == {"R@10": 0.01}


def test_load_pairs_reads_splits_and_refuses_missing_files(tmp_path):
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "test.jsonl").write_text(json.dumps({"image": "a.png", "captions": [" A cat. ", ""]}) + "\n")
    pairs = load_pairs(tmp_path, "test")
    assert pairs == [Pair(tmp_path.resolve() / "a.png", ("A cat.",))]
    with pytest.raises(UsageError, match="no pairs.jsonl"):
        load_pairs(tmp_path)
    (tmp_path / "pairs.jsonl").write_text(json.dumps({"image": "gone.png", "captions": ["x"]}) + "\n")
    with pytest.raises(UsageError, match="do not exist"):
        load_pairs(tmp_path)


CAPTIONS = {
    "cat_chelsea.jpg": ["A cat.", "A tabby cat looking at the camera."],
    "coffee_cup.jpg": ["A cup of coffee."],
    "rocket_launch_pad.jpg": ["A rocket on a launch pad."],
    "yellow_flower_closeup.jpg": ["A yellow flower."],
}


@pytest.mark.slow  # default run under 3 minutes; CI runs it (-m "")
def test_bench_recall_end_to_end(tmp_path):
    dataset = tmp_path / "dataset"
    (dataset / "images").mkdir(parents=True)
    with open(dataset / "pairs.jsonl", "w", encoding="utf-8") as fh:
        for name, captions in CAPTIONS.items():
            shutil.copy(SAMPLES / name, dataset / "images" / name)
            fh.write(json.dumps({"image": f"images/{name}", "captions": captions}) + "\n")
    env = {**os.environ, "SEARCHENGINE_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "searchengine", "bench", "recall", str(dataset), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {"model", "n_images", "n_captions", "t2i", "i2t", "seconds", "ann"} <= set(result)
    assert (result["model"], result["n_images"], result["n_captions"]) == ("bundled", 4, 5)
    for block in (result["t2i"], result["i2t"], result["ann"]["t2i"], result["ann"]["i2t"]):
        assert set(block) == {"R@1", "R@5", "R@10"}
        assert 0 <= block["R@1"] <= block["R@5"] <= block["R@10"] == 1.0  # gallery smaller than 10
    assert result["ann"]["index_type"] == "flat"
    assert result["ann"]["t2i"] == result["t2i"] and result["ann"]["i2t"] == result["i2t"]  # flat is exact
    assert result["t2i"]["R@1"] > result["chance"]["t2i"]["R@1"]  # the bundled bridge knows cats and rockets


def test_knn_recall_tolerates_ties_and_counts_misses():
    exact = np.array([[0.9, 0.8, 0.7], [0.5, 0.5, 0.5]])
    found = np.array([[0.9, 0.7, 0.6], [0.5, 0.5, 0.5]])  # row 1: other vectors of the same score
    assert knn_recall(found, exact) == pytest.approx((2 / 3 + 1) / 2)
    assert knn_recall(np.full((2, 3), -np.inf), exact) == 0.0
