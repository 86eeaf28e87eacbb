"""What an index holds, as a plain dict (the CLI prints it as text or JSON)."""

from __future__ import annotations

from pathlib import Path

from searchengine.media.discover import unsupported_by_extension
from searchengine.paths import printable
from searchengine.store.folder import IndexFolder


def index_status(index_dir: Path, with_errors: bool = False, upgrade: bool = False) -> dict:
    """upgrade: a catalog of an older schema is upgraded first (see IndexFolder.open)."""
    with IndexFolder.open(index_dir, upgrade=upgrade) as index:
        m = index.manifest
        run = index.catalog.last_run()
        info = {
            "index": printable(str(index.folder)),
            "model": m.model,
            "encoder_id": m.encoder_id,
            "dim": m.dim,
            "index_type": m.index_type,
            "index_params": m.index_params,
            "format_version": m.format_version,
            "vectors": index.catalog.segment_count(),
            "counts": index.catalog.counts(),
            "unsupported": unsupported_by_extension(index.catalog.skipped_files()),  # of counts["skipped"]
            "size_bytes": index.size_on_disk(),
            "last_run": None
            if run is None
            else {
                "root": printable(run.root),
                "started_at": run.started_at.isoformat(timespec="seconds"),
                "finished_at": run.finished_at.isoformat(timespec="seconds") if run.finished_at else None,
                **{k: getattr(run, k) for k in ("added", "updated", "unchanged", "renamed", "removed", "failed")},
            },
        }
        if with_errors:
            info["errors"] = [{"path": printable(p), "reason": r} for p, r in index.catalog.failed_files()]
            info["skipped"] = [{"path": printable(p), "reason": r} for p, r in index.catalog.skipped_files()]
            info["notes"] = [{"path": printable(p), "note": n} for p, n in index.catalog.noted_files()]
        return info


def empty_status(index_dir: Path, model: str, with_errors: bool = False) -> dict:
    """The status of an index that is not made yet (the first sync makes it)."""
    info = {
        "index": printable(str(index_dir)),
        "model": model,
        "encoder_id": None,
        "dim": None,
        "index_type": None,
        "index_params": {},
        "format_version": None,
        "vectors": 0,
        "counts": {"items": 0, "segments": 0, "failed": 0, "skipped": 0, "indexed_in_part": 0, "by_kind": {}},
        "size_bytes": 0,
        "last_run": None,
    }
    if with_errors:
        info |= {"errors": [], "skipped": [], "notes": []}
    return info
