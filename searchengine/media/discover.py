"""Walk a folder for indexable files: hidden entries skipped, symlinks followed once, loops safe.

A `.searchengineignore` file in the folder (gitignore syntax) and `exclude` patterns leave
files and folders out, as .gitignore does for git; hidden entries are left out too. Those are
choices, and pass in silence. Everything else not indexed is skipped with a one-line reason,
handed to `skipped`: a file of a type we do not index (UNSUPPORTED; `unsupported_by_extension`
counts them; a file of an unknown type whose content is text is indexed as text), a dangling symlink, a symlink whose target lies outside the indexed folders
(unless `follow_outside_links`: the same rule the web app applies before serving a file), a
folder reached a second time (a symlink loop), a folder that cannot be listed, and a FIFO, socket
or device named like a file we index.
"""

from __future__ import annotations

import os
import stat
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from searchengine.errors import FolderNotFound
from searchengine.kinds import TEXT, kind_of
from searchengine.media.text import looks_like_text


@dataclass(frozen=True)
class FoundFile:
    path: Path  # absolute, as reached under the root (symlinks not resolved)
    kind: str
    size: int
    mtime_ns: int


def check_folder(folder: Path) -> Path:
    folder = Path(folder).expanduser()
    if not folder.exists():
        raise FolderNotFound(
            f"folder {folder} does not exist: give the path of a folder of photos, texts or recordings"
        )
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
    return pathspec.GitIgnoreSpec.from_lines(lines) if any(line.strip() for line in lines) else None


UNSUPPORTED = "unsupported file type"  # the reason a file of no kind we index is skipped with
NO_EXTENSION = "no extension"


def left_out(path: Path, root: Path, spec, is_dir: bool = False) -> bool:
    """Whether `discover(root)` leaves `path` out in silence: it, or a folder on the way to it from
    root, is hidden or matched by the ignore rules `spec` (`ignore_spec`). A path outside root: False."""
    try:
        parts = Path(path).relative_to(root).parts
    except ValueError:
        return False
    if any(part.startswith(".") for part in parts):
        return True
    if spec is None:
        return False
    folders = ("/".join(parts[:i]) + "/" for i in range(1, len(parts)))
    return any(spec.match_file(f) for f in folders) or spec.match_file("/".join(parts) + ("/" if is_dir else ""))


def unsupported_by_extension(skipped: Iterable[tuple[str, str]]) -> dict[str, int]:
    """{".pdf": 2, "no extension": 1, …}, most first, of the (path, reason) entries skipped as UNSUPPORTED."""
    counts = Counter(
        Path(path).suffix.lower() or NO_EXTENSION for path, reason in skipped if reason.endswith(UNSUPPORTED)
    )
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


SPECIAL = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def discover(
    root: Path,
    exclude: Iterable[str] = (),
    skipped: list[tuple[str, str]] | None = None,
    other_roots: Sequence[Path | str] = (),
    follow_outside_links: bool = False,
) -> Iterator[FoundFile]:
    """Every indexable file under root, in a stable order.

    Each real directory is entered once (by device and inode), so symlink loops end. What is left
    out for a reason other than the ignore rules is appended to `skipped` as (path, reason).
    A symlink may lead anywhere under root or `other_roots` (the index's other folders).
    """
    root = check_folder(root)
    spec = ignore_spec(root, exclude)
    skipped = [] if skipped is None else skipped
    inside = [os.path.realpath(r) for r in (root, *other_roots)]
    seen_dirs: dict[tuple[int, int], Path] = {}
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = folder.stat()
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            skipped.append((str(folder), f"{folder}: cannot list this folder ({exc.strerror or exc})"))
            continue
        if (st.st_dev, st.st_ino) in seen_dirs:
            skipped.append(
                (
                    str(folder),
                    f"{folder}: already indexed as {seen_dirs[st.st_dev, st.st_ino]} "
                    "(a symlink loop, or a second link to one folder)",
                )
            )
            continue
        seen_dirs[st.st_dev, st.st_ino] = folder
        subfolders = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                found = _entry(entry, path, root, spec, inside, follow_outside_links)
            except OSError as exc:  # vanished, or no permission to look at it
                skipped.append((str(path), f"{path}: cannot read ({exc.strerror or exc})"))
                continue
            if isinstance(found, FoundFile):
                yield found
            elif isinstance(found, Path):
                subfolders.append(found)
            elif found:
                skipped.append((str(path), f"{path}: {found}"))
        stack.extend(reversed(subfolders))


