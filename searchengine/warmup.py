"""Load an index's encoder in a background thread while the rest of a search starts up.

A cold `search` spends most of its time importing libraries and loading the model. ONNX Runtime
reads and prepares a model outside the GIL, so loading it in a thread overlaps the two: by the
time the catalog, FAISS and the CLI's own modules are imported, the text tower is ready.

The command line starts the load before it even imports its CLI library (`preload`, from
cli/launch.py); the search then `load_encoder_in_background` claims that load when it is for
the same index, device and backend, and starts its own otherwise.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, wait
from pathlib import Path

from searchengine.errors import SearchEngineError

_started: list[Future] = []  # every load begun in this process (settle() waits for them)
_early: tuple[tuple, Future] | None = None  # the preload's (index, device, backend) and its load
_early_ready = threading.Event()
_preloading = False


def _manifest(index_dir: Path):
    from searchengine.store.manifest import Manifest

    try:
        return Manifest.read(index_dir)
    except (SearchEngineError, OSError):
        return None  # no readable index: the normal path reports why


def _key(index_dir: Path, device: str, backend: str | None) -> tuple:
    return Path(index_dir).expanduser().resolve(), device, backend


def _load(manifest, device: str, backend: str | None, texts: bool, future: Future, quick_start: bool = False) -> None:
    try:
        from searchengine.config import cache_dir
        from searchengine.encoders.registry import load_encoder
        from searchengine.store.manifest import encoder_name

        encoder = load_encoder(encoder_name(manifest), device, backend, cache_dir=cache_dir(), quick_start=quick_start)
        if texts:
            prepare = getattr(encoder, "prepare_texts", None)
            prepare() if prepare else encoder.embed_texts(["warm-up"])  # builds the text runtime session
        future.set_result(encoder)
    except BaseException as exc:  # handed to the caller, who raises it where it waits
        future.set_exception(exc)


def _start(manifest, device: str, backend: str | None, texts: bool) -> Future:
    future: Future = Future()
    _started.append(future)
    threading.Thread(target=_load, args=(manifest, device, backend, texts, future), name="encoder-load",
                     daemon=True).start()
    return future


def load_encoder_in_background(index_dir: Path, device: str, backend: str | None, texts: bool) -> Future | None:
    """A future of the encoder that built the index at `index_dir` (None when there is no readable
    manifest: the normal path then reports why). With `texts`, its text tower is warmed up too."""
    global _early
    if _preloading:
        _early_ready.wait()
        if _early is not None and _early[0] == _key(index_dir, device, backend):
            future, _early = _early[1], None
            return future
    manifest = _manifest(index_dir)
    return None if manifest is None else _start(manifest, device, backend, texts)


def preload(index: str | None, device: str, backend: str | None, texts: bool, one_query: bool = False) -> None:
    """Start loading the encoder of `index` (None: the default index) at once, for a search that
    has not parsed its arguments yet. Everything, even finding the index, happens in the thread.
    `one_query`: the process embeds one query and ends, so its graphs are made to start fast."""
    global _preloading

    def find_and_load() -> None:
        global _early
        try:
            from searchengine.config import default_index_dir

            index_dir = Path(index).expanduser() if index else default_index_dir()
            manifest = _manifest(index_dir)
            if manifest is not None:
                future: Future = Future()
                _started.append(future)
                _early = (_key(index_dir, device, backend), future)
        except BaseException:  # a guess that failed costs nothing: the search loads as usual
            manifest = None
        finally:
            _early_ready.set()
        if manifest is not None:
            _load(manifest, device, backend, texts, future, quick_start=one_query)

    _preloading = True
    threading.Thread(target=find_and_load, name="encoder-preload", daemon=True).start()


def settle() -> None:
    """Wait for every load begun here: never exit while a loader is inside native code (it aborts)."""
    if _preloading:
        _early_ready.wait()
    wait(list(_started))
