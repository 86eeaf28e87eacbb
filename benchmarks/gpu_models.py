"""The model stages of benchmarks/gpu.py (`clip`, `bundled`): forward passes, decode + prepare per
core, the device against the CPU, and the full index pipeline."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from gpu_run import (
    Context,
    Deadline,
    NotRun,
    attempt,
    catalog_vectors,
    cosines,
    cpu_encoder,
    log,
    per_second,
    run_pipeline,
    spread,
    torch_threads,
)

TINY_CLIP = {  # the dry run's open_clip model (tests/conftest.py has the same)
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 16, "head_width": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


def stage_model(kind: str) -> Callable:
    def run(out: dict, deadline: Deadline, ctx: Context) -> None:
        _model_stage(kind, out, deadline, ctx)

    return run


def _model_stage(kind: str, out: dict, deadline: Deadline, ctx: Context) -> None:
    from searchengine.config import cache_dir
    from searchengine.encoders.registry import load_encoder
    from searchengine.ingest.settings import IngestSettings, default_workers
    from searchengine.media.images import draft_side, load_image

    if not ctx.files:
        raise NotRun("there is no image folder (the folder stage did not finish)")
    name = ctx.models.get(kind) or _model_name(kind, ctx)
    ctx.models[kind] = name
    out["model"] = name
    started = time.perf_counter()
    encoder = load_encoder(name, ctx.device, ctx.backend, cache_dir=cache_dir())
    ctx.sync()
    out["load_s"] = round(time.perf_counter() - started, 2)
    ctx.encoders[kind] = encoder
    out.update(
        {
            "encoder_id": encoder.id,
            "dim": encoder.dim,
            "runtime": getattr(encoder, "runtime", None),
            "dtype": _dtype(kind, encoder),
        }
    )
    side = draft_side(encoder)

    # Images decoded and prepared beforehand, on every core.
    pool_files = spread(ctx.distinct, ctx.scale.forward_pool)
    with ThreadPoolExecutor(ctx.cores) as pool:
        prepared = list(pool.map(lambda p: encoder.prepare_image(load_image(p, side)), pool_files))

    forward = out.setdefault("forward_images_per_s", {})
    for batch in ctx.scale.batch_sizes:
        deadline.check(f"the forward pass at batch {batch}")
        forward[str(batch)] = round(_forward_rate(encoder, prepared, batch, ctx.scale.forward_seconds), 1)
        log.info("%s forward, batch %d: %.0f images/s", kind, batch, forward[str(batch)])
    best = max(ctx.scale.batch_sizes, key=lambda b: forward[str(b)])
    out["forward_best"] = {"batch": best, "images_per_s": forward[str(best)]}
    deadline.check("the model-only forward pass")
    attempt(out, "model_only", lambda: _model_only(kind, encoder, prepared, best, ctx))

    deadline.check("comparing with the CPU")
    attempt(out, "device_vs_cpu", lambda: _compare_with_cpu(kind, name, encoder, prepared[: ctx.scale.compare], ctx))

    # Decode + prepare, the CPU work the pipeline's decode workers do per image.
    deadline.check("decode + prepare")
    files = spread(ctx.distinct, ctx.scale.decode_sample)
    one = per_second(lambda: [encoder.prepare_image(load_image(p, side)) for p in files], len(files))
    work = files * max(1, (4 * ctx.cores) // len(files) + 1)
    with ThreadPoolExecutor(ctx.cores) as pool:
        every = per_second(
            lambda: list(pool.map(lambda p: encoder.prepare_image(load_image(p, side)), work)), len(work)
        )
    out["decode_prepare_images_per_s"] = {
        "one_thread": round(one, 1),
        f"{ctx.cores}_threads": round(every, 1),
        "per_core": round(every / ctx.cores, 1),
    }
    if kind == "clip":
        deadline.check("the preprocessing variants")
        attempt(out, "prepare_variants_all_cores", lambda: _clip_prepare_variants(encoder, work, side, ctx))

    # The full index pipeline: sized for the machine (one decode worker per core, the best forward
    # batch), then, with what time is left, the CLI's defaults and other settings.
    tuned_batch = min(best, 256)

    def sized(workers: int, batch: int):
        return IngestSettings(
            model=name,
            device=ctx.device,
            backend=ctx.backend,
            workers=workers,
            batch_size=batch,
            commit_every=max(256, batch),
        )

    tuned = f"workers_{ctx.cores}_batch_{tuned_batch}"
    configs = {tuned: sized(ctx.cores, tuned_batch)}
    one_torch_thread = set()
    if kind == "clip":  # open_clip's preprocessing runs PyTorch ops in every decode thread
        configs[tuned + "_torch_threads_1"] = configs[tuned]
        one_torch_thread.add(tuned + "_torch_threads_1")
    configs["cli_defaults"] = IngestSettings(model=name, device=ctx.device, backend=ctx.backend)
    if tuned_batch != 64:
        configs[f"workers_{ctx.cores}_batch_64"] = sized(ctx.cores, 64)
    pipelines = out.setdefault("pipeline", {})
    for label, settings in configs.items():
        if deadline.left() <= 0 and pipelines:  # keep what ran; compare it with the CPU below
            out["pipeline_left_out"] = f"no time left for {', '.join(k for k in configs if k not in pipelines)}"
            break
        try:
            with torch_threads(1 if label in one_torch_thread else None):
                result = run_pipeline(encoder, ctx.work / "images", ctx.work / f"index-{kind}-{label}", settings)
        except Exception as exc:  # one setting failing leaves the others to measure
            log.exception("%s pipeline %s failed", kind, label)
            pipelines[label] = {"error": f"{exc.__class__.__name__}: {exc}"}
            continue
        reference = forward.get(str(settings.batch_size)) or forward[str(best)]
        result["over_forward_same_batch"] = round(result["images_per_s"] / reference, 3) if reference else None
        result["over_forward_best"] = round(result["images_per_s"] / forward[str(best)], 3)
        result["over_decode_prepare_all_cores"] = round(result["images_per_s"] / every, 3) if every else None
        pipelines[label] = result
        log.info(
            "%s pipeline %s: %.0f images/s (%.2f of the best forward)",
            kind,
            label,
            result["images_per_s"],
            result["over_forward_best"],
        )
    finished = {label: run for label, run in pipelines.items() if "images_per_s" in run}
    if not finished:
        raise RuntimeError(f"every pipeline run failed, first: {next(iter(pipelines.values()))['error']}")
    best_pipeline = max(finished, key=lambda label: finished[label]["images_per_s"])
    for label in pipelines:
        if label != best_pipeline:
            shutil.rmtree(ctx.work / f"index-{kind}-{label}", ignore_errors=True)
    out["pipeline_best"] = {
        "settings": best_pipeline,
        "images_per_s": pipelines[best_pipeline]["images_per_s"],
        "over_forward_best": pipelines[best_pipeline]["over_forward_best"],
    }
    ctx.batch[kind] = configs[best_pipeline].batch_size
    attempt(
        out, "pipeline_vs_cpu", lambda: _pipeline_vs_cpu(kind, name, ctx.work / f"index-{kind}-{best_pipeline}", ctx)
    )
    out["default_workers"] = default_workers()


def _clip_prepare_variants(encoder, work: list[Path], side: int, ctx: Context) -> dict:
    """Decode + prepare on every core three ways: open_clip's torchvision transform (the product
    on a GPU) with PyTorch's default threads and with one, and the Pillow transform the product
    uses with ONNX Runtime (onnx_clip.Preprocess, checked against open_clip's to 1e-4)."""
    from searchengine.encoders import onnx_clip
    from searchengine.media.images import load_image

    variants: dict[str, tuple[Callable, int | None]] = {
        "torchvision": (encoder.prepare_image, None),
        "torchvision_torch_threads_1": (encoder.prepare_image, 1),
    }
    cfg = dict(encoder.torch.model.visual.preprocess_cfg)
    if onnx_clip.Preprocess.supports(cfg):
        variants["pillow"] = (onnx_clip.Preprocess(cfg), None)
    rates = {}
    with ThreadPoolExecutor(ctx.cores) as pool:
        for label, (prepare, threads) in variants.items():
            with torch_threads(threads):
                rates[label] = round(
                    per_second(
                        lambda prepare=prepare: list(pool.map(lambda p: prepare(load_image(p, side)), work)), len(work)
                    ),
                    1,
                )
    return rates


def _model_name(kind: str, ctx: Context) -> str:
    """The model to load: `bundled`, or a random-weight open_clip model written to disk here
    (ViT-B-32, the real architecture, loaded as clip:ViT-B-32@weights.pt; a tiny local-dir model in
    a dry run) — open_clip's own loading path, as with downloaded weights."""
    if kind == "bundled":
        return "bundled"
    import open_clip
    import torch

    folder = ctx.work / "clip"
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    if ctx.dry:
        model = open_clip.CLIP(**TINY_CLIP)
        torch.save(model.state_dict(), folder / "open_clip_pytorch_model.bin")
        (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_CLIP, "preprocess_cfg": {}}))
        return f"clip:local-dir:{folder}"
    model = open_clip.create_model("ViT-B-32", pretrained=None)
    weights = folder / "ViT-B-32-random-seed0.pt"
    torch.save(model.state_dict(), weights)
    return f"clip:ViT-B-32@{weights}"


