"""One decoding entry point, :func:`generate`, over a step function.

``step(tokens (B, T), state) -> (logits (B, T, V) or (B, V), state)`` is all it needs. The
first call gets the whole prompt (and the caller's initial ``state``, e.g. an encoder's
output); later calls get one new token per row. Models never sample: randomness comes only
from ``Sample(seed=...)`` or an explicit ``torch.Generator``.

``generate(step, prompt_ids, strategy, max_new_tokens)`` runs ``Greedy()``, ``Sample(...)`` or
``Beam(...)`` (see :mod:`textkit.decode.strategies`) and always returns a :class:`Generation`.
:func:`greedy`, :func:`sample` and :func:`beam_search` are thin keyword forms over the same
machinery.

Beam search reorders the state with ``reorder(state, index)``; the default selects rows of
every tensor in a (nested) tuple/list/dict along dimension 0, so step functions keep their
state batch-first (or pass their own ``reorder``).

Options are checked against a memory budget before they are allocated:
:func:`decoding_memory` estimates what one call holds at once (per-step scores of every row
and beam over the vocabulary, the generated tokens, beam search's finished hypotheses and its
copies of the state), and a call whose estimate exceeds ``memory_budget`` bytes (default
:data:`MEMORY_BUDGET`, 4 GiB) raises a ValueError naming the options, before the beams are
expanded. The vocabulary size comes from the first step's logits and the state size from the
state it returns; ``max_new_tokens`` and the beam size are also checked before the first step.
The step function's own memory (weights, activations, a growing KV cache) is not estimated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from textkit.decode.processors import LogitsProcessor, apply_processors, build_processors
from textkit.decode.strategies import Beam, Greedy, Sample, Strategy

StepFn = Callable[[torch.Tensor, object], tuple[torch.Tensor, object]]
ReorderFn = Callable[[object, torch.Tensor], object]
Prompt = torch.Tensor | Sequence[Sequence[int]]


def index_state(state: object, index: torch.Tensor, dim: int = 0) -> object:
    """Select rows ``index`` along ``dim`` (the batch dimension) of every tensor in a nested
    tuple/list/dict state; other leaves (ints, None) pass through. Recurrent LMs keep their
    state as (layers, B, H): reorder them with ``functools.partial(index_state, dim=1)``."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.index_select(dim, index.to(state.device)) if state.dim() > dim else state
    if isinstance(state, tuple):
        return tuple(index_state(s, index, dim) for s in state)
    if isinstance(state, list):
        return [index_state(s, index, dim) for s in state]
    if isinstance(state, dict):
        return {k: index_state(v, index, dim) for k, v in state.items()}
    return state


def reorder_dim1(state: object, index: torch.Tensor) -> object:
    """``index_state`` along dimension 1, for (layers, B, H) recurrent states."""
    return index_state(state, index, dim=1)


@dataclass
class Generation:
    """Output of :func:`generate` (and of :func:`greedy` and :func:`sample`).

    ``tokens`` (B, T): the new tokens; positions after a row's EOS hold ``pad_id``.
    ``lengths`` (B,): new tokens per row, EOS included. ``scores`` (B,): summed log-probability
    of the chosen tokens; under the model's (unprocessed) distribution for greedy and
    sampling, under the processed one for beam search. ``hypotheses``: with ``Beam``, the
    n-best lists (:class:`BeamOutput`); ``tokens`` is then its best hypothesis."""

    tokens: torch.Tensor
    lengths: torch.Tensor
    scores: torch.Tensor
    hypotheses: BeamOutput | None = None

    def to_lists(self, strip_eos_id: int | None = None) -> list[list[int]]:
        out = []
        for row, n in zip(self.tokens.tolist(), self.lengths.tolist(), strict=True):
            row = row[:n]
            if strip_eos_id is not None and row and row[-1] == strip_eos_id:
                row = row[:-1]
            out.append(row)
        return out


