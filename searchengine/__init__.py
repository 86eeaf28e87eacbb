"""searchengine: local, offline, cross-modal semantic search."""

__version__ = "0.1.0"