def _entry(entry: os.DirEntry, path: Path, root: Path, spec, inside: list[str], follow_outside_links: bool):
    """What one directory entry is: a FoundFile, a folder (Path) to enter, a reason to skip it
    (str), or None to leave it out in silence (the ignore rules)."""
    link = entry.is_symlink()
    if link and not os.path.exists(path):
        return f"dangling symlink (to {os.readlink(path)}, which does not exist)"
    is_dir = entry.is_dir(follow_symlinks=True)
    if spec is not None:
        relative = path.relative_to(root).as_posix() + ("/" if is_dir else "")
        if spec.match_file(relative):
            return None
    kind = None if is_dir else kind_of(path) or _text_by_content(path, entry.stat(follow_symlinks=True))
    if not is_dir and kind is None:
        return UNSUPPORTED
    if link and not follow_outside_links:
        target = os.path.realpath(path)
        if not any(target == top or target.startswith(top.rstrip(os.sep) + os.sep) for top in inside):
            return f"symlink to {target}, outside the indexed folders: not indexed"
    if is_dir:
        return path
    st = entry.stat(follow_symlinks=True)
    if not stat.S_ISREG(st.st_mode):
        return f"not a regular file ({SPECIAL.get(stat.S_IFMT(st.st_mode), 'a special file')})"
    return FoundFile(path, kind, st.st_size, st.st_mtime_ns)


def _text_by_content(path: Path, st: os.stat_result) -> str | None:
    """TEXT for a regular file whose extension says nothing we know (a README, a .py, a .conf) but
    whose first bytes are text; None otherwise (a FIFO is never opened)."""
    return TEXT if stat.S_ISREG(st.st_mode) and looks_like_text(path) else None


def find_files(
    paths: Iterable[Path | str], skipped: list[tuple[str, str]] | None = None, exclude: Iterable[str] = ()
) -> Iterator[FoundFile]:
    """The given files, and every indexable file under the given folders (as `discover` walks them,
    with their .searchengineignore and the `exclude` patterns), each once. A path that is missing, not a kind of file searchengine indexes, or not a regular
    file is appended to `skipped` with its reason. Symlinks given are followed wherever they lead:
    they were chosen by name."""
    skipped = [] if skipped is None else skipped
    seen: set[str] = set()
    for given in paths:
        path = Path(given).expanduser().absolute()
        if path.is_dir():
            found: Iterable[FoundFile] = discover(path, tuple(exclude), skipped, follow_outside_links=True)
        else:
            found = [_found_file(path, skipped)]
        for file in found:
            if file is not None and str(file.path) not in seen:
                seen.add(str(file.path))
                yield file


def _found_file(path: Path, skipped: list[tuple[str, str]]) -> FoundFile | None:
    try:
        st = path.stat()
    except OSError as exc:
        skipped.append((str(path), f"{path}: cannot read ({exc.strerror or exc})"))
        return None
    kind = kind_of(path) or _text_by_content(path, st)
    if kind is None:
        skipped.append((str(path), f"{path}: not a kind of file searchengine indexes"))
        return None
    if not stat.S_ISREG(st.st_mode):
        skipped.append(
            (str(path), f"{path}: not a regular file ({SPECIAL.get(stat.S_IFMT(st.st_mode), 'a special file')})")
        )
        return None
    return FoundFile(path, kind, st.st_size, st.st_mtime_ns)
