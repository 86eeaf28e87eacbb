"""`bench recall`: text→image and image→text recall@1/5/10 through the real pipeline.

The dataset's images and captions go into a temporary index exactly as a user's files would:
each image is linked into a gallery folder and each caption written as a text file, and
`ingest.run.sync_folder` decodes and embeds them all. Captions are then embedded as text queries (what
`Searcher.embed_query` computes for words), and images query with their stored vectors (what an
image query computes). Recall is measured twice over the same vectors: exactly (every score,
ties counted against the query), and among the results the index folder's own vector index
(flat, HNSW or IVF, as `auto` or --index-type chose) returns for each query, so the cost of
approximation is visible. The catalog join of a search is left out: it does not change which
vectors are found.

Image→text ranks texts as an image query does (cosine less the text's hubness against the
collection's images, calibration.py); "i2t_cosine" ranks them by cosine alone. It pools identical
captions: a retrieved caption counts if its text equals any of the
image's captions. Recall depends on gallery size, so the result carries the chance level.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from searchengine.calibrate import current_calibration
from searchengine.config import cache_dir
from searchengine.encoders.base import Encoder
from searchengine.encoders.registry import DEFAULT_MODEL, load_encoder
from searchengine.errors import DecodeError
from searchengine.eval.dataset import Pair, load_pairs
from searchengine.eval.metrics import KS, chance_recall, pessimistic_ranks, recall_at
from searchengine.ingest.progress import Progress, SilentProgress
from searchengine.ingest.run import sync_folder
from searchengine.ingest.settings import IngestSettings
from searchengine.store.folder import IndexFolder
from searchengine.vectors.base import VectorIndex

log = logging.getLogger(__name__)

ROWS = 1024  # queries scored at once (bounds memory on COCO-sized sets)
TEXT_BATCH = 256
FIRST_FETCH = 64  # results asked of the vector index per query, widened until max(KS) of a kind are in


@dataclass
class Gallery:
    """The dataset laid out as files to index, and how file names map back to it."""

    root: Path
    captions: list[str]  # every caption, flattened
    caption_pair: np.ndarray  # [n_captions] pair index of each caption
    text_id: np.ndarray  # [n_captions] same id for identical caption texts
    image_names: list[str]  # file name in the gallery, per pair
    caption_names: list[str]  # file name in the gallery, per caption

    def correct_captions(self, pairs: np.ndarray) -> np.ndarray:
        """[len(pairs), n_captions] bool: captions whose text is one of each pair's captions."""
        own = [np.unique(self.text_id[self.caption_pair == p]) for p in pairs]
        return np.stack([np.isin(self.text_id, ids) for ids in own]).reshape(len(own), len(self.text_id))

    def n_correct_captions(self) -> list[int]:
        """Per pair, how many captions in the gallery count as right answers for its image."""
        copies = np.bincount(self.text_id)
        n_pairs = int(self.caption_pair.max()) + 1 if len(self.caption_pair) else 0
        return [int(copies[np.unique(self.text_id[self.caption_pair == p])].sum()) for p in range(n_pairs)]


@dataclass
class Vectors:
    images: np.ndarray  # [n_images, d], per pair, as stored by the pipeline
    caption_segments: np.ndarray  # [n_segments, d] of the caption files
    segment_caption: np.ndarray  # [n_segments] caption index of each segment
    image_at: np.ndarray  # segment id -> pair index of an image segment, else -1
    caption_at: np.ndarray  # segment id -> caption index of a caption segment, else -1

    def caption_scores(self, queries: np.ndarray, n_captions: int, hubs: np.ndarray | None = None) -> np.ndarray:
        """[nq, n_captions]: each caption file scores as its best segment (as search collapses
        files), each segment's `hubs` (what an image query takes off a text's cosine) taken off."""
        order = np.argsort(self.segment_caption, kind="stable")
        starts = np.searchsorted(self.segment_caption[order], np.arange(n_captions))
        scores = queries @ self.caption_segments[order].T
        if hubs is not None:
            scores = scores - hubs[order][None, :]
        return np.maximum.reduceat(scores, starts, axis=1)


