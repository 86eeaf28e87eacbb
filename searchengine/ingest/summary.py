"""What an indexing run did: counts, the files that failed or were skipped and why, notices."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from searchengine.errors import LIBRARY, Message, Wording
from searchengine.ingest.progress import Progress
from searchengine.paths import printable
from searchengine.store.records import ItemDraft

COUNTS = ("added", "updated", "unchanged", "renamed", "removed", "failed")  # what the catalog's runs record


@dataclass
class RunSummary:
    index: str
    model: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    renamed: int = 0
    removed: int = 0
    failed: int = 0
    skipped: int = 0  # entries left out with a reason (dangling or outside links, FIFOs, unreadable folders)
    segments: int = 0
    seconds: float = 0.0
    errors: list[tuple[str, str]] = field(default_factory=list)
    skipped_files: list[tuple[str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # indexed in part, and why
    notices: list[Message] = field(default_factory=list)  # one-time notes for the user (see upgrades.py)

    @property
    def embedded(self) -> int:
        return self.added + self.updated

    @property
    def items_per_second(self) -> float:
        return self.embedded / self.seconds if self.seconds else 0.0

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNTS}

    def count(self, draft: ItemDraft, known_paths: set[str], progress: Progress) -> None:
        """Account for one committed file."""
        if draft.error:
            self.failed += 1
            self.errors.append((draft.path, draft.error))
            progress.failed(draft.path, draft.error)
        elif draft.path in known_paths:
            self.updated += 1
        else:
            self.added += 1
        if draft.note:
            self.notes.append((draft.path, draft.note))
        self.segments += len(draft.segments)

    def as_dict(self, wording: Wording = LIBRARY) -> dict:
        data = asdict(self)
        data["notices"] = [notice.render(wording) for notice in self.notices]
        data["items_per_second"] = round(self.items_per_second, 2)
        for key, name in (("errors", "reason"), ("skipped_files", "reason"), ("notes", "note")):
            data[key] = [{"path": printable(p), name: printable(r)} for p, r in getattr(self, key)]
        return data
