"""Classification data: documents as id arrays, batched by similar length.

Training batches are "sortish" (fastai's word): each epoch shuffles the documents, sorts
them by length inside pools of ``50 * batch_size`` and shuffles the batches, so a batch
wastes little padding yet the order still changes every epoch. Evaluation and inference
sort by length once and put the results back in input order.

Everything random is a function of ``(seed, epoch)`` (exact resume). numpy only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

POOL_BATCHES = 50


@dataclass(frozen=True)
class ClassBatch:
    """Right-padded ids (B, L), lengths (B,), label indices (B,) or None, and the rows' positions
    in the input list."""

    x: np.ndarray
    lengths: np.ndarray
    y: np.ndarray | None
    rows: np.ndarray

    @property
    def n_tokens(self) -> int:
        return int(self.lengths.sum())


def pad_batch(docs: Sequence[np.ndarray], pad_index: int) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
    x = np.full((len(docs), int(lengths.max())), pad_index, dtype=np.int64)
    for i, doc in enumerate(docs):
        x[i, : len(doc)] = doc
    return x, lengths


def _split_sizes(n: int, batch_size: int) -> list[int]:
    """Batch sizes covering n items; a trailing batch of one is merged into the one before
    (batchnorm cannot train on a single example)."""
    sizes = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    if len(sizes) > 1 and sizes[-1] == 1:
        sizes[-2] += 1
        sizes.pop()
    return sizes


class ClassificationBatches:
    """``batches(epoch, start)`` / ``n_batches(epoch)`` over documents, the interface
    ``textkit.train.Trainer`` reads."""

    def __init__(
        self,
        docs: Sequence[np.ndarray],
        labels: Sequence[int] | np.ndarray | None,
        batch_size: int,
        pad_index: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
    ) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if len(docs) == 0:
            raise ValueError("no documents to batch")
        if labels is not None and len(labels) != len(docs):
            raise ValueError(f"{len(docs)} documents but {len(labels)} labels")
        empty = [i for i, d in enumerate(docs) if len(d) == 0]
        if empty:
            raise ValueError(f"documents {empty[:5]} have no tokens; every document needs at least xxbos")
        self.docs = [np.asarray(d, dtype=np.int64) for d in docs]
        self.labels = None if labels is None else np.asarray(labels, dtype=np.int64)
        self.lengths = np.fromiter((len(d) for d in self.docs), dtype=np.int64, count=len(self.docs))
        self.batch_size, self.pad_index, self.shuffle, self.seed = batch_size, pad_index, shuffle, seed

    def __len__(self) -> int:
        return len(self.docs)

    def _plan(self, epoch: int) -> list[np.ndarray]:
        """Row indices of every batch of ``epoch``."""
        n, bs = len(self.docs), self.batch_size
        if not self.shuffle:
            order = np.argsort(-self.lengths, kind="stable")
            cuts = np.cumsum(_split_sizes(n, bs))[:-1]
            return np.split(order, cuts)
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(n)
        pool = POOL_BATCHES * bs
        for s in range(0, n, pool):
            part = order[s : s + pool]
            order[s : s + pool] = part[np.argsort(-self.lengths[part], kind="stable")]
        batches = np.split(order, np.cumsum(_split_sizes(n, bs))[:-1])
        longest = int(np.argmax([self.lengths[b].max() for b in batches]))
        rest = [b for i, b in enumerate(batches) if i != longest]
        # the longest batch first: an out-of-memory error shows up at once, not hours in
        return [batches[longest]] + [rest[i] for i in rng.permutation(len(rest))]

    def n_batches(self, epoch: int = 0) -> int:
        return len(_split_sizes(len(self.docs), self.batch_size))

    def batches(self, epoch: int = 0, start: int = 0) -> Iterator[ClassBatch]:
        plan = self._plan(epoch)
        if not 0 <= start <= len(plan):
            raise ValueError(f"start batch {start} is outside epoch {epoch} ({len(plan)} batches)")
        for rows in plan[start:]:
            x, lengths = pad_batch([self.docs[r] for r in rows], self.pad_index)
            y = None if self.labels is None else self.labels[rows]
            yield ClassBatch(x=x, lengths=lengths, y=y, rows=rows)

    def __iter__(self) -> Iterator[ClassBatch]:
        return self.batches(0)


class LabelEncoder:
    """Labels <-> class indices, with the checks a classifier needs: one label type, at least
    two classes, and a clear error for labels unseen at training time."""

    def __init__(self, classes: Sequence) -> None:
        classes = list(classes)
        check_label_types(classes, "classes")
        if len(classes) < 2:
            raise ValueError(f"a classifier needs at least two classes, got {classes}")
        if len(set(classes)) != len(classes):
            raise ValueError(f"classes must be distinct, got {classes}")
        self.classes = classes
        self.index = {c: i for i, c in enumerate(classes)}

    @classmethod
    def fit(cls, labels: Sequence) -> LabelEncoder:
        labels = list(labels)
        check_label_types(labels, "labels")
        classes = sorted(set(labels))
        if len(classes) < 2:
            raise ValueError(f"the training labels have only one class ({classes}); a classifier needs at least two")
        return cls(classes)

    def encode(self, labels: Sequence) -> np.ndarray:
        labels = list(labels)
        unseen = sorted({repr(label) for label in labels if label not in self.index})
        if unseen:
            raise ValueError(
                f"labels [{', '.join(unseen[:5])}] were not seen at training time; known classes: {self.classes}"
            )
        return np.asarray([self.index[label] for label in labels], dtype=np.int64)

    def decode(self, indices: np.ndarray) -> np.ndarray:
        return np.asarray(self.classes)[np.asarray(indices, dtype=np.int64)]


def check_label_types(labels: Sequence, where: str) -> None:
    """One kind of label (all str, or all int): mixing them is almost always a data bug
    (``"1"`` and ``1`` would become two classes)."""
    kinds = set()
    for i, label in enumerate(labels):
        if isinstance(label, bool) or label is None or isinstance(label, float):
            raise TypeError(f"{where}[{i}] = {label!r}: labels must be str or int (not bool, float or None)")
        if isinstance(label, str):
            kinds.add("str")
        elif isinstance(label, (int, np.integer)):
            kinds.add("int")
        else:
            raise TypeError(f"{where}[{i}] = {label!r} has type {type(label).__name__}; labels must be str or int")
    if len(kinds) > 1:
        raise TypeError(f"{where} mix str and int labels; convert them to one type (e.g. all str) first")


__all__ = ["ClassBatch", "ClassificationBatches", "LabelEncoder", "check_label_types", "pad_batch"]


def predict_docs(
    model,
    docs: list[np.ndarray],
    pad_index: int,
    batch_size: int = 64,
    precision: str = "fp32",
    progress: bool = False,
) -> np.ndarray:
    """Softmax probabilities (N, n_classes) of id documents in input order, for every transfer
    classifier (AWD-LSTM, Llama, BERT: ``model(x, lengths) -> logits`` with ``config.n_classes``):
    batches sorted by length, ``torch.inference_mode``, bf16 autocast with ``precision="bf16"``."""
    import time

    import torch

    from textkit._device import autocast
    from textkit.nn.modes import eval_mode

    device = next(model.parameters()).device
    batches = ClassificationBatches(docs, None, batch_size, pad_index, shuffle=False)
    out = np.zeros((len(docs), model.config.n_classes), dtype=np.float64)
    started = time.perf_counter()
    with eval_mode(model), torch.inference_mode(), autocast(precision, device):
        for i, batch in enumerate(batches.batches(0)):
            x = torch.from_numpy(batch.x).to(device)
            lengths = torch.from_numpy(batch.lengths).to(device)
            out[batch.rows] = torch.softmax(model(x, lengths).float(), dim=-1).double().cpu().numpy()
            if progress and i % 20 == 0:
                done = min((i + 1) * batch_size, len(docs))
                print(f"  predicted {done}/{len(docs)} ({time.perf_counter() - started:.1f} s)", flush=True)
    return out
