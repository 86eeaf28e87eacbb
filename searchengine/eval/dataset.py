"""Evaluation datasets: a folder with pairs.jsonl (see ARCHITECTURE.md, "Evaluation dataset format").

Each line is {"image": "relative/path", "captions": ["…", …], "audio"?: "relative/path"}.
A split ("train", "test", "val") reads <split>.jsonl instead, as the dataset builders in
benchmarks/datasets/ write it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from searchengine.errors import UsageError

PAIRS = "pairs.jsonl"


@dataclass(frozen=True)
class Pair:
    image: Path  # absolute
    captions: tuple[str, ...]  # stripped, non-empty
    audio: Path | None = None  # a spoken caption, absolute


def load_pairs(folder: Path, split: str | None = None) -> list[Pair]:
    """The pairs of a dataset folder; UsageError when the folder or a listed file is missing."""
    folder = Path(folder).expanduser().resolve()
    name = f"{split}.jsonl" if split else PAIRS
    path = folder / name
    if not path.is_file():
        hint = f"{folder} has no {name}" + (f" (is {split!r} a split of this dataset?)" if split else "")
        raise UsageError(f"{hint}: give a folder made by a dataset builder in benchmarks/datasets/")
    pairs = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise UsageError(f"{path}:{number} is not a JSON line ({exc})") from exc
            pairs.append(_pair(row, folder, f"{path}:{number}"))
    if not pairs:
        raise UsageError(f"{path} lists no pairs")
    missing = [str(p.image) for p in pairs if not p.image.is_file()]
    missing += [str(p.audio) for p in pairs if p.audio is not None and not p.audio.is_file()]
    if missing:
        raise UsageError(
            f"{len(missing)} files listed in {path} do not exist (first: {missing[0]}): rebuild the dataset"
        )
    return pairs


def _pair(row: dict, folder: Path, where: str) -> Pair:
    if not isinstance(row, dict) or not isinstance(row.get("image"), str):
        raise UsageError(f'{where}: each line needs an "image" path')
    captions = tuple(c.strip() for c in row.get("captions") or [] if isinstance(c, str) and c.strip())
    if not captions:
        raise UsageError(f"{where}: {row['image']} has no captions")
    audio = row.get("audio")
    return Pair(folder / row["image"], captions, folder / audio if isinstance(audio, str) and audio else None)
