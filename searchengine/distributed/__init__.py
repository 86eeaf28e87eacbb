"""Scale-out: the indexing pipeline as a Ray Data job (`searchengine index FOLDER --engine ray`).

Ray is an optional extra (`pip install 'searchengine[scale]'`), imported only when this engine runs.
"""

from __future__ import annotations

from searchengine.errors import UsageError

ENGINES = ("local", "ray")


def require_ray():
    """The ray module, or a UsageError saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401 (the Data library is part of the extra)
    except ImportError as exc:
        raise UsageError(
            "{-engine=ray} needs the scale extra ({missing} is missing): pip install 'searchengine[scale]'",
            missing=exc.name,
        ) from None
    return ray
