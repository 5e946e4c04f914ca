"""Skip-gram with negative sampling (Mikolov et al. 2013) in torch, seeded, for small corpora.

    >>> emb = train_sgns(sentences, SGNSConfig(dim=100, epochs=5), seed=0)

Follows word2vec's recipe: frequent-word subsampling (``t = subsample``), a dynamic window
(each centre word draws its window size uniformly from 1..window), negatives drawn from the
unigram distribution raised to 0.75, input vectors returned as the embeddings. Plain SGD with
word2vec's linearly decaying learning rate, applied to mini-batches of pairs with hand-written
gradients (``index_add_``; no autograd), so an epoch over a million tokens takes seconds on a CPU.
All randomness (subsampling, windows, shuffling, negatives, initialization) flows from ``seed``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import regex

from textkit.bias.embeddings import Embeddings

__all__ = ["SGNSConfig", "build_vocab", "train_sgns", "word_tokenize"]

_WORD = regex.compile(r"\p{L}+(?:['’]\p{L}+)*")


def word_tokenize(text: str) -> list[str]:
    """Lowercased words (letters, inner apostrophes kept): what word embeddings are trained on."""
    return [m.group(0).lower().replace("’", "'") for m in _WORD.finditer(text)]


@dataclass(frozen=True)
class SGNSConfig:
    dim: int = 100
    window: int = 5
    negative: int = 5
    min_count: int = 5
    epochs: int = 5
    lr: float = 0.025
    subsample: float = 1e-3
    batch_size: int = 1024
    max_vocab: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def build_vocab(
    sentences: Sequence[Sequence[str]], min_count: int, max_vocab: int | None = None
) -> tuple[list[str], np.ndarray]:
    """Words with at least ``min_count`` occurrences, most frequent first (ties alphabetical), and counts."""
    counts = Counter(w for s in sentences for w in s)
    items = sorted(((w, c) for w, c in counts.items() if c >= min_count), key=lambda wc: (-wc[1], wc[0]))
    if max_vocab is not None:
        items = items[:max_vocab]
    if not items:
        raise ValueError(f"no word occurs {min_count} times; lower min_count or give more text")
    return [w for w, _ in items], np.array([c for _, c in items], dtype=np.int64)


def _pairs_for_epoch(
    ids: np.ndarray, sent: np.ndarray, counts: np.ndarray, cfg: SGNSConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(centre, context) pairs for one epoch after subsampling, with word2vec's dynamic window."""
    if cfg.subsample > 0:
        freq = counts / counts.sum()
        keep_p = np.minimum(1.0, np.sqrt(cfg.subsample / freq) + cfg.subsample / freq)
        keep = rng.random(len(ids)) < keep_p[ids]
        ids, sent = ids[keep], sent[keep]
    reach = rng.integers(1, cfg.window + 1, len(ids))  # each centre's window size
    centres, contexts = [], []
    for off in range(1, cfg.window + 1):
        same = sent[:-off] == sent[off:]
        left = np.flatnonzero(same & (reach[:-off] >= off))  # centre i, context i + off
        right = np.flatnonzero(same & (reach[off:] >= off)) + off  # centre i, context i - off
        centres += [ids[left], ids[right]]
        contexts += [ids[left + off], ids[right - off]]
    c, o = np.concatenate(centres), np.concatenate(contexts)
    order = rng.permutation(len(c))
    return c[order], o[order]


def train_sgns(
    sentences: Iterable[Sequence[str]],
    config: SGNSConfig | None = None,
    *,
    seed: int = 0,
    verbose: bool = False,
    name: str = "sgns",
) -> Embeddings:
    """Train skip-gram embeddings on tokenized sentences; returns the input vectors."""
    import torch

    cfg = config or SGNSConfig()
    sentences = [list(s) for s in sentences]
    words, counts = build_vocab(sentences, cfg.min_count, cfg.max_vocab)
    index = {w: i for i, w in enumerate(words)}
    id_list, sent_list = [], []
    for k, s in enumerate(sentences):
        kept = [index[w] for w in s if w in index]
        id_list.extend(kept)
        sent_list.extend([k] * len(kept))
    ids = np.array(id_list, dtype=np.int64)
    sent = np.array(sent_list, dtype=np.int64)
    if len(ids) < 2:
        raise ValueError("too little text to train embeddings")
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    V, D, K = len(words), cfg.dim, cfg.negative
    w_in = (torch.rand(V, D, generator=gen) - 0.5) / D  # word2vec's initialization
    w_out = torch.zeros(V, D)
    noise = torch.tensor(counts, dtype=torch.float64) ** 0.75
    noise_cdf = torch.cumsum(noise / noise.sum(), 0).float()
    labels = torch.zeros(1, 1 + K)
    labels[0, 0] = 1.0
    epoch_pairs = [_pairs_for_epoch(ids, sent, counts, cfg, rng) for _ in range(cfg.epochs)] if cfg.epochs else []
    total_steps = sum(len(c) for c, _ in epoch_pairs)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny ops: one thread is several times faster than contended ones
    try:
        _sgd_epochs(epoch_pairs, w_in, w_out, noise_cdf, labels, gen, cfg, total_steps, verbose, name)
    finally:
        torch.set_num_threads(threads)
    vectors = w_in.numpy().astype(np.float32, copy=True)
    return Embeddings(words, vectors, name=name, source=f"train_sgns(seed={seed}, {cfg.to_dict()})")


def _sgd_epochs(epoch_pairs, w_in, w_out, noise_cdf, labels, gen, cfg, total_steps, verbose, name) -> None:
    import torch

    V, D, K = w_in.shape[0], w_in.shape[1], cfg.negative
    done = 0
    with torch.no_grad():
        for epoch, (c_np, o_np) in enumerate(epoch_pairs):
            started = time.perf_counter()
            c_all, o_all = torch.from_numpy(c_np), torch.from_numpy(o_np)
            loss_sum = 0.0
            for start in range(0, len(c_all), cfg.batch_size):
                c = c_all[start : start + cfg.batch_size]
                o = o_all[start : start + cfg.batch_size]
                B = len(c)
                lr = cfg.lr * max(1e-4, 1.0 - done / max(1, total_steps))  # linear decay, as word2vec
                u = torch.rand(B * K, generator=gen)
                neg = torch.searchsorted(noise_cdf, u).clamp_(max=V - 1).view(B, K)  # (B, K)
                targets = torch.cat([o.unsqueeze(1), neg], dim=1)  # (B, 1+K)
                vc = w_in[c]  # (B, D)
                vo = w_out[targets]  # (B, 1+K, D)
                logits = torch.bmm(vo, vc.unsqueeze(-1)).squeeze(-1)  # (B, 1+K)
                prob = torch.sigmoid(logits)
                if verbose:
                    loss_sum += float(-(torch.log(prob[:, 0] + 1e-7).sum() + torch.log(1 - prob[:, 1:] + 1e-7).sum()))
                g = (labels - prob) * lr  # (B, 1+K): gradient ascent step on log-likelihood
                grad_in = torch.bmm(g.unsqueeze(1), vo).squeeze(1)  # (B, D)
                grad_out = g.unsqueeze(-1) * vc.unsqueeze(1)  # (B, 1+K, D)
                w_out.index_add_(0, targets.reshape(-1), grad_out.reshape(-1, D))
                w_in.index_add_(0, c, grad_in)
                done += B
            if verbose:
                print(
                    f"[sgns {name}] epoch {epoch + 1}/{cfg.epochs}: {len(c_all):,} pairs, "
                    f"loss {loss_sum / max(1, len(c_all)):.4f}, {time.perf_counter() - started:.1f}s"
                )
