"""The library's messages in the command line's words: its parameters as flags, its actions as commands."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from searchengine.errors import Wording

# library parameter -> the flag that sets it
FLAGS = {
    "kind": "--type",
    "k": "-k",
    "index": "--index",
    "model": "--model",
    "device": "--device",
    "backend": "--backend",
    "image": "--image",
    "like": "--like",
    "per_kind": "--per-kind",
    "min_score": "--min-score",
    "index_type": "--index-type",
    "asr_model": "--asr-model",
    "engine": "--engine",
    "max_memory": "--max-memory",
}


def _flag(name: str, value: Any) -> str:
    flag = FLAGS.get(name, "--" + name.replace("_", "-"))
    return flag if value is None else f"{flag} {value}"


def _build(facts: Mapping[str, Any]) -> str:
    folder = facts.get("folder")
    return (
        f"build one with `searchengine index FOLDER --index {folder}`"
        if folder
        else "build one with `searchengine index FOLDER`"
    )


CLI = Wording(
    option=_flag,
    actions={
        "repair": "run `searchengine repair`",
        "index": _build,
        "reindex": "run `searchengine index` again",
        "rebuild": "rebuild with `searchengine index FOLDER --index NEW_FOLDER`",
    },
)
