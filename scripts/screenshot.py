"""docs/search-80-columns.svg (and .png): a search as it shows in an 80-column terminal.

The command runs in a real pseudo-terminal, exactly as tests/test_cli_terminal.py runs it (the same
helper, tests/terminal.py), over an index of samples/ (built when missing); its output, escape
sequences and all, is turned into an SVG by rich's export, and into a PNG by rsvg-convert when it
is installed (Debian: librsvg2-bin).

    python scripts/screenshot.py [--index DIR] [--query "the household budget"]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from terminal import run_in_terminal  # noqa: E402

COLUMNS = 80


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=REPO / "indexes" / "demo")
    parser.add_argument("--query", default="the household budget")
    parser.add_argument("-k", type=int, default=6)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "search-80-columns.svg")
    args = parser.parse_args()

    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "SEARCHENGINE_HOME": os.environ.get("SEARCHENGINE_HOME", str(REPO / "indexes" / "home")),
    }
    if not (args.index / "manifest.json").is_file():
        subprocess.run(
            [sys.executable, "-m", "searchengine", "index", "samples", "--index", str(args.index), "--quiet"],
            cwd=REPO,
            env=env,
            check=True,
        )
    command = ["search", args.query, "--index", os.path.relpath(args.index, REPO), "-k", str(args.k)]
    shown = run_in_terminal(command, COLUMNS, env, cwd=REPO)
    if shown.returncode != 0:
        raise SystemExit(f"searchengine {' '.join(command)} exited {shown.returncode}:\n{shown.text}")

    from rich.console import Console
    from rich.text import Text

    console = Console(
        record=True, width=COLUMNS, force_terminal=True, color_system="truecolor", file=open(os.devnull, "w")
    )
    console.print(Text(f"$ searchengine search {args.query!r} -k {args.k}", style="bold"))
    console.print(Text.from_ansi(shown.raw.replace("\r\n", "\n").rstrip("\n")))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(console.export_svg(title="searchengine search — 80 columns"))
    print(f"wrote {args.out}", file=sys.stderr)
    if shutil.which("rsvg-convert"):
        # librsvg drops the no-break spaces rich aligns columns with: plain spaces, kept as they are
        svg = args.out.read_text().replace("&#160;", " ").replace("<svg ", '<svg xml:space="preserve" ', 1)
        png = args.out.with_suffix(".png")
        subprocess.run(["rsvg-convert", "--zoom", "1.5", "-o", str(png)], input=svg.encode(), check=True)
        print(f"wrote {png}", file=sys.stderr)


if __name__ == "__main__":
    main()
