"""Greedy search, sampling and batched beam search as pure functions over a step function.

``step(tokens (B, T), state) -> (logits (B, T, V) or (B, V), state)`` is all they need. The
first call gets the whole prompt (and the caller's initial ``state``, e.g. an encoder's
output); later calls get one new token per row. Models never sample: randomness comes only
from the explicit ``torch.Generator`` passed to :func:`sample`.

Beam search reorders the state with ``reorder(state, index)``; the default selects rows of
every tensor in a (nested) tuple/list/dict along dimension 0, so step functions keep their
state batch-first (or pass their own ``reorder``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from textkit.decode.processors import LogitsProcessor, apply_processors, build_processors

StepFn = Callable[[torch.Tensor, object], tuple[torch.Tensor, object]]
ReorderFn = Callable[[object, torch.Tensor], object]


def index_state(state, index: torch.Tensor, dim: int = 0):
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


def reorder_dim1(state, index: torch.Tensor):
    """``index_state`` along dimension 1, for (layers, B, H) recurrent states."""
    return index_state(state, index, dim=1)


@dataclass
class Generation:
    """Output of :func:`greedy` and :func:`sample`.

    ``tokens`` (B, T): the new tokens; positions after a row's EOS hold ``pad_id``.
    ``lengths`` (B,): new tokens per row, EOS included. ``scores`` (B,): summed log-probability
    of the chosen tokens under the model's (unprocessed) distribution."""

    tokens: torch.Tensor
    lengths: torch.Tensor
    scores: torch.Tensor

    def to_lists(self, strip_eos_id: int | None = None) -> list[list[int]]:
        out = []
        for row, n in zip(self.tokens.tolist(), self.lengths.tolist()):
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
        for rows, ns in zip(self.tokens.tolist(), self.lengths.tolist()):
            hyps = []
            for row, n in zip(rows, ns):
                row = row[:n]
                if strip_eos_id is not None and row and row[-1] == strip_eos_id:
                    row = row[:-1]
                hyps.append(row)
            out.append(hyps)
        return out

    def best(self) -> Generation:
        return Generation(self.tokens[:, 0], self.lengths[:, 0], self.raw_scores[:, 0])


def _as_prompt(prompt, device) -> torch.Tensor:
    if isinstance(prompt, torch.Tensor):
        tokens = prompt.to(device=device, dtype=torch.long)
    else:
        rows = [list(r) for r in prompt]
        if len({len(r) for r in rows}) > 1:
            raise ValueError("prompts in one batch must have the same length; decode ragged prompts separately or left-pad them yourself")
        tokens = torch.tensor(rows, dtype=torch.long, device=device)
    if tokens.dim() == 1:
        tokens = tokens[None]
    if tokens.dim() != 2 or tokens.size(1) == 0:
        raise ValueError(f"the prompt must be (batch, length >= 1) token ids (at least a BOS id), got shape {tuple(tokens.shape)}")
    return tokens


def _last(logits: torch.Tensor) -> torch.Tensor:
    return (logits[:, -1] if logits.dim() == 3 else logits).float()  # (B, V)


def _check_max_new(max_new_tokens: int) -> None:
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be an integer >= 1, got {max_new_tokens!r}")


def _run(step, prompt, max_new_tokens, state, eos_id, pad_id, processors, choose, device) -> Generation:
    _check_max_new(max_new_tokens)
    history = _as_prompt(prompt, device)  # (B, T)
    batch = history.size(0)
    pad = pad_id if pad_id is not None else (eos_id if eos_id is not None else 0)
    logits, state = step(history, state)
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


def greedy(
    step: StepFn,
    prompt: torch.Tensor | Sequence[Sequence[int]],
    max_new_tokens: int,
    *,
    state=None,
    eos_id: int | None = None,
    pad_id: int | None = None,
    processors: Sequence[LogitsProcessor] = (),
    device: str | torch.device | None = None,
) -> Generation:
    """Pick the most probable token (after ``processors``) at every step, for a batch of
    equal-length prompts; rows stop at ``eos_id``, the run at ``max_new_tokens``."""
    return _run(step, prompt, max_new_tokens, state, eos_id, pad_id, processors, lambda s: s.argmax(dim=-1), device)


