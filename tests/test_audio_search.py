"""Real recordings (LibriVox excerpts from pocketsphinx-testdata): transcripts close to the reference,
and a text query lands on the right recording and time range."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from searchengine.config import cache_dir
from searchengine.eval.wer import wer, word_errors
from searchengine.ingest.run import sync_folder
from searchengine.ingest.settings import IngestSettings
from searchengine.query import Filters, Query, Searcher
from searchengine.store.folder import IndexFolder

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
pytestmark = pytest.mark.skipif(
    not LIBRIVOX.is_dir(), reason="needs Debian's pocketsphinx-testdata (scripts/install-test-deps.sh)"
)


def test_word_errors_by_hand():
    assert word_errors("the cat sat", "the cat sat") == (0, 3)
    assert word_errors("the cat sat", "the bat sat down") == (2, 3)  # one substitution, one insertion
    assert word_errors("the cat sat", "cat") == (2, 3)
    assert wer([("a b", "a b"), ("c d", "c")]) == pytest.approx(0.25)


@pytest.fixture(scope="module")
def librivox_index(tmp_path_factory, bundled):
    folder = tmp_path_factory.mktemp("librivox") / "recordings"
    folder.mkdir()
    for name in (
        "sense_and_sensibility_01_austen_64kb-0880.wav",
        "sense_and_sensibility_01_austen_64kb-0920.wav",
        "sense_and_sensibility_01_austen_64kb-0870.wav",
    ):
        shutil.copy2(LIBRIVOX / name, folder / name)
    index_dir = folder.parent / "index"
    summary = sync_folder(
        folder,
        index_dir,
        IngestSettings(device="cpu", workers=2, language="en"),
        encoder=bundled,
        cache_dir=cache_dir(),
    )
    assert summary.failed == 0
    return folder, index_dir


def test_transcripts_match_the_reference(librivox_index):
    _, index_dir = librivox_index
    references = {}
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        text, name = line.split("</s>")
        references[name.strip(" ()")] = text.replace("<s>", "").strip()
    pairs = []
    with IndexFolder.open(index_dir) as index:
        for path in index.catalog.all_files():
            segments = index.catalog.segments_of(path)
            duration_bound = Path(path).stat().st_size / 32000 + 0.5  # 16 kHz 16-bit mono
            assert all(0 <= s.t_start <= s.t_end <= duration_bound for s in segments)
            pairs.append((references[Path(path).stem], " ".join(s.text for s in segments)))
    assert wer(pairs) <= 0.10, pairs


def test_text_query_finds_the_recording_and_time(librivox_index, bundled):
    _, index_dir = librivox_index
    searcher = Searcher(IndexFolder.open(index_dir), bundled)
    hit = searcher.search(
        Query(text="he was not an ill disposed young man"), Filters(kind="audio", min_score=None), k=1
    )[0]
    assert hit.path.endswith("0880.wav")
    assert hit.start is not None and hit.start < 1.5 and hit.end >= 2.0
    searcher.close()
    assert (cache_dir() / "transcripts").is_dir()  # transcripts are kept for re-indexing
