"""searchengine: local, offline, cross-modal semantic search."""

from searchengine.version import __version__

__all__ = ["__version__"]
