"""Cold `searchengine search` of this checkout against another version of searchengine (a git
revision) and against rclip, in one run: new processes, taking turns, medians.

It reuses what `benchmarks/vs_rclip.py` builds in its work folder (the models, the folder of JPEGs,
an index of each model and rclip's database), so run that once first:

    python benchmarks/vs_rclip.py --images 120 --rounds 1 --queries 3 --work /tmp/vs_rclip
    python benchmarks/cold_query.py --work /tmp/vs_rclip --baseline main --queries 15 --save

The other version runs from `git archive REV searchengine cli` laid out as the package it installs
as (cli/ as searchengine/cli), on PYTHONPATH, byte-compiled like this checkout, with the same model
cache and the same indexes (their format is the same). Every tool gets one warm-up (the OS file
cache), then `--queries` cold queries in turn; the JSON has each one's median and the ratios.
Results: JSON on stdout; with --save, benchmarks/results/cold_query.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import logging
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from vs_rclip import QUERY, compile_bytecode, cores, load_1m, thread_env, timed  # noqa: E402

from searchengine.eval.measure import machine, save_result, to_json  # noqa: E402

log = logging.getLogger("bench.cold_query")


def source_tree(rev: str, out: Path) -> Path:
    """searchengine as of git revision `rev`, laid out as installed (cli/ as searchengine/cli), compiled."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "searchengine", "cli"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(out, filter="data")
    (out / "cli").rename(out / "searchengine" / "cli")
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(out / "searchengine")], check=True, capture_output=True
    )
    return out


def _source(env: dict, cwd: Path | None) -> str:
    """Where the searchengine a command runs is imported from (checks the two versions are two)."""
    code = "import searchengine.cli.launch as m; print(m.__file__)"
    return subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, check=True
    ).stdout.strip()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--work",
        type=Path,
        default=ROOT / "indexes" / "bench" / "vs_rclip",
        help="benchmarks/vs_rclip.py's work folder (its runs/ and searchengine-home/)",
    )
    parser.add_argument("--baseline", default="main", help="git revision to compare with")
    parser.add_argument("--queries", type=int, default=15, help="cold queries per tool (after one warm-up)")
    parser.add_argument("--threads", type=int, default=cores())
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/cold_query.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)

    work = args.work.resolve()
    runs = work / "runs"
    env = thread_env({**os.environ, "SEARCHENGINE_HOME": str(work / "searchengine-home")}, args.threads)
    compile_bytecode()
    commands: dict[str, tuple[list, dict, Path | None]] = {}
    if importlib.util.find_spec("rclip") is not None:
        commands["rclip"] = (
            [sys.executable, "-m", "rclip", "-n", "-f", "-t", "10", QUERY],
            {**env, "RCLIP_DATADIR": str(runs / "rclip-data")},
            work / "images",
        )
    with tempfile.TemporaryDirectory(prefix="cold-query-") as tmp:
        baseline_env = {**env, "PYTHONPATH": str(source_tree(args.baseline, Path(tmp)))}
        for model in ("searchengine", "bundled"):
            search = [
                sys.executable,
                "-m",
                "searchengine",
                "search",
                QUERY,
                "--index",
                str(runs / f"{model}-index"),
                "-k",
                "10",
                "--no-cutoff",
                "--json",
            ]
            # run from the work folder: `python -m` puts the current folder first on the path, and a
            # checkout's own folder would shadow the other version
            commands[f"{model}@checkout"] = (search, env, work)
            commands[f"{model}@{args.baseline}"] = (search, baseline_env, work)
        sources = {name: _source(cmd_env, cwd) for name, (_, cmd_env, cwd) in commands.items() if name != "rclip"}
        runs_s: dict[str, list[float]] = {name: [] for name in commands}
        for cmd, cmd_env, cwd in commands.values():
            timed(cmd, cmd_env, cwd)  # warm-up
        for r in range(args.queries):
            order = list(commands) if r % 2 == 0 else list(commands)[::-1]
            for name in order:
                cmd, cmd_env, cwd = commands[name]
                runs_s[name].append(timed(cmd, cmd_env, cwd)["seconds"])
            log.info("round %d: %s", r + 1, {name: times[-1] for name, times in runs_s.items()})
    medians = {name: round(statistics.median(times), 3) for name, times in runs_s.items()}
    result = {
        "benchmark": "cold_query",
        "machine": machine(),
        "query": QUERY,
        "baseline": args.baseline,
        "threads": args.threads,
        "sources": sources,
        "median_s": medians,
        "runs_s": runs_s,
        "load_1m_at_end": load_1m(),
    }
    ratios = {}
    for model in ("searchengine", "bundled"):
        ratios[f"{model}_checkout_vs_baseline"] = round(
            medians[f"{model}@checkout"] / medians[f"{model}@{args.baseline}"], 3
        )
        if "rclip" in medians:
            ratios[f"{model}_checkout_vs_rclip"] = round(medians[f"{model}@checkout"] / medians["rclip"], 3)
            ratios[f"{model}_baseline_vs_rclip"] = round(medians[f"{model}@{args.baseline}"] / medians["rclip"], 3)
    result["ratios"] = ratios
    print(to_json(result))
    if args.save:
        log.info("wrote %s", save_result(result, "cold_query"))


if __name__ == "__main__":
    main()
