"""`textkit lm generate | evaluate` with a pretrained LLM given by name (a tiny random Llama
served through its own manifest)."""

from __future__ import annotations

import pytest

pytest.importorskip("gguf")

from textkit import decode
from textkit.cli import main
from textkit.nn import load_language_model
from textkit.recipes.pretrained_llm import generate_llm, llm_perplexity, prompt_ids


def test_generate_by_name_matches_the_recipe(tiny_llm, capsys):
    assert (
        main(["lm", "generate", "tiny-llama", "--prompt", "the tin", "--temperature", "0", "--max-new-tokens", "6"])
        == 0
    )
    printed = capsys.readouterr().out.rstrip("\n")
    bundle = load_language_model("tiny-llama")
    assert printed == "the tin" + generate_llm(bundle, "the tin", decode.Greedy(), 6)
    # --chat renders the ChatML template (longer than the tiny model's 64-token context: refused, not truncated)
    chat_tokens = len(prompt_ids(bundle.pipeline, "hi", chat=True))
    assert main(["lm", "generate", "tiny-llama", "--prompt", "hi", "--chat", "--max-new-tokens", "4"]) == 1
    assert f"the prompt has {chat_tokens} tokens" in capsys.readouterr().err


def test_evaluate_by_name_on_a_file(tiny_llm, tmp_path, capsys):
    data = tmp_path / "held_out.txt"
    data.write_text("the tin man\nsat on the mat\n", encoding="utf-8")
    assert main(["lm", "evaluate", "tiny-llama", "--data", str(data)]) == 0
    printed = capsys.readouterr().out
    expected = llm_perplexity(load_language_model("tiny-llama"), ["the tin man", "sat on the mat"])
    assert f"perplexity {expected['perplexity']:.2f}" in printed and f"{expected['tokens']} tokens" in printed


def test_chat_is_refused_for_a_model_without_a_template(tmp_path, capsys):
    folder = tmp_path / "not-a-model"
    assert main(["lm", "generate", str(folder), "--prompt", "x", "--chat"]) == 1
    assert "is not a folder" in capsys.readouterr().err
