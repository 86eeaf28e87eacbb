"""The command line as a user meets it (issue 21): results and progress in a real pseudo-terminal at
several widths, the conventions of rclip and llm (--version, completion, -f, open, --image URL,
index without FOLDER), the right messages and exit codes, and nothing from other libraries on stderr."""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from functools import partial

import pytest
from rich.cells import cell_len
from terminal import run_in_terminal

from conftest import PHOTOS, REPO, SAMPLES, TEXTS, run_cli

COLOUR = re.compile(r"\x1b\[[0-9;]*(3[0-9]|9[0-7]|38;5;\d+)[0-9;]*m")  # a foreground colour
KINDS = ("image", "text", "audio", "video")


def _env(home, **extra):
    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "SEARCHENGINE_HOME": str(home),
        "HF_HUB_OFFLINE": "1",
        **extra,
    }


# --- results -------------------------------------------------------------------------------------


@pytest.mark.parametrize("columns", [60, 80, 120])
def test_results_fit_the_terminal(demo_index, session_home, columns):
    index, _ = demo_index
    shown = run_in_terminal(
        ["search", "the household budget", "--index", index, "-k", "6"], columns, _env(session_home), cwd=REPO
    )
    assert shown.returncode == 0, shown.text
    hits = json.loads(
        run_cli("search", "the household budget", "--index", index, "-k", "6", "--json", home=session_home).stdout
    )
    lines = [line for line in shown.lines() if line.strip()]
    assert all(cell_len(line) <= columns for line in lines), "\n".join(lines)
    assert lines[0].split() == ["#", "score", "conf.", "kind", "path"]
    for hit in hits:  # each hit: rank, score, confidence, kind and its file name, whole, on one line
        name = os.path.basename(hit["path"])
        line = next(line for line in lines if line.endswith(name) and line.split()[0] == str(hit["rank"]))
        rank, score, confidence, kind, path = line.split()
        assert float(score) == pytest.approx(hit["score"], abs=0.006)
        assert (confidence, kind) == (hit["confidence"], hit["kind"])
        assert path.endswith(name) and not path.startswith(str(REPO))  # relative to the current folder
        if hit["text"]:  # the matching text on the next line, cut to the width
            detail = lines[lines.index(line) + 1]
            assert detail.startswith("   ") and detail.split()[0] != str(hit["rank"] + 1)
            if hit["start"] is not None:
                assert re.search(r"\d\d:\d\d–\d\d:\d\d", detail)
    assert any(re.search(r"\d\d:\d\d–\d\d:\d\d", line) for line in lines)  # the recording's time range
    if columns == 120:
        assert "samples/texts/household_budget_meeting.txt" in shown.text


def test_piped_results_are_one_line_per_hit(demo_index, session_home):
    index, _ = demo_index
    out = run_cli("search", "the household budget", "--index", index, "-k", "5", home=session_home).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    assert [row[0] for row in rows] == ["1", "2", "3", "4", "5"]
    assert all(len(row) == 7 and row[3] in KINDS and os.path.isabs(row[4]) for row in rows)
    assert COLOUR.search(out) is None and "\x1b" not in out


def test_no_color_is_respected(demo_index, session_home):
    index, _ = demo_index
    args = ["search", "a cat", "--index", index, "-k", "3"]
    assert COLOUR.search(run_in_terminal(args, 80, _env(session_home)).raw)
    assert COLOUR.search(run_in_terminal(args, 80, _env(session_home, NO_COLOR="1")).raw) is None


def test_paths_only(demo_index, session_home):
    index, _ = demo_index
    paths = run_cli("search", "a cat", "--index", index, "-k", "4", "-f", home=session_home).stdout.splitlines()
    assert len(paths) == 4 and paths[0] == str(PHOTOS / "cat_chelsea.jpg")
    assert all(os.path.isabs(p) and os.path.isfile(p) for p in paths)


