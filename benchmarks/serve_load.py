"""Load test of `searchengine serve`: concurrent clients on loopback, text search, latency and throughput.

    python benchmarks/serve_load.py [--index DIR] [--segments 100000] [--clients 8] [--requests 2000]

Prints one JSON object: the index searched, requests, errors, requests/s and client-side latency
percentiles (p50, p90, p99, max, in ms), plus the server's own search time (took_ms) percentiles.

The index: DIR when it already exists; otherwise a synthetic one of --segments segments is written
there first (default indexes/serve-load-<N>, git-ignored) and reused by later runs. Synthetic means
real encoder, fake files: the bundled encoder embeds the calibration queries and the sample
queries, and every segment vector is one of those anchors plus Gaussian noise, renormalised, so
neighbourhoods look like a real collection's; 20% of the segments are single-segment "photos",
the rest passages of 8-passage "documents". Paths point at nothing (search does not read files).
Building 100k segments takes a few minutes (4 on a busy 2-core machine; 215 MB catalog, 180 MB HNSW
file); the server then loads them like any index (HNSW at that size, chosen automatically), with
the real encoder embedding every query.

The server runs as `python -m searchengine serve` in a subprocess; clients are asyncio tasks with
httpx in this process, so on a small machine they share its cores with the server. Bounded:
--requests in total (after --warmup ones) or --duration seconds, whichever comes first.
The server inherits this process's environment (OMP_NUM_THREADS, for instance).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
QUERIES = [
    "a cat sleeping on a sofa",
    "the household budget",
    "rocket launch at night",
    "a cup of coffee",
    "flowers in a garden",
    "who wrote the first compiler",
    "storm clouds over the sea",
    "an old coin",
    "how to fix a bicycle",
    "galaxies in deep space",
    "bread recipe",
    "a horse in the field",
    "microscope image of cells",
    "a pagoda by a lake",
    "water drop splash",
    "a person with a camera",
]


def anchors(encoder) -> np.ndarray:
    lines = (REPO / "searchengine" / "calibration_queries.txt").read_text(encoding="utf-8").splitlines()
    lines += (REPO / "samples" / "queries.txt").read_text(encoding="utf-8").splitlines() + QUERIES
    texts = sorted({line.strip() for line in lines if line.strip() and not line.startswith("#")})
    return encoder.embed_texts(texts)


def synthesize(index_dir: Path, segments: int, seed: int = 0) -> dict:
    """Write an index of `segments` synthetic segments (see the module docstring)."""
    from searchengine.calibrate import refresh_calibration
    from searchengine.config import cache_dir
    from searchengine.encoders.registry import DEFAULT_MODEL, load_encoder
    from searchengine.store.folder import IndexFolder
    from searchengine.store.records import ItemDraft, SegmentDraft

    started = time.perf_counter()
    encoder = load_encoder(DEFAULT_MODEL, "cpu", cache_dir=cache_dir())
    centres = anchors(encoder)
    rng = np.random.default_rng(seed)
    n_images = segments // 5
    n_docs = (segments - n_images) // 8
    drafts_total = n_images + n_docs
    with IndexFolder.open_for_writing(index_dir, DEFAULT_MODEL, encoder.id, encoder.dim, "auto") as index:
        run_id = index.catalog.start_run(Path("/synthetic"), encoder.id)
        batch: list[ItemDraft] = []
        for i in range(drafts_total):
            image = i < n_images
            count = 1 if image else 8
            picked = centres[rng.integers(len(centres), size=count)]
            vectors = picked + rng.normal(scale=0.045, size=picked.shape).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            path = f"/synthetic/photos/{i:07d}.jpg" if image else f"/synthetic/docs/{i:07d}.md"
            segs = [
                SegmentDraft(
                    o,
                    v.astype(np.float32),
                    text=None if image else f"Passage {o} of document {i}: " + "lorem ipsum " * 12,
                    char_start=None if image else o * 200,
                    char_end=None if image else o * 200 + 180,
                )
                for o, v in enumerate(vectors)
            ]
            batch.append(
                ItemDraft(
                    path=path,
                    kind="image" if image else "text",
                    size=1000,
                    mtime_ns=0,
                    content_hash=f"{i:064x}",
                    segments=segs,
                )
            )
            if len(batch) == 2000 or i == drafts_total - 1:
                index.commit(run_id, batch)
                batch = []
        index.save()
        refresh_calibration(index, encoder, cache_dir())
        index.catalog.finish_run(run_id, {"added": drafts_total})
        counts = index.manifest.counts
    return {"synthesized_in_s": round(time.perf_counter() - started, 1), **counts}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(index_dir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "searchengine",
            "serve",
            "--index",
            str(index_dir),
            "--port",
            str(port),
            "--device",
            "cpu",
        ],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


async def wait_ready(client, server: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"server exited: {server.stderr.read().strip()}")
        try:
            if (await client.get("/api/status")).status_code == 200:
                return
        except Exception:  # noqa: BLE001 - not listening yet
            pass
        await asyncio.sleep(0.5)
    raise SystemExit(f"server not ready after {timeout:.0f} s")


async def load(base: str, server, clients: int, requests: int, warmup: int, duration: float, k: int, kind: str) -> dict:
    import httpx

    latencies: list[float] = []
    took: list[float] = []
    errors: list[str] = []
    sent = 0
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=httpx.Limits(max_connections=clients)) as client:
        started = time.perf_counter()
        await wait_ready(client, server, timeout=600)
        startup = time.perf_counter() - started
        info = (await client.get("/api/status")).json()
        for i in range(warmup):
            await client.get("/api/search", params={"q": QUERIES[i % len(QUERIES)], "k": k, "type": kind})

        stop_at = time.perf_counter() + duration

        async def worker(w: int) -> None:
            nonlocal sent
            while sent < requests and time.perf_counter() < stop_at:
                q = f"{QUERIES[sent % len(QUERIES)]} {sent}"  # distinct texts: nothing is cached anywhere
                sent += 1
                t0 = time.perf_counter()
                try:
                    response = await client.get("/api/search", params={"q": q, "k": k, "type": kind})
                    if response.status_code != 200:
                        errors.append(f"{response.status_code}: {response.text[:200]}")
                        continue
                    took.append(response.json()["took_ms"])
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))
                    continue
                latencies.append((time.perf_counter() - t0) * 1000)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(clients)))
        elapsed = time.perf_counter() - t0
    return {
        "startup_s": round(startup, 1),
        "status": info,
        "seconds": elapsed,
        "latencies": latencies,
        "took": took,
        "errors": errors,
        "sent": sent,
    }


def percentiles(values: list[float]) -> dict:
    if not values:
        return {}
    a = np.asarray(values)
    return {
        "p50": round(float(np.percentile(a, 50)), 1),
        "p90": round(float(np.percentile(a, 90)), 1),
        "p99": round(float(np.percentile(a, 99)), 1),
        "max": round(float(a.max()), 1),
        "mean": round(float(a.mean()), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--index", type=Path, help="Index to serve [default: indexes/serve-load-<segments>, synthesized if missing]."
    )
    parser.add_argument("--segments", type=int, default=100_000, help="Size of a synthesized index.")
    parser.add_argument("--clients", type=int, default=8, help="Concurrent clients.")
    parser.add_argument("--requests", type=int, default=2000, help="Measured requests in total.")
    parser.add_argument("--warmup", type=int, default=20, help="Unmeasured requests first.")
    parser.add_argument("--duration", type=float, default=120.0, help="Stop after this many seconds anyway.")
    parser.add_argument("-k", type=int, default=24, help="Results per search (the web page asks for 48).")
    parser.add_argument("--type", dest="kind", default="any", help="any | image | text.")
    args = parser.parse_args()

    from searchengine.store.folder import exists

    index_dir = (args.index or REPO / "indexes" / f"serve-load-{args.segments}").resolve()
    built = None
    if not exists(index_dir):
        built = synthesize(index_dir, args.segments)
        print(
            f"synthesized {built['segments']} segments in {built['synthesized_in_s']} s → {index_dir}", file=sys.stderr
        )
    port = free_port()
    server = start_server(index_dir, port)
    try:
        run = asyncio.run(
            load(
                f"http://127.0.0.1:{port}",
                server,
                args.clients,
                args.requests,
                args.warmup,
                args.duration,
                args.k,
                args.kind,
            )
        )
    finally:
        server.terminate()
        server.wait(30)
    status = run["status"]
    print(
        json.dumps(
            {
                "index": {
                    "dir": str(index_dir),
                    "segments": status["vectors"],
                    "items": status["counts"]["items"],
                    "index_type": status["index_type"],
                    "built_now": built,
                },
                "endpoint": "GET /api/search",
                "k": args.k,
                "type": args.kind,
                "clients": args.clients,
                "requests": len(run["latencies"]),
                "errors": len(run["errors"]),
                "error_examples": run["errors"][:3],
                "seconds": round(run["seconds"], 2),
                "req_per_s": round(len(run["latencies"]) / run["seconds"], 1) if run["seconds"] else None,
                "latency_ms": percentiles(run["latencies"]),
                "server_search_ms": percentiles(run["took"]),
                "server_startup_s": run["startup_s"],
                "cpu_cores": len(os.sched_getaffinity(0)),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