def _dtype(kind: str, encoder) -> str | None:
    try:
        if kind == "clip":  # the dtype of the image tower's patch convolution: what runs in fp16
            return str(encoder.torch.model.visual.conv1.weight.dtype).removeprefix("torch.")
        from searchengine.encoders.bundled import efficientnet

        return str(next(efficientnet.load_efficientnet_lite0(encoder.device).parameters()).dtype).removeprefix("torch.")
    except Exception as exc:  # a report, not a check
        return f"unknown ({exc.__class__.__name__})"


def _forward_rate(encoder, prepared: list, batch: int, seconds: float) -> float:
    """Images/s of `embed_images` (the product's path: stacking, transfer, model, head) on one
    batch of prepared images, repeated for `seconds` (at least three times) after a warm-up."""
    items = [prepared[i % len(prepared)] for i in range(batch)]
    encoder.embed_images(items)
    done, started = 0, time.perf_counter()
    while True:
        encoder.embed_images(items)
        done += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds and done >= 3:
            return done * batch / elapsed


def _model_only(kind: str, encoder, prepared: list, batch: int, ctx: Context) -> dict:
    """The model alone on a batch already on the device (no stacking, copies or head): how much of
    the forward rate the host side costs."""
    import torch

    items = np.stack([prepared[i % len(prepared)] for i in range(batch)])
    variants: dict[str, Callable] = {}
    if kind == "clip":
        model = encoder.torch.model
        pixels = torch.from_numpy(items).to(ctx.device, dtype=encoder.torch.input_dtype)
        variants[str(encoder.torch.input_dtype).removeprefix("torch.")] = lambda: model.encode_image(pixels)
    else:
        from searchengine.encoders.bundled import efficientnet

        model = efficientnet.load_efficientnet_lite0(ctx.device)
        pixels = (
            torch.from_numpy(efficientnet.scale_pixels(items))
            .to(ctx.device)
            .contiguous(memory_format=torch.channels_last)
        )
        variants["float32"] = lambda: model.forward_head(model.forward_features(pixels), pre_logits=True)
        if ctx.device == "cuda":

            def autocast():
                with torch.autocast("cuda", dtype=torch.float16):
                    return model.forward_head(model.forward_features(pixels), pre_logits=True)

            variants["float16_autocast"] = autocast
    rates = {}
    with torch.inference_mode():
        for label, fn in variants.items():
            fn()
            ctx.sync()
            rates[label] = round(
                per_second(lambda fn=fn: _repeat(fn, ctx, ctx.scale.forward_seconds), batch, repeats=True), 1
            )
    return {"batch": batch, "images_per_s": rates}


