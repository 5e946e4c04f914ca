"""Decoding: logit processors, greedy, sampling and beam search over a toy step function."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from textkit import decode


def toy_model(vocab: int = 7, seed: int = 0, eos_id: int | None = 0):
    """A seeded Markov model with a position bias: logits = W[last token] + U[position].
    Its state (B,) holds each row's position, batch-first, so beam search can reorder it."""
    gen = torch.Generator().manual_seed(seed)
    table = torch.randn(vocab, vocab, generator=gen) * 2
    pos_bias = torch.randn(64, vocab, generator=gen)
    calls = []

    def step(tokens, state):
        pos = torch.zeros(tokens.size(0), dtype=torch.long) if state is None else state
        pos = pos + tokens.size(1)
        calls.append(tokens.size(0))
        logits = table[tokens[:, -1]] + pos_bias[pos.clamp(max=63)]  # (B, V)
        return logits[:, None, :], pos  # (B, 1, V)

    step.calls = calls
    return step


def log_prob_of(step, prompt: list[int], continuation: list[int]) -> float:
    logits, state = step(torch.tensor([prompt]), None)
    total = 0.0
    for tok in continuation:
        total += torch.log_softmax(logits[0, -1], -1)[tok].item()
        logits, state = step(torch.tensor([[tok]]), state)
    return total


# -- processors -----------------------------------------------------------------------------


def test_decode_top_p_test_vector_matches_hf_convention():
    probs = torch.tensor([[0.3, 0.1, 0.1, 0.5], [0.15, 0.3, 0.3, 0.25]])
    filtered = decode.top_p_filter(torch.log(probs), 0.8)
    assert filtered.shape == probs.shape
    kept = torch.where(torch.isinf(filtered), torch.zeros_like(probs), filtered.exp())
    expected = torch.tensor([[0.3, 0, 0, 0.5], [0, 0.3, 0.3, 0.25]])
    torch.testing.assert_close(kept, expected, atol=1e-6, rtol=0)
    assert torch.isneginf(filtered[0, 1]) and torch.isneginf(filtered[1, 0])


def test_decode_top_k_keeps_k_largest_and_sets_rest_to_minus_inf():
    logits = torch.tensor([[1.0, 5.0, 3.0, 2.0], [0.0, -1.0, 4.0, 4.5]])
    out = decode.top_k_filter(logits, 2)
    assert out.shape == logits.shape
    assert torch.isneginf(out).tolist() == [[True, False, False, True], [True, True, False, False]]
    assert torch.equal(out[~torch.isneginf(out)], logits[~torch.isneginf(out)])
    assert torch.equal(decode.top_k_filter(logits, 10), logits)


def test_decode_top_p_one_keeps_everything_and_always_keeps_the_best():
    logits = torch.randn(3, 9, generator=torch.Generator().manual_seed(0))
    assert torch.equal(decode.top_p_filter(logits, 1.0), logits)
    tiny = decode.top_p_filter(logits, 1e-9)
    assert (~torch.isneginf(tiny)).sum(-1).tolist() == [1, 1, 1]
    assert torch.equal((~torch.isneginf(tiny)).float().argmax(-1), logits.argmax(-1))


def test_decode_min_p_and_temperature():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    out = decode.min_p_filter(logits, 0.2)  # threshold 0.1
    assert torch.isneginf(out).tolist() == [[False, False, False, True]]
    torch.testing.assert_close(decode.apply_temperature(logits, 2.0), logits / 2)


def test_decode_repetition_penalty_and_no_repeat_ngram():
    logits = torch.tensor([[2.0, -2.0, 1.0, 0.5]])
    seen = torch.tensor([[0, 1]])
    out = decode.repetition_penalty(logits, seen, 2.0)
    assert out.tolist() == [[1.0, -4.0, 1.0, 0.5]]
    tokens = torch.tensor([[1, 2, 3, 1, 2]])  # next 3 would repeat (1, 2, 3) for n=3 and (2, 3) for n=2
    mask = decode.no_repeat_ngram_mask(tokens, 3, 5)
    assert mask.tolist() == [[False, False, False, True, False]]
    assert decode.no_repeat_ngram_mask(tokens, 2, 5)[0].nonzero().flatten().tolist() == [3]
    assert decode.no_repeat_ngram_mask(tokens, 1, 5)[0].nonzero().flatten().tolist() == [1, 2, 3]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"top_k": 0}, "top_k"),
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": -1.0}, "temperature"),
    ],
)
def test_decode_bad_sampling_options_raise(kwargs, message):
    step = toy_model()
    with pytest.raises(ValueError, match=message):
        decode.sample(step, [[1]], 5, generator=torch.Generator().manual_seed(0), **kwargs)