@dataclass
class BeamOutput:
    """Output of :func:`beam_search`: the n best hypotheses of each row, best first.

    ``tokens`` (B, N, T) padded with ``pad_id``; ``lengths`` (B, N) (EOS included);
    ``scores`` (B, N): length-normalized log-probabilities; ``raw_scores`` (B, N): summed."""

    tokens: torch.Tensor
    lengths: torch.Tensor
    scores: torch.Tensor
    raw_scores: torch.Tensor

    def to_lists(self, strip_eos_id: int | None = None) -> list[list[list[int]]]:
        out = []
        for rows, ns in zip(self.tokens.tolist(), self.lengths.tolist(), strict=True):
            hyps = []
            for row, n in zip(rows, ns, strict=True):
                row = row[:n]
                if strip_eos_id is not None and row and row[-1] == strip_eos_id:
                    row = row[:-1]
                hyps.append(row)
            out.append(hyps)
        return out

    def best(self) -> Generation:
        return Generation(self.tokens[:, 0], self.lengths[:, 0], self.raw_scores[:, 0], hypotheses=self)


# -- shared helpers ---------------------------------------------------------------------------


def _as_prompt(prompt: Prompt, device: str | torch.device | None) -> torch.Tensor:
    if isinstance(prompt, torch.Tensor):
        tokens = prompt.to(device=device, dtype=torch.long)
    else:
        rows = [list(r) for r in prompt]
        if len({len(r) for r in rows}) > 1:
            raise ValueError(
                "prompts in one batch must have the same length; "
                "decode ragged prompts separately or left-pad them yourself"
            )
        tokens = torch.tensor(rows, dtype=torch.long, device=device)
    if tokens.dim() == 1:
        tokens = tokens[None]
    if tokens.dim() != 2 or tokens.size(1) == 0:
        raise ValueError(
            f"the prompt must be (batch, length >= 1) token ids (at least a BOS id), got shape {tuple(tokens.shape)}"
        )
    return tokens


def _last(logits: torch.Tensor) -> torch.Tensor:
    return (logits[:, -1] if logits.dim() == 3 else logits).float()  # (B, V)


def _check_max_new(max_new_tokens: int) -> None:
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be an integer >= 1, got {max_new_tokens!r}")


def _pad_value(pad_id: int | None, eos_id: int | None) -> int:
    return pad_id if pad_id is not None else (eos_id if eos_id is not None else 0)


# -- the memory budget --------------------------------------------------------------------------

MEMORY_BUDGET = 4 * 1024**3
"""Bytes one :func:`generate` call may plan to hold at once (4 GiB); ``generate(memory_budget=)``
overrides it per call. ``lm generate --beam 20000`` planned ~10 GiB and is refused."""

_STEP_OVERHEAD = 200  # bytes per step per kept tensor beyond its data (greedy keeps one per step)


def state_bytes(state: object) -> int:
    """Bytes held by the tensors of a (nested) tuple/list/dict state."""
    if isinstance(state, torch.Tensor):
        return state.numel() * state.element_size()
    if isinstance(state, (tuple, list)):
        return sum(state_bytes(s) for s in state)
    if isinstance(state, dict):
        return sum(state_bytes(v) for v in state.values())
    return 0


def decoding_memory(
    batch: int,
    prompt_len: int,
    max_new_tokens: int,
    *,
    vocab: int = 0,
    beam: int = 1,
    state: int = 0,
    processors: int = 0,
) -> dict[str, int]:
    """Estimated bytes :func:`generate` holds at once, by part: ``scores`` (float32 rows x
    vocabulary, in about ``4 + processors`` copies per step: logits, processed, normalized,
    the next step's logits), ``tokens`` (the prompt and generated ids of every row, with a
    reordered copy), ``finished`` (beam search's kept hypotheses, or greedy's per-step
    outputs) and ``state`` (the step state copied to every beam, twice while reordering).
    ``rows`` is ``batch * beam``; ``vocab`` and ``state`` (bytes for ``batch`` rows) come from the
    first step."""
    rows = batch * beam
    # beam: FinishedHypotheses (B, K, max_new) and its merge of K + 2K candidates; else one (B,) tensor per step
    beam_kept = rows * max_new_tokens * 8 * 3
    step_kept = max_new_tokens * (batch * 8 + _STEP_OVERHEAD)
    finished = beam_kept if beam > 1 else step_kept
    return {
        "scores": rows * vocab * 4 * (4 + processors),
        "tokens": rows * (prompt_len + max_new_tokens) * 8 * 3,
        "finished": finished,
        "state": 2 * beam * state if beam > 1 else 0,
    }