def run_recall(
    dataset: Path,
    model: str = DEFAULT_MODEL,
    device: str = "auto",
    *,
    split: str | None = None,
    audio: bool = False,
    index_type: str = "auto",
    progress: Progress | None = None,
    encoder: Encoder | None = None,
) -> dict:
    """Recall of `model` on the dataset folder (pairs.jsonl, or <split>.jsonl); see the module doc."""
    started = time.perf_counter()
    progress = progress or SilentProgress()
    pairs = load_pairs(dataset, split)
    encoder = encoder or load_encoder(model, device, cache_dir=cache_dir())
    with tempfile.TemporaryDirectory(prefix="searchengine-recall-") as tmp:
        gallery = write_gallery(pairs, Path(tmp) / "gallery")
        # the gallery is symlinks to the dataset's own images, outside it: followed on purpose
        settings = IngestSettings(model=model, device=device, index_type=index_type, follow_outside_links=True)
        summary = sync_folder(gallery.root, Path(tmp) / "index", settings, progress, encoder, cache_dir=cache_dir())
        if summary.failed:
            raise DecodeError(
                f"{summary.failed} dataset files could not be indexed (first: {summary.errors[0][1]}); "
                "fix or drop them from the dataset"
            )
        index = IndexFolder.open(Path(tmp) / "index")
        try:
            result, vectors, t2i_ranks = _measure(index, encoder, pairs, gallery, progress)
            if audio:
                result["a2i"] = _spoken(index, encoder, pairs, vectors, t2i_ranks, progress)
        finally:
            index.close()
    return {
        "model": model,
        "encoder_id": encoder.id,
        "dataset": str(Path(dataset).expanduser().resolve()),
        "split": split or "all",
        **result,
        "seconds": round(time.perf_counter() - started, 2),
    }


def write_gallery(pairs: Sequence[Pair], root: Path) -> Gallery:
    """Link every image and write every caption as a text file under root."""
    (root / "images").mkdir(parents=True)
    (root / "captions").mkdir()
    captions, caption_pair, image_names, caption_names = [], [], [], []
    for i, pair in enumerate(pairs):
        name = f"{i:06d}{pair.image.suffix.lower()}"
        (root / "images" / name).symlink_to(pair.image)
        image_names.append(name)
        for j, caption in enumerate(pair.captions):
            text_name = f"{i:06d}-{j}.txt"
            (root / "captions" / text_name).write_text(caption + "\n", encoding="utf-8")
            captions.append(caption)
            caption_pair.append(i)
            caption_names.append(text_name)
    _, text_id = np.unique(np.array(captions, dtype=object).astype(str), return_inverse=True)
    return Gallery(root, captions, np.asarray(caption_pair), text_id.reshape(-1), image_names, caption_names)


def stored_vectors(index: IndexFolder, gallery: Gallery) -> Vectors:
    """The vectors the pipeline stored, arranged by pair (images) and caption (text segments)."""
    image_of = {name: i for i, name in enumerate(gallery.image_names)}
    caption_of = {name: i for i, name in enumerate(gallery.caption_names)}
    dim = index.manifest.dim
    images = np.full((len(image_of), dim), np.nan, np.float32)
    segments, owners, places = [], [], []
    for ids, vectors in index.catalog.iter_vectors(dim):
        records = index.catalog.segment_records(ids)
        for sid, vector in zip(ids.tolist(), vectors):
            name = Path(records[sid].path).name
            if name in image_of:
                if records[sid].text is not None:  # words read in the picture (OCR): not its image vector
                    continue
                images[image_of[name]] = vector
                places.append((sid, image_of[name], -1))
            elif name in caption_of:
                segments.append(vector)
                owners.append(caption_of[name])
                places.append((sid, -1, caption_of[name]))
    unindexed = int(np.isnan(images[:, 0]).sum()) if len(images) else 0
    if unindexed or len(set(owners)) != len(caption_of):
        first = next((n for n, i in image_of.items() if np.isnan(images[i, 0])), None)
        raise DecodeError(
            f"{unindexed} images and {len(caption_of) - len(set(owners))} captions were not indexed"
            f"{f' (first image: {first}; is its file type one searchengine indexes?)' if first else ''}"
        )
    sids, image_pos, caption_pos = (np.asarray(column, np.int64) for column in zip(*places))
    image_at = np.full(int(sids.max()) + 1, -1, np.int64)
    caption_at = image_at.copy()
    image_at[sids], caption_at[sids] = image_pos, caption_pos
    return Vectors(
        images, np.asarray(segments, np.float32).reshape(-1, dim), np.asarray(owners, np.int64), image_at, caption_at
    )


