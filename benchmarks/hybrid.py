"""Hybrid search benchmark: are codes, names and phrases found as typed, and does meaning still rank as before?

Three parts, in one run:

1. Exact tokens: notes generated from a seed (400 a seed), each with rare tokens a user searches
   for: an order code ("ZX81-4471-QP"), a surname, often a car plate or a password, a file name
   of its own ("budget_review_0412.txt"), and prose. Queries (15 of each category a seed): the whole
   code, a part of it ("4471", "ZX81-4471"), the password, the plate, the surname, the file-name
   stem, and a quoted five-word phrase of the note. Right answer: the note, first. Indexed with the
   real (bundled) model. Every fusion setting is run; one is chosen on the tune seed (best exact
   top-1 whose semantic recall on the tune halves below stays within 1 point of meaning alone)
   and reported on the held-out seed.
2. Semantic recall: the Tux Paint and photo collections of benchmarks/relevance.py (its indexes
   and rows.json, copied here so the original is not upgraded), their present-subject queries
   ranked by meaning alone (as before) and hybrid: recall@10 and top-1, per split; Tux Paint also
   with --type image (its stamps' names hold no words: the images' ranking by meaning alone).
3. Scale: 100,000 synthetic passages (700 characters of Zipf-distributed words, one code each;
   random 384-dimensional vectors, the bundled model's size; the demo encoder embeds the
   queries): warm query latency, hybrid and by meaning alone in the same run, and the catalog's
   size with the word index against the same catalog without it (tables dropped, VACUUM), and
   with a trigram table instead (what finding parts inside a run of letters and digits costs).

    python benchmarks/relevance.py --work indexes/relevance          # once: the semantic sets
    python benchmarks/hybrid.py [--relevance indexes/relevance] [--work indexes/hybrid] [--save]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import string
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TUNE_SEED, HELD_OUT_SEED = 1, 2
NOTES = 400
PER_CATEGORY = 15
K = 10
GRID = [("blend", w, f) for f in (0.0, 0.5) for w in (2.0, 4.0, 6.0, 8.0, 12.0)]
GRID += [("rrf", w, 0.0) for w in (0.5, 1.0, 2.0)]
CATEGORIES = ("code", "code part", "password", "plate", "surname", "file-name stem", "quoted phrase")

# --- 1. generated notes -----------------------------------------------------------------------------
TOPICS = {
    "order": "the order was packed and shipped from the warehouse after the customer called about the delay",
    "invoice": "the invoice lists the parts, the hours of labour and the tax, payable within thirty days",
    "garage": "the mechanic replaced the brake pads and checked the tyres before the car went back",
    "travel": "the train left late, so we missed the connection and spent the night near the station",
    "budget": "the budget meeting moved the spending on software to next quarter and cut the travel costs",
    "doctor": "the appointment is on tuesday morning, bring the insurance card and the list of medicines",
    "account": "the new account for the shared drive needs a password that is changed every ninety days",
    "school": "the parents evening starts at six, teachers will talk about the reports and the trip",
    "rental": "the flat has two rooms and a balcony, the deposit is returned when the keys come back",
    "garden": "plant the tomatoes after the last frost and water them every evening during the summer",
}
WORDS = (
    "red blue old new small large quiet busy early late north south river hill market bridge lamp window "
    "door table letter parcel engine ticket harbour meadow orchard kettle ladder candle blanket pillow "
    "mirror basket cabinet garden corner village tower castle island forest valley meadow canyon"
).split()
SYLLABLES = "ka lo mi ne ru sa te vo zu ber dan fel gor hin jak kor lin mar nov pet rak sel tov wen"


def _surname(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES.split()) for _ in range(3)).capitalize() + rng.choice(
        ("ski", "sen", "ez", "ova")
    )


def _code(rng: random.Random) -> str:
    letters = string.ascii_uppercase
    return (
        f"{rng.choice(letters)}{rng.choice(letters)}{rng.randint(10, 99)}-{rng.randint(1000, 9999)}-"
        f"{rng.choice(letters)}{rng.choice(letters)}"
    )


def _plate(rng: random.Random) -> str:
    letters = string.ascii_uppercase
    return (
        f"{rng.choice(letters)}{rng.choice(letters)}-{rng.choice(letters)}{rng.choice(letters)} {rng.randint(100, 999)}"
    )


def _password(rng: random.Random) -> str:
    pool = string.ascii_letters + string.digits
    return "".join(rng.choice(pool) for _ in range(10))


def generate(seed: int, n: int = NOTES) -> tuple[dict[str, str], list[dict]]:
    """{file name: text} of n notes and the queries ({query, category, right: file name})."""
    from searchengine.lexical import contains, words

    rng = random.Random(seed)
    notes: dict[str, str] = {}
    facts: list[dict] = []
    used: set[str] = set()  # codes, their parts, surnames, plates: each names one note

    def unique(make):
        while True:
            value = make(rng)
            parts = {value, *value.split("-")[:2]} if make is _code else {value}
            if not parts & used:
                used.update(parts)
                return value

    for _ in range(n):
        topic = rng.choice(list(TOPICS))
        code, surname = unique(_code), unique(_surname)
        plate = unique(_plate) if rng.random() < 0.4 else None
        password = _password(rng) if rng.random() < 0.3 else None
        stem = f"{topic}_{rng.choice(WORDS)}_{rng.randint(1000, 9999)}"
        while stem + ".txt" in notes:
            stem = f"{topic}_{rng.choice(WORDS)}_{rng.randint(1000, 9999)}"
        extra = " ".join(rng.choice(WORDS) for _ in range(6))
        lines = [
            f"Note about the {topic}: {TOPICS[topic]}.",
            f"Reference {code}, handled by {surname}.",
            f"We talked about the {extra} and agreed to meet again.",
        ]
        if plate:
            lines.append(f"The car with plate {plate} was parked by the {rng.choice(WORDS)} gate.")
        if password:
            lines.append(f"The password for the portal is {password} until further notice.")
        notes[stem + ".txt"] = "\n".join(lines) + "\n"
        facts.append(
            {
                "name": stem + ".txt",
                "code": code,
                "surname": surname,
                "plate": plate,
                "password": password,
                "stem": stem,
                "phrase": f"the {extra}".split()[:5],
            }
        )
    tokens = {name: words(text) for name, text in notes.items()}
    queries = []
    picks = {c: rng.sample(facts, len(facts)) for c in CATEGORIES}
    for category in CATEGORIES:
        chosen = []
        for fact in picks[category]:
            if len(chosen) == PER_CATEGORY:
                break
            if category == "code":
                text = fact["code"]
            elif category == "code part":
                parts = fact["code"].split("-")
                text = parts[1] if len(chosen) % 2 else f"{parts[0]}-{parts[1]}"
            elif category in ("password", "plate", "surname"):
                text = fact[category]
            elif category == "file-name stem":
                text = fact["stem"]
            else:
                phrase = tuple(words(" ".join(fact["phrase"])))
                if sum(contains(t, phrase) for t in tokens.values()) != 1:
                    continue
                text = '"' + " ".join(fact["phrase"]) + '"'
            if not text:
                continue
            chosen.append({"query": text, "category": category, "right": fact["name"]})
        queries += chosen
    return notes, queries


def build_notes(seed: int, work: Path) -> tuple[Path, list[dict]]:
    from searchengine.config import cache_dir
    from searchengine.ingest.run import sync_folder
    from searchengine.ingest.settings import IngestSettings

    folder, index = work / f"notes-seed{seed}", work / f"notes-seed{seed}-index"
    notes, queries = generate(seed)
    if not folder.exists():
        folder.mkdir(parents=True)
        for name, text in notes.items():
            (folder / name).write_text(text, encoding="utf-8")
    sync_folder(folder, index, IngestSettings(model="bundled", language="en"), cache_dir=cache_dir())
    return index, queries


# --- running queries ------------------------------------------------------------------------------
def configure(searcher, setting) -> str:
    """Set the searcher's fusion for a setting ("meaning", "words" or (method, weight)); its mode."""
    from searchengine import hybrid
    from searchengine.query import HYBRID, MEANING, WORDS

    if setting in ("meaning", "words"):
        return MEANING if setting == "meaning" else WORDS
    method, weight, floor = setting
    searcher.fusion = hybrid.Fusion(method=method, weight=weight, floor=floor)
    return HYBRID


