"""Reduced-scale JPEG decoding (Pillow's draft): large JPEGs decode small, and embeddings keep."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from searchengine.ingest.decoders import DecodeContext, decode_image
from searchengine.media.images import draft_side, load_image

from conftest import PHOTOS, REPO

# Real photos: the samples (mostly 512 px, decoded whole) and, when it has been built
# (benchmarks/datasets/photos.py), the photo set of packaged wallpapers and scientific photos,
# most of them 1,000–6,000 px: the ones draft decoding actually shrinks.
PHOTO_SET = REPO / "indexes" / "datasets" / "photos" / "images"
# Re-saving a JPEG at quality 90 moves bundled embeddings to cosine ≥ 0.995 on these photos.
MIN_COSINE = 0.99


def _real_jpegs() -> list[Path]:
    """Distinct photos (the photo set holds copies of some samples)."""
    found = sorted(PHOTOS.glob("*.jpg"))
    if PHOTO_SET.is_dir():
        found += sorted(p for p in PHOTO_SET.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg"))
    by_content = {hashlib.sha256(p.read_bytes()).hexdigest(): p for p in reversed(found)}
    return sorted(by_content.values())


def _large_jpeg(path: Path, size=(4000, 3000)) -> Path:
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (size[1] // 50, size[0] // 50, 3), dtype=np.uint8)
    Image.fromarray(small).resize(size, Image.Resampling.BICUBIC).save(path, quality=90)
    return path


@pytest.mark.slow  # default run under 3 minutes; CI runs it (-m "")
def test_large_jpeg_is_decoded_at_reduced_scale(tmp_path, bundled):
    side = draft_side(bundled)
    assert 256 <= side < 1000  # at least the bundled model's resize side (256), well under the photo
    jpeg = _large_jpeg(tmp_path / "big.jpg")

    drafted = load_image(jpeg, draft_size=side)
    assert drafted.mode == "RGB"
    assert drafted.width < 4000 and drafted.height < 3000
    assert min(drafted.size) >= side  # never below what the encoder resizes to (with its margin)
    assert drafted.size == (4000 // 4, 3000 // 4)  # the smallest DCT scale that keeps ≥ side
    assert load_image(jpeg, draft_size=0).size == (4000, 3000)

    png = tmp_path / "big.png"
    Image.open(jpeg).save(png)
    reduced = load_image(png, draft_size=side)  # other formats: reduced by a whole factor once decoded
    assert side <= min(reduced.size) < 2 * side
    assert load_image(png, draft_size=0).size == (4000, 3000)


@pytest.mark.slow  # default run under 3 minutes; CI runs it (-m "")
def test_reducing_other_formats_keeps_embeddings(tmp_path, bundled):
    """PNG copies of real photos at 3x their size: reduced after decoding, embedded as if decoded whole."""
    paths = []
    for photo in sorted(PHOTOS.glob("*.jpg"))[:8]:
        image = Image.open(photo).convert("RGB")
        path = tmp_path / f"{photo.stem}.png"
        image.resize((image.width * 3, image.height * 3), Image.Resampling.BICUBIC).save(path)
        paths.append(path)
    _check_draft_keeps_embeddings(bundled, paths)


def test_decode_worker_drafts_with_the_encoders_side(tmp_path, bundled):
    ctx = DecodeContext(bundled)
    assert ctx.draft_side == draft_side(bundled)
    jpeg = _large_jpeg(tmp_path / "big.jpg")
    (segment,) = decode_image(jpeg, "", ctx)
    expected = bundled.prepare_image(load_image(jpeg, draft_size=ctx.draft_side))
    np.testing.assert_array_equal(segment.image, expected)


def _check_draft_keeps_embeddings(encoder, paths: list[Path]) -> None:
    ctx = DecodeContext(encoder)
    drafted = encoder.embed_images([decode_image(p, "", ctx)[0].image for p in paths])
    full = encoder.embed_images([encoder.prepare_image(load_image(p, draft_size=0)) for p in paths])
    cosines = np.sum(drafted * full, axis=1)
    worst = int(np.argmin(cosines))
    assert cosines.min() >= MIN_COSINE, f"{paths[worst]}: cosine {cosines[worst]:.4f} to full decoding"
    # Each drafted photo still finds its own full-decode embedding first among all the photos.
    assert np.array_equal(np.argmax(drafted @ full.T, axis=1), np.arange(len(paths)))


def test_draft_decoding_keeps_embeddings_of_real_photos(bundled):
    paths = _real_jpegs()
    assert len(paths) >= 15
    _check_draft_keeps_embeddings(bundled, paths[:: max(1, len(paths) // 24)])  # about 24, all sources


@pytest.mark.slow
def test_draft_decoding_keeps_embeddings_of_every_real_photo(bundled):
    _check_draft_keeps_embeddings(bundled, _real_jpegs())


@pytest.mark.skipif(not PHOTO_SET.is_dir(), reason="photo set not built (benchmarks/datasets/photos.py)")
def test_photo_set_is_in_fact_drafted(bundled):
    side = draft_side(bundled)
    paths = [p for p in PHOTO_SET.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg")]
    shrunk = [p for p in paths if load_image(p, draft_size=side).size != Image.open(p).size]
    assert len(shrunk) >= len(paths) // 2  # most of these photos are ≥ 2 × 384 px on the short side
