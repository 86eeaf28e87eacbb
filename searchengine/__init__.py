"""searchengine: local, offline, cross-modal semantic search.

    from searchengine import Index
    with Index.open("~/pictures-index") as ix:
        ix.sync("~/Pictures")
        hits = ix.search("a cat on a sofa", kind="image")

`Index` (api.py) is the public object; `Hit` a search result, `Query` a query built apart,
`RunSummary` what a sync did, `Report` what verify and repair found; errors are in
searchengine.errors. They are imported on first use, so `import searchengine` stays light.
"""

from searchengine.version import __version__

_PUBLIC = {
    "Index": "searchengine.api",
    "Hit": "searchengine.hits",
    "Query": "searchengine.query",
    "RunSummary": "searchengine.ingest.summary",
    "Report": "searchengine.verify",
}
__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):
    if name in _PUBLIC:
        import importlib

        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'searchengine' has no attribute {name!r}")
