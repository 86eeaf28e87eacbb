"""Relevance by default: the k best are listed whatever their score, each with a confidence.

A small real collection with known answers (sample photos and notes, the bundled encoder), plus a
byte-identical and a half-size copy of one photo.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from searchengine import confidence
from searchengine.config import cache_dir
from searchengine.fusion import interleave_kinds
from searchengine.hits import Hit
from searchengine.ingest.run import sync_folder
from searchengine.ingest.settings import IngestSettings
from searchengine.media.copies import fingerprint, same_picture
from searchengine.query import Filters, Query, Searcher
from searchengine.store.folder import IndexFolder

from conftest import PHOTOS, TEXTS

ABSENT = "a submarine under the arctic ice"
LEVELS = {"high", "medium", "low"}


@pytest.fixture(scope="module")
def collection(tmp_path_factory, bundled):
    base = tmp_path_factory.mktemp("relevance")
    folder = base / "media"
    (folder / "copies").mkdir(parents=True)
    for name in (
        "cat_chelsea.jpg",
        "coffee_cup.jpg",
        "rocket_launch_pad.jpg",
        "dahlia_flower.jpg",
        "yellow_flower_closeup.jpg",
        "storm_clouds_on_horizon.jpg",
        "grace_hopper_portrait.jpg",
        "horse_silhouette.png",
    ):
        shutil.copy2(PHOTOS / name, folder / name)
    for name in ("cats_and_sleep.md", "coffee_brewing_guide.md", "household_budget_meeting.txt", "flower_gardening.md"):
        shutil.copy2(TEXTS / name, folder / name)
    shutil.copy2(PHOTOS / "rocket_launch_pad.jpg", folder / "copies" / "rocket_again.jpg")  # byte-identical
    cat = Image.open(PHOTOS / "cat_chelsea.jpg")
    cat.resize((cat.width // 2, cat.height // 2)).save(folder / "copies" / "cat_small.jpg", quality=75)
    index_dir = base / "index"
    sync_folder(folder, index_dir, IngestSettings(device="cpu", workers=2), encoder=bundled, cache_dir=cache_dir())
    searcher = Searcher(IndexFolder.open(index_dir), bundled)
    yield folder, index_dir, searcher
    searcher.close()


def names(hits):
    return [h.path.rsplit("/", 1)[1] for h in hits]


@pytest.mark.parametrize("kind, count", [("any", 14), ("image", 10), ("text", 4)])
def test_default_lists_the_k_best_even_for_an_absent_subject(collection, kind, count):
    _, _, searcher = collection
    hits = searcher.search(Query(text=ABSENT), Filters(kind=kind), k=20)
    assert len(hits) == count  # every file of that kind, best first: nothing hidden
    assert all(h.confidence in LEVELS for h in hits)
    assert hits[0].confidence != "high"
    assert hits[0].score == max(h.score for h in hits)
    for each in {h.kind for h in hits}:  # kinds interleave in `any` (fusion.interleave_kinds); each in order
        scores = [h.score for h in hits if h.kind == each]
        assert scores == sorted(scores, reverse=True)


def test_a_clear_match_comes_first_with_more_confidence_than_noise(collection):
    _, _, searcher = collection
    cat = searcher.search(Query(text="a photo of a cat"), Filters(kind="image"), k=3)
    assert names(cat)[:2] == ["cat_chelsea.jpg", "cat_small.jpg"] or names(cat)[:2] == [
        "cat_small.jpg",
        "cat_chelsea.jpg",
    ]
    order = {"low": 0, "medium": 1, "high": 2}
    absent = searcher.search(Query(text=ABSENT), Filters(kind="image"), k=1)[0]
    assert order[cat[0].confidence] > order[absent.confidence]


def test_min_score_still_cuts(collection):
    _, _, searcher = collection
    everything = searcher.search(Query(text="a cup of coffee"), k=20)
    assert searcher.search(Query(text="a cup of coffee"), Filters(min_score=100.0), k=20) == []
    cut = searcher.search(Query(text="a cup of coffee"), Filters(min_score=everything[2].score), k=20)
    assert cut == everything[: len(cut)] and 3 <= len(cut) < len(everything)


@pytest.mark.parametrize(
    "query, first",
    [
        (PHOTOS / "rocket_launch_pad.jpg", {"rocket_launch_pad.jpg", "rocket_again.jpg"}),  # byte-identical files
        (PHOTOS / "cat_chelsea.jpg", {"cat_chelsea.jpg", "cat_small.jpg"}),  # itself and a half-size copy
    ],
)
def test_copies_of_the_query_image_rank_first_among_every_kind(collection, query, first):
    _, _, searcher = collection
    hits = searcher.search(Query(image=query), k=5)
    assert set(names(hits[:2])) == first, [(h.kind, h.path, h.score) for h in hits]
    assert all(h.confidence == "high" for h in hits[:2])
    assert hits[0].score > hits[2].score


def test_an_image_querys_list_of_any_kind_is_by_score(collection):
    """Kinds take turns for a query in words only: for an image query they lifted passages about
    something else over similar pictures."""
    _, _, searcher = collection
    hits = searcher.search(Query(image=PHOTOS / "dahlia_flower.jpg"), k=12)
    scores = [h.score for h in hits[1:]]  # after the query image itself
    assert scores == sorted(scores, reverse=True), [(h.kind, h.path, h.score) for h in hits]
    assert {h.kind for h in hits} == {"image", "text"}


def test_a_half_size_copy_as_the_query_finds_the_original_first(collection, tmp_path):
    _, _, searcher = collection
    small = tmp_path / "coffee_small.jpg"
    coffee = Image.open(PHOTOS / "coffee_cup.jpg")
    coffee.resize((coffee.width // 2, coffee.height // 2)).save(small, quality=75)
    assert names(searcher.search(Query(image=small), k=3))[0] == "coffee_cup.jpg"


def test_each_group_is_searched_exactly(collection):
    """The k best from per-group searches are the first k of everything ranked at once."""
    _, _, searcher = collection
    for text in ("a flower", ABSENT, "the household budget"):
        everything = searcher.search(Query(text=text), k=100)
        for k in (1, 3, 6):
            top = searcher.search(Query(text=text), k=k)
            assert [h.segment_id for h in top] == [h.segment_id for h in everything[:k]]


def test_cli_json_and_queries_carry_confidence_and_warn_on_a_weak_best(collection, tmp_path, session_home):
    _, index_dir, _ = collection
    env = {"SEARCHENGINE_HOME": str(session_home), "PATH": "/usr/bin:/bin"}

    def run(*args):
        command = [sys.executable, "-m", "searchengine", "search", *map(str, args), "--index", str(index_dir)]
        return subprocess.run(command, capture_output=True, text=True, env=env, check=True)

    absent = run(ABSENT, "--json", "-k", "3")
    hits = json.loads(absent.stdout)
    assert len(hits) == 3 and all(h["confidence"] in LEVELS for h in hits)
    assert list(hits[0])[:3] == ["rank", "score", "confidence"]
    if hits[0]["confidence"] == "low":
        assert "no strong match" in absent.stderr and absent.stderr.count("\n") == 1
    assert "no strong match" not in run("a cup of coffee", "--json").stderr
    queries = tmp_path / "queries.txt"
    queries.write_text(f"a cup of coffee\nimage:{PHOTOS / 'cat_chelsea.jpg'}\n")
    lines = [json.loads(line) for line in run("--queries", queries, "-k", "2").stdout.splitlines()]
    assert [len(line["hits"]) for line in lines] == [2, 2]
    assert all(h["confidence"] in LEVELS for line in lines for h in line["hits"])
    assert run(ABSENT, "--min-score", "100", "--json").stdout.strip() == "[]"
    piped = run(ABSENT, "-k", "4").stdout.splitlines()  # one hit a line: rank, score, confidence, …
    assert len(piped) == 4 and all(line.split("\t")[2] in LEVELS for line in piped)


def test_server_returns_the_cli_hits_and_confidences(collection, session_home):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from searchengine.server import create_app

    _, index_dir, searcher = collection
    with TestClient(create_app(index_dir, encoder=searcher.encoder), base_url="http://127.0.0.1") as client:
        for params in ({"q": "a flower", "k": 6}, {"q": ABSENT, "type": "image", "k": 5}):
            served = client.get("/api/search", params=params).json()["hits"]
            local = searcher.search(Query(text=params["q"]), Filters(kind=params.get("type", "any")), k=params["k"])
            assert [(h["path"], h["score"], h["confidence"]) for h in served] == [
                (h.path, h.score, h.confidence) for h in local
            ]
        with open(PHOTOS / "cat_chelsea.jpg", "rb") as fh:
            served = client.post("/api/search", files={"image": ("cat.jpg", fh, "image/jpeg")}, data={"k": "3"}).json()
        assert {h["path"].rsplit("/", 1)[1] for h in served["hits"][:2]} == {"cat_chelsea.jpg", "cat_small.jpg"}


def test_confidence_levels_follow_the_probability():
    model = confidence.ModelConfidence(bias=0.0, weights=(1.0, 0.0, 0.0, 0.0, 0.0), high=0.8, medium=0.4, near_copy=0.9)
    evidence = [confidence.Evidence(z=z, z_prior=0.0, lead=0.0, cross=False) for z in (3.0, 0.0, -3.0)]
    assert confidence.assess(evidence, model) == ["high", "medium", "low"]
    copy = confidence.Evidence(z=-5.0, z_prior=0.0, lead=0.0, cross=False, near_copy=True)
    assert confidence.assess([copy], model) == ["high"]
    assert confidence.lead_reference(np.arange(20.0)) == 10.0
    assert confidence.lead_reference(np.array([2.0, 1.0])) == 1.0
    assert confidence.for_model("some:other-model") is confidence.DEFAULT


def test_a_small_group_leads_over_the_others_of_its_tower():
    # three recordings: their lowest would make any recording stand out; they are measured against
    # every text-tower candidate (passages too), a big enough group against its own tenth best
    scores = {"audio": [4.0, 1.0, 0.5], "text": [float(x) for x in range(20)], "image": [2.0, 1.0]}
    towers = {"audio": "text", "text": "text", "image": "image"}
    references = confidence.lead_references(scores, towers)
    pooled = sorted(scores["audio"] + scores["text"], reverse=True)[confidence.LEAD_RANK - 1]
    assert references == {"audio": pooled, "text": 10.0, "image": 1.0}


def test_the_best_hit_carries_its_margin_over_the_next(collection):
    _, _, searcher = collection
    vector, kind = searcher.embed_query(Query(text="a cup of coffee"))
    assessed = searcher.assessed(vector, kind, Filters(kind="image"), k=3)
    (first, e1), (second, e2) = assessed[:2]
    assert e1.margin == pytest.approx(first.score - second.score, abs=1e-6) and e1.margin >= 0
    assert e2.margin == pytest.approx(second.score - first.score, abs=1e-6)
    assert len(e1.features()) == len(confidence.FEATURES)
    assert searcher.assessed(vector, kind, Filters(kind="image"), k=1)[0][1].margin == e1.margin  # whatever k


def test_kinds_interleave_by_their_own_rank():
    def hit(kind, score):
        n = int(score * 100)
        return Hit(0, score, 0.0, f"/{kind}{n}", kind, None, None, None, item_id=n, segment_id=n)

    texts = [hit("text", s) for s in (6.0, 5.5, 5.0, 4.5)]
    images = [hit("image", s) for s in (3.0, 2.0)]
    by_score = interleave_kinds(texts + images, step=0.0)
    assert [h.kind for h in by_score] == ["text"] * 4 + ["image"] * 2
    mixed = interleave_kinds(texts + images, step=1.5)  # keys: text 6, 4, 2, 0; image 3, 0.5
    assert [(h.kind, h.score) for h in mixed] == [
        ("text", 6.0),
        ("text", 5.5),
        ("image", 3.0),
        ("text", 5.0),
        ("image", 2.0),
        ("text", 4.5),
    ]
    assert [(h.kind, h.score) for h in interleave_kinds(texts + images, step=99.0)][:4] == [
        ("text", 6.0),
        ("image", 3.0),
        ("text", 5.5),
        ("image", 2.0),
    ]
    # a hit about as likely as chance is never lifted over a better one (KIND_FLOOR)
    recording = [hit("audio", 0.3)]
    assert [h.kind for h in interleave_kinds(texts + images + recording, step=99.0)][-1] == "audio"
    assert [h.kind for h in interleave_kinds(texts + images + recording, step=99.0, floor=0.0)][2] == "audio"


def test_a_copy_is_told_by_its_pixels(tmp_path):
    """A resized, re-encoded copy matches its original; another photo, even a flower for a flower, does not."""
    dahlia = Image.open(PHOTOS / "dahlia_flower.jpg").convert("RGB")
    dahlia.resize((dahlia.width // 3, dahlia.height // 3)).save(tmp_path / "small.jpg", quality=60)
    dahlia.save(tmp_path / "again.png")
    original = fingerprint(PHOTOS / "dahlia_flower.jpg")
    assert same_picture(original, fingerprint(tmp_path / "small.jpg"))
    assert same_picture(original, fingerprint(tmp_path / "again.png"))
    assert not same_picture(original, fingerprint(PHOTOS / "yellow_flower_closeup.jpg"))
    dahlia.crop((0, 0, dahlia.width // 2, dahlia.height)).save(tmp_path / "half.jpg")
    assert not same_picture(original, fingerprint(tmp_path / "half.jpg"))  # a crop is another picture
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    assert fingerprint(tmp_path / "broken.jpg") is None
    # kept by path, size and modification time: read once, read again when the file changes
    assert fingerprint(tmp_path / "small.jpg") is fingerprint(tmp_path / "small.jpg")
    Image.open(PHOTOS / "yellow_flower_closeup.jpg").convert("RGB").save(tmp_path / "small.jpg")
    os.utime(tmp_path / "small.jpg", ns=(1, 1))  # a new mtime even on a coarse clock
    assert not same_picture(original, fingerprint(tmp_path / "small.jpg"))
    assert fingerprint(tmp_path / "missing.jpg") is None


def test_a_texts_hubness_is_its_mean_best_cosine_with_the_images():
    from searchengine.calibration import HUB_K, hubness

    rng = np.random.default_rng(0)
    images = rng.standard_normal((30, 16)).astype(np.float32)
    images /= np.linalg.norm(images, axis=1, keepdims=True)
    centre = images.mean(axis=0) / np.linalg.norm(images.mean(axis=0))
    texts = np.stack([centre, images[0]])  # close to every image; close to one
    hubs = hubness(texts, images)
    assert hubs[0] == pytest.approx(np.sort(images @ centre)[-HUB_K:].mean(), abs=1e-6)
    assert hubness(texts, images[:3])[1] == pytest.approx((images[:3] @ images[0]).mean(), abs=1e-6)  # fewer than k
    assert hubness(texts, images[:0]).tolist() == [0.0, 0.0]


def test_an_image_query_finds_its_caption_not_a_text_that_fits_every_picture(tmp_path, bundled):
    """Each sample photo beside a one-line caption of it and three texts that fit any picture ("a
    picture"): by cosine the generic texts come first for 13 of the 21 photos and the photo's own
    caption for 7; an image query scores a text against its best matches among the collection's
    pictures (calibration.hubness), so its own caption comes first for 12 and a generic text for none."""
    folder = tmp_path / "media"
    folder.mkdir()
    photos = sorted(PHOTOS.iterdir())
    for photo in photos:
        shutil.copy2(photo, folder / photo.name)
        (folder / f"{photo.stem}-caption.txt").write_text("a photo of " + photo.stem.replace("_", " ") + "\n")
    for i, generic in enumerate(["a picture", "an image of something", "a photograph taken outdoors"]):
        (folder / f"generic-{i}.txt").write_text(generic + "\n")
    sync_folder(
        folder, tmp_path / "index", IngestSettings(device="cpu", workers=2), encoder=bundled, cache_dir=cache_dir()
    )
    searcher = Searcher(IndexFolder.open(tmp_path / "index"), bundled)
    try:
        firsts = [searcher.search(Query(image=folder / p.name), Filters(kind="text"), k=1)[0] for p in photos]
    finally:
        searcher.close()
    stems = [h.path.rsplit("/", 1)[1].removesuffix(".txt") for h in firsts]
    assert not [s for s in stems if s.startswith("generic-")]
    assert sum(s == f"{p.stem}-caption" for s, p in zip(stems, photos)) >= 11