def _measure(
    index: IndexFolder, encoder: Encoder, pairs: Sequence[Pair], gallery: Gallery, progress: Progress
) -> tuple[dict, Vectors, np.ndarray]:
    vectors = stored_vectors(index, gallery)
    n_images, n_captions = len(pairs), len(gallery.captions)
    queries = _embed_texts(encoder, gallery.captions)
    image_ids = np.arange(n_images)

    def t2i(rows):
        return queries[rows] @ vectors.images.T, _one_hot(gallery.caption_pair[rows], n_images)

    # an image query ranks texts by cosine less their hubness against the collection's images
    # (calibration.py), as search does: "i2t"; by cosine alone: "i2t_cosine"
    calibration, _ = current_calibration(index, encoder, cache_dir())
    hubs = calibration.text_hubs(vectors.caption_segments)

    def i2t(rows):
        return vectors.caption_scores(vectors.images[rows], n_captions, hubs), gallery.correct_captions(image_ids[rows])

    def i2t_cosine(rows):
        return vectors.caption_scores(vectors.images[rows], n_captions), gallery.correct_captions(image_ids[rows])

    t2i_ranks = _exact_ranks(n_captions, t2i)
    progress.start(f"searching the {index.manifest.index_type} index", n_captions + n_images)
    result = {
        "n_images": n_images,
        "n_captions": n_captions,
        "t2i": recall_at(t2i_ranks),
        "i2t": recall_at(_exact_ranks(n_images, i2t)),
        "i2t_cosine": recall_at(_exact_ranks(n_images, i2t_cosine)),
        "chance": {
            "t2i": chance_recall([1] * n_captions, n_images),
            "i2t": chance_recall(gallery.n_correct_captions(), n_captions),
        },
        "ann": {
            "index_type": index.manifest.index_type,
            "params": index.manifest.index_params,
            "t2i": recall_at(_searched_ranks(index.vectors, queries, vectors.image_at, t2i, progress)),
            "i2t": recall_at(_searched_ranks(index.vectors, vectors.images, vectors.caption_at, i2t, progress)),
        },
    }
    return result, vectors, t2i_ranks


