"""The work done on each file, the same in both engines (in process, and on Ray's workers).

`decode_file` turns a file into what its encoder embeds (prepared images, text passages,
transcribed segments); `embed_decoded` embeds a chunk of decoded files in the encoder's batches
and returns the drafts the catalog commits. Kept apart from the pipeline's driver (ingest.py) so
a worker process imports neither the catalog (SQLAlchemy) nor FAISS.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import numpy as np

from searchengine.encoders.base import Encoder
from searchengine.errors import DecodeError, SearchEngineError
from searchengine.media.discover import FoundFile
from searchengine.media.images import capture_time
from searchengine.media.kinds import content_kind
from searchengine.media.segments import DECODERS, DecodeContext, SegmentInput
from searchengine.media.text import cut_note
from searchengine.paths import one_line, printable
from searchengine.store.records import ItemDraft, SegmentDraft

log = logging.getLogger(__name__)

TEXT_BATCH = 64


@dataclass
class DecodedFile:
    file: FoundFile
    digest: str | None
    inputs: list[SegmentInput] = field(default_factory=list)
    error: str | None = None
    kind: str | None = None  # what the content turned out to be, when not what the extension said
    note: str | None = None  # indexed with a caveat (in part)

    @property
    def held_bytes(self) -> int:
        """Memory held by its prepared images (a long video's keyframes: up to ~200 MB)."""
        return sum(getattr(s.image, "nbytes", 0) for s in self.inputs)


def decode_file(file: FoundFile, digest: str | None, ctx: DecodeContext) -> DecodedFile:
    try:
        if digest is None:
            raise DecodeError(f"{file.path}: cannot read file")
        kind = content_kind(file.path, file.kind)
        note = cut_note(file.size) if kind == "text" else None
        return DecodedFile(file, digest, DECODERS[kind](file.path, digest, ctx), kind=kind, note=note)
    except SearchEngineError as exc:
        return DecodedFile(file, digest, error=one_line(str(exc)))
    except Exception as exc:  # a decoder library failing on a hostile file must not stop the run
        log.debug("decoder crashed on %s", printable(str(file.path)), exc_info=True)
        return DecodedFile(file, digest, error=one_line(f"{file.path}: {exc.__class__.__name__}: {exc}"))



def embedding_groups(decoded: Iterable[DecodedFile], batch_size: int, every: int | None = None
                     ) -> Iterator[list[DecodedFile]]:
    """Consecutive files embedded together, in order: a group closes once it holds `batch_size`
    images or TEXT_BATCH passages, and at every `every`-th file (a commit's end).

    Embedding group by group means the batches depend on the files alone, not on when they were
    decoded or which engine runs them, so the same files give the same vector bytes everywhere;
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
    return [draft for group in embedding_groups(decoded, batch_size) for draft in embed_group(encoder, group, batch_size)]


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
        draft = ItemDraft(str(d.file.path), d.kind or d.file.kind, d.file.size, d.file.mtime_ns, d.digest,
                          error=d.error, note=d.note if d.error is None else None)
        if d.file.kind == "image" and d.error is None:
            draft.taken_at = capture_time(d.file.path)
        for s in d.inputs if d.error is None else []:
            draft.segments.append(SegmentDraft(
                s.ordinal, vectors[position], text=s.text, char_start=s.char_start, char_end=s.char_end,
                t_start=s.t_start, t_end=s.t_end,
            ))
            position += 1
        drafts.append(draft)
    return drafts
