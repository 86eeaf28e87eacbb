"""Domain errors. Library code raises these; whoever shows them (the CLI, the server) words them.

Every message is one line that says what went wrong and what to do about it. The library speaks
of its own parameters and actions, not of command-line flags: a message is a template whose
references a `Wording` fills in, and its facts are attributes of the error.

    {name}          a fact, e.g. {folder}
    {-param}        a parameter ("model" in the library, "--model" on the command line)
    {-param=value}  a parameter with a value ("model='cpu'", "--device cpu"); {-param=$fact}
                    takes the value from a fact
    {@action}       something the user can do, e.g. {@repair}: "repair the index (Index.repair)"
                    in the library, "run `searchengine repair`" on the command line

Facts are filled in once and never read as templates themselves (a file name may hold braces).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Library wording of the actions messages refer to (the CLI and the server have their own).
ACTIONS: dict[str, str] = {
    "repair": "repair the index (Index.repair)",
    "index": "build one by syncing a folder into it (Index.sync)",
    "reindex": "sync its folders again (Index.sync)",
    "rebuild": "build a new index of the same folders",
}
_REFERENCE = re.compile(r"\{([-@]?)([A-Za-z_][A-Za-z0-9_]*)(?:=([^{}]*))?\}")


def _library_option(name: str, value: Any) -> str:
    return name if value is None else f"{name}={value!r}"


@dataclass(frozen=True)
class Wording:
    """How references in a message are shown: parameters (name, value or None) and actions."""

    option: Callable[[str, Any], str] = _library_option
    actions: Mapping[str, str | Callable[[Mapping[str, Any]], str]] = field(default_factory=dict)

    def action(self, name: str, facts: Mapping[str, Any]) -> str:
        phrase = self.actions.get(name, ACTIONS.get(name, name))
        return phrase(facts) if callable(phrase) else phrase


LIBRARY = Wording()


class Message:
    """A sentence with facts, worded for whoever shows it."""

    def __init__(self, template: str, **facts: Any):
        self.template = template
        self.facts = facts

    def render(self, wording: Wording = LIBRARY) -> str:
        def fill(match: re.Match) -> str:
            sigil, name, value = match.groups()
            if sigil == "-":
                if value is not None and value.startswith("$"):
                    value = self.facts[value[1:]]
                return wording.option(name, value)
            if sigil == "@":
                return wording.action(name, self.facts)
            return str(self.facts[name])

        try:
            return _REFERENCE.sub(fill, self.template)
        except KeyError:  # not a template after all (a message that quotes braces)
            return self.template

    def __str__(self) -> str:
        return self.render()


class SearchEngineError(Exception):
    """Base of every error searchengine raises on purpose. Facts given as keywords are attributes."""

    exit_code = 1

    def __init__(self, message: str = "", **facts: Any):
        super().__init__(message)
        self.message = Message(message, **facts)
        for name, value in facts.items():
            setattr(self, name, value)

    def render(self, wording: Wording = LIBRARY) -> str:
        return self.message.render(wording)

    def __str__(self) -> str:
        return self.render()

    def __reduce__(self):  # pickles (across processes) with its facts
        return _rebuild, (type(self), self.message.template, self.message.facts)


def _rebuild(cls, template: str, facts: dict) -> SearchEngineError:
    return cls(template, **facts)


class UsageError(SearchEngineError):
    """The request itself is wrong (bad option value, missing argument)."""

    exit_code = 2


class FolderNotFound(UsageError):
    """The folder to index does not exist or is not a folder."""


class IndexNotFound(SearchEngineError):
    """No index exists at the given location (`folder`)."""


class IndexFormatError(SearchEngineError):
    """The index on disk is damaged or of an unknown/newer format."""


class CatalogMissing(IndexFormatError):
    """The index folder has a manifest but no catalog (deleted or lost): repair re-indexes."""


class ManifestMissing(IndexFormatError):
    """The index folder has a catalog but no readable manifest: repair rewrites it from the catalog."""


class IndexWriteFailed(SearchEngineError):
    """Writing to the index failed (disk full, permission, a lock): it keeps its last committed state."""


class IndexReadOnly(SearchEngineError):
    """The index folder cannot be written, and the operation must write to it."""


class ModelMismatch(SearchEngineError):
    """The index was built with a different encoder than the one asked for: `built_with` (the
    index's encoder id), `asked`, and `model` (the name that loads the index's own encoder)."""


class ModelUnavailable(SearchEngineError):
    """An encoder or its weights cannot be loaded here."""


class UnknownModel(UsageError):
    """No encoder is registered under the given name."""


class UnsupportedFile(SearchEngineError):
    """A file's type is not one searchengine can index."""


class DecodeError(SearchEngineError):
    """A file could not be read or decoded (corrupt, truncated, unreadable)."""


class QueryError(UsageError):
    """A query cannot be run (empty text, query image not an image, …)."""


class IndexLocked(SearchEngineError):
    """Another process is writing to the index."""
