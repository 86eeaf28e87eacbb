"""The command line end to end, in real subprocesses, on the repository's sample folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from conftest import PHOTOS, SAMPLES, run_cli


def test_index_summary(demo_index, session_home):
    import numpy as np

    from searchengine.calibration import Calibration

    index, summary = demo_index
    assert summary["failed"] == 0
    # the calibration's generic-query vectors are kept per model, for the next index to reuse
    banks = list((session_home / "cache" / "calibration").glob("bundled_lit-v2-*.npy"))
    assert len(banks) == 1
    np.testing.assert_allclose(Calibration.read(index).bank, np.load(banks[0]), atol=1e-3)  # float16 in the index
    assert summary["added"] >= 30  # photos, texts and recordings; the .searchengineignore'd files are not
    assert summary["model"].startswith("bundled:")


def test_text_to_image(demo_index, session_home, tmp_path):
    index, _ = demo_index
    expected = {"a cat": "cat_chelsea.jpg", "a rocket": "rocket_launch_pad.jpg", "a cup of coffee": "coffee_cup.jpg"}
    queries = tmp_path / "queries.txt"
    queries.write_text("# one query a line\n" + "\n".join(expected) + "\n")
    lines = run_cli(
        "search", "--queries", queries, "--index", index, "--type", "image", "--no-cutoff", home=session_home
    ).stdout.splitlines()
    for line in lines:
        result = json.loads(line)
        hits = result["hits"]
        assert hits[0]["path"] == str(SAMPLES / "photos" / expected[result["query"]])
        assert set(hits[0]) >= {"rank", "score", "path", "kind", "start", "end", "text"}
        assert [h["rank"] for h in hits] == list(range(1, len(hits) + 1))
    assert len(lines) == 3
    one = json.loads(
        run_cli("search", "a cat", "--index", index, "--type", "image", "--json", home=session_home).stdout
    )
    assert one[0]["path"].endswith("cat_chelsea.jpg")


def test_text_query_finds_the_right_passage_and_recording(demo_index, session_home):
    index, _ = demo_index
    hits = json.loads(
        run_cli(
            "search",
            "how to fix a flat tyre",
            "--index",
            index,
            "--type",
            "text",
            "-k",
            "3",
            "--json",
            home=session_home,
        ).stdout
    )
    assert hits[0]["path"].endswith("bicycle_repair_guide.md")
    assert "tyre" in hits[0]["text"].lower() or "tire" in hits[0]["text"].lower()
    audio = json.loads(
        run_cli(
            "search", "the household budget meeting", "--index", index, "--type", "audio", "--json", home=session_home
        ).stdout
    )
    assert audio[0]["path"].endswith("household_budget_meeting.ogg")
    assert 0 <= audio[0]["start"] < audio[0]["end"]


def test_image_to_text_and_queries_file(demo_index, session_home, tmp_path):
    index, _ = demo_index
    hits = json.loads(
        run_cli(
            "search",
            "--image",
            PHOTOS / "cat_chelsea.jpg",
            "--type",
            "text",
            "--index",
            index,
            "--json",
            home=session_home,
        ).stdout
    )
    assert hits[0]["path"].endswith("cats_and_sleep.md")
    queries = tmp_path / "queries.txt"
    queries.write_text(f"a cat\nimage:{PHOTOS / 'rocket_launch_pad.jpg'}\n\n")
    lines = run_cli(
        "search", "--queries", queries, "--index", index, "-k", "2", "--type", "image", "--no-cutoff", home=session_home
    ).stdout.splitlines()
    results = [json.loads(line) for line in lines]
    assert [r["query"] for r in results] == ["a cat", f"image:{PHOTOS / 'rocket_launch_pad.jpg'}"]
    assert results[0]["hits"][0]["path"].endswith("cat_chelsea.jpg")
    assert results[1]["hits"][0]["path"].endswith("rocket_launch_pad.jpg")


def test_table_output_and_status(demo_index, session_home):
    index, summary = demo_index
    table = run_cli("search", "a cat", "--index", index, "-k", "3", home=session_home).stdout
    assert "cat_chelsea.jpg" in table
    status = json.loads(run_cli("status", "--index", index, "--json", home=session_home).stdout)
    assert status["counts"]["items"] == summary["added"]
    assert status["index_type"] == "flat"
    assert status["size_bytes"] > 0
    assert "model" in run_cli("status", "--index", index, home=session_home).stdout


def test_rerun_changes_nothing(demo_index, session_home):
    index, summary = demo_index
    again = json.loads(run_cli("index", SAMPLES, "--index", index, "--json", home=session_home).stdout)
    assert again["unchanged"] == summary["added"] and again["added"] == 0


def _one_line_error(proc, code, *fragments):
    assert proc.returncode == code, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_error_messages(demo_index, session_home, tmp_path):
    index, _ = demo_index
    _one_line_error(
        run_cli("index", tmp_path / "missing", "--index", tmp_path / "i", home=session_home, check=False),
        2,
        "does not exist",
    )
    _one_line_error(
        run_cli("search", "x", "--index", tmp_path / "nothing", home=session_home, check=False),
        1,
        "no index at",
        "searchengine index",
    )
    not_image = tmp_path / "fake.jpg"
    not_image.write_text("not an image")
    _one_line_error(
        run_cli("search", "--image", not_image, "--index", index, home=session_home, check=False),
        2,
        "not a readable image",
    )
    _one_line_error(
        run_cli(
            "index",
            SAMPLES,
            "--index",
            index,
            "--model",
            "clip:ViT-B-32/laion2b_s34b_b79k",
            home=session_home,
            check=False,
        ),
        1,
        "--model bundled",
    )
    _one_line_error(run_cli("search", "", "--index", index, home=session_home, check=False), 2, "empty query")
    _one_line_error(run_cli("search", "--index", index, home=session_home, check=False), 2, "nothing to search for")
    _one_line_error(
        run_cli("search", "--like", "999999", "--index", index, home=session_home, check=False), 2, "no segment 999999"
    )
    _one_line_error(
        run_cli("search", "a", "--index", index, "--type", "movie", home=session_home, check=False), 2, "--type"
    )


def test_help_is_fast(session_home):
    start = time.perf_counter()
    proc = run_cli("--help", home=session_home)
    assert "index" in proc.stdout and "search" in proc.stdout
    for module in ("torch", "faiss", "open_clip", "faster_whisper", "sqlalchemy"):
        check = subprocess.run(
            [sys.executable, "-c", f"import searchengine.cli.app, sys; print('{module}' in sys.modules)"],
            capture_output=True,
            text=True,
        )
        assert check.stdout.strip() == "False", f"{module} is imported at start-up"
    assert time.perf_counter() - start < 30  # generous: the import check above is what matters


def test_transcript_and_tags(demo_index, session_home):
    index, _ = demo_index
    recording = SAMPLES / "audio" / "great_wall_trip.ogg"
    text = run_cli("transcript", recording, "--index", index, home=session_home).stdout
    assert "great wall" in text.lower() and text.startswith("[00:00:0")
    srt = run_cli("transcript", recording, "--index", index, "--format", "srt", home=session_home).stdout
    assert srt.startswith("1\n00:00:0") and " --> " in srt
    _one_line_error(
        run_cli("transcript", PHOTOS / "cat_chelsea.jpg", "--index", index, home=session_home, check=False),
        2,
        "not a recording",
    )
    tags = json.loads(run_cli("tags", PHOTOS / "cat_chelsea.jpg", "--json", home=session_home).stdout)
    assert "cat" in tags[0]["label"]


def test_search_arguments_are_peeked_for_the_early_model_load():
    from searchengine.cli.coldstart import peek

    assert peek(["index", "photos"]) is None and peek(["search", "--help"]) is None
    assert peek(["-v", "search", "a cat", "--index=/x", "--device", "cpu"]) == {
        "index": Path("/x"),
        "device": "cpu",
        "backend": os.environ.get("SEARCHENGINE_BACKEND") or "auto",
        "texts": True,
        "quick_start": True,
    }
    peeked = peek(["search", "--image", "cat.jpg", "--queries", "q.txt", "--backend", "onnx", "--index"])
    assert peeked["index"] is None and peeked["backend"] == "onnx" and not peeked["texts"] and not peeked["quick_start"]


def test_a_search_in_another_form_than_the_peek_gets_the_same_hits(demo_index, session_home):
    index, _ = demo_index
    # "--index=" and "-v" first: the same index found by the peek; a relative path: found by Typer only
    spelled = [
        ["search", "a cat", f"--index={index}", "-k", "3", "--json"],
        ["-v", "search", "a cat", "--index", index, "-k", "3", "--json"],
    ]
    results = [json.loads(run_cli(*args, home=session_home).stdout) for args in spelled]
    assert results[0] == results[1] and results[0][0]["path"].endswith("cat_chelsea.jpg")
