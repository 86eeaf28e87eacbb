"""Walk a folder for indexable files: hidden entries skipped, symlinks followed once, loops safe.

A `.searchengineignore` file in the folder (gitignore syntax) and `exclude` patterns leave
files and folders out, as .gitignore does for git.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from searchengine.errors import FolderNotFound
from searchengine.media.kinds import kind_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FoundFile:
    path: Path  # absolute, as reached under the root (symlinks not resolved)
    kind: str
    size: int
    mtime_ns: int


def check_folder(folder: Path) -> Path:
    folder = Path(folder).expanduser()
    if not folder.exists():
        raise FolderNotFound(f"folder {folder} does not exist: give the path of a folder of photos, texts or recordings")
    if not folder.is_dir():
        raise FolderNotFound(f"{folder} is not a folder: give the folder that holds it")
    return folder.absolute()


IGNORE_FILE = ".searchengineignore"


def ignore_spec(root: Path, exclude: Iterable[str] = ()):
    """The folder's ignore rules plus extra patterns, as a gitignore matcher (or None)."""
    import pathspec

    lines = list(exclude)
    try:
        lines += (root / IGNORE_FILE).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        pass
    return pathspec.GitIgnoreSpec.from_lines(lines) if any(l.strip() for l in lines) else None


def discover(root: Path, exclude: Iterable[str] = ()) -> Iterator[FoundFile]:
    """Every indexable file under root, in a stable order.

    Each real directory is entered once (by device and inode), so symlink loops end; dangling
    links and unreadable entries are skipped with a log line.
    """
    root = check_folder(root)
    spec = ignore_spec(root, exclude)
    seen_dirs: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = folder.stat()
        except OSError as exc:
            log.warning("skipping %s: %s", folder, exc.strerror or exc)
            continue
        if (st.st_dev, st.st_ino) in seen_dirs:
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            log.warning("cannot list %s: %s", folder, exc.strerror or exc)
            continue
        subfolders = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
                if spec is not None:
                    relative = path.relative_to(root).as_posix() + ("/" if is_dir else "")
                    if spec.match_file(relative):
                        continue
                if is_dir:
                    subfolders.append(path)
                    continue
                kind = kind_of(path)
                if kind is None or not entry.is_file(follow_symlinks=True):
                    continue
                st = entry.stat(follow_symlinks=True)
            except OSError as exc:  # dangling symlink, permission, vanished
                log.warning("skipping %s: %s", path, exc.strerror or exc)
                continue
            yield FoundFile(path, kind, st.st_size, st.st_mtime_ns)
        stack.extend(reversed(subfolders))