def label(setting) -> str:
    if isinstance(setting, str):
        return setting
    method, weight, floor = setting
    return f"{method} {weight:g}" + (f" floor {floor:g}" if floor else "")


def ranks(searcher, queries: list[dict], right, setting, kind: str = "any") -> list[int | None]:
    """The 1-based rank of each query's first right hit in the top K (None: not there)."""
    from searchengine.query import Filters, Query

    mode = configure(searcher, setting)
    out = []
    for q in queries:
        hits = searcher.search(Query(text=q["query"]), Filters(kind=kind), K, mode=mode)
        out.append(next((h.rank for h in hits if right(q, h)), None))
    return out


def top1(found: list[int | None]) -> float:
    return round(sum(r == 1 for r in found) / max(len(found), 1), 4)


def recall(found: list[int | None]) -> float:
    return round(sum(r is not None for r in found) / max(len(found), 1), 4)


def exact_tokens(work: Path, settings) -> dict:
    from searchengine.config import cache_dir
    from searchengine.query import Searcher

    result = {}
    for split, seed in (("tune", TUNE_SEED), ("held-out", HELD_OUT_SEED)):
        index, queries = build_notes(seed, work)
        searcher = Searcher.open(index, cache_dir=cache_dir())
        per = {}
        for setting in settings:
            found = ranks(searcher, queries, lambda q, h: Path(h.path).name == q["right"], setting)
            per[label(setting)] = {
                "top1": top1(found),
                "by_category": {c: top1([r for r, q in zip(found, queries) if q["category"] == c]) for c in CATEGORIES},
            }
        searcher.close()
        result[split] = {"seed": seed, "notes": NOTES, "queries": len(queries), "settings": per}
    return result