def test_decode_bad_lengths_and_beam_sizes_raise():
    step = toy_model(vocab=7)
    with pytest.raises(ValueError, match="max_new_tokens"):
        decode.greedy(step, [[1]], 0)
    with pytest.raises(ValueError, match="larger than the vocabulary"):
        decode.beam_search(step, [[1]], 5, beam_size=8, eos_id=0)
    with pytest.raises(ValueError, match="num_return"):
        decode.beam_search(step, [[1]], 5, beam_size=2, eos_id=0, num_return=3)
    with pytest.raises(ValueError, match="same length"):
        decode.greedy(step, [[1], [1, 2]], 3)
    with pytest.raises(TypeError, match="Generator"):
        decode.sample(step, [[1]], 3, generator=0)


# -- property tests -------------------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), vocab=st.integers(2, 12), max_new=st.integers(1, 12))
def test_decode_top_k_one_and_top_p_zero_equal_greedy(seed, vocab, max_new):
    step = toy_model(vocab, seed)
    prompt = [[1 % vocab], [vocab - 1]]
    ref = decode.greedy(step, prompt, max_new, eos_id=0)
    for options in ({"top_k": 1}, {"top_p": 1e-9}, {"top_k": 1, "temperature": 0.5}):
        got = decode.sample(step, prompt, max_new, eos_id=0, generator=torch.Generator().manual_seed(seed), **options)
        assert torch.equal(got.tokens, ref.tokens) and torch.equal(got.lengths, ref.lengths)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), vocab=st.integers(2, 12), max_new=st.integers(1, 12))
def test_decode_beam_size_one_equals_greedy(seed, vocab, max_new):
    step = toy_model(vocab, seed)
    prompt = [[1 % vocab], [vocab - 1], [0]]
    ref = decode.greedy(step, prompt, max_new, eos_id=0)
    beam = decode.beam_search(step, prompt, max_new, beam_size=1, eos_id=0, length_norm="none")
    assert beam.to_lists() == [[row] for row in ref.to_lists()]
    torch.testing.assert_close(beam.raw_scores[:, 0], ref.scores)


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    beam=st.integers(1, 5),
    norm=st.sampled_from(["average", "gnmt", "none"]),
    early=st.booleans(),
)
def test_decode_beam_search_returns_nbest_sorted_by_score(seed, beam, norm, early):
    step = toy_model(8, seed)
    out = decode.beam_search(
        step, [[1], [2]], 10, beam_size=beam, num_return=beam, eos_id=0, length_norm=norm, early_stopping=early
    )
    assert out.tokens.shape[:2] == (2, beam)
    for b in range(2):
        scores = out.scores[b].tolist()
        assert scores == sorted(scores, reverse=True)
        for j, seq in enumerate(out.to_lists()[b]):
            # each reported raw score is the true log-probability of its hypothesis
            assert math.isclose(out.raw_scores[b, j].item(), log_prob_of(step, [1 + b], seq), abs_tol=1e-4)
            factor = decode.length_penalty_factor(len(seq), 1.0, norm)
            assert math.isclose(out.scores[b, j].item(), out.raw_scores[b, j].item() / factor, rel_tol=1e-5)


def test_decode_beam_search_is_exact_when_the_beam_covers_every_prefix():
    vocab = 4
    step = toy_model(vocab, seed=3, eos_id=None)
    out = decode.beam_search(step, [[1]], 2, beam_size=vocab, num_return=vocab, eos_id=None, length_norm="none")
    brute = sorted(
        ((log_prob_of(step, [1], list(s)), list(s)) for s in itertools.product(range(vocab), repeat=2)), reverse=True
    )
    assert out.to_lists()[0] == [s for _, s in brute[:vocab]]


def test_decode_beam_beats_or_ties_greedy_in_log_probability():
    wins = 0
    for seed in range(20):
        step = toy_model(6, seed)
        g = decode.greedy(step, [[1]], 8, eos_id=0)
        b = decode.beam_search(step, [[1]], 8, beam_size=4, eos_id=0, length_norm="none", early_stopping=False)
        assert b.raw_scores[0, 0].item() >= g.scores[0].item() - 1e-5
        wins += b.raw_scores[0, 0].item() > g.scores[0].item() + 1e-5
    assert wins > 0


def test_decode_batched_equals_one_row_at_a_time():
    step = toy_model(9, seed=5)
    prompts = [[1, 2], [3, 4], [5, 6]]
    beam = decode.beam_search(step, prompts, 12, beam_size=3, num_return=2, eos_id=0)
    greedy = decode.greedy(step, prompts, 12, eos_id=0)
    for i, p in enumerate(prompts):
        one = decode.beam_search(step, [p], 12, beam_size=3, num_return=2, eos_id=0)
        assert one.to_lists()[0] == beam.to_lists()[i]
        torch.testing.assert_close(one.scores[0], beam.scores[i])
        assert decode.greedy(step, [p], 12, eos_id=0).to_lists()[0] == greedy.to_lists()[i]


