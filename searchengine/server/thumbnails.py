"""Thumbnails: made once per file version in a small thread pool, off the request path, and kept on disk.

A thumbnail is a JPEG named by the file's content hash, mtime and size (and the time, for a video
frame), in a cache folder of its own per index; a changed file gets a new name, so nothing is ever
stale, and a catalog id reused for another file never shows the old one's picture. Two requests
for the same missing thumbnail wait on one rendering. The folder keeps at most MAX_FILES
thumbnails: past that, the least recently made go.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from searchengine.api import Index
from searchengine.atomic import atomic_path
from searchengine.errors import DecodeError, SearchEngineError
from searchengine.kinds import IMAGE, VIDEO
from searchengine.media.images import load_image
from searchengine.server.library import ServedFile

log = logging.getLogger(__name__)

SIDE = 320  # longest side, pixels
QUALITY = 82
MAX_FILES = 5000  # thumbnails kept per index (about 100 MB); a tenth more are made before pruning


class NoThumbnail(SearchEngineError):
    """This file has no picture to show (a text, a recording) or it cannot be decoded."""


def default_folder(index: Index) -> Path:
    """<model cache>/thumbnails/<index>: derived files, safe to delete."""
    tag = hashlib.sha1(str(index.path).encode()).hexdigest()[:12]
    return index.cache_dir / "thumbnails" / f"{index.path.name}-{tag}"


class Thumbnails:
    def __init__(self, folder: Path, workers: int = 2):
        self.folder = Path(folder)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="thumbnail")
        self._pending: dict[str, asyncio.Future] = {}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def get(self, file: ServedFile, seconds: float | None = None) -> Path:
        """The cached thumbnail's path, rendering it first if needed (NoThumbnail when there is none)."""
        if file.kind not in (IMAGE, VIDEO):
            raise NoThumbnail(
                f"item {file.item_id} is {'a' if file.kind == 'text' else 'an'} {file.kind} file: no thumbnail"
            )
        identity = file.content_hash or hashlib.sha1(os.fsencode(file.path)).hexdigest()[:20]
        key = f"{identity}-{file.mtime_ns}-{file.size}"
        if file.kind == VIDEO:
            key += f"-{round(max(seconds or 0.0, 0.0) * 10)}"
        target = self.folder / f"{key}.jpg"
        if target.is_file():
            return target
        future = self._pending.get(key)
        if future is None:
            future = asyncio.get_running_loop().run_in_executor(self._pool, _render, file, seconds or 0.0, target)
            self._pending[key] = future
            future.add_done_callback(lambda _: self._pending.pop(key, None))
        return await asyncio.shield(future)  # a client going away does not cancel it for the others


def _render(file: ServedFile, seconds: float, target: Path) -> Path:
    try:
        image = _picture(file, seconds)
    except DecodeError as exc:
        raise NoThumbnail(
            f"item {file.item_id} cannot be shown: {exc}".replace(str(file.path), file.path.name)
        ) from exc
    image.thumbnail((SIDE, SIDE))
    with atomic_path(target) as tmp:
        image.save(tmp, "JPEG", quality=QUALITY, optimize=True)
    log.debug("thumbnail %s for item %s", target.name, file.item_id)
    _prune(target.parent)
    return target


def _prune(folder: Path, limit: int = MAX_FILES) -> None:
    """Past limit + a tenth thumbnails, remove the oldest down to the limit (others may be rendering)."""
    entries = list(os.scandir(folder))
    if len(entries) <= limit * 1.1:
        return
    entries.sort(key=_made)
    for entry in entries[: len(entries) - limit]:
        try:
            os.unlink(entry.path)
        except OSError:
            pass  # gone already


def _made(entry: os.DirEntry) -> int:
    try:
        return entry.stat().st_mtime_ns
    except OSError:
        return 0


def _picture(file: ServedFile, seconds: float):
    if file.kind == VIDEO:
        try:
            from searchengine.media.video import keyframe_image
        except ImportError as exc:
            raise NoThumbnail(f"item {file.item_id}: video frames need PyAV (pip install av)") from exc
        return keyframe_image(file.path, seconds, max_side=2 * SIDE)
    return load_image(file.path, draft_size=2 * SIDE)
