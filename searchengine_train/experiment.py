"""The data mixes and heads compared for the bundled encoder, and the fit of the shipped one.

Model selection uses only validation data: a seeded 20 % of the Tux Paint *train* split
(`tux-val`), the openclipart test folders, and the photo set's `val` split. The Tux Paint test
split and the photo `test` split are only reported.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from searchengine.encoders.base import l2_normalize
from searchengine.encoders.bundled.heads import LabelBridge
from searchengine.encoders.bundled.learned import FusedHead, LinearMap
from searchengine_train.data import PairSet, load_pairs
from searchengine_train.features import text_embeddings
from searchengine_train.fit import FitSettings, TrainRows, fit_linear
from searchengine_train.prototypes import class_sentences, hypernym_groups, hypernym_sentences
from searchengine_train.recall import retrieval_recall

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Setting:
    name: str
    data: tuple[str, ...] = ("proto", "openclipart", "tux")  # sources of the map's training rows
    alpha: float = 0.0  # weight of the bridge in the fusion; 1.0 = bridge only (no map)
    bank: str = "ensemble"  # bridge class texts: "single" prompt or the "ensemble" of sentences
    temperature: float = 1.0  # bridge softmax temperature
    top_k: int = 20
    proto_share: float | None = None  # share of draws from prototype rows (None: one per row)
    fit: FitSettings = field(default_factory=FitSettings)
    backbone: str = "lite0"  # efficientnet.BACKBONES
    views: tuple[str, ...] = ("centre",)  # test-time views pooled at evaluation (views.VIEWS)
    attributes: float = 0.0  # weight of the attribute bridge (colours, black-and-white, brightness)
    all_lemmas: bool = False  # class sentences: templates over every lemma, not only the first
    hypernyms: bool = False  # also prototypes of WordNet ancestors ("bird": mean of its classes' rows)


SETTINGS = [
    Setting("bridge, top-20, one prompt", data=(), alpha=1.0, bank="single"),
    Setting("bridge, prompt ensemble + gloss", data=(), alpha=1.0),
    Setting("bridge, prompt ensemble + gloss, T=2", data=(), alpha=1.0, temperature=2.0),
    Setting("map: prototypes only", data=("proto",)),
    Setting("map: openclipart + tux", data=("openclipart", "tux")),
    Setting("map: prototypes + openclipart", data=("proto", "openclipart")),
    Setting("map: prototypes + openclipart + tux", data=("proto", "openclipart", "tux")),
    Setting("map: prototypes(50%) + openclipart + tux", proto_share=0.5),
    Setting("fusion 0.3 bridge(T=2) + 0.7 map(all)", alpha=0.3, temperature=2.0),
    Setting("fusion 0.5 bridge(T=2) + 0.5 map(all)", alpha=0.5, temperature=2.0),
    Setting("fusion 0.5 bridge(T=2) + 0.5 map(protos 50%)", alpha=0.5, temperature=2.0, proto_share=0.5),
    Setting("fusion 0.7 bridge(T=2) + 0.3 map(all)", alpha=0.7, temperature=2.0),
    Setting("fusion 0.5 bridge(T=2) + 0.5 map(protos only)", data=("proto",), alpha=0.5, temperature=2.0),
    Setting("fusion 0.5 bridge(T=2) + 0.5 map(protos 80%)", alpha=0.5, temperature=2.0, proto_share=0.8),
    Setting("fusion 0.6 bridge(T=2) + 0.4 map(protos 50%)", alpha=0.6, temperature=2.0, proto_share=0.5),
    Setting("fusion 0.4 bridge(T=2) + 0.6 map(protos 80%)", alpha=0.4, temperature=2.0, proto_share=0.8),
    # lit-v2 candidates: EfficientNet-Lite2 (260 px) in place of Lite0
    Setting("lite2: bridge, prompt ensemble + gloss, T=2", data=(), alpha=1.0, temperature=2.0, backbone="lite2"),
    Setting("lite2: map: prototypes(50%) + openclipart + tux", proto_share=0.5, backbone="lite2"),
    Setting(
        "lite2: fusion 0.6 bridge(T=2) + 0.4 map(protos 50%)",
        alpha=0.6,
        temperature=2.0,
        proto_share=0.5,
        backbone="lite2",
    ),
    Setting(
        "lite2: fusion 0.5 bridge(T=2) + 0.5 map(protos 50%)",
        alpha=0.5,
        temperature=2.0,
        proto_share=0.5,
        backbone="lite2",
    ),
    Setting(
        "lite2: fusion 0.7 bridge(T=2) + 0.3 map(protos 50%)",
        alpha=0.7,
        temperature=2.0,
        proto_share=0.5,
        backbone="lite2",
    ),
    Setting(
        "lite2: fusion 0.5 bridge(T=2) + 0.5 map(protos 80%)",
        alpha=0.5,
        temperature=2.0,
        proto_share=0.8,
        backbone="lite2",
    ),
    Setting(
        "lite2: fusion 0.4 bridge(T=2) + 0.6 map(protos 80%)",
        alpha=0.4,
        temperature=2.0,
        proto_share=0.8,
        backbone="lite2",
    ),
    # the attribute bridge (colour names, black-and-white, dark) added with weight w
    *[
        Setting(
            f"{bb}fusion 0.6 bridge(T=2) + 0.4 map(protos 50%) + attributes {w}",
            alpha=0.6,
            temperature=2.0,
            proto_share=0.5,
            backbone=bb.rstrip(": ") or "lite0",
            attributes=w,
        )
        for bb in ("", "lite2: ")
        for w in (0.1, 0.2, 0.3, 0.5)
    ],
    # test-time views pooled: the centre crop and the whole picture squeezed square
    *[
        Setting(
            f"{bb}fusion 0.6 bridge(T=2) + 0.4 map(protos 50%), views centre+whole",
            alpha=0.6,
            temperature=2.0,
            proto_share=0.5,
            backbone=bb.rstrip(": ") or "lite0",
            views=("centre", "whole"),
        )
        for bb in ("", "lite2: ")
    ],
    # the whole picture squeezed square instead of the centre crop (no extra cost)
    Setting("bridge(T=2), view whole", data=(), alpha=1.0, temperature=2.0, views=("whole",)),
    *[
        Setting(
            f"fusion {a} bridge(T=2) + {1 - a:.1f} map(protos 50%), view whole",
            alpha=a,
            temperature=2.0,
            proto_share=0.5,
            views=("whole",),
        )
        for a in (0.5, 0.6, 0.7)
    ],
    Setting(
        "fusion 0.6 bridge(T=2) + 0.4 map(protos 50%), view whole + attributes 0.1",
        alpha=0.6,
        temperature=2.0,
        proto_share=0.5,
        views=("whole",),
        attributes=0.1,
    ),
    # class sentences over every lemma of a class
    Setting("all lemmas: bridge(T=2)", data=(), alpha=1.0, temperature=2.0, all_lemmas=True),
    *[
        Setting(
            f"all lemmas: fusion {a} bridge(T=2) + {1 - a:.1f} map(protos 50%)",
            alpha=a,
            temperature=2.0,
            proto_share=0.5,
            all_lemmas=True,
        )
        for a in (0.5, 0.6, 0.7)
    ],
    *[
        Setting(
            f"all lemmas: fusion {a} bridge(T=2) + {1 - a:.1f} map(protos 50%), view whole",
            alpha=a,
            temperature=2.0,
            proto_share=0.5,
            all_lemmas=True,
            views=("whole",),
        )
        for a in (0.6,)
    ],
    Setting(
        "all lemmas: lite2: fusion 0.6 bridge(T=2) + 0.4 map(protos 50%)",
        alpha=0.6,
        temperature=2.0,
        proto_share=0.5,
        all_lemmas=True,
        backbone="lite2",
    ),
    # drawings on a plain background seen whole (padded square), photos centre-cropped
    *[
        Setting(
            f"framed: {'all lemmas: ' if lem else ''}fusion {a} bridge(T=2) + {1 - a:.1f} map(protos 50%)",
            alpha=a,
            temperature=2.0,
            proto_share=0.5,
            all_lemmas=lem,
            views=("framed",),
        )
        for lem in (False, True)
        for a in (0.5, 0.6, 0.7)
    ],
    Setting(
        "framed: all lemmas: fusion 0.6 bridge(T=2) + 0.4 map(protos 50%) + attributes 0.1",
        alpha=0.6,
        temperature=2.0,
        proto_share=0.5,
        all_lemmas=True,
        views=("framed",),
        attributes=0.1,
    ),
    # prototypes of WordNet ancestors ("bird", "flower", "dog") in the map's training
    *[
        Setting(
            f"hypernyms: {'framed: ' if fr else ''}fusion {a} bridge(T=2) + {1 - a:.1f} map(protos 50% + ancestors)",
            alpha=a,
            temperature=2.0,
            proto_share=0.5,
            hypernyms=True,
            views=("framed",) if fr else ("centre",),
        )
        for fr in (False, True)
        for a in (0.5, 0.6)
    ],
]


@dataclass
class Corpus:
    """Everything the experiments read, for one text tower."""

    tower: str
    sets: dict[str, PairSet]  # tux-train, tux-test, openclipart-train, openclipart-test, photos-val, photos-test
    classifier: np.ndarray  # [1000, 1280] EfficientNet classifier weight rows
    class_sentences: list[list[str]]
    class_vectors: np.ndarray  # [sum of sentences, d] unit vectors, flattened in class order
    single_bank: np.ndarray  # [1000, d] "a photo of a {lemmas}."
    attribute_bank: np.ndarray | None = None  # [len(attributes.ATTRIBUTES), d] mean phrase vectors
    hypernym_members: list[list[int]] | None = None  # per WordNet ancestor, its classes
    hypernym_sentences: list[list[str]] | None = None
    hypernym_vectors: np.ndarray | None = None  # [sum of sentences, d] flattened

    def bank(self, kind: str) -> np.ndarray:
        if kind == "single":
            return self.single_bank
        out, start = [], 0
        for sentences in self.class_sentences:
            out.append(self.class_vectors[start : start + len(sentences)].mean(axis=0))
            start += len(sentences)
        return l2_normalize(np.stack(out))


EVAL_SETS = ("tux-test", "photos-val", "photos-test", "photos2-test")  # evaluated with the setting's views
# sets seen through the setting's views (openclipart renders are square: every view is the same picture)
VIEWED_SETS = EVAL_SETS + ("tux-train",)


def load_corpus(
    datasets: Path,
    cache: Path,
    tower: str,
    embed: Callable[[Sequence[str]], np.ndarray],
    backbone: str = "lite0",
    views: Sequence[str] = ("centre",),
    all_lemmas: bool = False,
) -> Corpus:
    """Every set, with features of `backbone`; the evaluation sets pooled over `views` (training
    sets always see the centre view, as indexing does by default)."""
    from searchengine.encoders.bundled import efficientnet
    from searchengine.encoders.bundled.labels import class_prompts

    sets = {}
    for folder, split in [
        ("tuxpaint", "train"),
        ("tuxpaint", "test"),
        ("openclipart", "train"),
        ("openclipart", "test"),
        ("photos", "val"),
        ("photos", "test"),
        ("photos2", "test"),
    ]:
        name = f"{folder.replace('tuxpaint', 'tux')}-{split}"
        if not (datasets / folder).exists():
            continue
        sets[name] = load_pairs(
            datasets / folder,
            split,
            cache,
            tower,
            embed,
            backbone=backbone,
            views=views if name in VIEWED_SETS else ("centre",),
            with_evidence=name in EVAL_SETS or name == "tux-train",
        )
    classifier = efficientnet.load_efficientnet(backbone).get_classifier().weight.detach().numpy().copy()
    sentences = class_sentences(all_lemmas=all_lemmas)
    flat = [s for group in sentences for s in group]
    groups = hypernym_groups()
    hyper = hypernym_sentences(groups)
    return Corpus(
        tower,
        sets,
        classifier,
        sentences,
        text_embeddings(flat, cache, tower, embed),
        text_embeddings(class_prompts(), cache, tower, embed),
        attribute_bank(cache, tower, embed),
        [members for _, members in groups],
        hyper,
        text_embeddings([s for group in hyper for s in group], cache, tower, embed),
    )


def attribute_bank(cache: Path, tower: str, embed: Callable[[Sequence[str]], np.ndarray]) -> np.ndarray:
    """Per attribute, the unit mean of its phrases' text vectors."""
    from searchengine.encoders.bundled.attributes import attribute_phrases

    phrases = attribute_phrases()
    vectors = text_embeddings([p for group in phrases for p in group], cache, tower, embed)
    bounds = np.cumsum([0] + [len(g) for g in phrases])
    return l2_normalize(np.stack([vectors[a:b].mean(axis=0) for a, b in zip(bounds[:-1], bounds[1:])]))