def _options(strategy: Strategy, batch: int, prompt_len: int, max_new_tokens: int) -> str:
    return (
        f"{strategy!r} on a batch of {batch:,} prompt(s) of {prompt_len:,} token(s), max_new_tokens={max_new_tokens:,}"
    )


def _check_budget(parts: dict[str, int], budget: int, options: str) -> None:
    """Raise a ValueError naming ``options`` when the estimate ``parts`` exceeds ``budget``."""
    total = sum(parts.values())
    if total <= budget:
        return
    largest = max(parts, key=lambda k: parts[k])
    fix = {
        "scores": "a smaller beam size or batch",
        "tokens": "fewer or shorter prompts per batch, or a smaller max_new_tokens",
        "finished": "a smaller max_new_tokens (or beam size)",
        "state": "a smaller beam size or batch (every beam copies the model state)",
    }[largest]
    shown = ", ".join(f"{k} {_gib(v)}" for k, v in parts.items() if v)
    raise ValueError(
        f"decoding with {options} would hold about {_gib(total)} ({shown}), over the memory budget of "
        f"{_gib(budget)} (textkit.decode.MEMORY_BUDGET; generate(memory_budget=...) changes it). Use {fix}"
    )


def _gib(n: int) -> str:
    return f"{n / 1024**3:.3g} GiB" if n >= 1024**3 else f"{n / 1024**2:.3g} MiB"


def _resolve_budget(memory_budget: int | None) -> int:
    if memory_budget is None:
        return MEMORY_BUDGET
    if isinstance(memory_budget, bool) or not isinstance(memory_budget, int) or memory_budget < 1:
        raise ValueError(f"memory_budget must be a number of bytes >= 1 or None, got {memory_budget!r}")
    return memory_budget


# -- greedy and sampling: one token per row per step ------------------------------------------


def _argmax(scores: torch.Tensor) -> torch.Tensor:
    return scores.argmax(dim=-1)


