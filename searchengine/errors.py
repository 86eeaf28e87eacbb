"""Domain errors. Library code raises these; only the CLI turns them into messages.

Every message is one line that says what went wrong and what to do about it.
"""

from __future__ import annotations


class SearchEngineError(Exception):
    """Base of every error searchengine raises on purpose."""

    exit_code = 1


class UsageError(SearchEngineError):
    """The request itself is wrong (bad option value, missing argument)."""

    exit_code = 2


class FolderNotFound(UsageError):
    """The folder to index does not exist or is not a folder."""


class IndexNotFound(SearchEngineError):
    """No index exists at the given location."""


class IndexFormatError(SearchEngineError):
    """The index on disk is damaged or of an unknown/newer format."""


class CatalogMissing(IndexFormatError):
    """The index folder has a manifest but no catalog (deleted or lost): repair re-indexes."""


class ManifestMissing(IndexFormatError):
    """The index folder has a catalog but no readable manifest: repair rewrites it from the catalog."""


class IndexWriteFailed(SearchEngineError):
    """Writing to the index failed (disk full, permission, a lock): it keeps its last committed state."""


class IndexReadOnly(SearchEngineError):
    """The index folder cannot be written, and the command must write to it."""


class ModelMismatch(SearchEngineError):
    """The index was built with a different encoder than the one asked for."""


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
