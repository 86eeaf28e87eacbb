"""Charts from the benchmark results in benchmarks/results/ (PNG, matplotlib).

- ann-recall-latency.png: recall@10 against p50 latency per query, one panel per collection,
  one line per index family (HNSW M, IVF nlist) over its search parameter, numpy/flat/auto as
  points; the target region (p50 ≤ 1 ms, recall ≥ 0.97) shaded.
- ingest-throughput.png: images/s of the encoder's forward pass and of the full pipeline per
  round, and the re-run time over an unchanged folder against the 5 s target.
- query-latency.png: p50 and p99 of each stage of a warm query, and the cold CLI query.

matplotlib is a benchmark-only dependency: pip install matplotlib.

Usage:
    python benchmarks/plot.py [--results benchmarks/results] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def load(folder: Path, prefix: str) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob(f"{prefix}*.json"))]


def family(row: dict) -> str | None:
    p = row["params"]
    if row["index"] == "hnsw":
        return f"HNSW M={p['M']}"
    if row["index"] == "ivf":
        return f"IVF nlist={p['nlist']}"
    return None


def ann_chart(results: list[dict], out: Path, plt) -> Path | None:
    collections = [(r["target"], c) for r in results for c in r["collections"]]
    if not collections:
        return None
    fig, axes = plt.subplots(1, len(collections), figsize=(6.5 * len(collections), 5), squeeze=False)
    for ax, (target, c) in zip(axes[0], collections):
        ax.fill_between(
            [1e-3, target["p50_ms"]], target["recall@10"], 1.005, color="tab:green", alpha=0.12, label="target"
        )
        lines: dict[str, list[dict]] = {}
        for row in c["rows"]:
            name = family(row)
            if name:
                lines.setdefault(name, []).append(row)
        for name, rows in lines.items():
            rows.sort(key=lambda r: r["p50_ms"])
            ax.plot([r["p50_ms"] for r in rows], [r["recall@10"] for r in rows], marker="o", label=name)
            for r in rows:
                knob = r["params"].get("efSearch", r["params"].get("nprobe"))
                ax.annotate(
                    str(knob), (r["p50_ms"], r["recall@10"]), fontsize=7, xytext=(3, -9), textcoords="offset points"
                )
        for row in c["rows"]:
            threads = row["params"].get("search_threads")
            suffix = f", {threads} thread{'s' if threads != 1 else ''}" if threads else ""
            if row["index"] in ("numpy brute force", "faiss flat"):
                ax.scatter([row["p50_ms"]], [row["recall@10"]], marker="s", s=40, label=row["index"] + suffix)
            elif row["index"] == "auto":
                ax.scatter(
                    [row["p50_ms"]],
                    [row["recall@10"]],
                    marker="*",
                    s=220,
                    zorder=5,
                    color="black" if threads != 1 else "tab:gray",
                    label=f"auto ({row['params'].get('kind')}{suffix})",
                )
        ax.set_xscale("log")
        ax.set_xlim(left=min(0.02, min(r["p50_ms"] for r in c["rows"]) / 2))
        low = min(r["recall@10"] for r in c["rows"])
        ax.set_ylim(max(0.0, min(0.9, low - 0.02)), 1.005)
        ax.set_xlabel("p50 latency per query, ms (log)")
        ax.set_ylabel("recall@10 vs exact")
        ax.set_title(f"{c['collection']}: {c['n']:,} × {c['dim']}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    load_avg = results[-1]["machine"].get("load_average_1m")
    fig.suptitle(f"Vector search, {results[-1]['threads']} threads (load average at start {load_avg})")
    fig.tight_layout()
    path = out / "ann-recall-latency.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def ingest_chart(results: list[dict], out: Path, plt) -> Path | None:
    result = next((r for r in reversed(results) if "throughput" in r or "rerun" in r), None)
    if result is None:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    t = result.get("throughput")
    if t:
        rounds = t["rounds"]
        x = range(len(rounds))
        axes[0].bar(
            [i - 0.2 for i in x],
            [r["forward_images_per_s"] for r in rounds],
            width=0.4,
            label="encoder forward (pre-decoded)",
        )
        axes[0].bar(
            [i + 0.2 for i in x], [r["pipeline_images_per_s"] for r in rounds], width=0.4, label="full pipeline"
        )
        for i, r in zip(x, rounds):
            axes[0].annotate(
                f"{100 * r['ratio']:.0f} %",
                (i + 0.2, r["pipeline_images_per_s"]),
                ha="center",
                xytext=(0, 3),
                textcoords="offset points",
                fontsize=8,
            )
        axes[0].set_xticks(list(x), [f"round {i + 1}" for i in x])
        axes[0].set_ylabel("images / s")
        axes[0].set_title(f"{t['images']} images, batch {t['batch_size']}, {t['torch_threads']} torch threads")
        axes[0].legend(fontsize=8)
    r = result.get("rerun")
    if r:
        labels = [f"in process {i + 1}" for i in range(len(r["rerun_in_process_s"]))]
        values = list(r["rerun_in_process_s"])
        labels += [f"CLI {i + 1}" for i in range(len(r["rerun_cli"]))]
        values += [c["wall_s"] for c in r["rerun_cli"]]
        axes[1].bar(labels, values, color="tab:purple")
        axes[1].axhline(r["target_s"], color="tab:red", linestyle="--", label=f"target {r['target_s']} s")
        axes[1].set_ylabel("seconds")
        axes[1].set_title(f"re-run over {r['files']:,} unchanged files")
        axes[1].tick_params(axis="x", labelrotation=30, labelsize=8)
        axes[1].legend(fontsize=8)
    fig.suptitle(f"Ingestion, {result['encoder_id']} (load average {result['machine'].get('load_average_1m')})")
    fig.tight_layout()
    path = out / "ingest-throughput.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def query_chart(results: list[dict], out: Path, plt) -> Path | None:
    result = next((r for r in reversed(results) if "warm" in r), None)
    if result is None:
        return None
    warm = result["warm"]
    stages = list(warm)
    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    x = range(len(stages))
    ax.bar([i - 0.2 for i in x], [warm[s]["p50_ms"] for s in stages], width=0.4, label="p50")
    ax.bar([i + 0.2 for i in x], [warm[s]["p99_ms"] for s in stages], width=0.4, label="p99")
    ax.set_xticks(list(x), [s.replace("_", " ") for s in stages], fontsize=8)
    ax.set_ylabel("ms (log)")
    ax.set_yscale("log")
    cold = result.get("cold", {})
    index = result.get("index", {})
    ax.set_title(
        f"warm query on {index.get('segments', '?'):,} segments ({index.get('index_type')}); "
        f"cold CLI query {cold.get('cli_search_median_s', '?')} s "
        f"(CLI start {cold.get('cli_help_median_s', '?')} s)",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = out / "query-latency.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    args.out.mkdir(parents=True, exist_ok=True)
    for chart, prefix in ((ann_chart, "ann"), (ingest_chart, "ingest"), (query_chart, "query")):
        path = chart(load(args.results, prefix), args.out, plt)
        print(path or f"no {prefix}*.json in {args.results}")


if __name__ == "__main__":
    main()
