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
            f"--engine ray needs the scale extra ({exc.name} is missing): pip install 'searchengine[scale]'"
        ) from None
    return ray