def semantic_sets(relevance: Path, work: Path, settings) -> dict:
    """Recall@10 and top-1 of the present-subject queries of relevance.py's collections."""
    from searchengine.config import cache_dir
    from searchengine.query import Searcher

    rows = json.loads((relevance / "rows.json").read_text())
    result = {}
    for collection, index_name, kind in (
        ("tuxpaint", "tuxpaint", "any"),
        ("tuxpaint", "tuxpaint", "image"),  # the stamps alone: names without words, ranked by meaning
        ("photos", "photos", "any"),
        ("photos-descriptive", "photos", "any"),
        ("photos-mixed", "photos-mixed", "any"),
    ):
        copy = work / "relevance" / index_name / "index"
        if not copy.exists():
            shutil.copytree(relevance / index_name / "index", copy)
        queries = [r for r in rows if r["collection"] == collection and r["present"]]
        if collection == "tuxpaint":

            def right(q, h):
                return Path(h.path).stem == Path(q["target_image"]).stem
        else:

            def right(q, h):
                stem = Path(q["target_image"]).stem
                return Path(h.path).name == q["target_image"] or Path(h.path).stem.startswith(stem + "-")

        searcher = Searcher.open(copy, cache_dir=cache_dir())
        per = {}
        for setting in settings:
            found = ranks(searcher, queries, right, setting, kind)
            per[label(setting)] = {
                split: {"R@10": recall(f), "top1": top1(f), "queries": len(f)}
                for split in ("tune", "held-out")
                if (f := [r for r, q in zip(found, queries) if q["split"] == split])
            }
        searcher.close()
        result[collection if kind == "any" else f"{collection} --type {kind}"] = per
    return result


def choose(exact: dict, semantic: dict, settings) -> str:
    """The fusion setting with the best exact-token top-1 on the tune seed whose semantic recall@10
    on every tune half stays within 1 point of meaning alone. Ties: a blend (its score stays a
    calibrated score) with the larger weight (in a larger collection the best loose neighbour of a
    code scores higher by chance: 100,000 passages put one near 4.5 standard deviations)."""
    baseline = {c: s["meaning"]["tune"]["R@10"] for c, s in semantic.items() if "tune" in s["meaning"]}
    best, best_key = None, None
    for setting in settings:
        if isinstance(setting, str):
            continue
        name = label(setting)
        if not all(semantic[c][name]["tune"]["R@10"] >= baseline[c] - 0.01 for c in baseline):
            continue
        key = (exact["tune"]["settings"][name]["top1"], setting[0] == "blend", setting[1], setting[2])
        if best_key is None or key > best_key:
            best, best_key = name, key
    return best