def _spoken(
    index: IndexFolder,
    encoder: Encoder,
    pairs: Sequence[Pair],
    vectors: Vectors,
    t2i_ranks: np.ndarray,
    progress: Progress,
) -> dict:
    """Spoken captions, transcribed, as text queries over the images (a2i), beside t2i on the same images."""
    from searchengine.audio import Transcriber

    spoken = np.array([i for i, p in enumerate(pairs) if p.audio is not None], dtype=np.int64)
    n_images = len(pairs)
    if not len(spoken):
        return {"n_queries": 0, **recall_at([])}
    transcriber = Transcriber(cache_dir=cache_dir())
    texts = []
    progress.start("transcribing spoken captions", len(spoken))
    for i in spoken:
        transcript = transcriber.transcribe(pairs[i].audio)
        texts.append(" ".join(s.text for s in transcript.segments).strip())
        log.debug("%s: heard %r for %r", pairs[i].audio, texts[-1], pairs[i].captions[0])
        progress.advance()
    heard = np.array([n for n, text in enumerate(texts) if text], dtype=np.int64)
    queries = _embed_texts(encoder, [texts[n] for n in heard])
    truth = spoken[heard]

    def a2i(rows):
        return queries[rows] @ vectors.images.T, _one_hot(truth[rows], n_images)

    exact = np.full(len(spoken), np.inf)  # a recording with no speech found is a miss
    searched = exact.copy()
    progress.start(f"searching the {index.manifest.index_type} index", len(heard))
    exact[heard] = _exact_ranks(len(heard), a2i)
    searched[heard] = _searched_ranks(index.vectors, queries, vectors.image_at, a2i, progress)
    caption_of_spoken = np.isin(np.repeat(np.arange(n_images), [len(p.captions) for p in pairs]), spoken)
    return {
        "n_queries": int(len(spoken)),
        "no_speech": int(len(spoken) - len(heard)),
        **recall_at(exact),
        "ann": recall_at(searched),
        "t2i_same_images": recall_at(t2i_ranks[caption_of_spoken]),
        "chance": chance_recall([1] * len(spoken), n_images),
    }


def _exact_ranks(n_queries: int, score: Callable[[slice], tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Ranks over every gallery entry; score(rows) gives (scores, correct) for a slice of queries."""
    return np.concatenate([pessimistic_ranks(*score(rows)) for rows in _row_slices(n_queries)] or [np.zeros(0)])


def _searched_ranks(
    index: VectorIndex,
    queries: np.ndarray,
    position: np.ndarray,
    score: Callable[[slice], tuple[np.ndarray, np.ndarray]],
    progress: Progress,
) -> np.ndarray:
    """Ranks among the entries the vector index returns for each query.

    position maps a segment id to its gallery entry (-1: another kind, skipped); the index is
    asked for more results until max(KS) entries of the gallery's kind are in, as a kind
    filter in search does.
    """
    out = []
    for rows in _row_slices(len(queries)):
        scores, correct = score(rows)
        out.append(pessimistic_ranks(scores, correct, _returned(index, queries[rows], position, correct.shape[1])))
        progress.advance(len(scores))
    return np.concatenate(out or [np.zeros(0)])


def _returned(index: VectorIndex, queries: np.ndarray, position: np.ndarray, n_gallery: int) -> np.ndarray:
    """[nq, n_gallery] bool: the first max(KS) distinct gallery entries each query's search returns."""
    want = max(KS)
    returned = np.zeros((len(queries), n_gallery), dtype=bool)
    todo = np.arange(len(queries))
    fetch = min(index.ntotal, FIRST_FETCH)
    while len(todo):
        _, ids = index.search(queries[todo], fetch)
        unfinished = []
        for row, found in zip(todo, ids):
            found = found[(found >= 0) & (found < len(position))]
            entries = position[found]
            entries = entries[entries >= 0]
            _, first = np.unique(entries, return_index=True)
            entries = entries[np.sort(first)][:want]
            returned[row, entries] = True
            if len(entries) < want and fetch < index.ntotal:
                unfinished.append(row)
        todo = np.asarray(unfinished, dtype=np.int64)
        fetch = min(index.ntotal, fetch * 4)
    return returned


def _row_slices(n: int) -> Iterator[slice]:
    for start in range(0, n, ROWS):
        yield slice(start, min(n, start + ROWS))


def _one_hot(truth: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((len(truth), n), dtype=bool)
    out[np.arange(len(truth)), truth] = True
    return out


def _embed_texts(encoder: Encoder, texts: Sequence[str]) -> np.ndarray:
    """Texts embedded as queries (what Searcher.embed_query does for words, in batches)."""
    chunks = [
        encoder.embed_texts([t.strip() for t in texts[i : i + TEXT_BATCH]]) for i in range(0, len(texts), TEXT_BATCH)
    ]
    return np.concatenate(chunks) if chunks else np.zeros((0, encoder.dim), np.float32)
