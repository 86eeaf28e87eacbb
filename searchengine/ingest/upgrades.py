"""Which encoder extends an existing index, and the one-time note that a better default exists.

An index is always extended with exactly the encoder it was built with: after the default
`bundled` moved from lit-v1 to lit-v2, `searchengine index` on an index built with `bundled`
(recorded as `bundled:lit-v1`) keeps embedding with lit-v1, so the index never mixes two models.
The first such run tells the user, once per index, that rebuilding gives the better model.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from searchengine.encoders.registry import successor
from searchengine.errors import Message
from searchengine.store.manifest import Manifest, encoder_name

NOTICES = "notices"


def model_to_load(requested: str, manifest: Manifest | None) -> str:
    """The model name to embed new files with: the index's own encoder when `requested` names it
    (its recorded model name or exact id), else `requested` (a mismatch is refused elsewhere)."""
    if manifest is not None and requested in (manifest.model, manifest.encoder_id):
        return encoder_name(manifest)
    return requested


def upgrade_notice(index_dir: Path, manifest: Manifest | None, requested: str, cache_dir: Path) -> Message | None:
    """A one-line note, the first time only for this index, when it was built with an encoder a
    better default has replaced; None otherwise (also when the user asked for the old id by name).
    That it was given is remembered in `cache_dir`."""
    if manifest is None or requested == manifest.encoder_id:
        return None
    newer = successor(manifest.encoder_id)
    if newer is None:
        return None
    key = hashlib.sha256(f"{Path(index_dir).resolve()}\n{manifest.encoder_id}".encode()).hexdigest()[:20]
    marker = Path(cache_dir) / NOTICES / f"{key}-{newer.replace(':', '_')}"
    if marker.exists():
        return None
    marker.parent.mkdir(parents=True, exist_ok=True)
    tmp = marker.with_name(marker.name + f".{os.getpid()}.tmp")
    tmp.write_text(f"{index_dir}\n")
    tmp.replace(marker)
    return Message(
        "this index was built with {built_with} and keeps using it; a better default, {newer}, is "
        "available: {@rebuild} (or delete {index} and index again) to use it",
        built_with=manifest.encoder_id,
        newer=newer,
        index=str(index_dir),
    )
