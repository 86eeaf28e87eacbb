"""The README's "Use it from Python" example, run as a user would: in a fresh interpreter, with the
bundled model, on a ~/Pictures and ~/Downloads made in the test."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

from conftest import PHOTOS, REPO, TEXTS


def _example() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Use it from Python") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_example_runs(tmp_path, session_home):
    home = tmp_path / "home"
    (home / "Pictures").mkdir(parents=True)
    (home / "Downloads").mkdir()
    shutil.copy2(PHOTOS / "cat_chelsea.jpg", home / "Pictures" / "cat.jpg")
    shutil.copy2(PHOTOS / "coffee_cup.jpg", home / "Pictures" / "coffee.jpg")
    shutil.copy2(TEXTS / "cats_and_sleep.md", home / "Pictures" / "cats_and_sleep.md")
    shutil.copy2(TEXTS / "household_budget_meeting.txt", home / "Downloads" / "notes.txt")
    env = {**os.environ, "HOME": str(home), "SEARCHENGINE_HOME": str(session_home)}
    done = subprocess.run([sys.executable, "-c", _example()], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "3 added, 0 unchanged, 0 failed"
    assert lines[1].endswith("cat.jpg")  # the cat photo first for "a cat on a sofa"
    assert any(line.startswith(str(home / "Pictures" / "cats_and_sleep.md")) for line in lines[3:5])
    assert lines[-1] == "3 files; consistent"
    assert (home / "pictures-index" / "manifest.json").is_file()
