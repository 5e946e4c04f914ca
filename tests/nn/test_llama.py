"""The Llama-style decoder on a tiny random config: shapes, the KV cache, causality, GQA,
RoPE, bf16, the context limit, and decoding through ``textkit.decode``."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from textkit import decode
from textkit.nn.config import config_from_dict, config_to_dict
from textkit.nn.llama import LlamaConfig, LlamaLanguageModel, apply_rope, rope_angles
from textkit.nn.registry import build_language_model

TINY = LlamaConfig(vocab_size=50, d_model=32, n_layers=2, n_heads=4, n_kv_heads=2, d_ff=48, max_len=40)


def tiny_model(config: LlamaConfig = TINY, seed: int = 0) -> LlamaLanguageModel:
    torch.manual_seed(seed)
    model = LlamaLanguageModel(config).eval()
    with torch.no_grad():  # norms away from 1, so a wrong norm would show
        for module in model.modules():
            if hasattr(module, "eps"):
                module.weight.uniform_(0.5, 1.5)
    return model


def ids(batch: int, length: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, TINY.vocab_size, (batch, length), generator=torch.Generator().manual_seed(seed))


def test_llama_shapes_and_state():
    model = tiny_model()
    logits, state = model(ids(3, 7))
    assert logits.shape == (3, 7, TINY.vocab_size)
    assert state["pos"] == 7 and len(state["k"]) == TINY.n_layers
    # preallocated buffers: capacity a multiple of CACHE_CHUNK, capped at the context length
    assert state["k"][0].shape == (3, TINY.n_kv_heads, TINY.max_len, TINY.head_dim)
    assert state["filled"] == [7]
    assert model.head.weight is model.embed.weight  # tied


def test_llama_kv_cache_step_equals_full_forward():
    model = tiny_model()
    x = ids(2, 12)
    with torch.no_grad():
        full, _ = model(x)
        pieces, state = [], None
        logits, state = model(x[:, :5], state)  # the prompt at once
        pieces.append(logits)
        for t in range(5, 9):  # then one token at a time
            logits, state = model(x[:, t : t + 1], state)
            pieces.append(logits)
        logits, state = model(x[:, 9:], state)  # then several after a cached prefix
        pieces.append(logits)
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=1e-5)
    assert state["pos"] == 12


def test_llama_is_causal():
    model = tiny_model()
    x = ids(1, 10)
    y = x.clone()
    y[0, 6:] = (y[0, 6:] + 1) % TINY.vocab_size
    with torch.no_grad():
        a, b = model(x)[0], model(y)[0]
    torch.testing.assert_close(a[:, :6], b[:, :6])
    assert not torch.allclose(a[:, 6:], b[:, 6:])


def test_llama_gqa_equals_attention_with_repeated_kv_heads():
    gqa = tiny_model()
    mha = LlamaLanguageModel(dataclasses.replace(TINY, n_kv_heads=TINY.n_heads)).eval()
    state = gqa.state_dict()
    groups, hd = TINY.n_heads // TINY.n_kv_heads, TINY.head_dim
    for key, value in list(state.items()):
        if key.endswith(("attn.k.weight", "attn.v.weight")):  # (Hkv * Dh, D) -> (H * Dh, D)
            state[key] = value.view(TINY.n_kv_heads, hd, -1).repeat_interleave(groups, dim=0).reshape(-1, TINY.d_model)
    mha.load_state_dict(state)
    x = ids(2, 9)
    with torch.no_grad():
        torch.testing.assert_close(gqa(x)[0], mha(x)[0], atol=1e-5, rtol=1e-5)


def test_llama_rope_depends_only_on_relative_position():
    config = TINY
    q, k = torch.randn(1, 1, 1, config.head_dim), torch.randn(1, 1, 1, config.head_dim)

    def score(i: int, j: int) -> float:
        cos_i, sin_i = rope_angles(config, i, 1, q.device)
        cos_j, sin_j = rope_angles(config, j, 1, q.device)
        return float((apply_rope(q, cos_i, sin_i) * apply_rope(k, cos_j, sin_j)).sum())

    assert score(3, 1) == pytest.approx(score(12, 10), abs=1e-5)
    cos, sin = rope_angles(config, 0, 1, q.device)
    torch.testing.assert_close(apply_rope(q, cos, sin), q)  # position 0 is the identity


def test_llama_bf16_runs_close_to_fp32():
    model = tiny_model()
    x = ids(2, 8)
    with torch.no_grad():
        reference = model(x)[0]
        low = model.to(torch.bfloat16)(x)[0]
    assert low.dtype == torch.bfloat16 and torch.isfinite(low).all()
    torch.testing.assert_close(low.float(), reference, atol=0.05, rtol=0.05)


def test_llama_context_limit_and_empty_input_raise():
    model = tiny_model()
    with pytest.raises(ValueError, match="context of 40 tokens"):
        model(ids(1, 41))
    _, state = model(ids(1, 39))
    with pytest.raises(ValueError, match="context"):
        model(ids(1, 2), state)
    with pytest.raises(ValueError, match="length >= 1"):
        model(torch.zeros(1, 0, dtype=torch.long))


def test_llama_config_round_trips_and_builds_by_name():
    raw = config_to_dict(TINY)
    assert config_from_dict(LlamaConfig, raw) == TINY
    model = build_language_model("llama", raw)
    assert isinstance(model, LlamaLanguageModel)
    with pytest.raises(ValueError, match="not a multiple"):
        LlamaConfig(vocab_size=10, d_model=32, n_heads=4, n_kv_heads=3)


def test_llama_greedy_through_decode_equals_argmax_without_cache():
    model = tiny_model()
    prompt = ids(1, 4)
    out = decode.generate(model.step, prompt, decode.Greedy(), 8).tokens[0].tolist()
    history = prompt[0].tolist()
    with torch.no_grad():
        for _ in range(8):  # recompute everything each step: no cache involved
            history.append(int(model(torch.tensor([history]))[0][0, -1].argmax()))
    assert out == history[4:]


def test_llama_beam_and_sampling_through_decode():
    model = tiny_model()
    prompt = ids(2, 3)
    step = model.step
    greedy = decode.generate(step, prompt, decode.Greedy(), 6)
    beam1 = decode.generate(step, prompt, decode.Beam(1), 6)
    assert beam1.tokens.tolist() == greedy.tokens.tolist()  # beam 1 = greedy
    beam = decode.generate(step, prompt, decode.Beam(4, num_return=2), 6)  # reorders the KV cache
    assert beam.tokens.shape == (2, 6) and beam.hypotheses is not None
    a = decode.generate(step, prompt, decode.Sample(top_p=0.9, seed=3), 6).tokens
    b = decode.generate(step, prompt, decode.Sample(top_p=0.9, seed=3), 6).tokens
    assert torch.equal(a, b)


def test_llama_step_returns_the_last_positions_logits_and_decodes_like_forward():
    model = tiny_model()
    x = ids(3, 6)
    with torch.no_grad():
        full, _ = model(x)
    logits, state = model.step(x, None)
    assert logits.shape == (3, TINY.vocab_size) and state["pos"] == 6
    torch.testing.assert_close(logits, full[:, -1], atol=1e-6, rtol=1e-6)
    for strategy in (decode.Greedy(), decode.Beam(3)):
        own = decode.generate(model.step, x, strategy, 5).tokens
        wrapped = decode.generate(_full_forward_step(model), x, strategy, 5).tokens
        assert torch.equal(own, wrapped)


def _full_forward_step(model):
    """A step that projects every position (the step textkit had before models owned ``step``)."""

    def step(tokens, state):
        with torch.no_grad():
            return model(tokens, state)

    return step


def _greedy_without_cache(model: LlamaLanguageModel, prompt: torch.Tensor, n: int) -> list[list[int]]:
    """Greedy tokens recomputed from the whole history at every step: no KV cache involved."""
    history = prompt.tolist()
    with torch.no_grad():
        for _ in range(n):
            last = model(torch.tensor(history))[0][:, -1]  # (B, V)
            for row, token in zip(history, last.argmax(-1).tolist(), strict=True):
                row.append(token)
    return [row[prompt.size(1) :] for row in history]


def test_llama_preallocated_cache_grows_past_a_chunk_with_the_same_greedy_tokens():
    """The buffers start at one CACHE_CHUNK and grow (one copy) when a step needs more room;
    greedy tokens stay those of recomputing the whole history, batch 2."""
    from textkit.nn.llama import CACHE_CHUNK

    config = dataclasses.replace(TINY, max_len=CACHE_CHUNK + 32)
    model = tiny_model(config)
    prompt = torch.randint(0, TINY.vocab_size, (2, CACHE_CHUNK - 3), generator=torch.Generator().manual_seed(5))
    out = decode.generate(model.step, prompt, decode.Greedy(), 8, eos_id=None).tokens
    assert out.tolist() == _greedy_without_cache(model, prompt, 8)
    _, state = model.step(torch.cat([prompt, out], dim=1), None)
    assert state["k"][0].shape == (2, TINY.n_kv_heads, config.max_len, TINY.head_dim)  # capped at max_len


def test_llama_cache_writes_in_place_and_a_second_continuation_forks():
    """One-token steps reuse the buffers (no allocation); a state continued twice (its buffers
    already written past its pos by the first continuation) is copied, so both continuations
    equal fresh runs and the first one's state is left intact."""
    model = tiny_model()
    prefix, a, b = ids(1, 5), torch.tensor([[3]]), torch.tensor([[7]])
    with torch.no_grad():
        _, state = model(prefix)
        logits_a, state_a = model(a, state)
        assert state_a["k"][0] is state["k"][0] and state_a["filled"] == [6]
        logits_b, state_b = model(b, state)  # the same prefix again: forks
        assert state_b["k"][0] is not state["k"][0]
        next_a, _ = model(torch.tensor([[1]]), state_a)  # state_a still holds token a
        torch.testing.assert_close(logits_a, model(torch.cat([prefix, a], 1))[0][:, -1:], atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(logits_b, model(torch.cat([prefix, b], 1))[0][:, -1:], atol=1e-6, rtol=1e-6)
        fresh = model(torch.cat([prefix, a, torch.tensor([[1]])], 1))[0][:, -1:]
        torch.testing.assert_close(next_a, fresh, atol=1e-6, rtol=1e-6)


def test_llama_compile_decoding_falls_back_to_eager_when_compiling_fails(monkeypatch):
    model = tiny_model()
    prompt = ids(1, 4)
    expected = decode.generate(model.step, prompt, decode.Greedy(), 6).tokens

    def broken(fn, **options):
        def run(*args):
            raise RuntimeError("no C++ compiler here")

        return run

    monkeypatch.setattr(torch, "compile", broken)
    with pytest.warns(UserWarning, match="no C\\+\\+ compiler here.*stays eager"):
        assert model.compile_decoding() is model
    assert model._decode_blocks is None
    assert torch.equal(decode.generate(model.step, prompt, decode.Greedy(), 6).tokens, expected)


@pytest.mark.slow
def test_llama_compile_decoding_gives_the_eager_greedy_tokens():
    """One-token steps through torch.compile (dynamic cache length): the same greedy tokens and
    logits within float32 rounding; prompts stay eager."""
    model = tiny_model()
    prompt = ids(2, 5)
    expected = decode.generate(model.step, prompt, decode.Greedy(), 10)
    model.compile_decoding()
    if model._decode_blocks is None:
        pytest.skip("torch.compile cannot run here")
    out = decode.generate(model.step, prompt, decode.Greedy(), 10)
    assert torch.equal(out.tokens, expected.tokens)
    torch.testing.assert_close(out.scores, expected.scores, atol=1e-4, rtol=1e-4)


def test_llama_trains_after_predicting_under_inference_mode():
    """The rotary table is cached on the module: one first built under torch.inference_mode (a
    prediction) must not break a later training step."""
    model = tiny_model()
    with torch.inference_mode():
        model(ids(1, 4))
    logits, _ = model(ids(1, 4))
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
