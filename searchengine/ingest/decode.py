"""Decoding one file, the same whichever executor runs it (threads here, or Ray's workers).

`decode_file` turns a file into what its encoder embeds (prepared images, text passages,
transcribed segments, through the decoder of its kind) and never raises: a file that cannot be
read comes back with its error. Kept apart from the driver (run.py) so a worker process imports
neither the catalog (SQLAlchemy) nor FAISS.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from searchengine.errors import DecodeError, SearchEngineError
from searchengine.ingest.decoders import DECODERS, DecodeContext, Decoded, SegmentInput
from searchengine.media.discover import FoundFile
from searchengine.media.kinds import content_kind
from searchengine.paths import one_line, printable

log = logging.getLogger(__name__)


@dataclass
class DecodedFile:
    file: FoundFile
    digest: str | None
    inputs: list[SegmentInput] = field(default_factory=list)
    error: str | None = None
    kind: str | None = None  # what the content turned out to be, when not what the extension said
    note: str | None = None  # indexed with a caveat (in part)

    @property
    def held_bytes(self) -> int:
        """Memory held by its prepared images (a long video's keyframes: up to ~200 MB)."""
        return sum(getattr(s.image, "nbytes", 0) for s in self.inputs)


def decode_file(file: FoundFile, digest: str | None, ctx: DecodeContext) -> DecodedFile:
    try:
        if digest is None:
            raise DecodeError(f"{file.path}: cannot read file")
        kind = content_kind(file.path, file.kind)
        decoded = DECODERS[kind](file.path, digest, ctx)
        if not isinstance(decoded, Decoded):
            decoded = Decoded(decoded)
        return DecodedFile(file, digest, decoded.inputs, kind=kind, note=decoded.note)
    except SearchEngineError as exc:
        return DecodedFile(file, digest, error=one_line(str(exc)))
    except Exception as exc:  # a decoder library failing on a hostile file must not stop the run
        log.debug("decoder crashed on %s", printable(str(file.path)), exc_info=True)
        return DecodedFile(file, digest, error=one_line(f"{file.path}: {exc.__class__.__name__}: {exc}"))
