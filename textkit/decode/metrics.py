"""Generation metrics for language models: repetition rate, distinct-n and self-BLEU.

All take token sequences (lists of ids or of strings), so they work on subword ids as well as
on words. Holtzman et al. (2019) report Self-BLEU4 on a 0-1 scale and repetition as the
percentage of continuations that end in a repeating loop; these functions follow that.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence


def ends_in_repetition(
    tokens: Sequence[Hashable], max_phrase: int = 50, min_repeats: int = 2, min_tokens: int = 4
) -> bool:
    """True when the sequence ends with a phrase of 1..``max_phrase`` tokens repeated at least
    ``min_repeats`` times back to back, covering at least ``min_tokens`` tokens (so a final
    "the the" does not count, but "I don't know. I don't know." does)."""
    seq = list(tokens)
    n = len(seq)
    for size in range(1, min(max_phrase, n // min_repeats) + 1):
        phrase = seq[n - size :]
        repeats = 1
        while (repeats + 1) * size <= n and seq[n - (repeats + 1) * size : n - repeats * size] == phrase:
            repeats += 1
        if repeats >= min_repeats and repeats * size >= min_tokens:
            return True
    return False


def repetition_rate(
    sequences: Sequence[Sequence[Hashable]], max_phrase: int = 50, min_repeats: int = 2, min_tokens: int = 4
) -> float:
    """Fraction of sequences that end in a repeating loop (Holtzman et al.'s "repetition %" / 100)."""
    if not sequences:
        raise ValueError("repetition_rate needs at least one sequence")
    return sum(ends_in_repetition(s, max_phrase, min_repeats, min_tokens) for s in sequences) / len(sequences)


def _ngrams(seq: Sequence[Hashable], n: int) -> list[tuple]:
    return [tuple(seq[i : i + n]) for i in range(len(seq) - n + 1)]


def distinct_n(sequences: Sequence[Sequence[Hashable]], n: int = 2) -> float:
    """Distinct n-grams / all n-grams over the whole set (Li et al. 2016); 0 when there are none."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    grams = [g for s in sequences for g in _ngrams(list(s), n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def sentence_bleu(
    hypothesis: Sequence[Hashable], references: Sequence[Sequence[Hashable]], max_n: int = 4, epsilon: float = 0.1
) -> float:
    """Sentence BLEU on 0-1 with clipped counts against several references, the closest
    reference length for the brevity penalty, and NLTK's ``method1`` smoothing (``epsilon``
    for an n-gram order with no match), as Texygen's self-BLEU uses."""
    hyp = list(hypothesis)
    if not hyp or not references:
        return 0.0
    log_sum = 0.0
    for n in range(1, max_n + 1):
        counts = Counter(_ngrams(hyp, n))
        total = sum(counts.values())
        if total == 0:
            return 0.0
        max_ref: Counter = Counter()
        for ref in references:
            for gram, c in Counter(_ngrams(list(ref), n)).items():
                if c > max_ref[gram]:
                    max_ref[gram] = c
        clipped = sum(min(c, max_ref[g]) for g, c in counts.items())
        log_sum += math.log((clipped if clipped > 0 else epsilon) / total)
    ref_len = min((len(r) for r in references), key=lambda r: (abs(r - len(hyp)), r))
    bp = 1.0 if len(hyp) > ref_len else math.exp(1 - ref_len / len(hyp))
    return bp * math.exp(log_sum / max_n)


def self_bleu(sequences: Sequence[Sequence[Hashable]], max_n: int = 4, max_samples: int | None = None) -> float:
    """Mean sentence BLEU of each sequence against all the others (Zhu et al. 2018): higher
    means less diverse. ``max_samples`` scores only the first few as hypotheses (still
    against all others), to bound the quadratic cost."""
    seqs = [list(s) for s in sequences]
    if len(seqs) < 2:
        raise ValueError("self_bleu needs at least two sequences")
    idx = range(len(seqs) if max_samples is None else min(max_samples, len(seqs)))
    return sum(sentence_bleu(seqs[i], seqs[:i] + seqs[i + 1 :], max_n) for i in idx) / len(idx)
