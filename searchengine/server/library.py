"""The index as the server hands it out: searchengine.Index (which follows the index as another
process updates it), and files handed out by catalog id only, never outside the folders the index
was built from.

The index is opened once, its vector file read whole (a mapped file damaged in place under a
long-running server would kill it), and both towers loaded before the first request.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from searchengine.api import Index
from searchengine.encoders.base import Encoder
from searchengine.errors import SearchEngineError


class ItemNotFound(SearchEngineError):
    """No indexed file has that id, or it is gone from disk."""


class FileRefused(SearchEngineError):
    """The indexed path leads outside the indexed folders (a symlink pointing elsewhere)."""


@dataclass(frozen=True)
class ServedFile:
    item_id: int
    path: Path  # resolved: symlinks followed, checked to lie under an indexed root
    kind: str
    size: int
    mtime_ns: int
    content_hash: str | None = None


class Library:
    """An open index, shared by all requests (thread-safe)."""

    def __init__(self, index: Index):
        self.index = index
        self.index_dir = index.path

    @classmethod
    def open(
        cls, index_dir: Path, device: str = "auto", encoder: Encoder | None = None, cache_dir: Path | None = None
    ) -> Library:
        """Open the index (a missing one fails here); load its encoder unless one is given (it must be
        the one that built it)."""
        index = Index.open(
            Path(index_dir).expanduser().resolve(),
            create=False,
            device=device,
            encoder=encoder,
            cache_dir=cache_dir,
            read_whole=True,
        )
        try:
            index.search("warm up", k=1)  # opens the index, loads the vectors, the calibration and the text tower
            _warm_up(index.encoder)
        except BaseException:
            index.close()
            raise
        return cls(index)

    def close(self) -> None:
        self.index.close()

    def file(self, item_id: int) -> ServedFile:
        """The indexed file with this catalog id, if it is still on disk under an indexed root."""
        found = self.index.item(item_id)
        if found is None:
            raise ItemNotFound("no item {item_id} in this index", item_id=item_id)
        path, kind, size, mtime_ns, content_hash = found
        real = Path(os.path.realpath(path))
        roots = [Path(os.path.realpath(r)) for r in self.index.roots()]
        if not any(real.is_relative_to(root) for root in roots):
            raise FileRefused("item {item_id} leads outside the indexed folders: not served", item_id=item_id)
        if not real.is_file():
            raise ItemNotFound("item {item_id} is gone from disk: {@reindex}", item_id=item_id)
        return ServedFile(item_id, real, kind, size, mtime_ns, content_hash)


def _warm_up(encoder: Encoder) -> None:
    """Load the image tower now too (lazy otherwise): the first query should be as fast as the others."""
    from PIL import Image

    encoder.embed_images([Image.new("RGB", (64, 64), "white")])
