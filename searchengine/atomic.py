"""Files written whole or not at all: every file searchengine writes goes through here.

The data goes to a temporary file beside the target, under a name no other writer uses (process id
and random bits), is flushed to disk (fsync), then renamed over the target, and the folder is
flushed so the rename itself survives a crash. Readers see the old file or the new one, never a
part; two processes writing the same target at once each write their own temporary file, and the
last rename wins. A failure removes the temporary file and leaves the target as it was.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(target: Path, suffix: str = "") -> Iterator[Path]:
    """A fresh temporary path beside `target` for a writer that wants a file name (FAISS, Pillow,
    ONNX exporters); on leaving without an error it is synced and renamed to `target`.
    `suffix` ends the temporary name, for writers that look at the extension."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp{suffix}")
    # created here, exclusively, with the umask's permissions (not mkstemp's private 0600)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp
        _fsync(tmp, os.O_RDONLY)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_folder(target.parent)


def atomic_write(target: Path, data: bytes | str) -> None:
    """Write `data` (text as UTF-8) to `target` atomically."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    with atomic_path(target) as tmp, open(tmp, "wb") as fh:
        fh.write(data)


def fsync_folder(folder: Path) -> None:
    """Make a rename or a new file in `folder` durable (a no-op where folders cannot be synced)."""
    try:
        _fsync(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        pass


def _fsync(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
