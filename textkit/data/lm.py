"""Language-model data: a numericalized corpus read as one token stream, cut into
``(batch_size, seq_len)`` batches with AWD-LSTM's randomized BPTT length.

The stream is never materialized: documents stay in their (memory-mapped) flat array and
each epoch only permutes their order. Row ``r`` of every batch reads the ``r``-th contiguous
slice of the epoch's stream, so the recurrent state carries over from one batch to the next.

Everything random is a function of ``(seed, epoch)``, so the position ``(epoch, batch)`` is
all that is needed to resume exactly. ``backwards=True`` reads the stream in reverse (for
backward LMs). ``rank``/``world_size`` shard the rows for distributed training: with ``W``
processes of ``batch_size`` rows each, the union of their batches is exactly the batch of
a single process with ``W * batch_size`` rows.

This module uses numpy only (no torch), like the rest of ``textkit.data``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

import numpy as np

if TYPE_CHECKING:
    from textkit.text.parallel import NumericalizedCorpus

# What LMStream reads: a NumericalizedCorpus (kept memory-mapped), one id array, or a list of them.
LMDocs: TypeAlias = "NumericalizedCorpus | Sequence[Sequence[int] | np.ndarray] | np.ndarray"

__all__ = ["LMBatch", "LMStream", "bptt_lengths", "split_documents"]


@dataclass(frozen=True)
class LMBatch:
    """One batch: inputs and next-token targets, both (B, T) int64, and where it came from."""

    x: np.ndarray
    y: np.ndarray
    epoch: int
    index: int

    @property
    def n_tokens(self) -> int:
        return int(self.y.size)


def bptt_lengths(n_steps: int, bptt: int, rng: np.random.Generator, random_bptt: bool = True) -> np.ndarray:
    """Sequence lengths covering ``n_steps`` positions (AWD-LSTM's variable BPTT).

    With ``random_bptt``: the base is ``bptt`` with probability 0.95, else ``bptt / 2``; the
    length is drawn from N(base, 5), clipped to ``[min(5, bptt), bptt + 20]``. The last length
    is cut so the lengths sum to ``n_steps`` exactly."""
    lengths = []
    total = 0
    lo, hi = min(5, bptt), bptt + 20
    while total < n_steps:
        if random_bptt:
            base = bptt if rng.random() < 0.95 else bptt / 2
            length = int(np.clip(round(rng.normal(base, 5)), lo, hi))
        else:
            length = bptt
        length = min(length, n_steps - total)
        lengths.append(length)
        total += length
    return np.asarray(lengths, dtype=np.int64)


class LMStream:
    """Batches of a token stream for language modelling. See the module docstring."""

    def __init__(
        self,
        docs: LMDocs,
        batch_size: int,
        bptt: int,
        *,
        shuffle: bool = True,
        random_bptt: bool = True,
        seed: int = 0,
        backwards: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if not isinstance(bptt, int) or bptt < 1:
            raise ValueError(f"bptt (the sequence length) must be a positive int, got {bptt!r}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside world_size {world_size}")
        self.ids, self.offsets = _flatten(docs)
        self.lengths = np.diff(self.offsets)
        self.n_tokens = int(self.offsets[-1])
        if self.n_tokens == 0:
            raise ValueError("the corpus is empty (0 tokens): a language model needs text to read")
        self.batch_size, self.bptt = batch_size, bptt
        self.shuffle, self.random_bptt, self.seed, self.backwards = shuffle, random_bptt, seed, backwards
        self.rank, self.world_size = rank, world_size
        self.n_rows = batch_size * world_size
        self.row_len = self.n_tokens // self.n_rows  # tokens per row; row_len - 1 inputs
        if self.row_len < 2:
            raise ValueError(
                f"the batch is larger than the data: {self.n_rows} rows (batch_size {batch_size} x {world_size} "
                f"processes) need at least {2 * self.n_rows} tokens, the corpus has {self.n_tokens}; "
                "use a smaller batch_size"
            )

    # -- the epoch plan: a pure function of (seed, epoch) --------------------------------

    def _order(self, epoch: int) -> np.ndarray:
        n_docs = len(self.lengths)
        if not self.shuffle:
            return np.arange(n_docs)
        return np.random.default_rng([self.seed, epoch, 0]).permutation(n_docs)

    def seq_lengths(self, epoch: int) -> np.ndarray:
        return bptt_lengths(self.row_len - 1, self.bptt, np.random.default_rng([self.seed, epoch, 1]), self.random_bptt)

    def n_batches(self, epoch: int = 0) -> int:
        return len(self.seq_lengths(epoch))

    def __len__(self) -> int:
        return self.n_batches(0)

    @property
    def tokens_per_epoch(self) -> int:
        """Target tokens this process sees per epoch."""
        return (self.row_len - 1) * self.batch_size

    # -- reading ---------------------------------------------------------------------------

    def _reader(self, epoch: int) -> Callable[[int, int], np.ndarray]:
        order = self._order(epoch)
        starts = self.offsets[:-1][order]
        lengths = self.lengths[order]
        cum = np.concatenate([[0], np.cumsum(lengths)])  # stream position of each doc start
        ids, n = self.ids, self.n_tokens

        def read_forward(start: int, count: int) -> np.ndarray:
            out = np.empty(count, dtype=np.int64)
            j = int(np.searchsorted(cum, start, side="right")) - 1
            filled = 0
            while filled < count:
                offset = start + filled - cum[j]
                take = min(count - filled, int(lengths[j] - offset))
                if take > 0:
                    out[filled : filled + take] = ids[starts[j] + offset : starts[j] + offset + take]
                    filled += take
                j += 1
            return out

        if not self.backwards:
            return read_forward
        return lambda start, count: read_forward(n - start - count, count)[::-1]

    def batches(self, epoch: int, start: int = 0) -> Iterator[LMBatch]:
        """Batches of ``epoch`` from batch index ``start`` (to resume mid-epoch)."""
        read = self._reader(epoch)
        lengths = self.seq_lengths(epoch)
        if not 0 <= start <= len(lengths):
            raise ValueError(f"start batch {start} is outside epoch {epoch} ({len(lengths)} batches)")
        positions = np.concatenate([[0], np.cumsum(lengths)])
        rows = range(self.rank * self.batch_size, (self.rank + 1) * self.batch_size)
        for index in range(start, len(lengths)):
            p, t = int(positions[index]), int(lengths[index])
            chunk = np.stack([read(r * self.row_len + p, t + 1) for r in rows])  # (B, T + 1)
            yield LMBatch(x=chunk[:, :-1], y=chunk[:, 1:], epoch=epoch, index=index)

    def __iter__(self) -> Iterator[LMBatch]:
        return self.batches(0)

    def __repr__(self) -> str:
        return (
            f"LMStream(n_tokens={self.n_tokens}, docs={len(self.lengths)}, batch_size={self.batch_size}, "
            f"bptt={self.bptt}, shuffle={self.shuffle}, backwards={self.backwards}, rank={self.rank}/{self.world_size})"
        )


def _flatten(docs: LMDocs) -> tuple[np.ndarray, np.ndarray]:
    """(ids, offsets) from a NumericalizedCorpus (kept memory-mapped) or a list of id arrays."""
    if hasattr(docs, "ids") and hasattr(docs, "offsets"):
        return docs.ids, np.asarray(docs.offsets, dtype=np.int64)
    if isinstance(docs, np.ndarray) and docs.ndim == 1:
        docs = [docs]
    arrays = [np.asarray(d, dtype=np.int64).reshape(-1) for d in docs]
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    ids = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)
    return ids, offsets


def split_documents(keys: Sequence[str], fractions: Sequence[float], seed: int) -> list[list[str]]:
    """Split documents by key (e.g. Brown file ids) into parts of the given fractions.

    Keys are sorted, then permuted with ``seed``; the last part takes the remainder, and every
    part gets at least one key. Deterministic for a given ``(keys, fractions, seed)``."""
    keys = sorted(set(keys))
    if len(keys) < len(fractions):
        raise ValueError(f"cannot split {len(keys)} documents into {len(fractions)} non-empty parts")
    if abs(sum(fractions) - 1.0) > 1e-9 or min(fractions) <= 0:
        raise ValueError(f"fractions must be positive and sum to 1, got {list(fractions)}")
    order = [keys[i] for i in np.random.default_rng(seed).permutation(len(keys))]
    parts, start = [], 0
    for i, frac in enumerate(fractions):
        remaining = len(fractions) - i - 1
        size = (
            len(keys) - start - 0
            if remaining == 0
            else max(1, min(round(frac * len(keys)), len(keys) - start - remaining))
        )
        parts.append(sorted(order[start : start + size]))
        start += size
    return parts
