"""ivfpq: IVF with product-quantised codes (OPQ where it helps; training, shards and on-disk lists
in pq.py), for collections past the single-machine thresholds or a memory budget. Its candidates
are re-ranked exactly with the stored vectors (`rerank_with`), and its lists may live on disk,
memory-mapped."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from searchengine.errors import UsageError
from searchengine.vectors import pq
from searchengine.vectors.base import rerank
from searchengine.vectors.ivf import Inverted


class IvfPqIndex(Inverted):
    kind = "ivfpq"
    exact = False

    def __init__(self, dim: int, index, params: dict):
        super().__init__(dim, index, params)
        self.trained: bytes | None = None  # just trained: the empty index, serialised, for shards
        self._sealed = True  # on-disk lists: the data file belongs to a saved index, copy before writing

    @classmethod
    def build(cls, dim: int, ids: np.ndarray, vectors: np.ndarray, is_text, params: dict) -> IvfPqIndex:
        return cls.train(dim, len(vectors), lambda rows: vectors[rows], is_text, params)

    @classmethod
    def train(
        cls,
        dim: int,
        n: int,
        fetch_rows: Callable[[np.ndarray], np.ndarray],
        is_text: np.ndarray | None,
        params: dict | None = None,
        data_file: Path | None = None,
    ) -> IvfPqIndex:
        """An empty IVF-PQ index for n vectors, trained on a sample of both modalities.

        fetch_rows(row numbers) → their vectors (rows of an array, or of the catalog's id order);
        is_text marks the text rows. With params['ondisk'], the lists go to `data_file`."""
        import faiss

        if n < 39:
            raise UsageError(
                "an IVF-PQ index needs vectors to train on: index some files first, or use {-index_type=flat}"
            )
        params = pq.make_params(n, dim, params)
        rows = pq.sample_rows(n, is_text, pq.train_size(params["nlist"], n))
        index = pq.train(dim, fetch_rows(rows), params)
        built = cls(dim, index, params)
        built.trained = faiss.serialize_index(index).tobytes()
        if params["ondisk"]:
            if data_file is None:
                raise UsageError("an on-disk IVF-PQ index needs a folder for its inverted lists")
            pq.move_lists_to(index, data_file)
            built._sealed = False
        return built

    @property
    def ondisk(self) -> bool:
        """Inverted lists in a data file of their own (not: an index merely mapped read-only)."""
        return bool(self._params.get("ondisk"))

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self._before_write()
            with pq.quiet_stdout() if self.ondisk else contextlib.nullcontext():
                super().add(ids, vectors)

    def remove(self, ids: np.ndarray) -> None:
        if len(ids):
            self._before_write()
            super().remove(ids)

    def _before_write(self) -> None:
        """On-disk lists: the first change after loading or saving goes to a copy of the data file,
        so the saved index (and searchers that mapped it) never see a half-written list."""
        if self.ondisk and self._sealed:
            pq.move_lists_to(self.index, pq.sibling_data_file(pq.ondisk_file(self._ivf())))
            self._sealed = False

    def _search(self, queries: np.ndarray, k: int, params):
        if self._rerank is None:
            return self.index.search(queries, k, params=params)
        fetch = min(self.ntotal, max(k * self._params.get("rerank", 4), self._params.get("min_candidates", 100)))
        _, candidates = self.index.search(queries, fetch, params=params)
        return rerank(queries, candidates, self._rerank, k)

    def save(self, path: Path) -> None:
        ondisk = self.ondisk
        if ondisk and pq.ondisk_file(self._ivf()).parent != path.parent:
            pq.move_lists_to(self.index, pq.new_data_file(path))  # built elsewhere: bring the data along
        if ondisk:
            with open(pq.ondisk_file(self._ivf()), "rb") as fh:  # the lists were written through a mapping
                os.fsync(fh.fileno())
        super().save(path)
        pq.remove_stale_data_files(path, pq.ondisk_file(self._ivf()) if ondisk else None)
        self._sealed = True