def subset(ps: PairSet, keep: np.ndarray) -> PairSet:
    """The images `keep` of a pair set, with their captions."""
    keep = np.asarray(sorted(keep))
    new_of_old = {int(o): n for n, o in enumerate(keep)}
    captions = [ps.captions[i] for i in keep]
    texts = sorted({c for caps in captions for c in caps})
    old_text = {t: i for i, t in enumerate(ps.texts)}
    image_of_text = [[new_of_old[i] for i in ps.image_of_text[old_text[t]] if i in new_of_old] for t in texts]
    vectors = ps.text_vectors[[old_text[t] for t in texts]]
    return PairSet(
        ps.name,
        ps.logits[keep],
        ps.features[keep],
        captions,
        texts,
        vectors,
        image_of_text,
        None if ps.evidence is None else ps.evidence[keep],
    )


def tux_fold(ps: PairSet, seed: int = 0, fraction: float = 0.2) -> tuple[PairSet, PairSet]:
    """(fit, val) parts of the Tux Paint train split, drawn by image with a fixed seed."""
    order = np.random.default_rng(seed).permutation(len(ps.captions))
    n_val = round(fraction * len(order))
    return subset(ps, order[n_val:]), subset(ps, order[:n_val])


def _caption_rows(ps: PairSet, offset: int) -> tuple[np.ndarray, list[list[int]]]:
    return ps.features, [[offset + j for j in caps] for caps in ps.caption_index()]