def test_decode_finished_rows_leave_the_beam_batch():
    step = toy_model(9, seed=5)
    step.calls.clear()
    decode.beam_search(step, [[1], [2], [3], [4]], 30, beam_size=2, eos_id=0)
    assert step.calls[0] == 4 and step.calls[1] == 8 and min(step.calls[1:]) < 8


def test_decode_greedy_stops_at_eos_and_pads_after_it():
    step = toy_model(5, seed=1)
    out = decode.greedy(step, [[1], [2], [3]], 20, eos_id=0, pad_id=4)
    for row, n in zip(out.tokens.tolist(), out.lengths.tolist(), strict=True):
        if 0 in row[:n]:
            assert row[n - 1] == 0 and all(t == 4 for t in row[n:])
    assert out.to_lists(strip_eos_id=0) == [r[:-1] if r and r[-1] == 0 else r for r in out.to_lists()]


def test_decode_sample_same_seed_same_tokens_and_other_seed_differs():
    step = toy_model(50, seed=2, eos_id=None)
    a = decode.sample(step, [[1]] * 4, 30, generator=torch.Generator().manual_seed(7), top_p=0.95)
    b = decode.sample(step, [[1]] * 4, 30, generator=torch.Generator().manual_seed(7), top_p=0.95)
    c = decode.sample(step, [[1]] * 4, 30, generator=torch.Generator().manual_seed(8), top_p=0.95)
    assert torch.equal(a.tokens, b.tokens) and not torch.equal(a.tokens, c.tokens)


def test_decode_no_repeat_ngram_removes_repeated_bigrams():
    table = torch.full((4, 4), -5.0)
    table[1, 2] = table[2, 1] = 5.0  # a model that loops 1 2 1 2 ...

    def step(tokens, state):
        return table[tokens[:, -1]][:, None], state

    looped = decode.greedy(step, [[1]], 8).to_lists()[0]
    assert looped == [2, 1, 2, 1, 2, 1, 2, 1]
    fixed = decode.greedy(step, [[1]], 8, processors=decode.build_processors(no_repeat_ngram_size=2)).to_lists()[0]
    full = [1] + fixed
    bigrams = list(zip(full, full[1:], strict=False))
    assert len(bigrams) == len(set(bigrams))
    assert decode.repetition_rate([looped]) == 1.0 and decode.repetition_rate([fixed]) == 0.0


@pytest.mark.parametrize(
    "options", [{"top_p": 0.7}, {"top_k": 3}, {"temperature": 0.7, "top_k": 5, "top_p": 0.9}, {"min_p": 0.3}]
)
def test_decode_sampling_frequencies_match_filtered_distribution(options):
    scipy_stats = pytest.importorskip("scipy.stats")
    logits = torch.tensor([2.0, 1.5, 1.2, 0.3, 0.0, -0.5, -1.0, 1.0])
    n = 20_000

    def step(tokens, state):
        return logits.expand(tokens.size(0), 1, -1), state

    draws = decode.sample(step, [[0]] * n, 1, generator=torch.Generator().manual_seed(0), **options).tokens[:, 0]
    counts = torch.bincount(draws, minlength=logits.numel()).double()
    filtered = decode.apply_processors(
        logits[None], torch.zeros(1, 1, dtype=torch.long), decode.build_processors(**options)
    )[0]
    probs = torch.softmax(filtered, -1).double()
    kept = probs > 0
    assert counts[~kept].sum() == 0  # nothing outside the filtered set is ever drawn
    assert kept.sum() >= 2
    expected = probs[kept] / probs[kept].sum() * n
    stat = scipy_stats.chisquare(counts[kept].numpy(), expected.numpy())
    assert stat.pvalue > 1e-3, (counts, probs * n)
    # and not uniform inside the set (the course's bug)
    uniform = scipy_stats.chisquare(counts[kept].numpy())
    assert uniform.pvalue < 1e-6


# -- metrics --------------------------------------------------------------------------------


def test_decode_metrics_distinct_and_self_bleu_and_repetition():
    assert decode.distinct_n([[1, 2, 3], [1, 2, 4]], 1) == 4 / 6
    assert decode.distinct_n([[1, 2, 3], [1, 2, 4]], 2) == 3 / 4
    same = [["a", "b", "c", "d", "e"]] * 3
    assert decode.self_bleu(same) == pytest.approx(1.0)
    different = [list("abcdef"), list("ghijkl"), list("mnopqr")]
    assert decode.self_bleu(different) < 0.05
    assert decode.ends_in_repetition("I do n't know . I do n't know .".split())
    assert not decode.ends_in_repetition("the cat sat on the mat".split())
    assert not decode.ends_in_repetition("he said no no".split())  # too short to be a loop
    assert decode.repetition_rate([[1, 2, 3], [4, 5, 5, 5, 5]]) == 0.5
