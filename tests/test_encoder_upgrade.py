"""A new default encoder (bundled:lit-v2) never breaks an index built with the old one (lit-v1)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from searchengine.config import cache_dir
from searchengine.ingest.run import sync_folder
from searchengine.ingest.settings import IngestSettings
from searchengine.query import Filters, Query, Searcher

from conftest import PHOTOS


@pytest.fixture(scope="module")
def lit_v1(session_home):
    from searchengine.config import cache_dir
    from searchengine.encoders.registry import load_encoder

    return load_encoder("bundled:lit-v1", "cpu", cache_dir=cache_dir())


def test_default_is_lit_v2_and_lit_v1_stays_loadable(bundled, lit_v1):
    from searchengine.encoders.registry import successor

    assert bundled.id == "bundled:lit-v2"
    assert lit_v1.id == "bundled:lit-v1"
    assert successor(lit_v1.id) == bundled.id and successor(bundled.id) is None


def test_a_lit_v1_index_is_extended_and_searched_with_lit_v1_and_told_once(media_folder, tmp_path, lit_v1):
    settings = IngestSettings(model="bundled", device="cpu", workers=2)
    index_dir = tmp_path / "index"
    # what the release before lit-v2 wrote: asked for "bundled", recorded the exact id lit-v1
    sync_folder(media_folder, index_dir, settings, encoder=lit_v1, cache_dir=cache_dir())
    manifest = json.loads((index_dir / "manifest.json").read_text())
    assert (manifest["model"], manifest["encoder_id"]) == ("bundled", "bundled:lit-v1")

    # after the upgrade: `searchengine index` with the default name embeds new files with lit-v1
    shutil.copy2(PHOTOS / "greek_coins_pompeii.jpg", media_folder / "photos" / "coins.jpg")
    summary = sync_folder(media_folder, index_dir, settings, cache_dir=cache_dir())
    assert (summary.added, summary.failed, summary.model) == (1, 0, "bundled:lit-v1")
    assert (
        len(summary.notices) == 1
        and "bundled:lit-v2" in str(summary.notices[0])
        and "build a new index" in str(summary.notices[0])
    )
    again = sync_folder(media_folder, index_dir, settings, cache_dir=cache_dir())
    assert again.notices == []  # once per index

    searcher = Searcher.open(index_dir, device="cpu", cache_dir=cache_dir())
    try:
        assert searcher.encoder.id == "bundled:lit-v1"
        top = searcher.search(Query(text="old coins"), Filters(kind="image", min_score=None), k=1)[0]
        assert top.path.endswith("coins.jpg")
        catalog = searcher.index.catalog
        stored = {
            catalog.segment_records([int(i)])[int(i)].path: v
            for ids, vectors in catalog.iter_vectors(searcher.index.manifest.dim)
            for i, v in zip(ids, vectors)
        }
    finally:
        searcher.close()
    from PIL import Image

    expected = lit_v1.embed_images([Image.open(PHOTOS / "greek_coins_pompeii.jpg")])[0]
    np.testing.assert_allclose(stored[str(media_folder / "photos" / "coins.jpg")], expected, atol=1e-4)


def test_asking_for_lit_v1_by_name_gives_no_notice(media_folder, tmp_path, lit_v1):
    settings = IngestSettings(model="bundled:lit-v1", device="cpu", workers=2)
    summary = sync_folder(media_folder, tmp_path / "index", settings, encoder=lit_v1, cache_dir=cache_dir())
    assert (
        summary.notices == []
        and sync_folder(media_folder, tmp_path / "index", settings, cache_dir=cache_dir()).notices == []
    )
