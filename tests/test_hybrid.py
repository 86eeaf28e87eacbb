"""Hybrid search (issue 26): the FTS5 word index beside the vectors, the query syntax, the fusion.

Real FTS5 tables in real catalogs; the bundled model where ranking quality matters, the demo
encoder where only the logic does."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from searchengine import Index
from searchengine.errors import UsageError
from searchengine.lexical import parse, words
from searchengine.store.words import TABLES

from conftest import PHOTOS, REPO, TEXTS, run_cli

NOTES = {
    "order_confirmation.txt": "Your order ZX81-4471-QP was shipped on Monday. Delivery to Mrs Kowalczyk, second floor.",
    "parking.txt": "The blue van with plate KA-BC 123 stood in front of the garage all night long.",
    "wifi.txt": "The guest network password is Tr0ub4dor-77 until the router is replaced in spring.",
    "meeting_notes.txt": "We met to discuss the budget. Nobody expects the quarterly figures before Friday.",
    "budget_2024_final.txt": "Spending on software goes up, travel goes down, hiring stays as planned.",
    "holiday.txt": "A week by the sea: long walks on the beach, fresh fish and sunsets every evening.",
    "recipe.txt": "Whisk the eggs with sugar, fold in the flour and bake the cake for forty minutes.",
    "invoice.txt": "Invoice 2024-0193 for the repair of the heating, payable within thirty days.",
}


def _write(folder: Path, notes: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in notes.items():
        (folder / name).write_text(text + "\n", encoding="utf-8")
    return folder


def _names(hits) -> list[str]:
    return [Path(h.path).name for h in hits]


@pytest.fixture
def demo(tmp_path):
    """An index of the notes built with the demo encoder (the logic, not the ranking's quality)."""
    folder = _write(tmp_path / "notes", NOTES)
    with Index.open(tmp_path / "index", model="demo", cache_dir=tmp_path / "cache") as ix:
        ix.sync(folder)
        yield ix, folder


def _word_rows(index_dir: Path) -> tuple[set[int], set[int], set[int], set[int]]:
    """(text segment ids, ids the word index finds by every segment's own words, item ids, ids in file_words)."""
    con = sqlite3.connect(index_dir / "catalog.sqlite")
    try:
        texts = dict(con.execute("SELECT id, text FROM segments WHERE text IS NOT NULL").fetchall())
        found = set()
        for text in texts.values():  # each text as one phrase: it finds its own segment (and any with the same text)
            phrase = '"' + " ".join(words(text)) + '"'
            found |= {
                r[0] for r in con.execute("SELECT rowid FROM segment_words WHERE segment_words MATCH ?", (phrase,))
            }
        items = {r[0] for r in con.execute("SELECT id FROM items")}
        named = {r[0] for r in con.execute("SELECT rowid FROM file_words")}
        return set(texts), found, items, named
    finally:
        con.close()


# --- the query syntax -------------------------------------------------------------------------------
def test_query_syntax_is_taken_apart():
    q = parse('invoice "the red fox" name:IMG_2041 path:Holidays ZX81-4471-QP Müller')
    assert q.meaning == "invoice the red fox ZX81-4471-QP Müller"
    assert q.phrases == (("the", "red", "fox"),)
    assert q.names == (("img", "2041"),) and q.paths == (("holidays",),)
    assert ("zx81", "4471", "qp") in q.terms and ("muller",) in q.terms
    assert parse("name:report").meaning == ""  # nothing to search by meaning
    assert parse('"unterminated phrase').phrases == (("unterminated", "phrase"),)


def test_modes_exclude_each_other_and_speak_cli(demo):
    ix, _ = demo
    with pytest.raises(UsageError) as both:
        ix.search("budget", lexical_only=True, semantic_only=True)
    from cli.wording import CLI

    assert "--lexical-only" in both.value.render(CLI) and "--semantic-only" in both.value.render(CLI)


# --- the word index in the catalog --------------------------------------------------------------------
def test_words_found_and_matched_says_why(demo):
    ix, _ = demo
    for query, name in (
        ("ZX81-4471-QP", "order_confirmation.txt"),
        ("4471", "order_confirmation.txt"),
        ("kowalczyk", "order_confirmation.txt"),
        ("KA-BC 123", "parking.txt"),
        ("Tr0ub4dor-77", "wifi.txt"),
        ("budget_2024_final", "budget_2024_final.txt"),
        ("2024-0193", "invoice.txt"),
    ):
        hits = ix.search(query, k=3)
        assert _names(hits)[0] == name, query
        assert "words" in hits[0].matched and hits[0].confidence == "high", query
    only_words = ix.search("4471", lexical_only=True)
    assert _names(only_words) == ["order_confirmation.txt"] and only_words[0].matched == ("words",)
    assert all(h.matched == ("meaning",) for h in ix.search("4471", semantic_only=True))
    assert ix.search("4471")[0].as_json()["matched"] == ["words", "meaning"]


def test_phrases_and_names_are_required(demo):
    ix, _ = demo
    assert _names(ix.search('"quarterly figures"')) == ["meeting_notes.txt"]
    assert ix.search('"figures quarterly"') == []  # the words, but not as a phrase
    assert _names(ix.search("name:budget")) == ["budget_2024_final.txt"]  # not meeting_notes, which says budget
    assert _names(ix.search('name:"2024 final" spending')) == ["budget_2024_final.txt"]
    assert len(ix.search("path:notes", k=20)) == len(NOTES)
    assert ix.search("path:elsewhere") == []
    assert _names(ix.search('"quarterly figures"', kind="image")) == []


def test_delete_and_rename_update_the_word_index(demo, tmp_path):
    ix, folder = demo
    (folder / "parking.txt").rename(folder / "van_sighting.txt")
    (folder / "wifi.txt").unlink()
    ix.sync(folder)
    assert _names(ix.search("name:van_sighting")) == ["van_sighting.txt"]
    assert ix.search("name:parking") == []
    assert ix.search("Tr0ub4dor-77", lexical_only=True) == []
    texts, found, items, named = _word_rows(tmp_path / "index")
    assert texts == found and items == named
    ix.remove([folder / "invoice.txt"])
    assert ix.search("2024-0193", lexical_only=True) == []
    texts, found, items, named = _word_rows(tmp_path / "index")
    assert texts == found and items == named


def test_repair_rebuilds_the_word_index(demo, tmp_path):
    ix, _ = demo
    con = sqlite3.connect(tmp_path / "index" / "catalog.sqlite")
    con.execute("INSERT INTO segment_words(segment_words) VALUES ('delete-all')")
    con.execute("DELETE FROM file_words")
    con.commit()
    con.close()
    ix.close()
    assert ix.search("ZX81-4471-QP", lexical_only=True) == []
    found = ix.verify()
    assert not found.ok and any("the word index lacks" in p for p in found.problems), found.problems
    report = ix.repair()
    assert ix.verify().ok
    assert any("word index" in line for line in report.repaired)
    assert _names(ix.search("ZX81-4471-QP", lexical_only=True)) == ["order_confirmation.txt"]
    assert _names(ix.search("name:holiday", lexical_only=True)) == ["holiday.txt"]


def test_an_older_catalog_is_upgraded_and_one_without_words_searched_by_meaning(demo, tmp_path):
    ix, _ = demo
    ix.close()
    con = sqlite3.connect(tmp_path / "index" / "catalog.sqlite")
    for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        con.execute(f"DROP TRIGGER {name}")
    for table in reversed(TABLES):
        con.execute(f"DROP TABLE {table}")
    con.commit()
    con.close()
    from searchengine.query import Query, Searcher

    searcher = Searcher.open(tmp_path / "index", encoder=ix.encoder)  # as a read-only open finds it: no words
    try:
        hits = searcher.search(Query(text="ZX81-4471-QP"))
        assert hits and all(h.matched == ("meaning",) for h in hits)
    finally:
        searcher.close()
    con = sqlite3.connect(tmp_path / "index" / "catalog.sqlite")
    con.execute("PRAGMA user_version = 4")  # as made before the word index
    con.close()
    assert _names(ix.search("ZX81-4471-QP", lexical_only=True)) == ["order_confirmation.txt"]  # upgraded by the open


def _committed(index_dir: Path) -> bool:
    """Whether a run has committed files to the catalog yet."""
    try:
        con = sqlite3.connect(f"file:{index_dir / 'catalog.sqlite'}?mode=ro", uri=True, timeout=0.1)
        try:
            return con.execute("SELECT count(*) FROM items").fetchone()[0] > 0
        finally:
            con.close()
    except sqlite3.Error:
        return False


def test_kill_mid_run_leaves_words_and_catalog_in_step(tmp_path):
    """SIGKILL `searchengine index` while it writes, run it again: the word index holds exactly the
    catalog's texts and files after every kill."""
    rng = np.random.default_rng(26)
    COUNT = 1500  # a few seconds of indexing with the demo encoder: the kills land while it writes
    folder = tmp_path / "many"
    _write(folder, {f"note-{i:03d}.txt": f"Order QX{i:03d}-{7000 + i} about topic {i % 7}." for i in range(COUNT)})
    env = {**os.environ, "SEARCHENGINE_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}  # the demo model's own
    index_dir = tmp_path / "index"
    command = [sys.executable, "-m", "searchengine", "index", str(folder), "--model", "demo", "--quiet"]
    command += ["--index", str(index_dir)]
    partial = []
    for attempt in range(4):
        proc = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if attempt == 0:  # the first kill right after the first files are committed
            while proc.poll() is None and not _committed(index_dir):
                time.sleep(0.02)
            proc.kill()
        else:  # then at random moments
            try:
                proc.wait(timeout=float(rng.uniform(0.8, 1.8)))
            except subprocess.TimeoutExpired:
                proc.kill()
        proc.wait()
        if (index_dir / "catalog.sqlite").exists():
            texts, found, items, named = _word_rows(index_dir)
            assert texts == found and items == named
            partial.append(len(items))
    assert any(0 < n < COUNT for n in partial), partial  # at least one kill landed mid-run
    assert subprocess.run(command, env=env, cwd=REPO, capture_output=True).returncode == 0
    texts, found, items, named = _word_rows(index_dir)
    assert len(texts) == COUNT and texts == found and items == named
    with Index.open(index_dir) as ix:
        assert _names(ix.search("QX123-7123", lexical_only=True)) == ["note-123.txt"]


# --- with the real model ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real(tmp_path_factory, bundled):
    """The notes beside real photos and texts, indexed with the bundled model."""
    root = tmp_path_factory.mktemp("hybrid-real")
    folder = _write(root / "files", NOTES)
    for name in ("cat_chelsea.jpg", "coffee_cup.jpg", "dahlia_flower.jpg", "rocket_launch_pad.jpg"):
        shutil.copy2(PHOTOS / name, folder / name)
    for name in ("bicycle_repair_guide.md", "cats_and_sleep.md", "sourdough_bread_recipe.md"):
        shutil.copy2(TEXTS / name, folder / name)
    ix = Index.open(root / "index", encoder=bundled, cache_dir=Path(os.environ["SEARCHENGINE_HOME"]) / "cache")
    ix.sync(folder)
    yield ix, root
    ix.close()


def test_codes_names_and_phrases_first_with_the_real_model(real):
    ix, _ = real
    for query, name in (
        ("ZX81-4471-QP", "order_confirmation.txt"),
        ("4471", "order_confirmation.txt"),
        ("Kowalczyk", "order_confirmation.txt"),
        ("KA-BC 123", "parking.txt"),
        ("Tr0ub4dor-77", "wifi.txt"),
        ("budget_2024_final", "budget_2024_final.txt"),
        ('"fold in the flour"', "recipe.txt"),
        ("rocket_launch_pad", "rocket_launch_pad.jpg"),
    ):
        hits = ix.search(query, k=5)
        assert _names(hits)[0] == name, (query, _names(hits))
        assert "words" in hits[0].matched and hits[0].confidence == "high", query
    before = ix.search("4471", semantic_only=True, k=5)
    assert not before or _names(before)[0] != "order_confirmation.txt" or before[0].confidence != "high"


def test_a_descriptive_querys_ranking_is_unchanged(real):
    ix, _ = real
    for query in ("a sleeping cat", "a rocket ready for launch", "how to fix a flat tyre", "baking bread at home"):
        hybrid = ix.search(query, k=3)
        meaning = ix.search(query, k=3, semantic_only=True)
        assert _names(hybrid)[0] == _names(meaning)[0], query
        # among the weak ("low") hits a word of the query may lift a text ("home" in the bicycle guide)
        strong = lambda hits: {Path(h.path).name for h in hits if h.confidence != "low"}  # noqa: E731
        assert strong(hybrid) == strong(meaning), query


def test_search_json_and_flags_on_the_command_line(real, session_home):
    _, root = real
    out = run_cli("search", "4471", "--index", root / "index", "--json", home=session_home)
    hits = json.loads(out.stdout)
    hits = hits["hits"] if isinstance(hits, dict) else hits
    assert Path(hits[0]["path"]).name == "order_confirmation.txt" and "words" in hits[0]["matched"]
    out = run_cli("search", "4471", "--index", root / "index", "--json", "--lexical-only", home=session_home)
    hits = json.loads(out.stdout)
    hits = hits["hits"] if isinstance(hits, dict) else hits
    assert [Path(h["path"]).name for h in hits] == ["order_confirmation.txt"] and hits[0]["matched"] == ["words"]
    out = run_cli("search", '"no such phrase anywhere"', "--index", root / "index", home=session_home, check=False)
    assert out.returncode == 1 and "quoted words" in out.stderr