def test_preview_shows_thumbnails_where_the_terminal_speaks_sixel(demo_index, session_home):
    index, _ = demo_index
    args = ["search", "a cat", "--index", index, "-k", "2", "--type", "image", "--preview"]
    # a terminal that answers the device-attributes query with sixel support (4)
    sixel = run_in_terminal(args, 80, _env(session_home), answers={b"\x1b[c": b"\x1b[?62;4;22c"})
    assert sixel.returncode == 0 and sixel.raw.count("\x1bP") == 2, sixel.raw[:300]  # one sixel image per hit
    silent = run_in_terminal(args, 80, _env(session_home))  # a terminal that answers nothing: no pictures
    assert silent.returncode == 0 and "\x1bP" not in silent.raw and "▀" not in silent.text
    assert "cat_chelsea.jpg" in silent.text


def test_open_a_result_with_the_desktop_handler(demo_index, session_home, tmp_path):
    index, _ = demo_index
    opener = tmp_path / "bin" / "xdg-open"
    opener.parent.mkdir()
    opener.write_text(f'#!/bin/sh\necho "$1" >> {tmp_path / "opened"}\n')
    opener.chmod(0o755)
    env = {"PATH": f"{opener.parent}:{os.environ['PATH']}"}
    home = session_home
    listed = run_cli("search", "a cat", "--index", index, "-k", "3", "-f", home=home, env=env).stdout.splitlines()
    run_cli("open", "2", home=home, env=env)
    run_cli("search", "a rocket", "--index", index, "--type", "image", "-k", "1", "--open", home=home, env=env)
    _wait_for(lambda: (tmp_path / "opened").is_file() and len((tmp_path / "opened").read_text().splitlines()) == 2)
    assert (tmp_path / "opened").read_text().splitlines() == [listed[1], str(PHOTOS / "rocket_launch_pad.jpg")]
    _one_line_error(run_cli("open", "7", home=home, env=env, check=False), 2, "has no result 7")
    _one_line_error(run_cli("open", home=tmp_path / "fresh", check=False), 2, "run `searchengine search` first")


def _wait_for(condition, seconds: float = 10) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def _one_line_error(proc, code, *fragments):
    assert proc.returncode == code, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


# --- messages and exit codes ----------------------------------------------------------------------


def test_glob_ignores_case_unless_asked(demo_index, session_home):
    index, _ = demo_index
    found = run_cli("search", "a cat", "--index", index, "--glob", "*.JPG", "-k", "1", "-f", home=session_home)
    assert found.stdout.strip() == str(PHOTOS / "cat_chelsea.jpg")
    missed = run_cli(
        "search", "a cat", "--index", index, "--glob", "*.JPG", "--glob-case", home=session_home, check=False
    )
    assert missed.returncode == 1 and missed.stdout == ""
    assert missed.stderr.strip() == "no indexed file matches --glob '*.JPG' (with --glob-case)"
    deeper = run_cli("search", "a cat", "--index", index, "--glob", "PHOTOS/*", "-f", "-k", "2", home=session_home)
    assert all("/photos/" in p for p in deeper.stdout.splitlines())


def test_nothing_found_exits_1_except_with_json(demo_index, session_home):
    index, _ = demo_index
    nothing = run_cli("search", "a cat", "--index", index, "--type", "video", home=session_home, check=False)
    assert nothing.returncode == 1 and nothing.stdout == "" and "no match" in nothing.stderr
    as_json = run_cli("search", "a cat", "--index", index, "--type", "video", "--json", home=session_home)
    assert json.loads(as_json.stdout) == []


def test_a_closed_pipe_ends_the_search_quietly(demo_index, session_home):
    index, _ = demo_index
    shell = run_cli("search", "a cat", "--index", index, "-k", "30", home=session_home, check=False)  # warm
    piped = subprocess.run(
        ["bash", "-c", f'{shlex_join(_cli(index))} | head -n 1; echo "${{PIPESTATUS[0]}}"'],
        capture_output=True,
        text=True,
        env=_env(session_home),
        cwd=REPO,
        timeout=300,
    )
    first, status = piped.stdout.splitlines()
    assert first.startswith("1\t") and first == shell.stdout.splitlines()[0]
    assert piped.stderr == "" and status in ("0", "141")
    for args in (_cli(index), [sys.executable, "-m", "searchengine", "status", "--index", str(index)]):
        read, write = os.pipe()
        os.close(read)  # nobody reads: the first write meets a closed pipe
        proc = subprocess.run(args, stdout=write, stderr=subprocess.PIPE, env=_env(session_home), cwd=REPO, timeout=300)
        os.close(write)
        assert proc.returncode == 141 and proc.stderr == b"", proc.stderr


