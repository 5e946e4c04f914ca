"""decode.generate: one entry point over Greedy(), Sample(...) and Beam(...), equal to the
keyword forms greedy / sample / beam_search it replaces."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from textkit import decode

from .test_decode import toy_model

PROMPTS = [[1, 2], [3, 4], [5, 6]]


def assert_same(a: decode.Generation, b: decode.Generation) -> None:
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.lengths, b.lengths)
    torch.testing.assert_close(a.scores, b.scores, rtol=0, atol=0)


def test_generate_greedy_equals_greedy():
    step = toy_model(9, seed=5)
    processors = decode.build_processors(repetition_penalty=1.3, banned_ids=[4])
    got = decode.generate(step, PROMPTS, decode.Greedy(), 12, eos_id=0, pad_id=8, processors=processors)
    assert_same(got, decode.greedy(step, PROMPTS, 12, eos_id=0, pad_id=8, processors=processors))
    assert got.hypotheses is None


@pytest.mark.parametrize(
    "options", [{}, {"top_p": 0.9}, {"top_k": 3, "temperature": 0.7}, {"min_p": 0.2, "temperature": 1.5}]
)
def test_generate_sample_equals_sample_with_the_same_seed(options):
    step = toy_model(20, seed=2, eos_id=None)
    by_seed = decode.generate(step, PROMPTS, decode.Sample(**options, seed=7), 15, eos_id=0)
    by_generator = decode.generate(
        step, PROMPTS, decode.Sample(**options), 15, eos_id=0, generator=torch.Generator().manual_seed(7)
    )
    keyword = decode.sample(step, PROMPTS, 15, eos_id=0, generator=torch.Generator().manual_seed(7), **options)
    assert_same(by_seed, keyword)
    assert_same(by_generator, keyword)
    assert_same(
        by_seed, decode.generate(step, PROMPTS, decode.Sample(**options, seed=7), 15, eos_id=0)
    )  # same seed, same tokens


def test_generate_sample_processors_run_before_the_strategy_warpers():
    step = toy_model(20, seed=4)
    processors = decode.build_processors(repetition_penalty=1.4, no_repeat_ngram_size=2, banned_ids=[3])
    got = decode.generate(step, PROMPTS, decode.Sample(temperature=0.8, top_p=0.9, seed=1), 10, processors=processors)
    keyword = decode.sample(
        step,
        PROMPTS,
        10,
        generator=torch.Generator().manual_seed(1),
        temperature=0.8,
        top_p=0.9,
        repetition_penalty=1.4,
        no_repeat_ngram_size=2,
        banned_ids=[3],
    )
    assert_same(got, keyword)


def test_generate_beam_equals_beam_search_and_keeps_the_nbest():
    step = toy_model(9, seed=5)
    strategy = decode.Beam(3, length_norm="gnmt", length_penalty=0.6, num_return=2)
    got = decode.generate(step, PROMPTS, strategy, 12, eos_id=0)
    ref = decode.beam_search(
        step, PROMPTS, 12, beam_size=3, num_return=2, eos_id=0, length_norm="gnmt", length_penalty=0.6
    )
    assert got.hypotheses is not None and got.hypotheses.to_lists() == ref.to_lists()
    assert got.to_lists() == [hyps[0] for hyps in ref.to_lists()]
    torch.testing.assert_close(got.scores, ref.raw_scores[:, 0])


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), vocab=st.integers(2, 12), max_new=st.integers(1, 12))
def test_generate_beam_one_equals_greedy(seed, vocab, max_new):
    step = toy_model(vocab, seed)
    prompt = [[1 % vocab], [vocab - 1], [0]]
    greedy = decode.generate(step, prompt, decode.Greedy(), max_new, eos_id=0)
    beam = decode.generate(step, prompt, decode.Beam(1, length_norm="none"), max_new, eos_id=0)
    assert beam.to_lists() == greedy.to_lists()
    torch.testing.assert_close(beam.scores, greedy.scores)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), size=st.integers(1, 4), early=st.booleans(), eos=st.sampled_from([0, None]))
def test_generate_batched_beam_equals_one_row_at_a_time(seed, size, early, eos):
    step = toy_model(8, seed)
    strategy = decode.Beam(size, early_stopping=early, num_return=size)
    batched = decode.generate(step, PROMPTS, strategy, 10, eos_id=eos)
    for i, prompt in enumerate(PROMPTS):
        one = decode.generate(step, [prompt], strategy, 10, eos_id=eos)
        assert one.hypotheses.to_lists()[0] == batched.hypotheses.to_lists()[i]
        torch.testing.assert_close(one.hypotheses.scores[0], batched.hypotheses.scores[i])


@pytest.mark.parametrize(
    "strategy", [decode.Greedy(), decode.Sample(seed=0), decode.Sample(top_k=2, seed=0), decode.Beam(3)]
)
def test_generate_processors_compose_with_every_strategy(strategy):
    step = toy_model(6, seed=1, eos_id=None)
    plain = decode.generate(step, [[1]] * 4, strategy, 8)
    banned = max(set(plain.tokens.flatten().tolist()), key=plain.tokens.flatten().tolist().count)
    got = decode.generate(step, [[1]] * 4, strategy, 8, processors=[decode.BanTokens((banned,))])
    assert banned not in got.tokens.flatten().tolist()


def test_generate_strategies_are_frozen_dataclasses():
    beam = decode.Beam(4, length_penalty=0.6)
    with pytest.raises(dataclasses.FrozenInstanceError):
        beam.size = 2  # type: ignore[misc]
    assert dataclasses.replace(beam, size=2) == decode.Beam(2, length_penalty=0.6)
    assert {decode.Greedy(), decode.Greedy(), decode.Sample(top_p=0.9, seed=1)} == {
        decode.Greedy(),
        decode.Sample(top_p=0.9, seed=1),
    }


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: decode.Sample(top_p=0.0), "top_p"),
        (lambda: decode.Sample(top_k=0), "top_k"),
        (lambda: decode.Sample(temperature=0.0), "temperature"),
        (lambda: decode.Sample(min_p=2.0), "min_p"),
        (lambda: decode.Sample(seed=1.5), "seed"),
        (lambda: decode.Beam(0), "beam_size"),
        (lambda: decode.Beam(2, num_return=3), "num_return"),
        (lambda: decode.Beam(2, length_norm="mean"), "length_norm"),
    ],
)
def test_generate_bad_strategy_options_raise(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_generate_bad_calls_raise():
    step = toy_model(7)
    with pytest.raises(TypeError, match="Greedy"):
        decode.generate(step, [[1]], "greedy", 5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seed"):
        decode.generate(step, [[1]], decode.Sample(), 5)
    with pytest.raises(ValueError, match="not both"):
        decode.generate(step, [[1]], decode.Sample(seed=1), 5, generator=torch.Generator().manual_seed(1))
    with pytest.raises(TypeError, match="Generator"):
        decode.generate(step, [[1]], decode.Sample(), 5, generator=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="larger than the vocabulary"):
        decode.generate(step, [[1]], decode.Beam(8), 5, eos_id=0)
    with pytest.raises(ValueError, match="max_new_tokens"):
        decode.generate(step, [[1]], decode.Beam(2), 0)


def test_generate_finished_hypotheses_keep_the_best_in_arrival_order():
    pool = decode.FinishedHypotheses(batch=2, size=2, max_len=4, pad=9, device=torch.device("cpu"))
    rows = torch.tensor([0, 1])
    pool.add(rows, torch.tensor([[[1], [2]], [[3], [4]]]), torch.tensor([[-1.0, float("-inf")], [-2.0, -2.0]]), 1.0)
    pool.add(rows[:1], torch.tensor([[[5, 6], [7, 8]]]), torch.tensor([[-2.0, -0.5]]), 2.0)  # scores -1.0 and -0.25
    out = pool.output(2)
    assert out.to_lists() == [[[7, 8], [1]], [[3], [4]]]  # row 0: -0.25, then the tie at -1.0 that came first
    assert out.scores.tolist() == [[-0.25, -1.0], [-2.0, -2.0]] and out.raw_scores.tolist() == [
        [-0.5, -1.0],
        [-2.0, -2.0],
    ]
    assert out.tokens.tolist()[1] == [[3, 9], [4, 9]]  # padded to the longest returned hypothesis
    assert pool.done(rows, torch.tensor([-3.0, -1.0]), early_stopping=False).tolist() == [True, False]