def _drawer(generator: torch.Generator) -> Callable[[torch.Tensor], torch.Tensor]:
    def draw(scores: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(scores, dim=-1)  # (B, V)
        if probs.device != generator.device:
            probs = probs.to(generator.device)
        return torch.multinomial(probs, 1, generator=generator)[:, 0].to(scores.device)

    return draw


def _run(
    step: StepFn,
    prompt: Prompt,
    max_new_tokens: int,
    state: object,
    eos_id: int | None,
    pad_id: int | None,
    processors: Sequence[LogitsProcessor],
    choose: Callable[[torch.Tensor], torch.Tensor],
    device: str | torch.device | None,
    strategy: Strategy,
    budget: int,
) -> Generation:
    _check_max_new(max_new_tokens)
    history = _as_prompt(prompt, device)  # (B, T)
    batch, prompt_len = history.shape
    options = _options(strategy, batch, prompt_len, max_new_tokens)
    _check_budget(decoding_memory(batch, prompt_len, max_new_tokens, processors=len(processors)), budget, options)
    pad = _pad_value(pad_id, eos_id)
    logits, state = step(history, state)
    vocab = logits.size(-1)
    parts = decoding_memory(batch, prompt_len, max_new_tokens, vocab=vocab, processors=len(processors))
    _check_budget(parts, budget, f"{options}, vocabulary {vocab:,}")
    finished = torch.zeros(batch, dtype=torch.bool, device=history.device)
    lengths = torch.zeros(batch, dtype=torch.long, device=history.device)
    scores = torch.zeros(batch, dtype=torch.float32, device=history.device)
    out = []
    for t in range(max_new_tokens):
        last = _last(logits)  # (B, V)
        chosen = choose(apply_processors(last, history, processors))  # (B,)
        chosen = torch.where(finished, torch.full_like(chosen, pad), chosen)
        logp = last.gather(1, chosen[:, None])[:, 0] - torch.logsumexp(last, dim=-1)
        scores = scores + torch.where(finished, torch.zeros_like(logp), logp)
        lengths = lengths + (~finished).long()
        out.append(chosen)
        if eos_id is not None:
            finished = finished | (chosen == eos_id)
        if t == max_new_tokens - 1 or bool(finished.all()):
            break
        if processors:
            history = torch.cat([history, chosen[:, None]], dim=1)
        logits, state = step(chosen[:, None], state)
    return Generation(torch.stack(out, dim=1), lengths, scores)


# -- beam search -------------------------------------------------------------------------------


def length_penalty_factor(length: int, alpha: float, kind: str) -> float:
    """Divisor of a hypothesis' summed log-probability: ``length ** alpha`` ("average"),
    GNMT's ``((5 + length) / 6) ** alpha`` ("gnmt"), or 1 ("none")."""
    if kind == "average":
        return float(length) ** alpha
    if kind == "gnmt":
        return ((5.0 + length) / 6.0) ** alpha
    if kind == "none":
        return 1.0
    raise ValueError(f"length_norm must be 'average', 'gnmt' or 'none', got {kind!r}")


class FinishedHypotheses:
    """The best ``size`` finished hypotheses of every row of a batch, on tensors.

    ``tokens`` (B, K, L) padded with ``pad``; ``lengths`` (B, K); ``scores`` (B, K)
    length-normalized (float64, as the comparisons between rows of different lengths need);
    ``raw`` (B, K) summed log-probabilities. Each row stays sorted best first; ties keep the
    order in which the hypotheses finished; empty slots score ``-inf``. Keeping only ``size``
    per row loses nothing: the n-best output and the stopping test only look at those."""

    def __init__(self, batch: int, size: int, max_len: int, pad: int, device: torch.device) -> None:
        self.size, self.pad = size, pad
        self.tokens = torch.full((batch, size, max_len), pad, dtype=torch.long, device=device)
        self.lengths = torch.zeros(batch, size, dtype=torch.long, device=device)
        self.scores = torch.full((batch, size), float("-inf"), dtype=torch.float64, device=device)
        self.raw = torch.full((batch, size), float("-inf"), dtype=torch.float32, device=device)

    def add(self, rows: torch.Tensor, tokens: torch.Tensor, raw: torch.Tensor, divisor: float) -> None:
        """Offer candidates for batch rows ``rows`` (n,): ``tokens`` (n, C, l) of length ``l``,
        ``raw`` (n, C) summed log-probabilities (``-inf``: not a candidate); they score
        ``raw / divisor``."""
        n, c, length = tokens.shape
        width = self.tokens.size(-1)
        scores = torch.cat([self.scores[rows], raw.double() / divisor], dim=1)  # (n, K + C)
        order = torch.sort(scores, dim=1, descending=True, stable=True).indices[:, : self.size]  # (n, K)
        cand_tokens = F.pad(tokens, (0, width - length), value=self.pad)  # (n, C, L)
        all_tokens = torch.cat([self.tokens[rows], cand_tokens], dim=1)  # (n, K + C, L)
        all_lengths = torch.cat(
            [self.lengths[rows], torch.full((n, c), length, dtype=torch.long, device=tokens.device)], dim=1
        )
        self.scores[rows] = scores.gather(1, order)
        self.raw[rows] = torch.cat([self.raw[rows], raw.float()], dim=1).gather(1, order)
        self.lengths[rows] = all_lengths.gather(1, order)
        self.tokens[rows] = all_tokens.gather(1, order[..., None].expand(-1, -1, width))

    def done(self, rows: torch.Tensor, best_running: torch.Tensor, early_stopping: bool) -> torch.Tensor:
        """(n,) bool: rows with ``size`` finished hypotheses (``early_stopping``), or, without
        it, whose best running score ``best_running`` (n,) cannot beat their worst kept one."""
        scores = self.scores[rows]  # (n, K)
        full = torch.isfinite(scores).all(dim=-1)
        if early_stopping:
            return full
        return full & (best_running.double() <= scores[:, -1])

    def output(self, num_return: int) -> BeamOutput:
        scores, raw = self.scores[:, :num_return], self.raw[:, :num_return]
        empty = torch.isinf(scores)  # a row with fewer than num_return hypotheses (tiny vocabularies)
        lengths = self.lengths[:, :num_return].masked_fill(empty, 0)
        width = int(lengths.max()) if lengths.numel() else 0
        tokens = self.tokens[:, :num_return, :width].masked_fill(empty[..., None], self.pad)
        return BeamOutput(tokens, lengths, scores.float(), raw.masked_fill(empty, float("-inf")))


def _beam(
    step: StepFn,
    prompt: Prompt,
    max_new_tokens: int,
    beam: Beam,
    state: object,
    eos_id: int | None,
    pad_id: int | None,
    processors: Sequence[LogitsProcessor],
    reorder: ReorderFn,
    device: str | torch.device | None,
    budget: int,
) -> BeamOutput:
    """Each step scores ``size * V`` continuations per row and keeps the ``2 * size`` best;
    those ending in ``eos_id`` among the best ``size`` finish, the best ``size`` others
    continue. Rows that are done leave the batch, so the model runs on fewer rows. At
    ``max_new_tokens`` the running beams finish as they are."""
    _check_max_new(max_new_tokens)
    history = _as_prompt(prompt, device)  # (B, T)
    dev = history.device
    (batch, prompt_len), k = history.shape, beam.size
    # the beam and max_new_tokens alone can outrun the budget: refuse before the first step
    options = _options(beam, batch, prompt_len, max_new_tokens)
    _check_budget(
        decoding_memory(batch, prompt_len, max_new_tokens, beam=k, processors=len(processors)), budget, options
    )
    logits, state = step(history, state)
    last = _last(logits)  # (B, V)
    vocab = last.size(-1)
    if k > vocab:
        raise ValueError(f"beam_size {k} is larger than the vocabulary ({vocab} tokens)")
    # before the state and scores are copied to every beam
    parts = decoding_memory(
        batch, prompt_len, max_new_tokens, vocab=vocab, beam=k, state=state_bytes(state), processors=len(processors)
    )
    _check_budget(parts, budget, f"{options}, vocabulary {vocab:,}")
    expand = torch.arange(batch, device=dev).repeat_interleave(k)  # (B*K,)
    state = reorder(state, expand)
    last, history = last[expand], history[expand]
    beam_scores = torch.zeros(batch, k, device=dev)
    beam_scores[:, 1:] = float("-inf")  # all beams start identical: expand only the first
    beam_scores = beam_scores.view(-1)  # (B*K,)
    generated = torch.zeros(batch * k, 0, dtype=torch.long, device=dev)  # (n*K, t)
    active = torch.arange(batch, device=dev)  # original row of each live row
    finished = FinishedHypotheses(batch, k, max_new_tokens, _pad_value(pad_id, eos_id), dev)
    n_cand = min(2 * k, k * vocab)
    positions = torch.arange(n_cand, device=dev)

    for t in range(max_new_tokens):
        n = active.numel()
        divisor = length_penalty_factor(t + 1, beam.length_penalty, beam.length_norm)
        logp = torch.log_softmax(apply_processors(last, history, processors), dim=-1)  # (n*K, V)
        cand = (beam_scores[:, None] + logp).view(n, k * vocab)
        top_scores, top_idx = cand.topk(n_cand, dim=-1)  # (n, 2K), sorted
        top_beam, top_tok = top_idx // vocab, top_idx % vocab
        first_row = torch.arange(n, device=dev)[:, None] * k  # (n, 1): row of each row's beam 0
        if eos_id is not None:
            is_eos = top_tok == eos_id
            ends = is_eos[:, :k] & torch.isfinite(top_scores[:, :k])  # (n, K): finish here
            if bool(ends.any()):
                prefix = generated[first_row + top_beam[:, :k]]  # (n, K, t)
                eos = torch.full((n, k, 1), eos_id, dtype=torch.long, device=dev)
                raw = top_scores[:, :k].masked_fill(~ends, float("-inf"))
                finished.add(active, torch.cat([prefix, eos], dim=-1), raw, divisor)
        else:
            is_eos = torch.zeros_like(top_tok, dtype=torch.bool)
        # the best K candidates that do not end here continue
        key = is_eos.long() * n_cand + positions  # (n, 2K): non-EOS first, in score order
        sel = key.topk(k, dim=-1, largest=False).indices  # (n, K)
        new_scores = top_scores.gather(1, sel)
        new_tok = top_tok.gather(1, sel)
        rows = first_row + top_beam.gather(1, sel)  # (n, K): rows of the current tensors
        if t == max_new_tokens - 1:  # running beams end here without EOS
            finished.add(active, torch.cat([generated[rows], new_tok[..., None]], dim=-1), new_scores, divisor)
            break
        done = finished.done(active, new_scores[:, 0] / divisor, beam.early_stopping)
        keep = (~done).nonzero().flatten()
        if keep.numel() == 0:
            break
        rows = rows.index_select(0, keep).reshape(-1)  # (n'*K,)
        next_tok = new_tok.index_select(0, keep).reshape(-1, 1)  # (n'*K, 1)
        beam_scores = new_scores.index_select(0, keep).reshape(-1)
        generated = torch.cat([generated.index_select(0, rows), next_tok], dim=1)
        if processors:
            history = torch.cat([history.index_select(0, rows), next_tok], dim=1)
        active = active.index_select(0, keep)
        state = reorder(state, rows)
        logits, state = step(next_tok, state)
        last = _last(logits)
    return finished.output(beam.num_return)


# -- the one entry point ---------------------------------------------------------------------


def generate(
    step: StepFn,
    prompt_ids: Prompt,
    strategy: Strategy,
    max_new_tokens: int,
    *,
    state: object = None,
    eos_id: int | None = None,
    pad_id: int | None = None,
    processors: Sequence[LogitsProcessor] = (),
    generator: torch.Generator | None = None,
    reorder: ReorderFn = index_state,
    device: str | torch.device | None = None,
    memory_budget: int | None = None,
) -> Generation:
    """Continue a batch of equal-length prompts ``prompt_ids`` (B, T) with ``strategy``:
    ``Greedy()``, ``Sample(...)`` or ``Beam(...)``.

    ``state``: the step function's initial state (e.g. an encoder's output). Rows stop at
    ``eos_id`` (``None``: run to ``max_new_tokens``); later positions hold ``pad_id``.
    ``processors`` run on every step's logits before the strategy's own warpers (temperature,
    top-k, ... of ``Sample``), so bans and penalties compose with any strategy. Sampling
    draws from ``generator`` or a fresh ``torch.Generator().manual_seed(strategy.seed)``;
    beam search reorders ``state`` with ``reorder``. Returns a :class:`Generation`; with
    ``Beam`` its ``hypotheses`` hold the ``num_return`` best per row.

    ``memory_budget``: bytes this call may plan to hold at once (default :data:`MEMORY_BUDGET`,
    4 GiB). Options whose :func:`decoding_memory` estimate exceeds it (a beam of 20000 over a
    30k vocabulary, a billion new tokens) raise a ValueError that names them, before the
    memory is allocated."""
    if not isinstance(strategy, (Greedy, Sample, Beam)):
        raise TypeError(f"strategy must be Greedy(), Sample(...) or Beam(...) from textkit.decode, got {strategy!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator, e.g. torch.Generator().manual_seed(0), got {generator!r}"
        )
    budget = _resolve_budget(memory_budget)
    processors = list(processors) + strategy.warpers()
    if isinstance(strategy, Beam):
        return _beam(
            step, prompt_ids, max_new_tokens, strategy, state, eos_id, pad_id, processors, reorder, device, budget
        ).best()
    if isinstance(strategy, Greedy):
        return _run(
            step, prompt_ids, max_new_tokens, state, eos_id, pad_id, processors, _argmax, device, strategy, budget
        )
    if generator is None and strategy.seed is None:
        raise ValueError(
            "sampling needs a seed: Sample(..., seed=0), or generate(..., generator=torch.Generator().manual_seed(0))"
        )
    if generator is not None and strategy.seed is not None:
        raise ValueError(f"give either Sample(seed={strategy.seed}) or generate(generator=...), not both")
    if generator is None:
        assert strategy.seed is not None  # checked above
        generator = torch.Generator().manual_seed(strategy.seed)
    return _run(
        step,
        prompt_ids,
        max_new_tokens,
        state,
        eos_id,
        pad_id,
        processors,
        _drawer(generator),
        device,
        strategy,
        budget,
    )


# -- keyword forms (the same machinery) ------------------------------------------------------


def greedy(
    step: StepFn,
    prompt: Prompt,
    max_new_tokens: int,
    *,
    state: object = None,
    eos_id: int | None = None,
    pad_id: int | None = None,
    processors: Sequence[LogitsProcessor] = (),
    device: str | torch.device | None = None,
) -> Generation:
    """``generate(step, prompt, Greedy(), max_new_tokens, ...)``: the most probable token
    (after ``processors``) at every step; rows stop at ``eos_id``."""
    return generate(
        step,
        prompt,
        Greedy(),
        max_new_tokens,
        state=state,
        eos_id=eos_id,
        pad_id=pad_id,
        processors=processors,
        device=device,
    )


def sample(
    step: StepFn,
    prompt: Prompt,
    max_new_tokens: int,
    *,
    generator: torch.Generator,
    state: object = None,
    eos_id: int | None = None,
    pad_id: int | None = None,
    temperature: float | None = None,
    top_k: int | None = None,
    top_p: float | None = None,
    min_p: float | None = None,
    repetition_penalty: float | None = None,
    no_repeat_ngram_size: int | None = None,
    banned_ids: Sequence[int] = (),
    processors: Sequence[LogitsProcessor] | None = None,
    device: str | torch.device | None = None,
) -> Generation:
    """``generate(step, prompt, Sample(temperature, top_k, top_p, min_p), max_new_tokens,
    generator=generator, processors=...)``: draw each token in proportion to the renormalized
    probabilities left after the processors (built from the keyword options, or given as
    ``processors``). The same ``generator`` seed gives the same tokens."""
    if not isinstance(generator, torch.Generator):
        raise TypeError("sample needs an explicit torch.Generator, e.g. torch.Generator().manual_seed(0)")
    if processors is None:
        strategy = Sample(
            temperature=1.0 if temperature is None else temperature, top_k=top_k, top_p=top_p, min_p=min_p
        )
        processors = build_processors(
            repetition_penalty=repetition_penalty, no_repeat_ngram_size=no_repeat_ngram_size, banned_ids=banned_ids
        )
    elif (
        any(x is not None for x in (temperature, top_k, top_p, min_p, repetition_penalty, no_repeat_ngram_size))
        or banned_ids
    ):
        raise ValueError("pass either processors=[...] or the keyword options (temperature, top_k, ...), not both")
    else:
        strategy = Sample()
    return generate(
        step,
        prompt,
        strategy,
        max_new_tokens,
        state=state,
        eos_id=eos_id,
        pad_id=pad_id,
        processors=processors,
        generator=generator,
        device=device,
    )


def beam_search(
    step: StepFn,
    prompt: Prompt,
    max_new_tokens: int,
    *,
    beam_size: int,
    eos_id: int | None,
    state: object = None,
    num_return: int = 1,
    length_norm: str = "average",
    length_penalty: float = 1.0,
    early_stopping: bool = True,
    processors: Sequence[LogitsProcessor] = (),
    reorder: ReorderFn = index_state,
    pad_id: int | None = None,
    device: str | torch.device | None = None,
) -> BeamOutput:
    """``generate(step, prompt, Beam(beam_size, ...), max_new_tokens, ...).hypotheses``: the
    ``num_return`` best hypotheses of every row, best first (see :class:`Beam`)."""
    strategy = Beam(
        beam_size,
        length_penalty=length_penalty,
        length_norm=length_norm,
        early_stopping=early_stopping,
        num_return=num_return,
    )
    out = generate(
        step,
        prompt,
        strategy,
        max_new_tokens,
        state=state,
        eos_id=eos_id,
        pad_id=pad_id,
        processors=processors,
        reorder=reorder,
        device=device,
    )
    assert out.hypotheses is not None
    return out.hypotheses
