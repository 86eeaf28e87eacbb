"""The command line's cold starts: `tags`, `search` and `--help` as new processes, as a user runs them.

Each command runs as a fresh `python -m searchengine` process (the OS file cache warm: one warm-up
each), alternating between commands round by round; wall time and peak RSS come from wait4, as
`/usr/bin/time -v` reports them. `tags` is compared with a cold `search` measured in the same run
(issue 21: tags ≤ 1.5 s and ≤ 300 MB, on the ONNX path like search). Whether a command imported
torch is checked once with `-X importtime`.

Usage:
    python benchmarks/cli.py --save                  # 7 rounds
    python benchmarks/cli.py --rounds 3
Results: JSON on stdout; with --save, benchmarks/results/cli.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"
PHOTO = SAMPLES / "photos" / "cat_chelsea.jpg"
RESULTS = REPO / "benchmarks" / "results" / "cli.json"


def timed(args: list[str], env: dict) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one run of the command."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "searchengine", *args],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"searchengine {' '.join(args)} failed ({os.waitstatus_to_exitcode(status)})")
    return seconds, usage.ru_maxrss / 1024


def imports_torch(args: list[str], env: dict) -> bool:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "searchengine", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    return any(line.rsplit("|", 1)[-1].strip() == "torch" for line in done.stderr.splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--index", type=Path, default=REPO / "indexes" / "bench-cli", help="index of samples/ (built when missing)"
    )
    parser.add_argument("--save", action="store_true")
    args = parser.parse_args()

    env = {**os.environ, "SEARCHENGINE_HOME": os.environ.get("SEARCHENGINE_HOME", str(REPO / "indexes" / "home"))}
    if not (args.index / "manifest.json").is_file():
        print(f"indexing {SAMPLES} into {args.index} (once)", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "searchengine", "index", str(SAMPLES), "--index", str(args.index), "--quiet"],
            env=env,
            check=True,
        )
    commands = {
        "tags": ["tags", str(PHOTO)],
        "search": ["search", "a cat sleeping on a sofa", "--index", str(args.index), "-k", "5"],
        "help": ["--help"],
    }
    load_at_start = os.getloadavg()[0]
    for argv in commands.values():  # warm-up: the OS file cache, exported models in place
        timed(argv, env)
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for round_ in range(args.rounds):
        for name, argv in commands.items():
            runs[name].append(timed(argv, env))
        print(
            f"round {round_ + 1}/{args.rounds}: " + ", ".join(f"{n} {r[-1][0]:.2f} s" for n, r in runs.items()),
            file=sys.stderr,
        )
    result = {
        "rounds": args.rounds,
        "cores": len(os.sched_getaffinity(0)),
        "load_average_1m": round(load_at_start, 2),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "commands": {
            name: {
                "argv": [str(a).replace(str(args.index), "INDEX").replace(str(REPO) + "/", "") for a in commands[name]],
                "median_seconds": round(statistics.median(s for s, _ in r), 3),
                "min_seconds": round(min(s for s, _ in r), 3),
                "median_peak_rss_mb": round(statistics.median(m for _, m in r), 1),
                "imports_torch": imports_torch(commands[name], env),
            }
            for name, r in runs.items()
        },
    }
    tags, search = result["commands"]["tags"], result["commands"]["search"]
    result["tags_vs_search"] = {
        "seconds": round(tags["median_seconds"] / search["median_seconds"], 2),
        "peak_rss": round(tags["median_peak_rss_mb"] / search["median_peak_rss_mb"], 2),
    }
    result["targets"] = {
        "tags_seconds_max": 1.5,
        "tags_peak_rss_mb_max": 300,
        "met": tags["median_seconds"] <= 1.5 and tags["median_peak_rss_mb"] <= 300,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.save:
        RESULTS.write_text(text + "\n")


if __name__ == "__main__":
    main()
