"""Relevance benchmark: does the default answer hide the right one, and does `confidence` mean something?

Five collections with different caption styles, each query marked "tune" or "held-out":
- tuxpaint: the mixed Tux Paint collection of ranking.py (stamps, a note per stamp, spoken
  captions); queries are the captions ("A flower."); 30 % of the concepts are left out of the
  index and their captions are the absent-subject queries. Split as ranking.py splits it.
- photos: the real photos of datasets/photos.py alone; queries are its short captions ("a cat"),
  absent subjects are short labels (datasets/photo_queries.py). Split: photos.py's val photos
  are tune, its test photos held out; absent queries alternate.
- photos-descriptive: the same index, queried with descriptive sentences written afterwards by
  looking at each photo ("a tabby cat with green eyes staring straight at the camera") and
  descriptive absent subjects. Never tuned on: every query is held out.
- photos-mixed: the photos plus each of their captions as a text file and two unrelated notes, as
  a user's folder of pictures and notes about them; queried with the descriptive sentences (right
  answers: the photo and its two captions). Its photos alternate between a tune half, on which
  (with Tux Paint's tune half) the interleave of kinds in `--type any` is chosen, and a held-out
  half; its absent subjects are all held out. Confidence is never fitted on it.
- photos2: the 96 photos of datasets/photos2.py alone (wildlife, monuments), one query each in a
  searcher's words; absent subjects: the descriptive ones whose subject none of them shows. Never
  tuned on: every query is held out.
Tux Paint queries about subjects the encoder was trained on (`encoder_trained`: the bundled heads
saw the dataset's train split) are never fitted on and are reported apart from the held-out
totals: their scores are not what a user's own pictures get.
Image queries: on photos-mixed each photo itself (a byte-identical file is indexed) and a copy at
half size re-encoded as JPEG (quality 75); on tuxpaint each stamp and a half-size copy. Image to
text: each photo of photos-mixed with --type text, its own captions the right answers (how often
one is first, and the confidence of the first; nothing is tuned on it).
Interleave: every text query's `--type any` list is also made at each step of KIND_STEPS
(fusion.interleave_kinds); the step kept is the one whose lowest ratio of images' recall@10 in
`--type any` to images alone over the tune halves of tuxpaint and photos-mixed is highest.

Every search goes through `Searcher.assessed`, as `searchengine search` runs it (default filters:
no cutoff), so the confidence reported is the product's.

    python benchmarks/datasets/tuxpaint.py indexes/datasets/tuxpaint      # once
    python benchmarks/datasets/photos.py indexes/datasets/photos          # once
    python benchmarks/datasets/photos2.py indexes/datasets/photos2        # once
    python benchmarks/relevance.py --work indexes/relevance [--fit] [--save] [--plot]

--fit fits confidence.py's constants for the model on the tune halves of tuxpaint and photos,
queries about subjects the encoder never trained on only (logistic regression on the best hit of
each query, --type any and --type image, every weight but cross held at 0 or more, on the feature set of FEATURE_SETS with the best out-of-fold AUC; thresholds:
"high" at the lowest probability whose top hits are right 80 % of the time on tune, "medium" at
the probability above which half of the tune absent-subject queries' top hits lie) and prints
them; the product keeps them only when they do better on held-out halves. Reported per collection and
split: recall@10 with defaults and without a cutoff, `--type any` vs alone for images,
confidence of the top hit (share of right top-1 answers labelled "high", share of absent
queries without a "high" top hit, precision of "high" top hits, on tuxpaint also counting a
hit whose concept's caption shares a content word with the query as right), ROC AUC of the top hit's
confidence probability and, for comparison, of its calibrated score, present vs absent; and
copies of the query image ranked first.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datasets import photo_queries  # noqa: E402
from ranking import build_collection, concepts_of, content_words  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTES = ("bicycle_repair_guide.md", "sourdough_bread_recipe.md")  # unrelated to any photo
K = 10
# Models whose head was trained on the Tux Paint train split (the bundled encoders' model card)
TRAINED_ON_TUXPAINT_TRAIN = ("bundled:lit-v1", "bundled:lit-v2", "bundled:lit-multilingual-v1")
# photos2 holds these subjects (a pony, a calf, penguins, swans, a fort before skyscrapers): the
# descriptive absent subjects that name them are not absent there
PHOTOS2_HAS = ("horse", "cows", "penguins", "swan", "skyscrapers", "city skyline")
KIND_STEPS = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 99.0)  # 99: one of each kind in turn
HIGH_PRECISION = 0.8  # "high" top hits on the tune halves must be right this often (the target)
# Feature sets compared out of fold on the tune halves (cross_validate); --fit fits the one with the
# best AUC (ties: the fewest features).
FEATURE_SETS = (
    ("z", "z_prior", "lead", "cross"),
    ("z", "z_prior", "lead", "cross", "margin"),
    ("z", "lead", "cross", "margin"),
    ("z", "cross", "margin"),
    ("z", "margin"),
)


# --- collections --------------------------------------------------------------------------------
def photo_pairs(dataset: Path) -> tuple[list[dict], set[str]]:
    pairs = [json.loads(line) for line in (dataset / "pairs.jsonl").read_text().splitlines() if line.strip()]
    val_file = dataset / "val.jsonl"  # photos2 has none: all of it is a test set
    lines = val_file.read_text().splitlines() if val_file.exists() else []
    val = {json.loads(line)["image"] for line in lines if line.strip()}
    return pairs, val


def photo_name(image: str) -> str:
    return image.replace("/", "__").removeprefix("images__")


def build_photos(dataset: Path, folder: Path, with_captions: bool) -> None:
    pairs, _ = photo_pairs(dataset)
    (folder / "photos").mkdir(parents=True, exist_ok=True)
    for pair in pairs:
        shutil.copy2(dataset / pair["image"], folder / "photos" / photo_name(pair["image"]))
        if with_captions:
            (folder / "captions").mkdir(exist_ok=True)
            stem = Path(photo_name(pair["image"])).stem
            for i, caption in enumerate(pair["captions"]):
                (folder / "captions" / f"{stem}-{i}.txt").write_text(caption + "\n", encoding="utf-8")
    if with_captions:
        for note in NOTES:
            shutil.copy2(ROOT / "samples" / "texts" / note, folder / note)


def index(folder: Path, index_dir: Path, model: str) -> None:
    from searchengine.config import cache_dir
    from searchengine.ingest.run import sync_folder
    from searchengine.ingest.settings import IngestSettings

    sync_folder(
        folder, index_dir, IngestSettings(model=model, language="en"), cache_dir=cache_dir()
    )  # a no-op when reused


def half_size_copy(path: Path, out: Path, jpeg: bool) -> Path:
    from PIL import Image

    from searchengine.media.images import load_image

    image = load_image(path)
    small = image.convert("RGB").resize((max(1, image.width // 2), max(1, image.height // 2)), Image.LANCZOS)
    target = out / (path.stem + (".jpg" if jpeg else ".png"))
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=75) if jpeg else small.save(buffer, "PNG")
    target.write_bytes(buffer.getvalue())
    return target


# --- queries ----------------------------------------------------------------------------------
def run_text(searcher, text: str, right, split: str, present: bool) -> dict:
    """One text query, --type any and --type image, as rows of (right, kind, evidence, confidence)."""
    from searchengine.query import Filters, Query

    vector, kind = searcher.embed_query(Query(text=text))
    row = {"query": text, "split": split, "present": present, "query_kind": kind}
    for name, filters in (("any", Filters()), ("image", Filters(kind="image"))):
        row[name] = [hit_row(h, e, right) for h, e in searcher.assessed(vector, kind, filters, K)]
    product_step, row["any_image_right_by_step"] = searcher.kind_step, {}
    for step in KIND_STEPS:  # how kinds interleave in --type any (fusion.interleave_kinds)
        searcher.kind_step = step
        hits = searcher.search_vector(vector, kind, Filters(), K)
        row["any_image_right_by_step"][str(step)] = any(right(h) and h.kind == "image" for h in hits)
    searcher.kind_step = product_step
    cut = searcher.search_vector(vector, kind, Filters(kind="image", min_score=None), K)
    row["image_no_cutoff"] = [bool(right(h)) for h in cut]
    return row


def hit_row(hit, evidence, right) -> dict:
    return {
        "right": bool(right(hit)),
        "kind": hit.kind,
        "score": hit.score,
        "raw": hit.raw_score,
        "confidence": hit.confidence,
        "features": evidence.features().round(4).tolist(),
        "near_copy": evidence.near_copy,
        "path": Path(hit.path).name,
    }


def encoder_trained_on(dataset: Path, model_id: str) -> tuple[set[str], set[str]]:
    """The Tux Paint stamps (by caption, lower case) and captions the model's head was trained on:
    bundled lit-v1, lit-v2 and the multilingual head saw the dataset's train split (split.json,
    seeded), so their scores there are not what a user's own pictures get. Empty for other models."""
    if model_id not in TRAINED_ON_TUXPAINT_TRAIN:
        return set(), set()
    train = set(json.loads((dataset / "split.json").read_text())["train"])
    stamps = {caption for caption, pair in concepts_of(dataset) if pair["image"] in train}
    pairs = [json.loads(line) for line in (dataset / "pairs.jsonl").read_text().splitlines() if line.strip()]
    captions = {p["captions"][0].strip().lower() for p in pairs if p["image"] in train}
    return stamps, captions


