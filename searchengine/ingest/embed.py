"""Embedding a chunk of decoded files, the same whichever executor runs it: images and texts in
the encoder's batches, then one draft per file for the catalog to commit."""

from __future__ import annotations

import numpy as np

from searchengine.encoders.base import Encoder
from searchengine.ingest.decode import DecodedFile
from searchengine.kinds import IMAGE
from searchengine.media.images import capture_time
from searchengine.store.records import ItemDraft, SegmentDraft

TEXT_BATCH = 64


def embed_decoded(encoder: Encoder, decoded: list[DecodedFile], batch_size: int) -> list[ItemDraft]:
    """Embed every segment of a chunk of decoded files: images and texts in their own batches."""
    inputs = [(d, s) for d in decoded if d.error is None for s in d.inputs]
    vectors: dict[int, np.ndarray] = {}
    image_ids = [i for i, (_, s) in enumerate(inputs) if s.image is not None]
    text_ids = [i for i, (_, s) in enumerate(inputs) if s.image is None]
    for ids, size, embed in (
        (image_ids, batch_size, lambda rows: encoder.embed_images([inputs[i][1].image for i in rows])),
        (text_ids, TEXT_BATCH, lambda rows: encoder.embed_texts([inputs[i][1].text for i in rows])),
    ):
        for start in range(0, len(ids), size):
            rows = ids[start : start + size]
            for i, vector in zip(rows, embed(rows)):
                vectors[i] = vector
    drafts, position = [], 0
    for d in decoded:
        draft = ItemDraft(str(d.file.path), d.kind or d.file.kind, d.file.size, d.file.mtime_ns, d.digest,
                          error=d.error, note=d.note if d.error is None else None)
        if d.file.kind == IMAGE and d.error is None:
            draft.taken_at = capture_time(d.file.path)
        for s in d.inputs if d.error is None else []:
            draft.segments.append(SegmentDraft(
                s.ordinal, vectors[position], text=s.text, char_start=s.char_start, char_end=s.char_end,
                t_start=s.t_start, t_end=s.t_end,
            ))
            position += 1
        drafts.append(draft)
    return drafts
