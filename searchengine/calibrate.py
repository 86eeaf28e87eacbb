"""An index's calibration (calibration.py): the one it keeps, or one computed from its catalog when
that is missing, damaged or older than the catalog.

Computing reads a sample of the stored vectors and the segment groups from the catalog, and takes
the generic queries' vectors from the previous calibration, else from the model cache, else from
the encoder (once per model and machine). Nothing is written here: a sync or a repair keeps what
it computed, and so does searchengine.Index after a search that had to compute it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from searchengine.atomic import atomic_path
from searchengine.calibration import PRIOR_SAMPLE, Calibration, bank_digest, estimate, generic_queries
from searchengine.preparing import preparing

if TYPE_CHECKING:
    from searchengine.encoders.base import Encoder
    from searchengine.store.folder import IndexFolder


def query_bank(encoder: Encoder, cache_dir: Path | None) -> np.ndarray:
    """The generic queries' vectors in `encoder`'s space. They depend on nothing but the encoder and
    the list, so they are kept in the model cache: the first index made with a model on this
    machine embeds them (ViT-B-32-256's text tower: 3.6 s on 2 cores), later ones read them.
    Without a cache_dir they are embedded every time."""
    queries = generic_queries()
    if cache_dir is None:
        return np.asarray(encoder.embed_texts(queries), np.float32)
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", encoder.id).strip("_")
    path = Path(cache_dir) / "calibration" / f"{name}-{bank_digest(queries)}.npy"
    try:
        bank = np.load(path, allow_pickle=False)
        if bank.shape == (len(queries), encoder.dim):
            return bank
    except (OSError, ValueError):
        pass
    with preparing(f"embedding {len(queries)} generic queries for calibration"):
        bank = np.asarray(encoder.embed_texts(queries), np.float32)
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.save(fh, bank)
    except OSError:
        pass  # a read-only cache: embedded again next time
    return bank


def current_calibration(index: IndexFolder, encoder: Encoder, cache_dir: Path | None) -> tuple[Calibration, bool]:
    """(the index's calibration, whether it had to be computed now) for the catalog as it is."""
    generation = index.catalog.generation()
    kept = Calibration.read(index.folder)
    if kept is not None and kept.is_current(encoder.id, generation):
        return kept, False
    bank = kept.reusable_bank(encoder.id) if kept is not None else None
    if bank is None:
        bank = query_bank(encoder, cache_dir)
    samples = index.catalog.sample_by_kind(encoder.dim, PRIOR_SAMPLE)
    return estimate(encoder.id, samples, generation, bank, index.catalog.segment_groups()), True


def refresh_calibration(index: IndexFolder, encoder: Encoder, cache_dir: Path | None) -> Calibration:
    """The index's calibration, computed and written when it was not current (writers call this)."""
    calibration, computed = current_calibration(index, encoder, cache_dir)
    if computed:
        calibration.write(index.folder)
    return calibration