def tux_rows(searcher, listing: dict, trained: tuple[set[str], set[str]]) -> list[dict]:
    """The caption queries; each hit also says whether its own concept's caption shares a content
    word with the query ("A tent." and the stamp of "A medieval tent."): a near miss, not noise.
    Each row says whether the encoder was trained on its subject (`encoder_trained`: a present
    subject's stamp, an absent subject's caption), see encoder_trained_on."""
    stamps, trained_captions = trained
    captions = {stem: caption for caption, stem, _ in listing["present"]}
    rows = []
    for caption, stem, split in listing["present"]:
        rows.append(
            run_text(searcher, caption, lambda h, s=stem: Path(h.path).stem == s, split, True)
            | {"collection": "tuxpaint", "target_image": f"{stem}.png"}
            | {"encoder_trained": caption.strip().lower() in stamps}
        )
    for caption, split in listing["absent"]:
        rows.append(
            run_text(searcher, caption, lambda h: False, split, False)
            | {"collection": "tuxpaint", "encoder_trained": caption.strip().lower() in trained_captions}
        )
    for row in rows:
        for hit in row["any"] + row["image"]:
            shared = content_words(row["query"]) & content_words(captions.get(Path(hit["path"]).stem, ""))
            hit["shares_a_word"] = bool(shared)
    return rows


