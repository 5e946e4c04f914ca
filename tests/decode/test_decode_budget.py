"""Decoding options checked against a memory budget before allocation (issue 28): beam width,
batch size and lengths whose estimate exceeds ``memory_budget`` raise a ValueError naming them,
before the beams are expanded. Before this fix ``lm generate --beam 20000`` allocated 5.6 GB
before failing, and ``max_new_tokens=10**9`` under beam search asked for a (B, K, 10**9) tensor."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import torch

from textkit import decode

MIB = 2**20


def wide_step(vocab: int, state_per_row: int = 0):
    """A step over a ``vocab``-wide vocabulary whose state holds ``state_per_row`` float32s per
    row (batch-first). ``step.calls`` counts the rows of every call."""

    def step(tokens, state):
        step.calls.append(tokens.size(0))
        logits = torch.zeros(tokens.size(0), vocab)
        logits[:, 1] = 1.0
        if state is None and state_per_row:
            state = torch.zeros(tokens.size(0), state_per_row)
        return logits, state

    step.calls = []
    return step


# (strategy, batch, max_new_tokens, vocab, state floats per row, budget, words the message names, step calls)
REFUSED = [
    pytest.param(
        decode.Beam(20000), 1, 50, 30_000, 0, None, ["Beam(size=20000", "vocabulary 30,000"], 1, id="beam-20000"
    ),
    pytest.param(decode.Beam(5000), 4, 50, 50_000, 0, None, ["Beam(size=5000", "batch of 4"], 1, id="beam-x-batch"),
    pytest.param(decode.Beam(5), 1, 10**9, 100, 0, None, ["max_new_tokens=1,000,000,000"], 0, id="beam-billion-tokens"),
    pytest.param(decode.Beam(10**12), 1, 20, 100, 0, None, ["Beam(size=1000000000000"], 0, id="beam-10-to-12"),
    pytest.param(
        decode.Greedy(), 1, 10**9, 100, 0, None, ["Greedy()", "max_new_tokens=1,000,000,000"], 0, id="greedy-1e9"
    ),
    pytest.param(decode.Sample(seed=0), 2, 10**9, 100, 0, None, ["max_new_tokens=1,000,000,000"], 0, id="sample-1e9"),
    pytest.param(
        decode.Greedy(), 4096, 4, 1000, 0, 16 * MIB, ["batch of 4,096", "vocabulary 1,000"], 1, id="greedy-batch"
    ),
    pytest.param(decode.Sample(seed=0), 2048, 4, 2000, 0, 16 * MIB, ["batch of 2,048"], 1, id="sample-batch"),
    pytest.param(
        decode.Beam(64), 16, 8, 2000, 0, 16 * MIB, ["Beam(size=64", "batch of 16"], 1, id="beam-batch-small-budget"
    ),
    pytest.param(
        decode.Beam(8), 1, 8, 100, 2**20, 32 * MIB, ["state", "copies the model state"], 1, id="beam-big-state"
    ),
    pytest.param(
        decode.Beam(4), 1, 2**20, 100, 0, 64 * MIB, ["max_new_tokens=1,048,576"], 0, id="beam-long-small-budget"
    ),
    pytest.param(
        decode.Greedy(), 1, 10**6, 100, 0, 16 * MIB, ["max_new_tokens=1,000,000"], 0, id="greedy-long-small-budget"
    ),
]


@pytest.mark.parametrize("strategy, batch, max_new, vocab, state, budget, names, calls", REFUSED)
def test_decode_budget_refuses_options_before_allocating(strategy, batch, max_new, vocab, state, budget, names, calls):
    step = wide_step(vocab, state)
    prompt = torch.ones(batch, 2, dtype=torch.long)
    with pytest.raises(ValueError, match="over the memory budget") as info:
        decode.generate(step, prompt, strategy, max_new, eos_id=0, memory_budget=budget)
    message = str(info.value)
    for name in names:
        assert name in message, message
    assert ("4 GiB" if budget is None else "MiB") in message  # the budget it was held to
    assert len(step.calls) == calls  # refused before any beam was expanded


@pytest.mark.parametrize(
    "budget",
    [pytest.param(0, id="zero"), pytest.param(-1, id="negative"), pytest.param(True, id="bool")]
    + [pytest.param(1.5, id="float"), pytest.param("4GB", id="string")],
)
def test_decode_budget_rejects_a_malformed_budget_by_name(budget):
    with pytest.raises(ValueError, match="memory_budget must be"):
        decode.generate(wide_step(10), [[1]], decode.Greedy(), 3, memory_budget=budget)


@pytest.mark.parametrize(
    "strategy", [decode.Greedy(), decode.Sample(top_k=3, seed=1), decode.Beam(3, num_return=2)], ids=repr
)
def test_decode_budget_that_suffices_changes_nothing(strategy):
    from .test_decode import toy_model

    step = toy_model(9, seed=4)
    prompts = [[1, 2], [3, 4]]
    free = decode.generate(step, prompts, strategy, 10, eos_id=0)
    beam = getattr(strategy, "size", 1)
    parts = decode.decoding_memory(2, 2, 10, vocab=9, beam=beam, state=16, processors=len(strategy.warpers()))
    tight = decode.generate(step, prompts, strategy, 10, eos_id=0, memory_budget=sum(parts.values()))
    assert torch.equal(free.tokens, tight.tokens) and torch.equal(free.scores, tight.scores)


def test_decode_budget_estimate_grows_with_every_option():
    base = dict(batch=2, prompt_len=8, max_new_tokens=16, vocab=100, beam=4, state=1000, processors=1)
    total = sum(decode.decoding_memory(**base).values())
    for option in base:
        bigger = dict(base, **{option: base[option] * 2})
        assert sum(decode.decoding_memory(**bigger).values()) > total, option
    assert decode.state_bytes((torch.zeros(2, 3), [torch.zeros(4, dtype=torch.long)], {"k": None})) == 24 + 32
    assert decode.MEMORY_BUDGET == 4 * 1024**3


def test_decode_budget_beam_20000_is_refused_in_bounded_memory():
    # In a child under RLIMIT_AS: without the check, (20000, 50000) float32 scores are 3.7 GiB each.
    child = textwrap.dedent(
        """
        import json, resource
        import torch
        from textkit import decode

        def vm_size():
            with open("/proc/self/status") as status:
                return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize"))

        limit = vm_size() + 1024 * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

        def step(tokens, state):
            return torch.zeros(tokens.size(0), 50_000), state

        try:
            decode.generate(step, [[1, 2, 3]], decode.Beam(20000), 50, eos_id=0)
            outcome = "generated"
        except ValueError as exc:
            outcome = str(exc)
        except MemoryError as exc:
            outcome = "MemoryError: " + str(exc)
        grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        print(json.dumps({"outcome": outcome, "grew_mb": grew}))
        """
    )
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert "Beam(size=20000" in report["outcome"] and "over the memory budget" in report["outcome"], report
    assert report["grew_mb"] < 100, report


@pytest.mark.slow
@pytest.mark.parametrize(
    "options, names",
    [
        pytest.param(["--beam", "15000"], ["Beam(size=15000", "vocabulary 16,000"], id="cli-beam-15000"),
        pytest.param(["--temperature", "0", "--max-new-tokens", "1000000000"], ["Greedy()"], id="cli-billion-tokens"),
    ],
)
def test_decode_budget_lm_generate_at_the_issues_size(capsys, options, names):
    # The shipped AWD-LSTM (16,000 tokens): --beam 20000 is larger than its vocabulary, so 15000.
    from textkit.cli import main

    assert main(["lm", "generate", "awd_lstm-en", "--prompt", "the film", *options]) == 1
    err = capsys.readouterr().err
    assert "over the memory budget" in err and all(name in err for name in names), err
    assert "Traceback" not in err
