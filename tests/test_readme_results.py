"""Every row of the README's results table names a committed artifact (a JSON under
bench/results/ or a file in models/) that exists, and every number quoted in its textkit
column is in one of the row's artifacts (within the rounding shown). A row whose number has no
artifact must say so ("no committed artifact") instead of naming none."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NO_ARTIFACT = "no committed artifact"


def _rows() -> list[list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Benchmarks and reproduced results", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| what | textkit |"), "the results table lost its header"
    return [[cell.strip() for cell in row.strip().strip("|").split(" | ")] for row in rows[1:]]


def _artifacts(row: list[str]) -> list[Path]:
    """Paths in backticks; a folder followed by `name.json` names files in that folder."""
    named: list[Path] = []
    folder = None
    for token in re.findall(r"`([^`]+)`", " | ".join(row)):
        if token.startswith(("bench/results/", "models/")):
            path = ROOT / token
            if token.endswith("/"):
                folder = path
                continue
            named.append(path)
        elif token.endswith(".json") and "/" not in token:
            named.append((folder or ROOT / "bench" / "results") / token)
    return named


def _numbers(value: object) -> list[float]:
    """Every number an artifact holds, including those written in its text (a goal's "(x2.29)")."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, str):
        return [float(n) for n in re.findall(r"\d+\.\d+", value)]
    if isinstance(value, dict):
        return [n for k, v in value.items() for n in _numbers(k) + _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return []


def _quoted(cell: str) -> list[str]:
    """Decimal numbers as written in the textkit cell (percentages, ratios, scores); a decoding
    setting ("top-p 0.9", "nucleus 0.95") is a condition, not a result."""
    cell = re.sub(r"(top-p|nucleus|temperature) \d+\.\d+", "", cell.replace("−", "-"))
    return re.findall(r"(?<![\w.])-?\d+\.\d+", cell)


def _holds(values: list[float], written: str) -> bool:
    decimals = len(written.split(".")[1])
    target, tolerance = float(written), 0.5 * 10**-decimals + 1e-9
    return any(abs(v * scale - target) <= tolerance for v in values for scale in (1, 100))


ROWS = _rows()


def test_readme_results_table_is_read():
    assert len(ROWS) >= 20


@pytest.mark.parametrize("row", ROWS, ids=[row[0][:50] for row in ROWS])
def test_readme_results_row_names_an_artifact_holding_its_numbers(row):
    if NO_ARTIFACT in " ".join(row):
        return  # says so in the row: nothing to check
    artifacts = _artifacts(row)
    assert artifacts, f"the row {row[0]!r} names no artifact under bench/results/ or models/"
    missing = [str(p.relative_to(ROOT)) for p in artifacts if not p.is_file()]
    assert not missing, f"the row {row[0]!r} names artifacts that are not committed: {missing}"
    values = [n for p in artifacts if p.suffix == ".json" for n in _numbers(json.loads(p.read_text("utf-8")))]
    absent = [number for number in _quoted(row[1]) if not _holds(values, number)]
    assert not absent, f"the row {row[0]!r} quotes {absent}, found in none of {[p.name for p in artifacts]}"


def test_readme_weat_count_is_computed_from_its_artifact():
    """'8 of 10 tests' within 0.05 of the paper: counted from bench/results/bias.json."""
    (row,) = [r for r in ROWS if r[0].startswith("WEAT on word2vec, within 0.05")]
    tests = json.loads((ROOT / "bench/results/bias.json").read_text("utf-8"))["tests"]
    close = sum(abs(t["textkit_effect_size"] - t["paper_effect_size"]) <= 0.05 for t in tests)
    assert row[1] == f"{close} of {len(tests)} tests"
