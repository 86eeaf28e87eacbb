"""searchengine against rclip on rclip's own ground: same model, same folder, same threads, one run.

rclip (https://github.com/yurijmikhalevich/rclip) indexes with open_clip `ViT-B-32-256` exported to
ONNX. No pretrained weights can be had offline, so both tools get the same random weights:

1. Models (built once, cached under WORK/models): `open_clip.create_model("ViT-B-32-256",
   pretrained=None)` with a fixed seed; its image and text towers exported to ONNX as rclip loads
   them from its data folder (`RCLIP_DATADIR/ViT-B-32-256-datacomp_s34b_b86k/{visual,textual}.onnx`,
   input "input": float32 [n, 3, 256, 256] / int64 [n, 77], one output, not normalised; and
   `RCLIP_DATADIR/tokenizer/bpe_simple_vocab_16e6.txt.gz`), checked against PyTorch; the same
   weights as a state dict, which searchengine loads as `clip:ViT-B-32-256@WORK/models/….pt`.
2. Folder (built once, cached under WORK/images): a few hundred distinct JPEGs (duplicates would
   let rclip reuse vectors by hash): real photos (samples/photos, indexes/datasets/*/images,
   Debian wallpapers under /usr/share/backgrounds and /usr/share/wallpapers, most 1,600–6,000 px)
   and synthetic ones of mixed sizes up to 4,000 px.
3. Encoder forward throughput, in this process: images/s of the bare model over images decoded
   and prepared beforehand, batch 8 — searchengine's encoder object (`embed_images` on prepared
   arrays; whatever backend it chose, recorded when it says) and rclip's own onnxruntime session.
4. Indexing end to end: each tool as a new CLI process with a fresh data folder (`rclip` in the
   folder with a fresh RCLIP_DATADIR holding only the model files; `searchengine index` with a
   fresh --index; its model cache, like rclip's model files, prepared beforehand). Wall time,
   images/s, peak RSS (wait4). Rounds alternate between the tools.
5. Cold CLI text query: one warm-up each (OS file cache), then --queries new processes per tool,
   alternating; median wall time and peak RSS.
6. The bundled model: the same indexing and forward measurement, and its cold query.

Both tools run with the same thread settings (OMP/MKL threads and ONNX Runtime intra-op threads =
the cores this process may use; both size their inference threads from sched_getaffinity).
Nothing is installed at run time: rclip is used when it is importable, else skipped and said.

Usage:
    python benchmarks/vs_rclip.py --save                 # 300 images, 2 rounds, 5 cold queries
    python benchmarks/vs_rclip.py --images 120 --rounds 1 --queries 3      # quicker
Results: JSON on stdout; with --save, benchmarks/results/vs_rclip.json and vs_rclip.png.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import logging
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from searchengine.eval.measure import RESULTS, machine, save_result, to_json  # noqa: E402

log = logging.getLogger("bench.vs_rclip")

ARCH = "ViT-B-32-256"
RCLIP_MODEL_SUBDIR = "ViT-B-32-256-datacomp_s34b_b86k"  # rclip.model_download.MODEL_SUBDIR
RCLIP_VOCAB = "tokenizer/bpe_simple_vocab_16e6.txt.gz"  # rclip.model_download.TOKENIZER_VOCAB
QUERY = "a red bicycle by the sea"
JPEG_SUFFIXES = (".jpg", ".jpeg")
REAL_SOURCES = (
    ROOT / "samples" / "photos",
    *sorted((ROOT / "indexes" / "datasets").glob("*/images")),
    Path("/usr/share/backgrounds"),
    Path("/usr/share/wallpapers"),
)


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def load_1m() -> float:
    return round(os.getloadavg()[0], 2)


# ---------------------------------------------------------------------------------------------
# The folder


def _real_jpegs() -> list[Path]:
    found, seen = [], set()
    for source in REAL_SOURCES:
        if not source.is_dir():
            continue
        for path in sorted(source.rglob("*")):
            if path.suffix.lower() not in JPEG_SUFFIXES or not path.is_file():
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest not in seen:
                seen.add(digest)
                found.append(path)
    return found


def _synthetic_jpeg(path: Path, rng: random.Random) -> tuple[int, int]:
    """A photo-like JPEG: smooth colour fields, shapes, texture; sizes from 300 to 4,000 px."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    short = rng.choice([300, 480, 640, 800, 1080, 1500, 2000, 2448, 3000])
    ratio = rng.choice([4 / 3, 3 / 2, 16 / 9, 1.0])
    long = min(4000, round(short * ratio))
    size = (long, short) if rng.random() < 0.7 else (short, long)
    np_rng = np.random.default_rng(rng.randrange(2**32))
    base = np_rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    image = Image.fromarray(base).resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(3, 12)):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        r = rng.randint(size[1] // 20, size[1] // 3)
        colour = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x - r, y - r, x + r, y + r), fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(radius=max(1, size[1] // 400)))
    noise = np_rng.normal(0, rng.choice([2, 6, 12]), (size[1], size[0], 1))
    pixels = np.clip(np.asarray(image, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, quality=rng.choice([80, 88, 95]), progressive=rng.random() < 0.3)
    return size


def build_folder(out: Path, n: int, seed: int) -> dict:
    """WORK/images: n distinct JPEGs, about 70 % real photos; reused when already built alike."""
    meta_path = out.parent / "images.json"
    if meta_path.exists() and out.is_dir():
        meta = json.loads(meta_path.read_text())
        if meta.get("n") == n and meta.get("seed") == seed and len(list(out.iterdir())) == n:
            return meta
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    rng = random.Random(seed)
    real = _real_jpegs()
    real = sorted(rng.sample(real, min(len(real), round(n * 0.7))))
    for i, path in enumerate(real):
        shutil.copyfile(path, out / f"real-{i:03d}-{path.stem[:40]}.jpg")
    sizes = [_synthetic_jpeg(out / f"synthetic-{i:03d}.jpg", rng) for i in range(n - len(real))]
    from PIL import Image

    shorts = sorted(min(Image.open(p).size) for p in out.iterdir())
    meta = {
        "n": n,
        "seed": seed,
        "real": len(real),
        "synthetic": len(sizes),
        "bytes": sum(p.stat().st_size for p in out.iterdir()),
        "short_side_px": {"min": shorts[0], "median": shorts[len(shorts) // 2], "max": shorts[-1]},
        "real_sources": [str(s) for s in REAL_SOURCES if s.is_dir()],
    }
    meta_path.write_text(json.dumps(meta, indent=1))
    return meta


# ---------------------------------------------------------------------------------------------
# The models


def build_models(folder: Path, seed: int) -> dict:
    """Random-weight ViT-B-32-256: a state dict for searchengine, rclip's ONNX files; cached."""
    meta_path = folder / "models.json"
    weights = folder / f"{ARCH}-random-seed{seed}.pt"
    rclip_dir = folder / "rclip-data"
    onnx_dir = rclip_dir / RCLIP_MODEL_SUBDIR
    if meta_path.exists() and weights.exists() and (onnx_dir / "textual.onnx").exists():
        return json.loads(meta_path.read_text())
    import numpy as np
    import open_clip
    import torch

    torch.manual_seed(seed)
    model = open_clip.create_model(ARCH, pretrained=None).eval()
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), weights)

    class Tower(torch.nn.Module):
        def __init__(self, clip, method: str):
            super().__init__()
            self.clip, self.method = clip, method

        def forward(self, x):
            return getattr(self.clip, self.method)(x)

    onnx_dir.mkdir(parents=True, exist_ok=True)
    images = torch.randn(2, 3, 256, 256)
    tokens = open_clip.get_tokenizer(ARCH)(["a photo of a dog", "a red bicycle by the sea"])
    diffs = {}
    for name, method, example in (("visual", "encode_image", images), ("textual", "encode_text", tokens)):
        path = onnx_dir / f"{name}.onnx"
        encode = getattr(model, method)
        torch.onnx.export(
            Tower(model, method),
            (example,),
            str(path),
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        check = torch.cat([example, example[:1]])  # another batch size than exported with
        with torch.inference_mode():
            expected = encode(check).numpy()
        got = session.run(None, {"input": check.numpy()})[0]
        diffs[name] = float(np.abs(got - expected).max())
    vocab = Path(open_clip.__file__).parent / "bpe_simple_vocab_16e6.txt.gz"
    (rclip_dir / RCLIP_VOCAB).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(vocab, rclip_dir / RCLIP_VOCAB)
    meta = {
        "arch": ARCH,
        "seed": seed,
        "weights": str(weights),
        "rclip_data": str(rclip_dir),
        "onnx_max_abs_diff_vs_torch": diffs,
        "open_clip": open_clip.__version__,
        "torch": torch.__version__,
    }
    meta_path.write_text(json.dumps(meta, indent=1))
    return meta


def fresh_rclip_datadir(template: Path, out: Path) -> Path:
    """A new RCLIP_DATADIR holding only the model files (hard links when possible)."""
    shutil.rmtree(out, ignore_errors=True)
    for source in template.rglob("*"):
        if source.is_file():
            target = out / source.relative_to(template)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(source, target)
            except OSError:
                shutil.copyfile(source, target)
    return out


# ---------------------------------------------------------------------------------------------
# Measuring


# A small launcher between this (large) process and the measured one: a child's peak RSS counts the
# memory of the process it was forked from, so the tool is started from a fresh, small Python.
_LAUNCHER = (
    "import os, subprocess, sys, time\n"
    "started = time.perf_counter()\n"
    "child = subprocess.Popen(sys.argv[2:])\n"
    "_, status, usage = os.wait4(child.pid, 0)\n"
    "open(sys.argv[1], 'w').write(f'{usage.ru_maxrss} {time.perf_counter() - started}')\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def timed(cmd: list[str], env: dict, cwd: Path | None = None) -> dict:
    """Wall seconds and peak RSS (MB) of one new process running cmd (both taken by the launcher)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="vs-rclip-") as tmp:
        rss_file = Path(tmp) / "maxrss"
        done = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, str(rss_file), *map(str, cmd)], env=env, cwd=cwd, capture_output=True
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(map(str, cmd[:6]))} … failed ({done.returncode}): "
                f"{done.stderr.decode(errors='replace')[-2000:]}"
            )
        peak_kb, wall = rss_file.read_text().split()
        peak_kb, wall = int(peak_kb), float(wall)
    return {
        "seconds": round(wall, 3),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "stdout": done.stdout.decode(errors="replace"),
        "load_1m": load_1m(),
    }


def thread_env(base: dict, threads: int) -> dict:
    env = dict(base)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[name] = str(threads)
    env["HF_HUB_OFFLINE"] = "1"
    env.pop("PYTHONPATH", None)
    return env


def forward_rate(embed, batches: list, rounds: int) -> dict:
    """Images/s of embed(batch) over pre-prepared batches; one warm-up batch; median of rounds."""
    embed(batches[0])
    rates = []
    for _ in range(rounds):
        started = time.perf_counter()
        for batch in batches:
            embed(batch)
        rates.append(sum(len(b) for b in batches) / (time.perf_counter() - started))
    return {
        "images_per_s": round(statistics.median(rates), 2),
        "rounds": [round(r, 2) for r in rates],
        "images": sum(len(b) for b in batches),
        "load_1m": load_1m(),
    }


def _batches(items: list, size: int) -> list:
    return [items[i : i + size] for i in range(0, len(items), size)]


def searchengine_forward(model: str, files: list[Path], batch: int, rounds: int) -> dict:
    from searchengine.config import cache_dir
    from searchengine.encoders.registry import load_encoder
    from searchengine.ingest.decoders import DecodeContext, decode_image

    started = time.perf_counter()
    encoder = load_encoder(model, "cpu", cache_dir=cache_dir())
    load_s = time.perf_counter() - started
    ctx = DecodeContext(encoder)
    prepared = [decode_image(p, "", ctx)[0].image for p in files]
    result = forward_rate(encoder.embed_images, _batches(prepared, batch), rounds)
    encoder.embed_texts([QUERY])  # makes sure the text side is cached too before the CLI runs
    result.update(
        encoder_id=encoder.id,
        encoder_class=type(encoder).__name__,
        backend=getattr(encoder, "backend", None),
        runtime=getattr(encoder, "runtime", None),
        draft_side=ctx.draft_side,
        load_seconds=round(load_s, 2),
    )
    return result


def rclip_forward(datadir: Path, files: list[Path], batch: int, rounds: int) -> dict:
    """rclip's own ONNX session (its options) and preprocessing, on pre-decoded images."""
    import numpy as np
    from PIL import Image
    from rclip import model_download
    from rclip.utils.preprocess import preprocess

    session = model_download._load_onnx_session(str(datadir / RCLIP_MODEL_SUBDIR / "visual.onnx"))
    prepared = [preprocess(Image.open(p)) for p in files]

    def embed(items):
        return session.run(None, {"input": np.stack(items)})[0]

    result = forward_rate(embed, _batches(prepared, batch), rounds)
    options = session.get_session_options()
    result.update(backend="onnxruntime", intra_op_threads=options.intra_op_num_threads)
    return result


def index_searchengine(folder: Path, index: Path, model: str, env: dict) -> dict:
    shutil.rmtree(index, ignore_errors=True)
    run = timed(
        [
            sys.executable,
            "-m",
            "searchengine",
            "index",
            str(folder),
            "--index",
            str(index),
            "--model",
            model,
            "--device",
            "cpu",
            "--json",
            "--quiet",
        ],
        env,
    )
    summary = json.loads(run.pop("stdout"))
    run.update(images=summary["added"], failed=summary["failed"], own_seconds=round(summary["seconds"], 2))
    return run


def index_rclip(folder: Path, datadir_template: Path, datadir: Path, env: dict) -> dict:
    fresh_rclip_datadir(datadir_template, datadir)
    run = timed(
        [sys.executable, "-m", "rclip", "-f", "-t", "1", QUERY], {**env, "RCLIP_DATADIR": str(datadir)}, cwd=folder
    )
    run.pop("stdout")
    import sqlite3

    with sqlite3.connect(datadir / "db.sqlite3") as db:
        run["images"] = db.execute("SELECT count(*) FROM images WHERE deleted IS NULL").fetchone()[0]
    return run


def cold_queries(commands: dict[str, tuple[list[str], dict, Path | None]], repeat: int) -> dict:
    """One warm-up each, then `repeat` new processes per tool, alternating; medians."""
    runs: dict[str, list[dict]] = {name: [] for name in commands}
    for cmd, env, cwd in commands.values():
        timed(cmd, env, cwd)
    for _ in range(repeat):
        for name, (cmd, env, cwd) in commands.items():
            run = timed(cmd, env, cwd)
            run["hits"] = len([line for line in run.pop("stdout").splitlines() if line.strip()])
            runs[name].append(run)
    return {
        name: {
            "median_s": round(statistics.median(r["seconds"] for r in rs), 3),
            "runs_s": [r["seconds"] for r in rs],
            "peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
            "load_1m": [r["load_1m"] for r in rs],
        }
        for name, rs in runs.items()
    }


def _ratio(a, b):
    return round(a / b, 3) if a and b else None


# ---------------------------------------------------------------------------------------------
# Chart


def plot(result: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tools = [t for t in ("rclip", "searchengine", "bundled") if t in result["tools"]]
    labels = {
        "rclip": "rclip\n(ViT-B-32-256)",
        "searchengine": "searchengine\n(same model)",
        "bundled": "searchengine\n(bundled)",
    }
    colours = {"rclip": "#888888", "searchengine": "#1f77b4", "bundled": "#2ca02c"}
    data = result["tools"]
    fig, axes = plt.subplots(1, 4, figsize=(16, 4.2))
    x = range(len(tools))
    ax = axes[0]
    ax.bar(
        [i - 0.2 for i in x],
        [data[t]["forward_images_per_s"] for t in tools],
        0.4,
        label="model forward",
        color=[colours[t] for t in tools],
        alpha=0.45,
    )
    ax.bar(
        [i + 0.2 for i in x],
        [data[t]["index_images_per_s"] for t in tools],
        0.4,
        label="indexing, end to end",
        color=[colours[t] for t in tools],
    )
    ax.set_xticks(list(x), [labels[t] for t in tools], fontsize=8)
    ax.set_ylabel("images / s")
    ax.set_title("throughput (light: forward, dark: indexing)", fontsize=9)
    ax = axes[1]
    ax.bar(x, [data[t]["pipeline_over_forward"] for t in tools], color=[colours[t] for t in tools])
    ax.axhline(0.9, color="k", ls="--", lw=1)
    ax.set_xticks(list(x), [labels[t] for t in tools], fontsize=8)
    ax.set_title("indexing / forward (target ≥ 0.90)", fontsize=9)
    for axis, key, title in (
        (axes[2], "cold_query_s", "cold CLI text query, s (median)"),
        (axes[3], "index_peak_rss_mb", "peak RSS while indexing, MB"),
    ):
        values = [data[t].get(key) or 0 for t in tools]
        axis.bar(x, values, color=[colours[t] for t in tools])
        axis.set_xticks(list(x), [labels[t] for t in tools], fontsize=8)
        axis.set_title(title, fontsize=9)
        for i, v in enumerate(values):
            axis.text(i, v, f"{v:g}", ha="center", va="bottom", fontsize=8)
    m = result["machine"]
    fig.suptitle(
        f"searchengine vs rclip, {result['folder']['n']} JPEGs, {m['cpus']} cores, "
        f"{result['threads']} threads each; load {m.get('load_average_1m')} → {m.get('load_average_1m_at_end')}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------------------------


def compile_bytecode() -> None:
    """Byte-compile searchengine as `pip install` does for rclip's wheel: a checkout run with
    PYTHONDONTWRITEBYTECODE (set here) would otherwise compile its modules in every cold query."""
    import searchengine
    import searchengine.cli

    for package in {Path(searchengine.__file__).parent, Path(searchengine.cli.__file__).parent}:
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True, capture_output=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=300, help="JPEGs in the folder")
    parser.add_argument(
        "--work",
        type=Path,
        default=ROOT / "indexes" / "bench" / "vs_rclip",
        help="cache of the folder and models, and the runs' data folders",
    )
    parser.add_argument("--rounds", type=int, default=2, help="indexing runs per tool, alternating")
    parser.add_argument("--queries", type=int, default=5, help="cold CLI queries per tool (after one warm-up)")
    parser.add_argument("--forward-images", type=int, default=48, help="images in the forward measurement")
    parser.add_argument("--batch", type=int, default=8, help="forward batch (rclip's and searchengine's default)")
    parser.add_argument("--threads", type=int, default=cores(), help="inference threads for both tools")
    parser.add_argument("--no-bundled", action="store_true", help="skip the bundled model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/NAME.json and NAME.png")
    parser.add_argument("--name", default="vs_rclip")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)

    started = time.perf_counter()
    work = args.work.resolve()
    home = work / "searchengine-home"  # model caches (exports), as rclip's model files: prepared once
    os.environ["SEARCHENGINE_HOME"] = str(home)
    os.environ["HF_HUB_OFFLINE"] = "1"
    env = thread_env({**os.environ, "SEARCHENGINE_HOME": str(home)}, args.threads)
    has_rclip = importlib.util.find_spec("rclip") is not None
    compile_bytecode()
    result: dict = {
        "benchmark": "vs_rclip",
        "machine": machine(),
        "threads": args.threads,
        "query": QUERY,
        "rclip": _version("rclip") if has_rclip else "not installed: pip install rclip",
    }

    folder = work / "images"
    result["folder"] = {"path": str(folder), **build_folder(folder, args.images, args.seed)}
    log.info("folder: %s", result["folder"])
    models = build_models(work / "models", args.seed)
    result["models"] = models
    clip_model = f"clip:{ARCH}@{models['weights']}"
    sample = sorted(folder.iterdir())[:: max(1, args.images // args.forward_images)][: args.forward_images]

    tools: dict[str, dict] = {}
    log.info("forward throughput")
    if has_rclip:
        tools["rclip"] = {"forward": rclip_forward(Path(models["rclip_data"]), sample, args.batch, 2)}
    tools["searchengine"] = {"model": clip_model, "forward": searchengine_forward(clip_model, sample, args.batch, 2)}
    if not args.no_bundled:
        tools["bundled"] = {"model": "bundled", "forward": searchengine_forward("bundled", sample, args.batch, 2)}
    log.info("forward: %s", {t: v["forward"]["images_per_s"] for t, v in tools.items()})

    runs = work / "runs"
    for r in range(args.rounds):
        if has_rclip:
            tools["rclip"].setdefault("index", []).append(
                index_rclip(folder, Path(models["rclip_data"]), runs / "rclip-data", env)
            )
        for name in ("searchengine", "bundled"):
            if name in tools:
                tools[name].setdefault("index", []).append(
                    index_searchengine(folder, runs / f"{name}-index", tools[name]["model"], env)
                )
        log.info("round %d: %s", r + 1, {t: v["index"][-1]["seconds"] for t, v in tools.items()})

    commands = {}
    if has_rclip:
        commands["rclip"] = (
            [sys.executable, "-m", "rclip", "-n", "-f", "-t", "10", QUERY],
            {**env, "RCLIP_DATADIR": str(runs / "rclip-data")},
            folder,
        )
    for name in ("searchengine", "bundled"):
        if name in tools:
            commands[name] = (
                [
                    sys.executable,
                    "-m",
                    "searchengine",
                    "search",
                    QUERY,
                    "--index",
                    str(runs / f"{name}-index"),
                    "-k",
                    "10",
                    "--no-cutoff",
                    "--json",
                ],
                env,
                None,
            )
    cold = cold_queries(commands, args.queries)

    for name, tool in tools.items():
        index_runs = tool["index"]
        seconds = statistics.median(r["seconds"] for r in index_runs)
        images = index_runs[0]["images"]
        tool["cold_query"] = cold[name]
        tool["images_indexed"] = images
        tool["index_seconds"] = round(seconds, 2)
        tool["index_images_per_s"] = round(images / seconds, 2)
        tool["index_peak_rss_mb"] = max(r["peak_rss_mb"] for r in index_runs)
        tool["forward_images_per_s"] = tool["forward"]["images_per_s"]
        tool["pipeline_over_forward"] = _ratio(tool["index_images_per_s"], tool["forward_images_per_s"])
        # The same without process start-up and model loading, estimated by the tool's own cold query.
        work_s = seconds - cold[name]["median_s"]
        tool["index_images_per_s_without_startup"] = round(images / work_s, 2) if work_s > 0 else None
        tool["cold_query_s"] = cold[name]["median_s"]
    result["tools"] = tools
    if has_rclip:
        se, rc = tools["searchengine"], tools["rclip"]
        result["ratios"] = {
            "index_images_per_s_vs_rclip": _ratio(se["index_images_per_s"], rc["index_images_per_s"]),
            "forward_images_per_s_vs_rclip": _ratio(se["forward_images_per_s"], rc["forward_images_per_s"]),
            "cold_query_vs_rclip": _ratio(se["cold_query_s"], rc["cold_query_s"]),
            "index_peak_rss_vs_rclip": _ratio(se["index_peak_rss_mb"], rc["index_peak_rss_mb"]),
            "query_peak_rss_vs_rclip": _ratio(se["cold_query"]["peak_rss_mb"], rc["cold_query"]["peak_rss_mb"]),
        }
        result["targets"] = {
            "index_vs_rclip_ge_1.3": result["ratios"]["index_images_per_s_vs_rclip"] >= 1.3,
            "pipeline_over_forward_ge_0.90": se["pipeline_over_forward"] >= 0.9,
            "cold_query_vs_rclip_le_0.5": result["ratios"]["cold_query_vs_rclip"] <= 0.5,
        }
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["machine"]["load_average_1m_at_end"] = load_1m()
    print(to_json(result))
    if args.save:
        log.info("wrote %s", save_result(result, args.name))
        log.info("wrote %s", plot(result, RESULTS / f"{args.name}.png"))


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    main()