def photo_rows(searcher, dataset: Path, collection: str, style: str) -> list[dict]:
    pairs, val = photo_pairs(dataset)
    rows = []
    for i, pair in enumerate(pairs):
        name = photo_name(pair["image"])
        stem = Path(name).stem
        split = "tune" if pair["image"] in val and style == "short" else "held-out"
        if collection == "photos-mixed":  # half its photos choose how kinds interleave (KIND_STEPS)
            split = "tune" if i % 2 == 0 else "held-out"
        right = lambda h, n=name, s=stem: Path(h.path).name == n or Path(h.path).stem.startswith(s + "-")  # noqa: E731
        texts = pair["captions"] if style == "short" else [photo_queries.DESCRIPTIVE[pair["image"]]]
        for text in texts:
            rows.append(run_text(searcher, text, right, split, True) | {"collection": collection, "target_image": name})
    absent = photo_queries.ABSENT_SHORT if style == "short" else photo_queries.ABSENT_DESCRIPTIVE
    for i, text in enumerate(absent):
        split = ("tune" if i % 2 == 0 else "held-out") if style == "short" else "held-out"
        rows.append(run_text(searcher, text, lambda h: False, split, False) | {"collection": collection})
    return rows


def photos2_rows(searcher, dataset: Path) -> list[dict]:
    """photos2: one query per photo in a searcher's words; absent subjects: the descriptive ones
    whose subject is in none of its photos. Never tuned on: every query is held out."""
    pairs = [json.loads(line) for line in (dataset / "pairs.jsonl").read_text().splitlines() if line.strip()]
    rows = []
    for pair in pairs:
        name = photo_name(pair["image"])
        rows.append(
            run_text(searcher, pair["captions"][0], lambda h, n=name: Path(h.path).name == n, "held-out", True)
            | {"collection": "photos2", "target_image": name}
        )
    for text in photo_queries.ABSENT_DESCRIPTIVE:
        if not any(word in text for word in PHOTOS2_HAS):
            rows.append(run_text(searcher, text, lambda h: False, "held-out", False) | {"collection": "photos2"})
    return rows