# --- 3. scale -----------------------------------------------------------------------------------------
def synthetic(n: int, seed: int = 7) -> tuple[list[str], list[str], list[str]]:
    """n passages of Zipf-distributed pseudo-words (about 700 characters, one code each), and the codes."""
    rng = np.random.default_rng(seed)
    syllables = SYLLABLES.split()
    vocab = sorted({"".join(rng.choice(syllables, size=rng.integers(1, 4))) for _ in range(40_000)})
    weights = 1.0 / np.arange(1, len(vocab) + 1)
    weights /= weights.sum()
    picks = rng.choice(len(vocab), size=(n, 110), p=weights)
    pyrng = random.Random(seed)
    codes = [_code(pyrng) for _ in range(n)]
    passages = [
        " ".join(vocab[j] for j in row[:55]) + f" {codes[i]} " + " ".join(vocab[j] for j in row[55:])
        for i, row in enumerate(picks)
    ]
    return passages, codes, vocab


def build_scale(folder: Path, n: int, dim: int = 384) -> tuple[list[str], list[str], list[str]]:
    from searchengine.store.folder import IndexFolder
    from searchengine.store.records import ItemDraft, SegmentDraft

    passages, codes, vocab = synthetic(n)
    if not (folder / "manifest.json").exists():
        rng = np.random.default_rng(0)
        index = IndexFolder.open_for_writing(folder, f"demo:{dim}", f"demo:{dim}", dim, "flat")
        run = index.catalog.start_run(folder, f"demo:{dim}")
        per_file = 10
        for start in range(0, n, 5_000):
            drafts = []
            for f in range(start // per_file, min(n, start + 5_000) // per_file):
                vectors = rng.standard_normal((per_file, dim)).astype(np.float32)
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                segments = [
                    SegmentDraft(ordinal=j, vector=vectors[j], text=passages[f * per_file + j]) for j in range(per_file)
                ]
                drafts.append(ItemDraft(f"/synthetic/doc_{f:06d}.txt", "text", 7000, 0, f"h{f}", segments))
            index.commit(run, drafts)
        index.save()
        index.catalog.finish_run(run, {"added": n // per_file})
        index.close()
    return passages, codes, vocab


def catalog_sizes(catalog: Path, work: Path, trigram: bool) -> dict:
    """Bytes of the catalog as it is, without the word index, and with a trigram table instead."""
    from searchengine.store.words import TABLES

    con = sqlite3.connect(catalog)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    copy, compact = work / "size-copy.sqlite", work / "size-compact.sqlite"
    shutil.copy2(catalog, copy)
    con = sqlite3.connect(copy)
    con.execute("PRAGMA journal_mode = DELETE")  # sizes are the main file's: nothing left in a log
    con.execute("VACUUM")
    shutil.copy2(copy, compact)
    for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        con.execute(f"DROP TRIGGER {name}")
    for table in reversed(TABLES):
        con.execute(f"DROP TABLE {table}")
    con.commit()
    con.execute("VACUUM")
    out = {"with_word_index": compact.stat().st_size, "without": copy.stat().st_size}
    compact.unlink()
    if trigram:
        con.execute(
            "CREATE VIRTUAL TABLE tri USING fts5(text, content='segments', content_rowid='id', tokenize='trigram')"
        )
        con.execute("INSERT INTO tri(rowid, text) SELECT id, text FROM segments WHERE text IS NOT NULL")
        con.commit()
        con.execute("VACUUM")
        out["with_trigram_instead"] = copy.stat().st_size
    con.close()
    copy.unlink()
    out["word_index_cost"] = round(out["with_word_index"] / out["without"] - 1, 4)
    if trigram:
        out["trigram_cost"] = round(out["with_trigram_instead"] / out["without"] - 1, 4)
    return out


def scale(work: Path, n: int) -> dict:
    from searchengine.config import cache_dir
    from searchengine.encoders.registry import load_encoder
    from searchengine.eval.measure import summarize_ms
    from searchengine.query import HYBRID, MEANING, Filters, Query, Searcher
    from searchengine.store.folder import IndexFolder

    folder = work / f"scale-{n}"
    started = time.perf_counter()
    passages, codes, vocab = build_scale(folder, n)
    built = time.perf_counter() - started
    rng = random.Random(3)
    queries = [c for c in rng.sample(codes, 40)]  # whole codes
    queries += [c.split("-")[1] for c in rng.sample(codes, 20)]  # parts
    queries += [" ".join(rng.sample(vocab[:2000], 4)) for _ in range(20)]  # common words
    queries += [" ".join(rng.sample(vocab[2000:], 2)) for _ in range(20)]  # rarer words
    encoder = load_encoder("demo:384", "cpu", cache_dir=cache_dir())
    searcher = Searcher(IndexFolder.open(folder), encoder)
    kinds = ["whole code"] * 40 + ["part of a code"] * 20 + ["4 common words"] * 20 + ["2 rarer words"] * 20
    latency = {}
    for mode in (MEANING, HYBRID):
        for q in queries[:5]:  # warm: calibration computed, files mapped
            searcher.search(Query(text=q), Filters(), K, mode=mode)
        times = []
        for q in queries:
            start = time.perf_counter()
            searcher.search(Query(text=q), Filters(), K, mode=mode)
            times.append((time.perf_counter() - start) * 1000)
        name = "meaning alone" if mode == MEANING else "hybrid"
        latency[name] = summarize_ms(times)
        latency[name]["p50_by_query"] = {
            kind: round(float(np.median([t for t, k in zip(times, kinds) if k == kind])), 2)
            for kind in dict.fromkeys(kinds)
        }
    found = sum(
        Path(searcher.search(Query(text=c), Filters(), 1)[0].path).name == f"doc_{codes.index(c) // 10:06d}.txt"
        for c in queries[:40]
    )
    searcher.close()
    return {
        "passages": n,
        "build_s": round(built, 1),
        "latency_warm": latency,
        "codes_first": f"{found}/40",
        "catalog_bytes": catalog_sizes(folder / "catalog.sqlite", work, trigram=True),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--relevance", type=Path, default=ROOT / "indexes" / "relevance")
    parser.add_argument("--work", type=Path, default=ROOT / "indexes" / "hybrid")
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--skip", nargs="*", default=(), choices=("exact", "semantic", "scale"))
    parser.add_argument("--save", action="store_true")
    args = parser.parse_args()

    from searchengine.eval.measure import machine, save_result, to_json

    args.work.mkdir(parents=True, exist_ok=True)
    settings = ["meaning", "words", *GRID]
    started = time.perf_counter()
    result: dict = {"k": K}
    if "exact" not in args.skip:
        result["exact_tokens"] = exact_tokens(args.work, settings)
        print(
            json.dumps({s: v["top1"] for s, v in result["exact_tokens"]["tune"]["settings"].items()}), file=sys.stderr
        )
    if "semantic" not in args.skip:
        result["semantic"] = semantic_sets(args.relevance, args.work, settings)
    if "exact" not in args.skip and "semantic" not in args.skip:
        chosen = choose(result["exact_tokens"], result["semantic"], GRID)
        result["chosen_on_tune"] = chosen
        held = result["exact_tokens"]["held-out"]["settings"]
        result["held_out"] = {
            "exact_top1": {name: held[name]["top1"] for name in ("meaning", "words", chosen)},
            "exact_by_category": {name: held[name]["by_category"] for name in ("meaning", chosen)},
            "semantic_R@10": {
                c: {name: s[name]["held-out"]["R@10"] for name in ("meaning", chosen)}
                for c, s in result["semantic"].items()
            },
        }
    (args.work / "partial.json").write_text(to_json(result))  # what is measured so far
    if "scale" not in args.skip:
        result["scale"] = scale(args.work, args.passages)
        notes = args.work / f"notes-seed{HELD_OUT_SEED}-index" / "catalog.sqlite"
        if notes.exists():
            result["notes_catalog_bytes"] = catalog_sizes(notes, args.work, trigram=True)
    result["took_s"] = round(time.perf_counter() - started, 1)
    result["machine"] = machine()
    print(to_json(result))
    if args.save:
        print(f"saved {save_result(result, 'hybrid')}", file=sys.stderr)


if __name__ == "__main__":
    main()