def training_rows(corpus: Corpus, setting: Setting, caption_sets: dict[str, PairSet]) -> tuple[TrainRows, np.ndarray]:
    """The rows a setting trains on, and the feature mean used to centre inputs."""
    image_sets = [caption_sets[s] for s in setting.data if s != "proto"]
    mean = np.concatenate([ps.features for ps in caption_sets.values()]).mean(axis=0)
    inputs, texts, vectors, sources = [], [], [], []
    offset = 0
    for ps in image_sets:
        feats, tix = _caption_rows(ps, offset)
        inputs.append(feats)
        texts.extend(tix)
        vectors.append(ps.text_vectors)
        sources.extend([ps.name] * len(feats))
        offset += len(ps.text_vectors)
    if "proto" in setting.data:
        # A classifier row, scaled to the typical norm of centred features, stands for its class.
        scale = np.median(np.linalg.norm(np.concatenate([p.features for p in caption_sets.values()]) - mean, axis=1))
        rows = corpus.classifier / np.linalg.norm(corpus.classifier, axis=1, keepdims=True) * scale + mean
        inputs.append(rows)
        start = 0
        for sentences in corpus.class_sentences:
            texts.append([offset + start + j for j in range(len(sentences))])
            start += len(sentences)
        vectors.append(corpus.class_vectors)
        sources.extend(["proto"] * len(rows))
        offset += len(corpus.class_vectors)
        if setting.hypernyms and corpus.hypernym_members:
            # an ancestor ("bird") stands as the mean direction of its classes' rows
            unit = corpus.classifier / np.linalg.norm(corpus.classifier, axis=1, keepdims=True)
            group_rows = np.stack([unit[m].mean(axis=0) for m in corpus.hypernym_members])
            group_rows = group_rows / np.linalg.norm(group_rows, axis=1, keepdims=True) * scale + mean
            inputs.append(group_rows)
            start = 0
            for sentences in corpus.hypernym_sentences:
                texts.append([offset + start + j for j in range(len(sentences))])
                start += len(sentences)
            vectors.append(corpus.hypernym_vectors)
            sources.extend(["proto"] * len(group_rows))
    weights = None
    if setting.proto_share is not None and "proto" in setting.data:
        sources_arr = np.array(sources)
        is_proto = sources_arr == "proto"
        weights = np.where(
            is_proto, setting.proto_share / is_proto.sum(), (1 - setting.proto_share) / max(1, (~is_proto).sum())
        )
    return TrainRows(np.concatenate(inputs), texts, np.concatenate(vectors), weights), mean