def _repeat(fn: Callable, ctx: Context, seconds: float) -> int:
    done, started = 0, time.perf_counter()
    while done < 3 or time.perf_counter() - started < seconds:
        fn()
        done += 1
    ctx.sync()
    return done


def _compare_with_cpu(kind: str, name: str, encoder, prepared: list, ctx: Context) -> dict:
    """The same prepared images through the device's encoder and the CPU's (PyTorch, fp32)."""
    cpu = cpu_encoder(kind, name, ctx)
    on_device, on_cpu = encoder.embed_images(prepared), cpu.embed_images(prepared)
    result = cosines(on_device, on_cpu)
    off_diagonal = on_cpu @ on_cpu.T
    n = len(on_cpu)
    if n > 1:  # how alike different images are in this space: what a cosine of 0.999 is worth here
        result["cpu_between_different_images_mean"] = round(
            float((off_diagonal.sum() - np.trace(off_diagonal)) / (n * n - n)), 4
        )
    result["reference"] = "PyTorch on the CPU, float32" + (" (dry run: the same device)" if ctx.device == "cpu" else "")
    return result


def _pipeline_vs_cpu(kind: str, name: str, index_dir: Path, ctx: Context) -> dict:
    """Vectors the device's pipeline stored against the CPU encoder's for the same files."""
    from searchengine.media.images import draft_side, load_image

    cpu = cpu_encoder(kind, name, ctx)
    stored = catalog_vectors(index_dir)
    files = [p for p in ctx.distinct[: ctx.scale.compare] if str(p.absolute()) in stored]
    if not files:
        return {"images": 0, "note": "none of the compared files is in the catalog"}
    side = draft_side(cpu)
    reference = cpu.embed_images([cpu.prepare_image(load_image(p, side)) for p in files])
    return cosines(np.stack([stored[str(p.absolute())] for p in files]), reference)
