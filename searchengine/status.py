"""What an index holds, as a plain dict (the CLI prints it as text or JSON)."""

from __future__ import annotations

from pathlib import Path

from searchengine.index_folder import IndexFolder
from searchengine.media.discover import unsupported_by_extension
from searchengine.paths import printable


def index_status(index_dir: Path, with_errors: bool = False) -> dict:
    with IndexFolder.open(index_dir) as index:
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
            "last_run": None if run is None else {
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
