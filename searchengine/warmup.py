"""Load an index's encoder in a background thread while the rest of a search starts up.

A cold `search` spends most of its time importing libraries and loading the model. ONNX Runtime
reads and prepares a model outside the GIL, so loading it in a thread overlaps the two: by the
time the catalog, FAISS and the CLI's own modules are imported, the text tower is ready.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from pathlib import Path

from searchengine.errors import SearchEngineError


def load_encoder_in_background(index_dir: Path, device: str, backend: str | None, texts: bool) -> Future | None:
    """A future of the encoder that built the index at `index_dir` (None when there is no readable
    manifest: the normal path then reports why). With `texts`, its text tower is warmed up too."""
    from searchengine.manifest import Manifest, encoder_name

    try:
        manifest = Manifest.read(index_dir)
    except (SearchEngineError, OSError):
        return None
    future: Future = Future()

    def load() -> None:
        try:
            from searchengine.encoders.registry import load_encoder

            encoder = load_encoder(encoder_name(manifest), device, backend)
            if texts:
                encoder.embed_texts(["warm-up"])  # builds the text runtime session
            future.set_result(encoder)
        except BaseException as exc:  # handed to the caller, who raises it where it waits
            future.set_exception(exc)

    threading.Thread(target=load, name="encoder-load", daemon=True).start()
    return future
