"""The version of this searchengine (what an index's manifest records as its maker)."""

__version__ = "0.1.0"