def build_head(
    corpus: Corpus, setting: Setting, caption_sets: dict[str, PairSet], name: str = "experiment"
) -> tuple[FusedHead, list[float]]:
    bridge = LabelBridge(corpus.bank(setting.bank), top_k=setting.top_k, temperature=setting.temperature)
    if not setting.data:
        d = corpus.single_bank.shape[1]
        empty = LinearMap(
            np.zeros((d, corpus.classifier.shape[1]), np.float32),
            np.zeros(d, np.float32),
            np.zeros(corpus.classifier.shape[1], np.float32),
        )
        return FusedHead(
            bridge, empty, 1.0, name, setting.backbone, corpus.attribute_bank, setting.attributes, _view(setting)
        ), []
    key = (
        corpus.tower,
        setting.backbone,
        setting.all_lemmas,
        setting.hypernyms,
        setting.data,
        setting.proto_share,
        repr(setting.fit),
        tuple(sorted((k, len(v.captions)) for k, v in caption_sets.items())),
    )
    if key not in _FITTED:  # settings that differ only in how the map is used share one fit
        rows, mean = training_rows(corpus, setting, caption_sets)
        _FITTED[key] = fit_linear(rows, mean, setting.fit)
    linear, losses = _FITTED[key]
    return FusedHead(
        bridge, linear, setting.alpha, name, setting.backbone, corpus.attribute_bank, setting.attributes, _view(setting)
    ), losses


