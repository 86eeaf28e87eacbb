"""What one indexing run uses: the model, where it runs, how many threads decode, how the index
is built. searchengine.Index and the command line fill it in."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from searchengine.encoders.registry import DEFAULT_MODEL


def default_workers() -> int:
    """Decode threads for indexing: one per core (2 at least, 8 at most).

    Inference keeps one thread per core too (encoders.device.cpu_threads). The pool decodes at
    most a bounded window ahead of the model, so when inference is the bottleneck (ViT-B-32:
    ~65 ms CPU per image against ~37 ms to decode a drafted JPEG and prepare it) the decode
    threads sleep, and when decoding is (the bundled EfficientNet: a forward pass costs less than
    a decode) every core decodes. Measured on 2 cores (load 5–8 from other work): 1 and 2 decode
    workers, with 1 or 2 inference threads, gave the same pipeline throughput within the noise
    (2.3 ± 1 images/s for ViT-B-32-256); what the noise hid was inference threads spinning
    while decode threads wait for a core, not the split.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(2, min(8, cores))


@dataclass(frozen=True)
class IngestSettings:
    """What one `index` run uses; the CLI fills it from its options."""

    model: str = DEFAULT_MODEL
    device: str = "auto"
    backend: str | None = None  # auto | onnx | torch; None: auto
    workers: int = field(default_factory=default_workers)
    index_type: str = "auto"
    batch_size: int = 8
    commit_every: int = 64
    asr_model: str | None = None  # None: the bundled Whisper base
    language: str | None = None  # None: detected per recording
    exclude: tuple[str, ...] = ()  # gitignore-style patterns, on top of the folder's .searchengineignore
    max_memory: int | None = None  # bytes the vector index may use; None: as before (half the RAM)
    follow_outside_links: bool = False  # index files that symlinks lead to outside the indexed folders
    ocr: bool = True  # read the text in pictures and in scanned PDF pages (media/ocr.py)
    ocr_video: bool = False  # and in video keyframes (slow: every keyframe goes through the gate)
