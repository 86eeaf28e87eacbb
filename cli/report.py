"""What `index` says when it is done: one summary line on stderr (or JSON on stdout), then the
files that failed, were skipped or were indexed in part, with their reasons."""

from __future__ import annotations

from pathlib import Path

from searchengine.errors import UsageError
from searchengine.media.discover import UNSUPPORTED, unsupported_by_extension
from searchengine.paths import printable

from .logs import verbosity
from .output import json_line, stderr
from .wording import CLI

LISTED = 20  # reasons listed under the summary (all of them with -v)


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else many or word + 's'}"


def folders_to_sync(folder: Path | None, ix) -> tuple[list[Path], list[Path]]:
    """(folders to index, recorded folders that cannot be reached now). Without `folder`: every
    folder the index `ix` (a searchengine.Index) records."""
    if folder is not None:
        return [folder], []
    if not ix.exists:
        raise UsageError(f"no index at {ix.path} yet: give the folder to index (searchengine index FOLDER)")
    roots = [Path(root) for root in ix.roots()]
    if not roots:
        raise UsageError(f"the index at {ix.path} holds no folder yet: give one (searchengine index FOLDER)")
    return [r for r in roots if r.is_dir()], [r for r in roots if not r.is_dir()]


def summary_line(summary) -> str:
    """ "38 files added, 2 unchanged, 1 failed; 3 skipped: .pdf 1, .html 1, no extension 1; 49.0 s (0.8 files/s)"."""
    counts = [
        (summary.added, "added"),
        (summary.updated, "updated"),
        (summary.unchanged, "unchanged"),
        (summary.renamed, "renamed"),
        (summary.removed, "removed"),
        (summary.failed, "failed"),
    ]
    done = [(n, what) for n, what in counts if n]
    words = [f"{plural(n, 'file') if i == 0 else n} {what}" for i, (n, what) in enumerate(done)]
    parts = [", ".join(words) if words else "no files to index"]
    if summary.skipped:
        unsupported = unsupported_by_extension(summary.skipped_files)
        kinds = [f"{ext} {n}" for ext, n in unsupported.items()]
        others = summary.skipped - sum(unsupported.values())
        if others:
            kinds.append(f"{plural(others, 'other')} (below)")
        parts.append(f"{summary.skipped} skipped: " + ", ".join(kinds))
    took = f"{summary.seconds:.1f} s"
    if summary.embedded:
        took += f" ({summary.items_per_second:.1f} files/s)"
    parts.append(took)
    return "; ".join(parts)


def reasons(summary, everything: bool) -> list[tuple[str, str]]:
    """(label, reason) of each file that failed, was skipped or was indexed in part; files of an
    unsupported type only with `everything` (the summary counts them by extension)."""
    listed = [("failed", reason) for _, reason in summary.errors]
    listed += [
        ("skipped", reason) for _, reason in summary.skipped_files if everything or not reason.endswith(UNSUPPORTED)
    ]
    listed += [("in part", f"{path}: {note}") for path, note in summary.notes]
    return listed


def show_summary(summary, root: Path, as_json: bool, name_the_folder: bool = False) -> None:
    for notice in summary.notices:
        stderr.print(f"note: {notice.render(CLI)}", highlight=False, markup=False)
    if as_json:
        json_line({"root": printable(str(root)), **summary.as_dict(CLI)})
        return
    where = f"{root}: " if name_the_folder else ""
    stderr.print(f"{where}{summary_line(summary)} → {summary.index}", highlight=False, markup=False)
    everything = verbosity() >= 1
    listed = reasons(summary, everything)
    shown = listed if everything else listed[:LISTED]
    for label, line in shown:
        stderr.print(f"  {label}: {line}", highlight=False, markup=False)
    if len(listed) > len(shown):
        stderr.print(
            f"  … and {len(listed) - len(shown)} more: searchengine status --errors, or -v",
            highlight=False,
            markup=False,
        )