def _cli(index):
    return [sys.executable, "-m", "searchengine", "search", "a cat", "--index", str(index), "-k", "30"]


def shlex_join(args):
    import shlex

    return shlex.join(args)


def test_image_url_from_a_local_server(demo_index, session_home):
    index, _ = demo_index
    handler = partial(_QuietHandler, directory=str(PHOTOS))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        hits = json.loads(
            run_cli(
                "search",
                "--image",
                f"{base}/cat_chelsea.jpg",
                "--index",
                index,
                "--type",
                "image",
                "-k",
                "1",
                "--json",
                home=session_home,
            ).stdout
        )
        assert hits[0]["path"] == str(PHOTOS / "cat_chelsea.jpg")
        _one_line_error(
            run_cli("search", "--image", f"{base}/missing.jpg", "--index", index, home=session_home, check=False),
            2,
            "HTTP 404",
            f"{base}/missing.jpg",
        )
    finally:
        server.shutdown()
        server.server_close()
    _one_line_error(
        run_cli("search", "--image", "ftp://example.invalid/cat.jpg", "--index", index, home=session_home, check=False),
        2,
        "http://",
    )


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


# --- conventions ------------------------------------------------------------------------------------


def test_version_and_completion(session_home):
    from importlib.metadata import version

    assert run_cli("--version", home=session_home).stdout.strip() == f"searchengine {version('searchengine')}"
    # Typer finds the user's shell among the command's parents (shellingham); pytest may run without
    # one (a detached job), so the shell is named instead, through Typer's own switch for that
    named = {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    script = run_cli("--show-completion", "bash", home=session_home, env=named).stdout
    assert "_SEARCHENGINE_COMPLETE=complete_bash" in script and "complete " in script
    for words, cword, expected in (
        ("searchengine sea", 1, "search"),
        ("searchengine search --type au", 3, "audio"),
        ("searchengine index --en", 2, "--engine"),
    ):
        done = run_cli(
            home=session_home,
            env={"_SEARCHENGINE_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)},
        )
        assert expected in done.stdout.split(), (words, done.stdout)


def test_index_without_folder_resyncs_every_folder(tmp_path, session_home):
    notes, photos = tmp_path / "notes", tmp_path / "photos"
    notes.mkdir()
    photos.mkdir()
    shutil.copy2(TEXTS / "coin_collecting.txt", notes)
    shutil.copy2(PHOTOS / "coffee_cup.jpg", photos)
    index = tmp_path / "index"
    for folder in (notes, photos):
        run_cli("index", folder, "--index", index, home=session_home)
    shutil.copy2(TEXTS / "thunderstorms.txt", notes)
    (photos / "coffee_cup.jpg").unlink()
    runs = [
        json.loads(line) for line in run_cli("index", "--index", index, "--json", home=session_home).stdout.splitlines()
    ]
    assert {r["root"]: (r["added"], r["removed"]) for r in runs} == {str(notes): (1, 0), str(photos): (0, 1)}
    shutil.move(notes, tmp_path / "away")  # a disk that is not mounted now: its files stay indexed
    proc = run_cli("index", "--index", index, home=session_home, check=False)
    assert proc.returncode == 1 and f"{notes} cannot be reached now" in proc.stderr
    assert json.loads(run_cli("status", "--index", index, "--json", home=session_home).stdout)["counts"]["items"] == 2
    _one_line_error(
        run_cli("index", "--index", tmp_path / "none", home=session_home, check=False), 2, "give the folder"
    )


def test_summaries_count_files_and_unsupported_types(tmp_path, session_home):
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy2(TEXTS / "coin_collecting.txt", folder)
    for name in ("archive.zip", "setup.exe", "core"):  # binary: a file of no known type is indexed when text
        (folder / name).write_bytes(b"\x00\x01\x02 not text" * 10)
    index = tmp_path / "index"
    first = _summary(run_cli("index", folder, "--index", index, home=session_home).stderr)
    assert first.startswith("1 file added; 3 skipped: .exe 1, .zip 1, no extension 1; ")
    assert re.search(r"; \d+\.\d s \(\d+\.\d files/s\) → ", first) and not re.search(r"\b1 files\b(?!/s)", first)
    os.utime(folder / "coin_collecting.txt")  # touched, the same content: unchanged
    again = _summary(run_cli("index", folder, "--index", index, home=session_home).stderr)
    assert again.startswith("1 file unchanged; 3 skipped") and "files/s" not in again
    status = run_cli("status", "--index", index, home=session_home).stdout
    assert "3 files of a type not indexed: .exe 1, .zip 1, no extension 1" in status
    listed = run_cli("status", "--index", index, "--errors", home=session_home).stdout
    assert all(f"skipped: {folder / name}: unsupported file type" in listed for name in ("archive.zip", "core"))
    verbose = run_cli("-v", "index", folder, "--index", index, home=session_home).stderr
    assert f"skipped: {folder / 'setup.exe'}: unsupported file type" in verbose


def _summary(stderr: str) -> str:
    """The summary line (after any one-time preparation a fresh home announces)."""
    return next(line for line in stderr.splitlines() if not line.endswith("(once)…"))


def test_progress_moves_file_by_file(tmp_path, session_home):
    import numpy as np
    from PIL import Image

    folder = tmp_path / "thirty"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for i in range(30):  # photo-sized, so that decoding them takes a while
        pixels = rng.integers(0, 255, (1200, 1600, 3), dtype=np.uint8)
        Image.fromarray(pixels).resize((2400, 1800)).save(folder / f"photo_{i:02d}.jpg", quality=85)
    shown = run_in_terminal(["index", folder, "--index", tmp_path / "index"], 100, _env(session_home))
    assert shown.returncode == 0, shown.text
    counts = {int(n) for n in re.findall(r"\b(\d+)/30\b", shown.text)}
    assert len(counts - {0, 30}) >= 3, sorted(counts)  # the count moves during the run, not once at the end
    assert re.search(r"\d+\.\d (files/s|s/file)", shown.text) and re.search(r"eta \d:\d\d:\d\d", shown.text)
    assert "30 files added" in shown.text


@pytest.mark.slow  # default run under 3 minutes; CI runs it (-m "")
def test_no_other_library_speaks_on_stderr(tmp_path):
    """A first run in a fresh home (models exported to ONNX, Whisper assembled) and a search."""
    home = tmp_path / "home"
    folder = tmp_path / "media"
    folder.mkdir()
    for source in (PHOTOS / "cat_chelsea.jpg", TEXTS / "cats_and_sleep.md", SAMPLES / "audio" / "great_wall_trip.ogg"):
        shutil.copy2(source, folder)
    index = tmp_path / "index"
    indexed = run_cli("index", folder, "--index", index, home=home)
    searched = run_cli("search", "a cat", "--index", index, "-k", "2", home=home)
    lines = indexed.stderr.splitlines() + searched.stderr.splitlines()
    ours = [line for line in lines if line.endswith("(once)…") or line.startswith("3 files added")]
    assert lines == ours, "\n".join(lines)
    assert any("to ONNX" in line for line in ours) and any("Whisper" in line for line in ours)
    verbose = run_cli("-v", "search", "a cat", "--index", index, "-k", "1", home=home).stderr
    assert re.search(r"model bundled:\S+ on onnxruntime-cpu", verbose) and "faiss" not in verbose.lower()
    noisy = run_cli("-vv", "search", "a cat", "--index", index, "-k", "1", home=home).stderr
    assert "debug " in noisy or "info " in noisy


# --- the layout's parts ---------------------------------------------------------------------------


def test_paths_are_shortened_from_the_middle_keeping_the_name():
    from pathlib import Path

    from searchengine.cli.table import clock, ellipsize_path, shown_path

    home, cwd = Path("/home/ann"), Path("/home/ann/work")
    assert shown_path("/home/ann/work/notes/a.md", cwd, home) == "notes/a.md"
    assert shown_path("/home/ann/Pictures/cat.jpg", cwd, home) == "~/Pictures/cat.jpg"
    assert shown_path("/srv/x.jpg", cwd, home) == "/srv/x.jpg"
    path = "~/Pictures/holidays/2019/summer/cat_chelsea.jpg"
    assert ellipsize_path(path, 60) == path
    assert ellipsize_path(path, 30) == "~/…/summer/cat_chelsea.jpg"
    assert ellipsize_path(path, 40) == "~/…/holidays/2019/summer/cat_chelsea.jpg"
    assert ellipsize_path(path, 12) == "cat_chelsea.jpg"  # the name whole, even past the width
    assert ellipsize_path("/a/b/c/d.jpg", 9) == "/…/d.jpg"
    # by terminal cells, not characters: a CJK character takes two
    assert ellipsize_path("写真/旅行/京都/猫の写真.jpg", 19) == "写真/…/猫の写真.jpg"
    assert ellipsize_path("写真/旅行/京都/猫の写真.jpg", 18) == "…/猫の写真.jpg"
    assert (clock(65), clock(3725), clock(None)) == ("01:05", "1:02:05", "")


def test_weak_hits_are_listed_after_the_others_under_a_rule():
    """Interleaving kinds can rank a "medium" hit below a "low" one; the table lists the weak ones
    last, under the rule, as the web page does, each with its own rank."""
    from dataclasses import replace

    from searchengine.cli.table import WEAK_RULE, terminal_lines
    from searchengine.hits import Hit

    levels = ("high", "low", "medium", "low")
    hits = [
        replace(Hit(i + 1, 5.0 - i, 0.3, f"/p/{level}{i + 1}.jpg", "image", None, None, None, i, i), confidence=level)
        for i, level in enumerate(levels)
    ]
    shown = [line.plain for line in terminal_lines(hits, 80)[1:]]
    names = [re.search(r"(\w+\d)\.jpg", line).group(1) for line in shown if ".jpg" in line]
    assert names == ["high1", "medium3", "low2", "low4"]
    assert WEAK_RULE in shown[2]


def test_a_command_line_mistake_is_one_line_naming_the_help(session_home):
    for args, says in (
        (["duplicates", "--threshold", "2"], "Invalid value for '--threshold'"),
        (["search", "cats", "-k", "abc"], "Invalid value for '-k'"),
        (["search", "--bogus"], "No such option: --bogus"),
        (["nosuchcommand"], "No such command"),
    ):
        done = run_cli(*args, home=session_home, check=False)
        assert done.returncode == 2 and done.stdout == ""
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], done.stderr
        assert "--help')" in lines[0] and "╭" not in done.stderr
    bare = run_cli("bench", home=session_home, check=False)  # a bare group: its help, as before
    assert bare.returncode == 2 and "Usage: searchengine bench" in bare.stdout and bare.stderr == ""


def test_the_pace_of_scanned_pages_says_when_tesseract_would_read_them_faster():
    from types import SimpleNamespace

    from cli.progress import _ocr_hint, _RateColumn
    from searchengine.media.tesseract import tesseract_version

    assert bool(_ocr_hint()) == (tesseract_version() is None)  # said only where it is missing
    task = SimpleNamespace(speed=0.25, finished=False, time_remaining=None, fields={"pages": True, "hint": _ocr_hint()})
    assert _RateColumn().render(task).plain == "4.0 s/page" + _ocr_hint()
    task.fields["hint"] = "  (install tesseract-ocr to read clean scans ~4× faster)"
    assert _RateColumn().render(task).plain.endswith("faster)")