def image_rows(searcher, originals: list[Path], copies: Path, collection: str, jpeg: bool) -> list[dict]:
    """Each original (indexed: a byte-identical file) and a half-size copy of it, --type any."""
    from searchengine.query import Query

    copies.mkdir(parents=True, exist_ok=True)
    rows = []
    for path in originals:
        for variant, query_path in (("identical", path), ("half-size copy", half_size_copy(path, copies, jpeg))):
            hits = searcher.search(Query(image=query_path), k=3)
            rows.append(
                {
                    "collection": collection,
                    "variant": variant,
                    "image": path.name,
                    "first": bool(hits) and Path(hits[0].path).name == path.name,
                    "first_kind": hits[0].kind if hits else None,
                    "first_confidence": hits[0].confidence if hits else None,
                }
            )
    return rows


def caption_rows(searcher, photos: list[Path]) -> list[dict]:
    """Each photo of photos-mixed as the query, --type text: is its own caption the best text, and
    how sure is the product of that best text ("which text describes this picture")."""
    from searchengine.query import Filters, Query

    rows = []
    for path in photos:
        hits = searcher.search(Query(image=path), Filters(kind="text"), k=1)
        right = bool(hits) and Path(hits[0].path).stem.startswith(path.stem + "-")
        rows.append({"image": path.name, "right": right, "confidence": hits[0].confidence if hits else None})
    return rows


def caption_report(rows: list[dict]) -> dict:
    high = [r for r in rows if r["confidence"] == "high"]
    return {
        "queries": len(rows),
        "own_caption_first": mean(r["right"] for r in rows),
        "right_first_labelled_high": mean(r["confidence"] == "high" for r in rows if r["right"]),
        "high_first": len(high),
        "precision_of_high_first": mean(r["right"] for r in high),
        "levels_of_wrong_first": {
            lvl: sum(1 for r in rows if not r["right"] and r["confidence"] == lvl) for lvl in ("high", "medium", "low")
        },
    }


# --- measures ---------------------------------------------------------------------------------
def mean(xs) -> float | None:
    xs = list(xs)
    return round(float(np.mean(xs)), 3) if xs else None


def auc(positive, negative) -> float | None:
    """ROC AUC: the chance a present query's value exceeds an absent one's (ties count half)."""
    pos, neg = np.asarray(list(positive), float), np.asarray(list(negative), float)
    if not len(pos) or not len(neg):
        return None
    greater = (pos[:, None] > neg[None, :]).mean()
    ties = (pos[:, None] == neg[None, :]).mean()
    return round(float(greater + 0.5 * ties), 3)


def recall(hits: list[dict], kind: str | None = None) -> float:
    return float(any(h["right"] and (kind is None or h["kind"] == kind) for h in hits[:K]))


