"""Words and meaning in one ranked list: how much a result's words add to its calibrated score.

A result's word strength is `coverage² × rarity` in [0, 1]: coverage, the share of the query's
terms (weighted by how rare each is, BM25's idf) that its text or file name holds (squared: a
passage that holds one word of a descriptive query's three is not a match of its words); rarity,
how rare the rarest of those is (1 for a term only one segment holds, near 0 for one most hold).
An order code found whole scores 1; a note that shares "the" and "meeting" with the query, little.

Two ways to join it with the calibrated score by meaning (z, calibration.py), both measured by
benchmarks/hybrid.py (chosen on its tune seed, reported on another):
- "blend" (the default, DEFAULT): z + weight × strength. The score stays a calibrated score, lifted by the words, so a
  rare exact match outranks loose neighbours and a descriptive query, whose words are common or
  absent from the files, ranks nearly as by meaning alone;
- "rrf": reciprocal rank fusion of the meaning order and the words order (1/(k + rank) each),
  which ignores how far apart the scores are.
Fusion.floor makes terms whose rarity is at most `floor` add nothing. A strength of at least
STRONG is strong evidence: confidence.py counts such a hit as "high".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from searchengine.lexical import Term, WordQuery, contains

BLEND, RRF = "blend", "rrf"
STRONG = 0.75  # word strength of a rare term found whole (with DEFAULT: one that at most 2 of 400 notes hold)


@dataclass(frozen=True)
class Fusion:
    method: str = BLEND
    weight: float = 4.0  # blend: calibrated-score points a full, rare match adds; rrf: weight of the words order
    rrf_k: float = 60.0
    floor: float = 0.0  # rarity at or below which a term adds nothing (common words never move a result)


# Chosen by benchmarks/hybrid.py on its tune seed and the semantic sets' tune halves (the largest
# weight with the best exact-token top-1 that keeps recall@10 within a point of meaning alone).
DEFAULT = Fusion(BLEND, weight=12.0, floor=0.5)


def idf(df: int, n: int) -> float:
    """BM25's inverse document frequency of a term `df` of `n` segments hold."""
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


def term_rarity(held_by: Mapping[Term, int], n: int) -> Callable[[Term], tuple[float, float]]:
    """(idf, rarity in [0, 1]) of each term, given how many of the n segments hold each."""
    top = idf(1, max(n, 1))

    def of(term: Term) -> tuple[float, float]:
        value = idf(held_by.get(term, 0), max(n, 1))
        return value, min(1.0, value / top)

    return of


def strength(
    query: WordQuery,
    rarity: Callable[[Term], tuple[float, float]],
    text_words: Sequence[str],
    name_words: Sequence[str],
    floor: float = 0.0,
) -> float:
    """How strongly a result's words (its text's and its file name's) match the query's terms."""
    total = matched = best = 0.0
    for term in query.terms + query.names:
        weight, rare = rarity(term)
        total += weight
        if contains(text_words, term) or contains(name_words, term):
            matched += weight
            best = max(best, rare)
    if not total or best <= floor:
        return 0.0
    return (matched / total) ** 2 * (best - floor) / (1.0 - floor)


def blend(semantic: float, words: float, fusion: Fusion) -> float:
    return semantic + fusion.weight * words


def rrf(meaning_rank: int | None, words_rank: int | None, fusion: Fusion) -> float:
    """Reciprocal rank fusion of 1-based ranks (None: not in that list)."""
    score = 0.0 if meaning_rank is None else 1.0 / (fusion.rrf_k + meaning_rank)
    return score + (0.0 if words_rank is None else fusion.weight / (fusion.rrf_k + words_rank))
