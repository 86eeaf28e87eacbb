"""Embedding decoded files, the same whichever executor runs it: images and texts in
the encoder's batches, then one draft per file for the catalog to commit."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from searchengine.encoders.base import Encoder
from searchengine.ingest.decode import DecodedFile
from searchengine.kinds import IMAGE
from searchengine.media.images import capture_time
from searchengine.store.records import ItemDraft, SegmentDraft

TEXT_BATCH = 64


def embedding_groups(
    decoded: Iterable[DecodedFile], batch_size: int, every: int | None = None
) -> Iterator[list[DecodedFile]]:
    """Consecutive files embedded together, in order: a group closes once it holds `batch_size`
    images or TEXT_BATCH passages, and at every `every`-th file (a commit's end).

    Embedding group by group means the batches depend on the files alone, not on when they were
    decoded or which executor runs them, so the same files give the same vector bytes everywhere;
    and a pipeline can embed a group while the files after it are still being decoded."""
    group: list[DecodedFile] = []
    images = texts = taken = 0
    for d in decoded:
        group.append(d)
        taken += 1
        for s in d.inputs if d.error is None else ():
            images += s.image is not None
            texts += s.image is None
        if images >= batch_size or texts >= TEXT_BATCH or (every and taken % every == 0):
            yield group
            group, images, texts = [], 0, 0
    if group:
        yield group


def embed_decoded(encoder: Encoder, decoded: list[DecodedFile], batch_size: int) -> list[ItemDraft]:
    """Embed every segment of a chunk of decoded files, group by group (embedding_groups)."""
    return [
        draft for group in embedding_groups(decoded, batch_size) for draft in embed_group(encoder, group, batch_size)
    ]


def embed_group(encoder: Encoder, decoded: list[DecodedFile], batch_size: int) -> list[ItemDraft]:
    """Embed every segment of a group of decoded files: images and texts in their own batches."""
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
        draft = ItemDraft(
            str(d.file.path),
            d.kind or d.file.kind,
            d.file.size,
            d.file.mtime_ns,
            d.digest,
            error=d.error,
            note=d.note if d.error is None else None,
        )
        if d.file.kind == IMAGE and d.error is None:
            draft.taken_at = capture_time(d.file.path)
        for s in d.inputs if d.error is None else []:
            draft.segments.append(
                SegmentDraft(
                    s.ordinal,
                    vectors[position],
                    text=s.text,
                    char_start=s.char_start,
                    char_end=s.char_end,
                    t_start=s.t_start,
                    t_end=s.t_end,
                    page=s.page,
                    source=s.source,
                    boxes=s.boxes,
                )
            )
            position += 1
        drafts.append(draft)
    return drafts