def _view(setting: Setting) -> str:
    """The one view a shipped head uses (pooled views are an evaluation-only experiment)."""
    return setting.views[0] if len(setting.views) == 1 else "centre"


_FITTED: dict = {}


def evaluate(head: FusedHead, ps: PairSet) -> dict[str, float]:
    if head.alpha >= 1.0 and not head.uses_pixels:
        vectors = head.bridge(ps.logits, ps.features)
    else:
        vectors = head(ps.logits, ps.features, ps.evidence)
    return retrieval_recall(vectors, ps.text_vectors, ps.image_of_text)


def run_setting(corpus: Corpus, setting: Setting) -> dict:
    """Validation numbers (map fitted without tux-val) and reported numbers (map fitted on all train)."""
    fit_part, val_part = tux_fold(corpus.sets["tux-train"])
    val_head, _ = build_head(corpus, setting, {"openclipart": corpus.sets["openclipart-train"], "tux": fit_part})
    full_head, losses = build_head(
        corpus, setting, {"openclipart": corpus.sets["openclipart-train"], "tux": corpus.sets["tux-train"]}
    )
    row = {"setting": setting.name}
    for key, head, ps in [
        ("tux-val", val_head, val_part),
        ("openclipart-test", val_head, corpus.sets["openclipart-test"]),
        ("photos-val", val_head, corpus.sets["photos-val"]),
        ("tux-test", full_head, corpus.sets["tux-test"]),
        ("photos-test", full_head, corpus.sets["photos-test"]),
        ("photos2-test", full_head, corpus.sets.get("photos2-test")),
    ]:
        if ps is not None:
            row[key] = evaluate(head, ps)
    row["final_loss"] = losses[-1] if losses else None
    return row


def selection_score(row: dict) -> float:
    """What the choice is made on: validation only (Tux fold T→I R@10, photo-val T→I R@1, I→T R@10)."""
    return (
        row["tux-val"]["t2i_r10"]
        + row["tux-val"]["i2t_r10"]
        + row["openclipart-test"]["t2i_r10"]
        + 2 * row["photos-val"]["t2i_r1"]
        + row["photos-val"]["i2t_r10"]
    )
