"""Cross-modal ranking: calibration, interleaving, the explicit cutoff, richer queries, filters, exact re-ranking."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from searchengine.calibrate import current_calibration
from searchengine.calibration import Calibration
from searchengine.config import cache_dir
from searchengine.ingest.run import sync_folder
from searchengine.ingest.settings import IngestSettings
from searchengine.query import Filters, Query, Searcher
from searchengine.store.folder import IndexFolder

from conftest import PHOTOS, TEXTS

NO_CUTOFF = Filters(min_score=None)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, bundled):
    """Photos and texts about the same subjects, indexed once."""
    folder = tmp_path_factory.mktemp("mixed") / "media"
    folder.mkdir()
    for name in (
        "cat_chelsea.jpg",
        "coffee_cup.jpg",
        "rocket_launch_pad.jpg",
        "dahlia_flower.jpg",
        "astronaut_eileen_collins.jpg",
        "greek_coins_pompeii.jpg",
        "storm_clouds_on_horizon.jpg",
        "summer_palace_pagoda_china.jpg",
        "grace_hopper_portrait.jpg",
        "ladybird_on_grass.jpg",
    ):
        shutil.copy2(PHOTOS / name, folder / name)
    for name in (
        "cats_and_sleep.md",
        "coffee_brewing_guide.md",
        "rocket_launches.txt",
        "flower_gardening.md",
        "bicycle_repair_guide.md",
        "household_budget_meeting.txt",
        "coin_collecting.txt",
    ):
        shutil.copy2(TEXTS / name, folder / name)
    index_dir = folder.parent / "index"
    sync_folder(folder, index_dir, IngestSettings(device="cpu", workers=2), encoder=bundled, cache_dir=cache_dir())
    searcher = Searcher(IndexFolder.open(index_dir), bundled)
    yield folder, index_dir, searcher
    searcher.close()


def test_calibration_round_trips_and_follows_changes(mixed, bundled):
    folder, index_dir, _ = mixed
    saved = Calibration.read(index_dir)
    assert saved is not None and saved.encoder_id == bundled.id
    assert {"text>image", "text>text", "image>image", "image>text"} <= set(saved.stats)
    assert set(saved.samples) == {"image", "text"} and len(saved.samples["image"]) == 10
    assert not (index_dir / "calibration.json").exists()  # the version-2 file is not written any more
    with IndexFolder.open(index_dir) as index:
        assert saved.generation == index.catalog.generation()
        again, computed = current_calibration(index, bundled, cache_dir=None)
    assert again.stats == saved.stats and not computed  # up to date: read, not recomputed
    # the modality gap: unrelated texts score higher against texts than against images, per unit of spread
    text_mean, _ = saved.lookup("text", "text")
    image_mean, _ = saved.lookup("text", "image")
    assert text_mean != pytest.approx(image_mean, abs=1e-3)


def test_any_interleaves_kinds(mixed):
    _, _, searcher = mixed
    hits = searcher.search(Query(text="a cat"), NO_CUTOFF, k=6)
    kinds = {h.kind for h in hits[:3]}
    assert kinds == {"image", "text"}, [(h.kind, h.path) for h in hits]
    assert {h.path.rsplit("/", 1)[1] for h in hits[:2]} == {"cat_chelsea.jpg", "cats_and_sleep.md"}
    assert hits[0].score == max(h.score for h in hits)
    for kind in {h.kind for h in hits}:  # each kind in its own order; kinds interleave by their rank
        scores = [h.score for h in hits if h.kind == kind]
        assert scores == sorted(scores, reverse=True)


def test_absent_subject_lists_the_closest_and_an_explicit_cutoff_drops_them(mixed):
    _, _, searcher = mixed
    closest = searcher.search(Query(text="a submarine under the arctic ice"), k=3)
    assert len(closest) == 3 and closest[0].confidence != "high"  # listed, never presented as a match
    assert searcher.search(Query(text="a submarine under the arctic ice"), Filters(min_score=2.8)) == []
    assert searcher.search(Query(text="a cat"), Filters(min_score=2.8))  # a present subject clears it


def test_combined_and_negative_queries_move_results(mixed):
    folder, _, searcher = mixed
    images = Filters(kind="image", min_score=None)
    flower = searcher.search(Query(image=PHOTOS / "ladybird_on_grass.jpg", text="a flower"), images, k=3)
    plain = searcher.search(Query(image=PHOTOS / "ladybird_on_grass.jpg"), images, k=3)
    assert plain[0].path.endswith("ladybird_on_grass.jpg")
    rank_of = lambda hits, name: next((h.rank for h in hits if h.path.endswith(name)), 99)  # noqa: E731
    assert rank_of(flower, "dahlia_flower.jpg") <= rank_of(plain, "dahlia_flower.jpg")
    texts = Filters(kind="text", min_score=None)
    base = searcher.search(Query(text="a hot drink in the morning"), texts, k=7)
    pushed = searcher.search(Query(text="a hot drink in the morning", negative=("coffee",)), texts, k=7)
    assert rank_of(pushed, "coffee_brewing_guide.md") > rank_of(base, "coffee_brewing_guide.md")


def test_more_like_this(mixed):
    _, _, searcher = mixed
    cat = searcher.search(Query(text="a cat"), Filters(kind="image", min_score=None), k=1)[0]
    similar = searcher.search(Query(like=cat.segment_id), NO_CUTOFF, k=5)
    assert cat.segment_id not in {h.segment_id for h in similar}
    assert similar


def test_filters_restrict_results(mixed):
    folder, _, searcher = mixed
    only_md = searcher.search(Query(text="a cat"), Filters(path_glob="*.md", min_score=None), k=10)
    assert only_md and all(h.path.endswith(".md") for h in only_md)
    old = folder / "coin_collecting.txt"
    os.utime(old, (time.time() - 400 * 86400,) * 2)
    # dates are those recorded at indexing time: re-index to record the new mtime
    per_kind = searcher.search(Query(text="coins"), Filters(per_kind=1, min_score=None), k=10)
    kinds = [h.kind for h in per_kind]
    assert len(kinds) == len(set(kinds))
    from datetime import datetime

    future = searcher.search(Query(text="a cat"), Filters(after=datetime(2100, 1, 1), min_score=None), k=5)
    assert future == []


def test_exact_reranking_matches_flat_order(tmp_path, bundled, media_folder):
    orders = {}
    for kind in ("flat", "hnsw"):
        index_dir = tmp_path / kind
        sync_folder(
            media_folder,
            index_dir,
            IngestSettings(device="cpu", workers=2, index_type=kind),
            encoder=bundled,
            cache_dir=cache_dir(),
        )
        searcher = Searcher(IndexFolder.open(index_dir), bundled)
        assert searcher.index.vectors.kind == kind
        hits = searcher.search(Query(text="coffee and bicycles"), Filters(min_score=None), k=10, segments=True)
        orders[kind] = [(h.path, h.text, h.raw_score) for h in hits]
        searcher.close()
    assert orders["flat"] == orders["hnsw"]


def _photo_taken(path, when: str) -> None:
    """A real JPEG (a sample photo re-encoded) whose EXIF says it was taken at `when`."""
    from PIL import Image

    with Image.open(PHOTOS / "cat_chelsea.jpg") as image:
        exif = Image.Exif()
        exif.get_ifd(0x8769)[36867] = when  # Exif IFD, DateTimeOriginal
        image.convert("RGB").save(path, "JPEG", exif=exif)


def test_date_filters_use_the_exif_capture_date(tmp_path, bundled):
    from datetime import datetime

    from searchengine.media.images import capture_time

    folder = tmp_path / "photos"
    folder.mkdir()
    _photo_taken(folder / "old_cat.jpg", "2009:07:14 18:30:05")
    shutil.copy2(PHOTOS / "coffee_cup.jpg", folder / "coffee.jpg")  # no EXIF date: its file time counts
    assert capture_time(folder / "old_cat.jpg") == datetime(2009, 7, 14, 18, 30, 5)
    assert capture_time(folder / "coffee.jpg") is None
    sync_folder(
        folder, tmp_path / "index", IngestSettings(device="cpu", workers=2), encoder=bundled, cache_dir=cache_dir()
    )
    searcher = Searcher(IndexFolder.open(tmp_path / "index"), bundled)
    try:
        names = lambda f: sorted(h.path.rsplit("/", 1)[1] for h in searcher.search(Query(text="a cat"), f, k=5))  # noqa: E731
        assert names(Filters(before=datetime(2010, 1, 1), min_score=None)) == ["old_cat.jpg"]
        assert names(Filters(after=datetime(2009, 7, 14), before=datetime(2009, 7, 15), min_score=None)) == [
            "old_cat.jpg"
        ]
        assert names(Filters(after=datetime(2010, 1, 1), min_score=None)) == ["coffee.jpg"]
    finally:
        searcher.close()


def test_old_catalog_gains_the_capture_date_column(tmp_path):
    import sqlite3

    from searchengine.store.catalog import Catalog
    from searchengine.store.migrations import SCHEMA_VERSION

    path = tmp_path / "catalog.sqlite"
    con = sqlite3.connect(path)  # a version-1 catalog: items without taken_at
    con.execute(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, path TEXT UNIQUE, kind VARCHAR(16), size INTEGER, "
        "mtime_ns INTEGER, content_hash VARCHAR(64), status VARCHAR(16), error TEXT, indexed_at DATETIME)"
    )
    con.execute("INSERT INTO items VALUES (1, '/a.jpg', 'image', 1, 5, NULL, 'ok', NULL, '2024-01-01 00:00:00')")
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    catalog = Catalog(path)
    catalog.close()
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 2
    assert con.execute("SELECT path, taken_at FROM items").fetchall() == [("/a.jpg", None)]


def test_calibration_follows_changes_and_keeps_the_bank(tmp_path, bundled):
    folder = tmp_path / "media"
    folder.mkdir()
    photos = sorted(PHOTOS.glob("*.jpg"))
    for photo in photos[:8]:
        shutil.copy2(photo, folder / photo.name)
    for name in ("cats_and_sleep.md", "coffee_brewing_guide.md", "rocket_launches.txt"):
        shutil.copy2(TEXTS / name, folder / name)
    index_dir = tmp_path / "index"
    sync_folder(folder, index_dir, IngestSettings(device="cpu", workers=2), encoder=bundled, cache_dir=cache_dir())
    before = Calibration.read(index_dir)
    for photo in photos[8:11]:
        shutil.copy2(photo, folder / photo.name)
    sync_folder(folder, index_dir, IngestSettings(device="cpu", workers=2), encoder=bundled, cache_dir=cache_dir())
    after = Calibration.read(index_dir)
    assert after.generation > before.generation
    assert len(before.samples["image"]) == 8 and len(after.samples["image"]) == 11
    assert after.bank is not None and (after.bank == before.bank).all()  # generic queries: embedded once
    # per query, the sample of each kind scores about zero on average: a query's own baseline
    query = bundled.embed_texts(["a cat sleeping"])[0]
    scale = after.for_query(query, "text")
    for kind in ("image", "text"):
        z = scale.z(kind, after.samples[kind].astype("float32") @ query)
        assert abs(float(z.mean())) < 0.6, (kind, z)


def test_a_collection_without_texts_scores_its_few_words_against_the_generic_queries():
    """Photos, one of which shows a page of words (one OCR segment): that segment was scored
    against DEFAULT_STATS (mean 0, spread 0.1), so with an encoder whose texts sit at cosine 0.8 of
    each other (multilingual e5) the page scored z 8 and was the best hit of every query."""
    import numpy as np

    from searchengine.calibration import DEFAULT_STATS, estimate

    rng = np.random.default_rng(0)

    def cone(n, spread):  # unit vectors around one direction: texts of one encoder resemble each other
        v = np.zeros((n, 64), np.float32)
        v[:, 0] = 1.0
        v += spread * rng.standard_normal((n, 64)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    texts = cone(61, 0.07)  # the generic queries, then the page's words
    images = cone(40, 0.3)
    samples = {"image": (np.arange(40), images), "text": (np.array([40]), texts[60:])}
    cal = estimate("test:model", samples, generation=1, bank=texts[:60])
    query = cone(1, 0.07)[0]
    raw = float(texts[60] @ query)
    z = cal.for_query(query, "text").z("text", raw)
    assert raw > 0.6 and z < 3.0 and z != pytest.approx((raw - DEFAULT_STATS[0]) / DEFAULT_STATS[1])
    # the stand-in holds the page's own vector too, and nothing changes where texts are many
    assert len(cal.samples["text"]) == 61
    many = estimate(
        "test:model", {"image": samples["image"], "text": (np.arange(100, 120), cone(20, 0.07))}, 1, texts[:60]
    )
    assert len(many.samples["text"]) == 20


def test_a_small_folder_of_photos_is_calibrated_too(tmp_path, bundled):
    """Five photos (fewer than a kind's sample needs) had no statistics of their own: scored
    against DEFAULT_STATS, an unrelated query image made one of them "high"."""
    folder = tmp_path / "five"
    folder.mkdir()
    for name in ("cat_chelsea.jpg", "coffee_cup.jpg", "rocket_launch_pad.jpg", "dahlia_flower.jpg", "brick_wall.jpg"):
        shutil.copy2(PHOTOS / name, folder / name)
    index_dir = tmp_path / "index"
    sync_folder(folder, index_dir, IngestSettings(device="cpu", workers=1), encoder=bundled, cache_dir=cache_dir())
    searcher = Searcher(IndexFolder.open(index_dir), bundled)
    try:
        unrelated = searcher.search(Query(image=PHOTOS / "horse_silhouette.png"), k=5)
        assert unrelated and all(h.confidence != "high" for h in unrelated)
        cat = searcher.search(Query(text="a cat"), k=5)
        assert cat[0].path.endswith("cat_chelsea.jpg") and cat[0].confidence == "high"
        assert all(h.confidence == "low" for h in searcher.search(Query(text="quantum chromodynamics lattice"), k=5))
    finally:
        searcher.close()


def test_two_photos_give_an_image_query_no_scale_and_no_false_confidence(tmp_path, bundled):
    """Two photos give image-to-image scores nothing to be measured against: such hits are "low"
    (they were "medium", on DEFAULT_STATS), while a copy of the query is still "high"."""
    folder = tmp_path / "two"
    folder.mkdir()
    for name in ("cat_chelsea.jpg", "coffee_cup.jpg"):
        shutil.copy2(PHOTOS / name, folder / name)
    index_dir = tmp_path / "index"
    sync_folder(folder, index_dir, IngestSettings(device="cpu", workers=1), encoder=bundled, cache_dir=cache_dir())
    searcher = Searcher(IndexFolder.open(index_dir), bundled)
    try:
        assert [h.confidence for h in searcher.search(Query(image=PHOTOS / "horse_silhouette.png"), k=5)] == ["low"] * 2
        itself = searcher.search(Query(image=PHOTOS / "cat_chelsea.jpg"), k=5)
        assert itself[0].path.endswith("cat_chelsea.jpg") and itself[0].confidence == "high"
        assert searcher.search(Query(text="a cat"), k=5)[0].confidence == "high"  # text queries have the bank's prior
    finally:
        searcher.close()
