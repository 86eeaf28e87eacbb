"""The package as users get it: a wheel built from this checkout, installed in a fresh virtual
environment, its `searchengine` command indexing and searching (with the `demo` encoder: what is
checked is the package, not a model)."""

from __future__ import annotations

import json
import site
import subprocess
import sys
import zipfile

import pytest

from conftest import REPO, TEXTS


@pytest.mark.slow  # builds the wheel (pip fetches the build backend) and a virtual environment: ~20 s
def test_the_wheel_installs_and_its_command_runs(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(REPO)],
        check=True,
        capture_output=True,
    )
    wheel = next((tmp_path / "dist").glob("searchengine-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "searchengine/calibration_queries.txt" in names and "searchengine/encoders/bundled/lit-v2.npz" in names
    assert "searchengine/cli/app.py" in names and "searchengine/server/static/index.html" in names
    assert any(n.startswith("searchengine_train/") for n in names) and not any(n.startswith("cli/") for n in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    # the dependencies: this environment's, seen through a path file (its own .pth files, such as an
    # editable install of this checkout, are not read from there)
    venv_site = subprocess.run(
        [str(python), "-c", "import site; print(site.getsitepackages()[0])"], capture_output=True, text=True, check=True
    ).stdout.strip()
    (venv.parent / venv_site).joinpath("dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
        check=True,
        capture_output=True,
    )

    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "SEARCHENGINE_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}
    where = subprocess.run(
        [str(python), "-c", "import searchengine.cli.app as m; print(m.__file__)"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(venv)), where
    command = str(venv / "bin" / "searchengine")
    indexed = subprocess.run(
        [command, "index", str(TEXTS), "--index", str(tmp_path / "index"), "--model", "demo", "--json", "--quiet"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert indexed.returncode == 0, indexed.stderr
    assert json.loads(indexed.stdout)["added"] >= 10
    found = subprocess.run(
        [command, "search", "bicycle repair", "--index", str(tmp_path / "index"), "--json"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)[0]["path"].endswith("bicycle_repair_guide.md")
