"""The one place that makes a cold `search` fast.

A cold search spends most of its time importing libraries and loading the model. ONNX Runtime
reads and prepares a model outside the GIL, so loading it in a thread overlaps the two:

- before the CLI library is even imported (Typer and the pydantic models it builds for each option
  take ~0.45 s here), the command line is peeked at for a `search`, and the encoder of the index
  it names starts loading in a thread (`Preload`); its runtime sessions are made to start fast
  when the process runs one query (`quick_start`);
- Typer still parses the command line; the search command claims the load through Typer's context
  object when it is for the same index, device and backend, and starts one of its own otherwise;
- a finished search ends without tearing the interpreter down (`exit_now`, from launch.py): unloading ONNX
  Runtime, FAISS and every module costs another 0.2 s.

Everything else in searchengine loads as it would anyway; nothing here is global.
"""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import Future
from pathlib import Path


class Preload:
    """The encoder of an index, loading in a thread (found from the index's manifest, there too)."""

    def __init__(self, index: Path | None, device: str, backend: str, texts: bool, quick_start: bool):
        self.key = (index, device, backend)
        self.future: Future = Future()
        self._thread = threading.Thread(
            target=self._load, args=(texts, quick_start), name="encoder-preload", daemon=True
        )
        self._thread.start()

    def _load(self, texts: bool, quick_start: bool) -> None:
        try:
            from searchengine import config
            from searchengine.encoders.registry import load_encoder
            from searchengine.store.manifest import Manifest, encoder_name

            index, device, backend = self.key
            manifest = Manifest.read((index or config.default_index_dir()).absolute())
            encoder = load_encoder(
                encoder_name(manifest), device, backend, cache_dir=config.cache_dir(), quick_start=quick_start
            )
            if texts:
                prepare = getattr(encoder, "prepare_texts", None)
                prepare() if prepare else encoder.embed_texts(["warm-up"])  # builds the text runtime session
            self.future.set_result(encoder)
        except BaseException as exc:  # handed to whoever claims it; a guess that failed costs nothing else
            self.future.set_exception(exc)

    def claim(self, index: Path, device: str, backend: str) -> Future | None:
        """The load, when it is for this index, device and backend and went well so far."""
        mine, my_device, my_backend = self.key
        if (my_device, my_backend) != (device, backend):
            return None
        if (mine or _default_index()).absolute() != Path(index).expanduser().absolute():
            return None
        if self.future.done() and self.future.exception() is not None:
            return None  # no readable index, say: the search reports why itself
        return self.future

    def settle(self) -> None:
        """Wait for the loader: never exit while it is inside native code (that aborts the process)."""
        self._thread.join()


def peek(args: list[str]) -> dict | None:
    """What a `search` command line `args` says of the load (Preload's arguments); None for any
    other command. Typer parses it properly later; a search that differs loads its own."""
    while args and _is_verbose(args[0]):  # the command's own options come first
        args = args[1:]
    if not args or args[0] != "search" or "--help" in args:
        return None
    values = {"--index": None, "--device": "auto", "--backend": os.environ.get("SEARCHENGINE_BACKEND") or "auto"}
    rest = iter(args[1:])
    for arg in rest:
        name, eq, value = arg.partition("=")
        if name in values:
            values[name] = value if eq else next(rest, None)
    return {
        "index": Path(values["--index"]).expanduser() if values["--index"] else None,
        "device": values["--device"],
        "backend": values["--backend"],
        "texts": "--image" not in args and "--like" not in args,
        "quick_start": "--queries" not in args,
    }


def _is_verbose(arg: str) -> bool:
    return arg == "--verbose" or arg.startswith("-v") and set(arg[1:]) == {"v"}


def verbosity(args: list[str]) -> int:
    """The -v count among the options before the command (where Typer takes them)."""
    count = 0
    for arg in args:
        if not _is_verbose(arg):
            break
        count += 1 if arg == "--verbose" else len(arg) - 1
    return count


def _default_index() -> Path:
    from searchengine.config import default_index_dir

    return default_index_dir()


def exit_now(code: int) -> None:
    """End a finished search without tearing the interpreter down: its output is written and the
    index is closed (a search writes nothing else), and unloading ONNX Runtime, FAISS and every
    module costs a cold query another 0.2 s here."""
    import logging

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 1
    os._exit(code)
