"""ImageNet classes as training pairs: each class's classifier weight row ↔ sentences about the class.

These pairs tie the photo domain (what EfficientNet was trained on) to language without a
single captioned photo. Sentences: the class lemmas in several prompt templates, and the
WordNet gloss ("tabby: a cat with a grey or tawny coat mottled with black") where Debian's
`wordnet-base` is installed (WordNet 3.0 licence, free for any use with the notice).
"""

from __future__ import annotations

import logging
from pathlib import Path

from searchengine.encoders.bundled.labels import class_descriptions

log = logging.getLogger(__name__)

WORDNET_NOUNS = Path("/usr/share/wordnet/data.noun")

TEMPLATES = (
    "a photo of a {}.",
    "a picture of a {}.",
    "a close-up photo of a {}.",
    "a drawing of a {}.",
    "a {}.",
    "an image showing a {}.",
    "a photo of the {} outdoors.",
    "a bright photo of a {}.",
)


def class_synsets() -> list[str]:
    """WordNet synset ids of the 1000 classes ("n02123045"), in classifier order."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return [info.index_to_label_name(i) for i in range(info.num_classes())]


def _read_wordnet(path: Path) -> dict[str, tuple[list[str], list[str], str]]:
    """offset -> (lemmas, hypernym offsets, gloss) for every noun synset of data.noun.

    Line layout: offset lex_filenum ss_type w_cnt(hex) [word lex_id]… p_cnt [symbol offset pos st]… | gloss
    """
    synsets = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith(" ") or "|" not in line:
                continue  # licence header
            head, gloss = line.split("|", 1)
            fields = head.split()
            n_words = int(fields[3], 16)
            words = [fields[4 + 2 * i].replace("_", " ") for i in range(n_words)]
            at = 4 + 2 * n_words
            n_ptrs = int(fields[at])
            ptrs = [fields[at + 1 + 4 * i : at + 5 + 4 * i] for i in range(n_ptrs)]
            hypernyms = [p[1] for p in ptrs if p[0] in ("@", "@i") and p[2] == "n"]
            synsets[fields[0]] = (words, hypernyms, gloss.split(";")[0].strip().strip('"').strip())
    return synsets


def wordnet_facts(synsets: list[str], path: Path = WORDNET_NOUNS) -> list[tuple[str, list[str]]]:
    """For each noun synset ("n02123045"): its gloss (definition without examples) and the first
    lemma of its hypernyms up the tree ("domestic cat", "cat", "feline", …), nearest first.
    ("", []) where WordNet is not installed."""
    if not path.exists():
        log.warning("%s not found (apt-get install wordnet-base): class texts without WordNet", path)
        return [("", [])] * len(synsets)
    table = _read_wordnet(path)
    out = []
    for synset in synsets:
        words, parents, gloss = table.get(synset[1:], ([], [], ""))
        chain, seen = [], set()
        while parents and len(chain) < 6:
            offset = parents[0]
            if offset in seen or offset not in table:
                break
            seen.add(offset)
            chain.append(table[offset][0][0])
            parents = table[offset][1]
        out.append((gloss, chain))
    return out


def wordnet_glosses(synsets: list[str], path: Path = WORDNET_NOUNS) -> list[str]:
    return [gloss for gloss, _ in wordnet_facts(synsets, path)]


def class_sentences(with_gloss: bool = True, hypernyms: int = 0, all_lemmas: bool = False) -> list[list[str]]:
    """For each class, sentences describing it: templates × first lemma (× every lemma with
    `all_lemmas`: ImageNet's first lemma is often the rare one, "Madagascar cat" for the
    ring-tailed lemur), all lemmas, gloss, and with `hypernyms` > 0 one sentence naming that many
    WordNet ancestors ("a tabby, a kind of domestic cat, cat"; measured: no gain on the
    validation sets, so off by default)."""
    descriptions = class_descriptions()
    facts = wordnet_facts(class_synsets()) if with_gloss or hypernyms else [("", [])] * len(descriptions)
    sentences = []
    for desc, (gloss, chain) in zip(descriptions, facts):
        lemmas = [x.strip() for x in desc.split(",") if x.strip()]
        texts = [t.format(lemma) for lemma in (lemmas if all_lemmas else lemmas[:1]) for t in TEMPLATES]
        texts.append(f"a photo of a {desc}.")
        if gloss and with_gloss:
            texts.append(f"{lemmas[0]}: {gloss}")
        if hypernyms and chain:
            texts.append(f"a photo of a {lemmas[0]}, a kind of {', '.join(chain[:hypernyms])}.")
        sentences.append(texts)
    return sentences


# WordNet ancestors too abstract to name what a photo shows
ABSTRACT = {
    "entity",
    "physical entity",
    "abstraction",
    "object",
    "whole",
    "artifact",
    "instrumentality",
    "organism",
    "living thing",
    "matter",
    "solid",
    "substance",
    "covering",
    "structure",
    "device",
    "chordate",
    "vertebrate",
    "placental",
    "diapsid",
    "invertebrate",
    "arthropod",
    "part",
    "thing",
    "unit",
    "group",
    "commodity",
    "equipment",
    "implement",
    "container",
    "conveyance",
}


def hypernym_groups(min_classes: int = 2, max_classes: int = 200) -> list[tuple[str, list[int]]]:
    """WordNet ancestors of the ImageNet classes that queries use ("bird", "flower", "dog",
    "building"): (first lemma, the classes under it), for ancestors over `min_classes` classes
    and not in ABSTRACT. Empty where WordNet is not installed."""
    facts = wordnet_facts(class_synsets())
    members: dict[str, list[int]] = {}
    for index, (_, chain) in enumerate(facts):
        for name in dict.fromkeys(chain):
            members.setdefault(name, []).append(index)
    return sorted(
        (name, classes)
        for name, classes in members.items()
        if min_classes <= len(classes) <= max_classes and name not in ABSTRACT
    )


def hypernym_sentences(groups: list[tuple[str, list[int]]]) -> list[list[str]]:
    return [[t.format(name) for t in TEMPLATES] for name, _ in groups]
