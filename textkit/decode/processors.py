"""Logit processors: pure functions ``(logits (B, V), tokens (B, T)) -> logits (B, V)``.

Each filter returns logits of the same shape with removed entries set to ``-inf``; nothing is
renormalized here (``softmax`` does that when a token is drawn). The small frozen dataclasses
wrap the functions so a decoding run is a list of processors applied in order; the
conventional order (as in Hugging Face) is repetition penalty, no-repeat-ngram, temperature,
top-k, top-p, min-p, which :func:`build_processors` follows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

LogitsProcessor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

_NEG_INF = float("-inf")


def check_temperature(temperature: float) -> float:
    if not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r} (use greedy() for temperature 0)")
    return float(temperature)


def check_top_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"top_k must be an integer >= 1, got {k!r}")
    return k


def check_top_p(p: float) -> float:
    if not isinstance(p, (int, float)) or not 0 < p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {p!r}")
    return float(p)


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``logits / temperature``; temperature must be > 0."""
    return logits / check_temperature(temperature)


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` largest logits of each row (ties at the k-th value are kept); the rest
    become ``-inf``. ``k`` >= the vocabulary size keeps everything."""
    k = check_top_k(k)
    if k >= logits.size(-1):
        return logits
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth, _NEG_INF)


def top_p_filter(logits: torch.Tensor, p: float, min_tokens_to_keep: int = 1) -> torch.Tensor:
    """Nucleus filter (Holtzman et al. 2019), vectorized with sort + cumsum.

    Hugging Face ``TopPLogitsWarper`` convention: sort ascending, drop the tokens whose
    cumulative probability is ``<= 1 - p``; the most probable ``min_tokens_to_keep`` always stay.
    ``p = 1`` keeps everything."""
    p = check_top_p(p)
    if p >= 1.0:
        return logits
    sorted_logits, sorted_idx = torch.sort(logits, dim=-1, descending=False)  # (..., V)
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    remove_sorted = cumulative <= (1 - p)
    remove_sorted[..., -min_tokens_to_keep:] = False
    remove = remove_sorted.scatter(-1, sorted_idx, remove_sorted)
    return logits.masked_fill(remove, _NEG_INF)


def min_p_filter(logits: torch.Tensor, min_p: float, min_tokens_to_keep: int = 1) -> torch.Tensor:
    """Drop tokens whose probability is below ``min_p`` times the top token's probability."""
    if not isinstance(min_p, (int, float)) or not 0 <= min_p <= 1:
        raise ValueError(f"min_p must be in [0, 1], got {min_p!r}")
    probs = logits.softmax(dim=-1)
    threshold = probs.amax(dim=-1, keepdim=True) * min_p
    remove = probs < threshold
    if min_tokens_to_keep > 1:
        top = torch.topk(probs, min(min_tokens_to_keep, probs.size(-1)), dim=-1).indices
        remove = remove.scatter(-1, top, False)
    return logits.masked_fill(remove, _NEG_INF)


def repetition_penalty(logits: torch.Tensor, tokens: torch.Tensor, penalty: float) -> torch.Tensor:
    """CTRL's penalty (Keskar et al. 2019): logits of tokens already in ``tokens`` (B, T) are
    divided by ``penalty`` when positive and multiplied by it when negative."""
    if not penalty > 0:
        raise ValueError(f"repetition penalty must be > 0, got {penalty!r}")
    if tokens.numel() == 0 or penalty == 1.0:
        return logits
    seen = torch.gather(logits, -1, tokens)  # (B, T)
    seen = torch.where(seen > 0, seen / penalty, seen * penalty)
    return logits.scatter(-1, tokens, seen)


def no_repeat_ngram_mask(tokens: torch.Tensor, n: int, vocab_size: int) -> torch.Tensor:
    """(B, V) bool: True for tokens that would complete an n-gram already present in ``tokens``."""
    if n < 1:
        raise ValueError(f"no_repeat_ngram_size must be >= 1, got {n}")
    batch, length = tokens.shape
    mask = torch.zeros(batch, vocab_size, dtype=torch.bool, device=tokens.device)
    if n == 1:
        return mask.scatter(-1, tokens, True)
    if length < n:  # no complete n-gram yet
        return mask
    windows = tokens.unfold(1, n, 1)  # (B, L-n+1, n)
    prefix = tokens[:, length - n + 1 :]  # (B, n-1): the n-gram the next token would complete
    hits = (windows[:, :, :-1] == prefix[:, None, :]).all(-1)  # (B, L-n+1)
    rows, cols = hits.nonzero(as_tuple=True)
    mask[rows, windows[rows, cols, -1]] = True
    return mask


def no_repeat_ngram(logits: torch.Tensor, tokens: torch.Tensor, n: int) -> torch.Tensor:
    """Ban every token that would repeat an n-gram of ``tokens`` (B, T)."""
    return logits.masked_fill(no_repeat_ngram_mask(tokens, n, logits.size(-1)), _NEG_INF)


# -- composable processor objects ------------------------------------------------------------


@dataclass(frozen=True)
class Temperature:
    temperature: float

    def __post_init__(self) -> None:
        check_temperature(self.temperature)

    def __call__(self, logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        return logits / self.temperature


@dataclass(frozen=True)
class TopK:
    k: int

    def __post_init__(self) -> None:
        check_top_k(self.k)

    def __call__(self, logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        return top_k_filter(logits, self.k)


@dataclass(frozen=True)
class TopP:
    p: float

    def __post_init__(self) -> None:
        check_top_p(self.p)

    def __call__(self, logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        return top_p_filter(logits, self.p)


@dataclass(frozen=True)
class MinP:
    min_p: float

    def __call__(self, logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        return min_p_filter(logits, self.min_p)


@dataclass(frozen=True)
class RepetitionPenalty:
    penalty: float

    def __post_init__(self) -> None:
        if not self.penalty > 0:
            raise ValueError(f"repetition penalty must be > 0, got {self.penalty!r}")

    def __call__(self, logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        return repetition_penalty(logits, tokens, self.penalty)


@dataclass(frozen=True)
class NoRepeatNGram:
    n: int

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"no_repeat_ngram_size must be >= 1, got {self.n}")

    def __call__(self, logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        return no_repeat_ngram(logits, tokens, self.n)


@dataclass(frozen=True)
class BanTokens:
    """Never produce these ids (for example PAD, or UNK)."""

    ids: tuple[int, ...]

    def __call__(self, logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        if not self.ids:
            return logits
        return logits.index_fill(-1, torch.tensor(self.ids, device=logits.device), _NEG_INF)


def build_processors(
    *,
    temperature: float | None = None,
    top_k: int | None = None,
    top_p: float | None = None,
    min_p: float | None = None,
    repetition_penalty: float | None = None,
    no_repeat_ngram_size: int | None = None,
    banned_ids: Sequence[int] = (),
) -> list[LogitsProcessor]:
    """Processors for the options given, in the conventional order; ``None`` skips one."""
    out: list[LogitsProcessor] = []
    if banned_ids:
        out.append(BanTokens(tuple(int(i) for i in banned_ids)))
    if repetition_penalty is not None:
        out.append(RepetitionPenalty(repetition_penalty))
    if no_repeat_ngram_size is not None:
        out.append(NoRepeatNGram(no_repeat_ngram_size))
    if temperature is not None:
        out.append(Temperature(temperature))
    if top_k is not None:
        out.append(TopK(top_k))
    if top_p is not None:
        out.append(TopP(top_p))
    if min_p is not None:
        out.append(MinP(min_p))
    return out


def apply_processors(logits: torch.Tensor, tokens: torch.Tensor, processors: Sequence[LogitsProcessor]) -> torch.Tensor:
    for processor in processors:
        logits = processor(logits, tokens)
    return logits