def report(rows: list[dict], model) -> dict:
    from searchengine import confidence

    present = [r for r in rows if r["present"]]
    absent = [r for r in rows if not r["present"]]
    out = {"queries_present": len(present), "queries_absent": len(absent)}
    alone = mean(recall(r["image"]) for r in present)
    out["recall@10_image"] = {
        "default": alone,
        "no_cutoff": mean(float(any(r["image_no_cutoff"])) for r in present),
        "any_images_only": mean(recall(r["any"], "image") for r in present),
        "any_right_answer_of_any_kind": mean(recall(r["any"]) for r in present),
    }
    out["recall@10_image"]["default_over_no_cutoff"] = _ratio(alone, out["recall@10_image"]["no_cutoff"])
    out["recall@10_image"]["any_over_alone"] = _ratio(out["recall@10_image"]["any_images_only"], alone)

    def levels(hit):
        return confidence.assess([_evidence(hit)], model)[0]

    for view in ("any", "image"):
        tops = [(r, r[view][0]) for r in rows if r[view]]
        right_top = [t for r, t in tops if r["present"] and t["right"]]
        high = [(r, t) for r, t in tops if levels(t) == "high"]
        p = lambda t: float(confidence.probability(np.array([t["features"]]), model)[0]) if not t["near_copy"] else 1.0  # noqa: E731
        out[f"top_hit_{view}"] = {
            "right_top1_share": mean(float(r["present"] and t["right"]) for r, t in tops),
            "right_top1_labelled_high": mean(levels(t) == "high" for t in right_top),
            "absent_without_high_top": mean(levels(t) != "high" for r, t in tops if not r["present"]),
            "absent_with_low_top": mean(levels(t) == "low" for r, t in tops if not r["present"]),
            "high_top_hits": len(high),
            "precision_of_high_top_hits": mean(float(t["right"]) for _, t in high),
            "precision_of_high_top_hits_near_misses_right": mean(
                float(t["right"] or t["shares_a_word"]) for _, t in high if "shares_a_word" in t
            ),
            "auc_present_vs_absent": {
                "confidence": auc([p(t) for r, t in tops if r["present"]], [p(t) for r, t in tops if not r["present"]]),
                "calibrated_score": auc(
                    [t["score"] for r, t in tops if r["present"]], [t["score"] for r, t in tops if not r["present"]]
                ),
            },
        }
    every = [h for r in rows for h in r["any"]]
    high_hits = [h for h in every if levels(h) == "high"]
    out["all_hits_any"] = {
        "hits": len(every),
        "high": len(high_hits),
        "precision_of_high": mean(h["right"] for h in high_hits),
        "right_hits_labelled_high": mean(levels(h) == "high" for h in every if h["right"]),
    }
    return out


def intervals(rows: list[dict], model, draws: int = 2000, seed: int = 0) -> dict:
    """95 % bootstrap intervals (queries drawn with replacement, seeded) of the three confidence
    targets for the best hit of --type any: how far the held-out numbers can move by chance."""
    from searchengine import confidence

    tops = [(r["present"], r["any"][0]) for r in rows if r["any"]]
    present = np.array([p for p, _ in tops])
    right = np.array([bool(p and t["right"]) for p, t in tops])
    high = np.array([confidence.assess([_evidence(t)], model)[0] == "high" for _, t in tops])
    rng = np.random.default_rng(seed)
    values: dict[str, list[float]] = {
        "right_top1_labelled_high": [],
        "precision_of_high_top_hits": [],
        "absent_without_high_top": [],
    }
    for _ in range(draws):
        i = rng.integers(0, len(tops), len(tops))
        r, h, a = right[i], high[i], ~present[i]
        if r.any() and h.any() and a.any():
            values["right_top1_labelled_high"].append((r & h).sum() / r.sum())
            values["precision_of_high_top_hits"].append((r & h).sum() / h.sum())
            values["absent_without_high_top"].append((a & ~h).sum() / a.sum())
    return {name: [round(float(np.percentile(v, q)), 3) for q in (2.5, 97.5)] for name, v in values.items()}


def _ratio(a, b):
    return None if a is None or not b else round(a / b, 3)


def _evidence(hit: dict):
    from searchengine.confidence import Evidence

    z, z_prior, lead, cross, margin = hit["features"]
    return Evidence(z=z, z_prior=z_prior, lead=lead, cross=bool(cross), near_copy=hit["near_copy"], margin=margin)


def kind_steps(rows: list[dict]) -> dict:
    """--type any's images R@10 over images alone, per interleave step, collection and split; the
    step chosen: the best lowest ratio over the mixed collections' tune halves (ties: the smaller)."""
    mixed = ("tuxpaint", "photos-mixed")
    ratios = {
        f"{name} / {split}": {
            str(step): _ratio(
                mean(r["any_image_right_by_step"][str(step)] for r in present),
                mean(recall(r["image"]) for r in present),
            )
            for step in KIND_STEPS
        }
        for name in mixed
        for split in ("tune", "held-out")
        if (present := [r for r in rows if r["collection"] == name and r["split"] == split and r["present"]])
    }
    worst = {str(step): min(ratios[f"{name} / tune"][str(step)] for name in mixed) for step in KIND_STEPS}
    chosen = max(KIND_STEPS, key=lambda step: (worst[str(step)], -step))
    return {"any_images_over_alone": ratios, "chosen_on_tune": chosen}


