"""Where searchengine keeps its state, and the settings a run uses: what the environment says.

One environment variable, SEARCHENGINE_HOME, moves everything: indexes (unless another folder is
given) and the model cache. It defaults to the user data folder (platformdirs). SEARCHENGINE_BACKEND
chooses the encoders' runtime. Only the outermost layers (searchengine.Index, the command line,
the server) read these; everything below is handed the folders and choices it needs.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "SEARCHENGINE_HOME"
BACKEND_ENV = "SEARCHENGINE_BACKEND"


def home() -> Path:
    value = os.environ.get(HOME_ENV)
    if value:
        return Path(value).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("searchengine", appauthor=False))


def default_index_dir() -> Path:
    return home() / "default"


def cache_dir() -> Path:
    """Derived files that can always be rebuilt (class text banks, assembled model folders)."""
    return home() / "cache"


def default_backend() -> str:
    """The encoders' runtime unless asked otherwise: $SEARCHENGINE_BACKEND, else auto."""
    return os.environ.get(BACKEND_ENV) or "auto"
