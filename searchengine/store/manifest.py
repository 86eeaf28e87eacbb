"""manifest.json: what an index folder holds and how it was built.

It records the format version, the encoder (name as asked, exact id, dimension), the vector
index type and parameters, counts, and the catalog generation the vector file matches.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from searchengine.atomic import atomic_write
from searchengine.errors import IndexFormatError, ManifestMissing
from searchengine.version import __version__

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


@dataclass
class Manifest:
    model: str  # the name it was asked for ("bundled", "clip:ViT-B-32/laion2b_s34b_b79k")
    encoder_id: str  # exact weights identity
    dim: int
    index_type: str  # flat | hnsw | ivf | ivfpq (what is built now)
    index_type_requested: str = "auto"
    index_params: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)
    vectors_generation: int = 0
    roots: list = field(default_factory=list)  # folders indexed into it, for repair to re-index
    vectors_bytes: int | None = None  # size of vectors.faiss as written: a different size means damage
    vectors_checksum: str | None = None  # blake2b of vectors.faiss as written (verify, and the server, check it)
    max_memory: int | None = None  # --max-memory: bytes the vector index may use (None: half the RAM)
    normalized: bool = True
    format_version: int = FORMAT_VERSION
    created_by: str = f"searchengine {__version__}"

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ManifestMissing(
                "{path} is unreadable ({reason}): {@repair} to rewrite it from the catalog",
                path=path,
                reason=_reason(exc),
            ) from exc
        version = data.get("format_version") if isinstance(data, dict) else None
        if not isinstance(version, int):
            raise ManifestMissing("{path} has no format version: {@repair} to rewrite it from the catalog", path=path)
        if version > FORMAT_VERSION:
            raise IndexFormatError(
                f"index {folder} has format {version}, newer than this searchengine reads ({FORMAT_VERSION}): "
                "upgrade searchengine (pip install -U searchengine)"
            )
        known = {f for f in cls.__dataclass_fields__}
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError as exc:  # a required field is missing
            raise ManifestMissing(
                "{path} is incomplete ({reason}): {@repair} to rewrite it from the catalog", path=path, reason=exc
            ) from exc

    def write(self, folder: Path) -> None:
        atomic_write(folder / MANIFEST, json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or " ".join(str(exc).split())


def encoder_name(manifest: Manifest) -> str:
    """The model name that loads exactly the encoder an index was built with.

    The exact id works where it is itself loadable (bundled variants, open_clip hub tags), so an
    index keeps working after the default model changes; otherwise the name it was built with.
    """
    return manifest.encoder_id if "@" not in manifest.encoder_id else manifest.model