def sample(
    step: StepFn,
    prompt: torch.Tensor | Sequence[Sequence[int]],
    max_new_tokens: int,
    *,
    generator: torch.Generator,
    state=None,
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
    """Draw each token in proportion to the renormalized probabilities left after the logit
    processors (built from the keyword options, or given as ``processors``). The same
    ``generator`` seed gives the same tokens."""
    if not isinstance(generator, torch.Generator):
        raise TypeError("sample needs an explicit torch.Generator, e.g. torch.Generator().manual_seed(0)")
    if processors is None:
        processors = build_processors(
            temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p, repetition_penalty=repetition_penalty,
            no_repeat_ngram_size=no_repeat_ngram_size, banned_ids=banned_ids,
        )
    elif any(x is not None for x in (temperature, top_k, top_p, min_p, repetition_penalty, no_repeat_ngram_size)) or banned_ids:
        raise ValueError("pass either processors=[...] or the keyword options (temperature, top_k, ...), not both")

    def choose(scores: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(scores, dim=-1)
        if probs.device != generator.device:
            probs = probs.to(generator.device)
        return torch.multinomial(probs, 1, generator=generator)[:, 0].to(scores.device)

    return _run(step, prompt, max_new_tokens, state, eos_id, pad_id, processors, choose, device)


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


def beam_search(
    step: StepFn,
    prompt: torch.Tensor | Sequence[Sequence[int]],
    max_new_tokens: int,
    *,
    beam_size: int,
    eos_id: int | None,
    state=None,
    num_return: int = 1,
    length_norm: str = "average",
    length_penalty: float = 1.0,
    early_stopping: bool = True,
    processors: Sequence[LogitsProcessor] = (),
    reorder: ReorderFn = index_state,
    pad_id: int | None = None,
    device: str | torch.device | None = None,
) -> BeamOutput:
    """Batched beam search.

    Each step scores ``beam_size * V`` continuations per row, keeps the ``2 * beam_size`` best,
    moves those ending in ``eos_id`` (among the best ``beam_size``) to the row's finished list
    with score ``sum log p / length_penalty_factor(len)``, and continues the best ``beam_size``
    others. A row is done when it has ``beam_size`` finished hypotheses (``early_stopping``) or
    when, in addition, no running beam can beat its worst finished one (Hugging Face's
    heuristic); done rows leave the batch, so the model runs on fewer rows. At
    ``max_new_tokens`` the running beams are finished as they are. Returns the
    ``num_return`` best per row, best first."""
    _check_max_new(max_new_tokens)
    if isinstance(beam_size, bool) or not isinstance(beam_size, int) or beam_size < 1:
        raise ValueError(f"beam_size must be an integer >= 1, got {beam_size!r}")
    if not 1 <= num_return <= beam_size:
        raise ValueError(f"num_return must be between 1 and beam_size={beam_size}, got {num_return}")
    length_penalty_factor(1, length_penalty, length_norm)  # validates length_norm
    history = _as_prompt(prompt, device)  # (B, T)
    dev = history.device
    batch, k = history.size(0), beam_size
    logits, state = step(history, state)
    last = _last(logits)  # (B, V)
    vocab = last.size(-1)
    if k > vocab:
        raise ValueError(f"beam_size {k} is larger than the vocabulary ({vocab} tokens)")
    expand = torch.arange(batch, device=dev).repeat_interleave(k)  # (B*K,)
    state = reorder(state, expand)
    last, history = last[expand], history[expand]
    beam_scores = torch.zeros(batch, k, device=dev)
    beam_scores[:, 1:] = float("-inf")  # all beams start identical: expand only the first
    beam_scores = beam_scores.view(-1)  # (B*K,)
    generated = torch.zeros(batch * k, 0, dtype=torch.long, device=dev)
    active = list(range(batch))  # original row of each live row
    finished: list[list[tuple[float, float, list[int]]]] = [[] for _ in range(batch)]
    n_cand = min(2 * k, k * vocab)
    positions = torch.arange(n_cand, device=dev)

    for t in range(max_new_tokens):
        n = len(active)
        length = t + 1
        logp = torch.log_softmax(apply_processors(last, history, processors), dim=-1)  # (n*K, V)
        cand = (beam_scores[:, None] + logp).view(n, k * vocab)
        top_scores, top_idx = cand.topk(n_cand, dim=-1)  # (n, 2K), sorted
        top_beam, top_tok = top_idx // vocab, top_idx % vocab
        if eos_id is not None:
            is_eos = top_tok == eos_id
        else:
            is_eos = torch.zeros_like(top_tok, dtype=torch.bool)
        divisor = length_penalty_factor(length, length_penalty, length_norm)
        eos_hits = (is_eos[:, :k] & torch.isfinite(top_scores[:, :k])).nonzero().tolist()
        if eos_hits:
            gen_rows = generated.tolist()
            score_list = top_scores.tolist()
            beam_list = top_beam.tolist()
            for i, r in eos_hits:
                raw = score_list[i][r]
                finished[active[i]].append((raw / divisor, raw, gen_rows[i * k + beam_list[i][r]] + [eos_id]))
        # the best K candidates that do not end here continue
        key = is_eos.long() * n_cand + positions  # (n, 2K): non-EOS first, in score order
        sel = key.topk(k, dim=-1, largest=False).indices  # (n, K)
        new_scores = top_scores.gather(1, sel)
        new_beam = top_beam.gather(1, sel)
        new_tok = top_tok.gather(1, sel)
        rows = (torch.arange(n, device=dev)[:, None] * k + new_beam)  # (n, K) rows of the current tensors
        last_step = t == max_new_tokens - 1
        keep: list[int] = []
        best_running = (new_scores[:, 0] / divisor).tolist()
        for i, b in enumerate(active):
            fin = finished[b]
            done = last_step
            if not done and len(fin) >= k:
                if early_stopping:
                    done = True
                else:
                    worst_kept = sorted(h[0] for h in fin)[-k]
                    done = best_running[i] <= worst_kept
            if not done:
                keep.append(i)
            elif last_step:
                # running beams end here without EOS
                gen_rows = generated[rows[i]].tolist()
                for j, (raw, tok) in enumerate(zip(new_scores[i].tolist(), new_tok[i].tolist())):
                    if raw != float("-inf"):
                        fin.append((raw / divisor, raw, gen_rows[j] + [tok]))
        if not keep:
            break
        keep_t = torch.tensor(keep, device=dev)
        rows = rows.index_select(0, keep_t).reshape(-1)  # (n'*K,)
        next_tok = new_tok.index_select(0, keep_t).reshape(-1, 1)  # (n'*K, 1)
        beam_scores = new_scores.index_select(0, keep_t).reshape(-1)
        generated = torch.cat([generated.index_select(0, rows), next_tok], dim=1)
        if processors:
            history = torch.cat([history.index_select(0, rows), next_tok], dim=1)
        active = [active[i] for i in keep]
        state = reorder(state, rows)
        logits, state = step(next_tok, state)
        last = _last(logits)

    pad = pad_id if pad_id is not None else (eos_id if eos_id is not None else 0)
    best = [sorted(fin, key=lambda h: -h[0])[:num_return] for fin in finished]
    width = max(len(h[2]) for hyps in best for h in hyps)
    tokens = torch.full((batch, num_return, width), pad, dtype=torch.long)
    lengths = torch.zeros(batch, num_return, dtype=torch.long)
    scores = torch.full((batch, num_return), float("-inf"))
    raw_scores = torch.full((batch, num_return), float("-inf"))
    for b, hyps in enumerate(best):
        for j, (norm, raw, seq) in enumerate(hyps):
            tokens[b, j, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            lengths[b, j], scores[b, j], raw_scores[b, j] = len(seq), norm, raw
    return BeamOutput(tokens.to(dev), lengths.to(dev), scores.to(dev), raw_scores.to(dev))
