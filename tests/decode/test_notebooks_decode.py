"""Notebooks 06 (translation) and 07 (text generation on SmolLM2-135M) run top to bottom on
small settings."""

import json
import re
from pathlib import Path

import pytest

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results" / "decoding_smollm2.json"

# 07 on smaller settings than its committed run: the model load dominates either way
SMALL_07 = """PRETRAINED_LM = "smollm2-135m"
N_NEW = 16
STUDY_PROMPTS, STUDY_PROMPT_TOKENS, STUDY_NEW_TOKENS = 4, 16, 16
"""
DECODERS = ("greedy", "beam 4", "top-k 40", "nucleus 0.9", "temperature 0.7", "min-p 0.1")
NUMBER = r"(-|[0-9]+\.[0-9]+)"
TABLE_ROW = re.compile(r"^(\S+)" + rf"\s+{NUMBER}" * 8 + "$")  # a row of format_table: method and 8 columns


def _tables(lines: list[str]) -> list[dict[str, list[float | None]]]:
    """Every `format_table` block in the output: method -> its eight columns (None for '-')."""
    tables: list[dict[str, list[float | None]]] = []
    for line in lines:
        if line.startswith("method ") and "selfBLEU4" in line:
            tables.append({})
        elif tables and (row := TABLE_ROW.match(line)):
            tables[-1][row[1]] = [None if v == "-" else float(v) for v in row.groups()[1:]]
    return tables


@pytest.mark.slow
def test_notebooks_07_text_generation_runs(run_notebook):
    from textkit.reproduce.decoding import HOLTZMAN_GPT2_LARGE, METHODS

    text = run_notebook("07_text_generation.ipynb", parameters=SMALL_07, timeout=300)
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]

    # the ChatML answer (greedy) is real text and right; the plain continuation adds to its prompt
    answer = next(line for line in lines if line.startswith("answer:"))[len("answer:") :].strip()
    assert "Paris" in answer, answer
    continuation = next(line for line in lines if line.startswith("continuation:"))
    assert len(continuation) > len("continuation: The old lighthouse keeper climbed the stairs one last time") + 10

    # logit processors on the real next-token distribution: counts and kept mass
    kept = {
        m[1].strip(): (int(m[2]), int(m[3]), float(m[4]))
        for line in lines
        if (m := re.match(r"^(.+?)\s+keeps\s+(\d+) of (\d+) tokens, ([0-9.]+) of the probability mass$", line))
    }
    assert kept["full"] == (49152, 49152, 1.0)
    assert kept["top-k 40"][0] == 40
    assert kept["top-p 0.9"][2] >= 0.9 and kept["top-p 0.95"][2] >= 0.95
    assert kept["top-p 0.9"][0] < kept["top-p 0.95"][0]
    assert kept["T 0.7, top-p 0.9"][0] < kept["top-p 0.9"][0]  # a sharper distribution needs fewer tokens

    # six decoders on one prompt, each with a non-empty continuation
    start = next(i for i, line in enumerate(lines) if line.startswith("The committee met on Tuesday"))
    outputs = {}
    for line in lines[start + 1 : start + 1 + len(DECODERS)]:
        name = next(d for d in DECODERS if line.startswith(d + " "))
        outputs[name] = line[len(name) :].strip()
    assert set(outputs) == set(DECODERS) and all(outputs.values()), outputs

    # the small study's table and the committed one: every decoder, sane values, the paper's figures
    assert "4 prompts of 16 tokens, 16 new tokens" in text
    assert "bench/results/decoding_smollm2.json (" in text
    small, full = _tables(lines)
    for table in (small, full):
        assert list(table) == ["human", *METHODS]
        for method, (ppl, paper_ppl, sbleu, paper_sbleu, rep, paper_rep, dist2, _zipf) in table.items():
            assert ppl > 1 and 0 <= sbleu <= 1 and 0 <= rep <= 100 and 0 < dist2 <= 1, method
            paper = HOLTZMAN_GPT2_LARGE.get(method)
            assert [paper_ppl, paper_sbleu, paper_rep] == (list(paper) if paper else [None] * 3), method
        assert table["greedy"][0] < table["pure-sampling"][0]  # the argmax path is the likelier text
    committed = json.loads(RESULTS.read_text(encoding="utf-8"))["metrics"]
    for method, m in committed.items():
        assert full[method][0] == pytest.approx(m["perplexity"], abs=0.005)
        assert full[method][4] == pytest.approx(m["repetition_pct"], abs=0.05)

    assert "<Figure size" in text and "with 3 Axes" in text  # the bar chart


@pytest.mark.slow
def test_notebooks_06_translation_runs(run_notebook):
    text = run_notebook("06_translation.ipynb", timeout=400)
    assert "BLEU" in text and "transformer" in text
