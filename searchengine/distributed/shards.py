"""Shards: the embedded files of one chunk (vectors + segment records) in a Parquet file.

Embedding actors write one shard per chunk of files, atomically (a temporary name, then a
rename), before the driver commits it to the catalog. A run that is killed leaves its shards;
the next run commits those whose files are still exactly what was embedded (same path, size,
mtime and content hash, same encoder) instead of embedding them again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import fields
from pathlib import Path

import numpy as np

from searchengine.atomic import atomic_path
from searchengine.paths import from_catalog, to_catalog
from searchengine.store.records import ItemDraft, SegmentDraft

SHARDS = "shards"  # folder in the index folder
_ITEM_FIELDS = [f.name for f in fields(ItemDraft) if f.name != "segments"]
_SEGMENT_FIELDS = [f.name for f in fields(SegmentDraft) if f.name != "vector"]


def shard_name(position: int, encoder_id: str, files: Iterable[tuple[str, str | None]]) -> str:
    """`<chunk position>-<digest of the encoder and the files' paths and hashes>.parquet`."""
    digest = hashlib.sha1(encoder_id.encode())
    for path, content_hash in files:
        digest.update(f"\0{to_catalog(path)}\0{content_hash}".encode())
    return f"{position:08d}-{digest.hexdigest()[:16]}.parquet"


def write_shard(path: Path, drafts: Sequence[ItemDraft], encoder_id: str) -> None:
    """One row per file; its segments (with their float32 vectors as bytes) in a list column."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = []
    for draft in drafts:
        row = {name: getattr(draft, name) for name in _ITEM_FIELDS}
        row["path"] = to_catalog(draft.path)  # a name that is not UTF-8 fits in a string column so
        row["segments"] = [
            {
                **{name: getattr(seg, name) for name in _SEGMENT_FIELDS},
                "vector": np.ascontiguousarray(seg.vector, dtype=np.float32).tobytes(),
            }
            for seg in draft.segments
        ]
        rows.append(row)
    table = pa.Table.from_pylist(rows, schema=_schema())
    table = table.replace_schema_metadata({b"encoder_id": encoder_id.encode()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_shard(path: Path) -> tuple[str, list[ItemDraft]]:
    """(encoder id, drafts) of a shard file."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    encoder_id = (table.schema.metadata or {}).get(b"encoder_id", b"").decode()
    drafts = []
    for row in table.to_pylist():
        segments = [
            SegmentDraft(vector=np.frombuffer(seg.pop("vector"), dtype=np.float32).copy(), **seg)
            for seg in row.pop("segments") or []
        ]
        row["path"] = from_catalog(row["path"])
        drafts.append(ItemDraft(segments=segments, **row))
    return encoder_id, drafts


def _schema():
    import pyarrow as pa

    segment = pa.struct(
        [
            ("ordinal", pa.int64()),
            ("text", pa.string()),
            ("char_start", pa.int64()),
            ("char_end", pa.int64()),
            ("t_start", pa.float64()),
            ("t_end", pa.float64()),
            ("page", pa.int64()),
            ("source", pa.string()),
            ("boxes", pa.list_(pa.list_(pa.list_(pa.int64())))),  # OCR line boxes: 4 corners (x, y) each
            ("vector", pa.binary()),
        ]
    )
    item = {
        "path": pa.string(),
        "kind": pa.string(),
        "size": pa.int64(),
        "mtime_ns": pa.int64(),
        "content_hash": pa.string(),
        "error": pa.string(),
        "taken_at": pa.timestamp("us"),
        "note": pa.string(),
    }
    missing = [name for name in _ITEM_FIELDS if name not in item] + [
        n for n in _SEGMENT_FIELDS if n not in segment.names
    ]
    if missing:  # a field added to the drafts must be added here, or shards would drop it
        raise TypeError(f"shard schema lacks {missing}")
    return pa.schema([(name, item[name]) for name in _ITEM_FIELDS] + [("segments", pa.list_(segment))])
