"""How sure a hit is: "high", "medium" or "low", judged on what separates right answers from noise.

A calibrated score alone (calibration.py) tells how far a hit lies above what this query gets by
chance, but a query about something the collection does not hold still has a best hit, often at
a calibrated score right answers also get. What tells them apart better, measured on the
benchmark collections (benchmarks/relevance.py):

- z: the calibrated score (standard deviations above this query's own baseline for the kind);
- z_prior: the same raw score against the prior, how generic queries score against that kind: a
  query that resembles everything of a kind has a high baseline of its own, so its hits' z says
  less than their z_prior;
- lead: z minus the z of the LEAD_RANK-th best segment of the hit's group (of its tower's groups
  together when its own has fewer: three recordings): a right answer tends to stand out from the
  rest of its kind, noise is one of a crowd;
- cross: 1 when the hit was embedded by the other tower than the query (words against images,
  an image against passages): the modality gap makes those scores noisier;
- margin: z minus the best other hit's z (for the best hit, its lead over the second; for the
  others, how far below the best they lie): a right answer tends to be alone at the top.

Each is free of the encoder's own scale (standard deviations, not cosines), so the method carries
over to another encoder; a rare exact match of the query's words (hybrid.STRONG) is strong
evidence of its own, "high" like a near copy; the coefficients are fitted per model on the benchmarks' tune halves
(`python benchmarks/relevance.py --fit`) and kept here as named constants. A near copy of the
query image (raw cosine at least the model's NEAR_COPY) is "high" whatever the rest.

p = sigmoid(bias + weights · features); "high" when p >= high, "medium" when p >= medium. A hit
of a kind the collection holds too little of to calibrate (an image query against two photos) is
"low" unless it is a copy or an exact word match: its score is on no known scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LEVELS = ("high", "medium", "low")
LEAD_RANK = 10
FEATURES = ("z", "z_prior", "lead", "cross", "margin")


@dataclass(frozen=True)
class Evidence:
    """What one hit's confidence is judged on (see the module docstring)."""

    z: float
    z_prior: float
    lead: float
    cross: bool
    near_copy: bool = False
    margin: float = 0.0
    exact: bool = False  # a rare term of the query found whole in its words (hybrid.STRONG)
    calibrated: bool = True  # False: the collection gave its kind no statistics (two photos)

    def features(self) -> np.ndarray:
        return np.array([self.z, self.z_prior, self.lead, float(self.cross), self.margin], dtype=np.float64)


@dataclass(frozen=True)
class ModelConfidence:
    """One encoder's fitted constants."""

    bias: float
    weights: tuple[float, ...]  # in FEATURES order
    high: float  # probability thresholds
    medium: float
    near_copy: float  # raw cosine from which an image is taken for a copy of the query image


# Fitted by benchmarks/relevance.py --fit on the tune halves of Tux Paint and the short photo
# captions (held-out results: benchmarks/README.md). near_copy: a half-size JPEG copy of a photo
# scores 0.9 or more against the original 98 % of the time; the nearest distinct image does 1.3 %.
# Fitted before the margin was a feature (its weight: 0).
LIT_V1 = ModelConfidence(bias=-5.639, weights=(0.662, 0.083, 0.626, 0.237, 0.0), high=0.74, medium=0.12, near_copy=0.9)
# lit-v2 (the default from issue 23): fitted the same way, on the tune halves' queries about
# subjects the encoder never saw in training. lit-v1 and lit-v2 were trained on 430 of Tux Paint's
# 538 stamps, and on those the product's scores are not what a user's own pictures get: a wrong
# best hit there was "high" 11-16 % of the time against 2-3 % on unseen stamps (benchmarks/README.md,
# "Relevance"). Feature set chosen out of fold (z, z_prior, lead, cross; AUC 0.826).
LIT_V2 = ModelConfidence(bias=-4.219, weights=(0.539, 0.049, 0.788, -0.109, 0.0), high=0.64, medium=0.21, near_copy=0.9)
# bundled:multilingual, fitted the same way (its own relevance run, English queries: held-out,
# unseen subjects, right best hits "high" 0.104 -> 0.224, precision 0.929 -> 0.966 against lit-v1's
# constants, no absent subject "high"; results/relevance-multilingual.json).
LIT_MULTILINGUAL_V1 = ModelConfidence(
    bias=-6.903, weights=(1.216, 0.462, 0.0, 0.37, 0.411), high=0.71, medium=0.1, near_copy=0.9
)
MODELS = {"bundled:lit-v1": LIT_V1, "bundled:lit-v2": LIT_V2, "bundled:lit-multilingual-v1": LIT_MULTILINGUAL_V1}
DEFAULT = LIT_V1  # another encoder until it is fitted: the method is the same, the constants a guess


def for_model(encoder_id: str) -> ModelConfidence:
    return MODELS.get(encoder_id, DEFAULT)


def probability(features: np.ndarray, model: ModelConfidence) -> np.ndarray:
    """P(right answer) of each row of features [n, len(FEATURES)]."""
    logits = model.bias + np.asarray(features, dtype=np.float64) @ np.asarray(model.weights)
    return 1.0 / (1.0 + np.exp(-logits))


def level(p: float, model: ModelConfidence) -> str:
    return "high" if p >= model.high else "medium" if p >= model.medium else "low"


def assess(evidence: list[Evidence], model: ModelConfidence) -> list[str]:
    """The confidence level of each hit."""
    if not evidence:
        return []
    ps = probability(np.stack([e.features() for e in evidence]), model)
    return [
        "high" if e.near_copy or e.exact else level(float(p), model) if e.calibrated else "low"
        for e, p in zip(evidence, ps)
    ]


def lead_reference(group_scores: np.ndarray) -> float:
    """The score a hit's lead is measured from: the LEAD_RANK-th best of its group's candidates
    (the lowest when the group has fewer)."""
    if not len(group_scores):
        return 0.0
    ordered = np.sort(np.asarray(group_scores))[::-1]
    return float(ordered[min(LEAD_RANK, len(ordered)) - 1])


def lead_references(scores: dict[str, list[float]], towers: dict[str, str]) -> dict[str, float]:
    """Each group's lead reference (lead_reference). A group with fewer than LEAD_RANK candidates
    (three recordings) has no LEAD_RANK-th best of its own, and its lowest would make any hit in it
    stand out: it is measured against the candidates of every group embedded by the same tower
    (`towers`: group -> "text" or "image"), whose scores are calibrated alike."""
    pooled: dict[str, list[float]] = {}
    for name, group_scores in scores.items():
        pooled.setdefault(towers[name], []).extend(group_scores)
    return {
        name: lead_reference(np.array(group_scores if len(group_scores) >= LEAD_RANK else pooled[towers[name]]))
        for name, group_scores in scores.items()
    }