# --- fitting ----------------------------------------------------------------------------------
def monotone_logistic(x: np.ndarray, y: np.ndarray, free: list[int], l2: float = 1.0) -> tuple[float, list[float]]:
    """Logistic regression (L2 penalty `l2` on the weights, as scikit-learn's C=1) with every weight
    but those in `free` held at 0 or more (L-BFGS-B bounds)."""
    from scipy.optimize import minimize

    def loss(w):
        p = 1.0 / (1.0 + np.exp(-(x @ w[1:] + w[0])))
        value = -np.sum(y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12)) + 0.5 * l2 * np.sum(w[1:] ** 2)
        return value, np.concatenate([[np.sum(p - y)], x.T @ (p - y) + l2 * w[1:]])

    bounds = [(None, None)] + [(None, None) if i in free else (0.0, None) for i in range(x.shape[1])]
    w = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, bounds=bounds, method="L-BFGS-B").x
    return float(w[0]), [float(v) for v in w[1:]]


def fit_data(rows: list[dict], features: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The best hit of each tune row and view (near copies aside): its features, whether it is right."""
    from searchengine.confidence import FEATURES

    columns = [FEATURES.index(name) for name in features]
    hits = [r[view][0] for r in rows for view in ("any", "image") if r[view] and not r[view][0]["near_copy"]]
    return np.array([[h["features"][c] for c in columns] for h in hits]), np.array([h["right"] for h in hits], float)


def monotone_fit(rows: list[dict], features: tuple[str, ...]) -> tuple[float, list[float]]:
    x, y = fit_data(rows, features)
    return monotone_logistic(x, y, free=[i for i, name in enumerate(features) if name == "cross"])


def cross_validate(rows: list[dict], feature_sets=FEATURE_SETS, folds: int = 5, repeats: int = 5) -> dict:
    """Each feature set's log-loss and ROC AUC (right vs wrong best hits) out of fold, over the tune
    rows only: how the features fitted are chosen."""
    tune = [r for r in rows if r["split"] == "tune"]
    rng = np.random.default_rng(0)
    orders = [rng.permutation(len(tune)) for _ in range(repeats)]  # the same folds for every set
    out = {}
    for features in feature_sets:
        losses, aucs = [], []
        for order in orders:
            ps, ys = [], []
            for held in np.array_split(order, folds):
                held_set = set(held.tolist())
                bias, weights = monotone_fit([tune[i] for i in order if i not in held_set], features)
                x, y = fit_data([tune[i] for i in held], features)
                ps.append(1.0 / (1.0 + np.exp(-(bias + x @ np.array(weights)))))
                ys.append(y)
            p, y = np.concatenate(ps), np.concatenate(ys)
            losses.append(-np.mean(y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12)))
            aucs.append(auc(p[y == 1], p[y == 0]))  # rounded to 0.001
        out[" + ".join(features)] = {
            "log_loss": round(float(np.mean(losses)), 4),
            "auc": round(float(np.mean(aucs)), 4),
        }
    return out


def fit(rows: list[dict], near_copy: float, features: tuple[str, ...]):
    """Logistic regression on the top hits of the tune rows (what a user judges first, and what the
    targets are about), thresholds chosen on them too. Only `features` are fitted (the rest weigh
    0). Every feature but `cross` is evidence that can only raise the
    confidence (a higher score, a wider margin), so its weight is held at 0 or more: unconstrained,
    the correlated scores took weights of opposite signs, and an obvious match outside the
    benchmarks (a memo found by its own title, z 4.6) fell to "low"."""
    from searchengine.confidence import FEATURES, ModelConfidence, probability

    tune = [r for r in rows if r["split"] == "tune"]
    bias, fitted = monotone_fit(tune, features)
    weights = dict(zip(features, fitted))
    model = ModelConfidence(
        bias=round(bias, 3),
        weights=tuple(round(weights.get(name, 0.0), 3) for name in FEATURES),
        high=1.0,
        medium=1.0,
        near_copy=near_copy,
    )
    tops = [(r, r[view][0]) for r in tune for view in ("any", "image") if r[view]]
    ps = np.array([probability(np.array([t["features"]]), model)[0] for _, t in tops])
    right = np.array([t["right"] for _, t in tops])
    high = next(
        (
            float(t)
            for t in np.round(np.arange(0.05, 1.0, 0.01), 2)
            if (ps >= t).sum() >= 5 and right[ps >= t].mean() >= HIGH_PRECISION
        ),
        0.95,
    )
    absent_p = np.array([p for (r, _), p in zip(tops, ps) if not r["present"]])
    medium = round(min(float(np.median(absent_p)), high - 0.05), 2) if len(absent_p) else 0.3
    return ModelConfidence(bias=model.bias, weights=model.weights, high=high, medium=medium, near_copy=near_copy)


def plot(rows: list[dict], model, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from searchengine.confidence import probability

    collections = sorted({r["collection"] for r in rows})
    fig, axes = plt.subplots(2, len(collections), figsize=(4.2 * len(collections), 6.4), squeeze=False)
    for i, name in enumerate(collections):
        held = [
            r
            for r in rows
            if r["collection"] == name and r["split"] == "held-out" and r["any"] and not r.get("encoder_trained")
        ]
        for row_axis, (label, value, bins) in enumerate(
            (
                (
                    "confidence (P right)",
                    lambda t: probability(np.array([t["features"]]), model)[0],
                    np.linspace(0, 1, 21),
                ),
                ("calibrated score", lambda t: t["score"], 20),
            )
        ):
            ax = axes[row_axis][i]
            present = [value(r["any"][0]) for r in held if r["present"]]
            absent = [value(r["any"][0]) for r in held if not r["present"]]
            ax.hist(
                [present, absent], bins=bins, label=["present subject", "absent subject"], color=["#2f6fdf", "#d9822b"]
            )
            if row_axis == 0:
                ax.axvline(model.high, color="k", ls="--", lw=1)
                ax.axvline(model.medium, color="grey", ls=":", lw=1)
                ax.set_title(f"{name} (held-out{', unseen stamps' if name == 'tuxpaint' else ''})")
            ax.set_xlabel(f"top hit's {label}")
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Best hit of each query (--type any): present vs absent subjects; dashed: high, dotted: medium")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# --- main -------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tuxpaint", type=Path, default=ROOT / "indexes" / "datasets" / "tuxpaint")
    parser.add_argument("--photos", type=Path, default=ROOT / "indexes" / "datasets" / "photos")
    parser.add_argument("--photos2", type=Path, default=ROOT / "indexes" / "datasets" / "photos2")
    parser.add_argument("--work", type=Path, default=ROOT / "indexes" / "relevance")
    parser.add_argument("--model", default="bundled")
    parser.add_argument("--fit", action="store_true", help="fit confidence constants on the tune halves and print them")
    parser.add_argument("--save", action="store_true")
    parser.add_argument("--name", default="relevance", help="results/NAME.json (and NAME-confidence.png)")
    parser.add_argument("--plot", action="store_true")
    args = parser.parse_args()

    from searchengine import confidence
    from searchengine.config import cache_dir
    from searchengine.eval.measure import machine, save_result, to_json
    from searchengine.query import Searcher

    started = time.perf_counter()
    work = args.work
    tux = work / "tuxpaint"
    listing_path = tux / "queries.json"
    if not listing_path.exists():
        present, absent = build_collection(args.tuxpaint, tux / "collection")
        listing_path.write_text(json.dumps({"present": present, "absent": absent}))
    listing = json.loads(listing_path.read_text())
    index(tux / "collection", tux / "index", args.model)
    for name, captions in (("photos", False), ("photos-mixed", True)):
        if not (work / name / "collection").exists():
            build_photos(args.photos, work / name / "collection", captions)
        index(work / name / "collection", work / name / "index", args.model)
    if not (work / "photos2" / "collection").exists():
        build_photos(args.photos2, work / "photos2" / "collection", with_captions=False)
    index(work / "photos2" / "collection", work / "photos2" / "index", args.model)

    rows, image_queries = [], []
    searcher = Searcher.open(tux / "index", cache_dir=cache_dir())
    rows += tux_rows(searcher, listing, encoder_trained_on(args.tuxpaint, searcher.encoder.id))
    stamps = sorted((tux / "collection" / "image").glob("*.png"))[::4]
    image_queries += image_rows(searcher, stamps, work / "copies" / "tuxpaint", "tuxpaint", jpeg=False)
    model_id = searcher.encoder.id
    searcher.close()
    searcher = Searcher.open(work / "photos" / "index", cache_dir=cache_dir())
    rows += photo_rows(searcher, args.photos, "photos", "short")
    rows += photo_rows(searcher, args.photos, "photos-descriptive", "descriptive")
    searcher.close()
    searcher = Searcher.open(work / "photos-mixed" / "index", cache_dir=cache_dir())
    rows += photo_rows(searcher, args.photos, "photos-mixed", "descriptive")
    photos = sorted((work / "photos-mixed" / "collection" / "photos").iterdir())
    image_queries += image_rows(searcher, photos, work / "copies" / "photos", "photos-mixed", jpeg=True)
    captions = caption_rows(searcher, photos)
    searcher.close()
    searcher = Searcher.open(work / "photos2" / "index", cache_dir=cache_dir())
    rows += photos2_rows(searcher, args.photos2)
    searcher.close()
    (work / "rows.json").write_text(json.dumps(rows))

    model = confidence.for_model(model_id)
    result = {
        "model": model_id,
        "constants": model.__dict__ | {"weights": list(model.weights)},
        "features": list(confidence.FEATURES),
    }
    if args.fit:
        fit_rows = [r for r in rows if r["collection"] in ("tuxpaint", "photos") and not r.get("encoder_trained")]
        result["feature_sets_out_of_fold"] = cross_validate(fit_rows)
        print(f"feature sets, out of fold on tune: {json.dumps(result['feature_sets_out_of_fold'])}", file=sys.stderr)
        scores = result["feature_sets_out_of_fold"]
        chosen = max(FEATURE_SETS, key=lambda f: (scores[" + ".join(f)]["auc"], -len(f)))
        fitted = fit(fit_rows, model.near_copy, chosen)
        result["fitted_features"] = list(chosen)
        result["fitted_on_tune"] = fitted.__dict__ | {"weights": list(fitted.weights)}
        print(f"fitted: {fitted}", file=sys.stderr)
    result["collections"] = {}
    for name in sorted({r["collection"] for r in rows}):
        of = [r for r in rows if r["collection"] == name]
        result["collections"][name] = {
            label: report(chosen, model)
            for label, chosen in (
                ("tune", [r for r in of if r["split"] == "tune" and not r.get("encoder_trained")]),
                ("held-out", [r for r in of if r["split"] == "held-out" and not r.get("encoder_trained")]),
                (
                    "held-out, encoder trained on",
                    [r for r in of if r["split"] == "held-out" and r.get("encoder_trained")],
                ),
            )
            if chosen
        }
    held = [r for r in rows if r["split"] == "held-out"]
    result["all_held_out"] = report([r for r in held if not r.get("encoder_trained")], model)
    result["all_held_out"]["top_hit_any"]["ci95"] = intervals([r for r in held if not r.get("encoder_trained")], model)
    result["all_held_out_with_encoder_trained"] = report(held, model)
    result["kind_step"] = kind_steps(rows)
    result["image_queries"] = {
        f"{c} / {v}": {
            "queries": len(q),
            "first": mean(r["first"] for r in q),
            "first_high": mean(r["first"] and r["first_confidence"] == "high" for r in q),
        }
        for c in sorted({r["collection"] for r in image_queries})
        for v in ("identical", "half-size copy")
        if (q := [r for r in image_queries if r["collection"] == c and r["variant"] == v])
    }
    result["image_to_caption"] = caption_report(captions)
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["machine"] = machine()
    print(to_json(result))
    if args.save:
        save_result(result, args.name)
    if args.plot:
        plot(rows, model, ROOT / "benchmarks" / "results" / f"{args.name}-confidence.png")


if __name__ == "__main__":
    main()
