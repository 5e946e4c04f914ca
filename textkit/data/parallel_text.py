"""Parallel text for translation: readers (registry corpora, TSV, two aligned files), cleaning
and deterministic splits, id encoding, and token-budget batches for ``textkit.train.Trainer``.

Records are ``{"source": str, "target": str, ...}`` everywhere, as ``textkit.data.load`` returns
for parallel corpora (``bible-es-en``, ``giga-fren``). Encoded pairs are
``(source ids + [EOS], [BOS] + target ids + [EOS])``; batches pad with ``pad_id``.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


# -- reading ---------------------------------------------------------------------------------


def read_tsv(
    path: str | Path,
    *,
    source_column: int | str = 0,
    target_column: int | str = 1,
    delimiter: str = "\t",
    header: bool = False,
) -> list[dict]:
    """Pairs from a delimited file. Columns are indices, or names when ``header`` is True."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"parallel TSV {path} does not exist")
    records = []
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter, quoting=csv.QUOTE_NONE)
        rows = list(reader)
    if header:
        if not rows:
            raise ValueError(f"{path} is empty but header=True")
        names, rows = rows[0], rows[1:]
        try:
            source_column = names.index(source_column) if isinstance(source_column, str) else source_column
            target_column = names.index(target_column) if isinstance(target_column, str) else target_column
        except ValueError as exc:
            raise ValueError(f"{path}: column {exc.args[0].split()[0]} not in header {names}") from exc
    if not isinstance(source_column, int) or not isinstance(target_column, int):
        raise TypeError(f"columns {source_column!r} and {target_column!r} must be indices, or names with header=True")
    for line_no, row in enumerate(rows, start=2 if header else 1):
        if not row:
            continue
        if max(source_column, target_column) >= len(row):
            raise ValueError(
                f"{path} line {line_no} has {len(row)} column(s); "
                f"expected source column {source_column} and target column {target_column}"
            )
        records.append({"source": row[source_column], "target": row[target_column], "line": line_no})
    return records


def read_parallel_files(source_path: str | Path, target_path: str | Path) -> list[dict]:
    """Pairs from two line-aligned files (Moses style). Different line counts raise."""
    src = Path(source_path).read_text(encoding="utf-8").splitlines()
    tgt = Path(target_path).read_text(encoding="utf-8").splitlines()
    if len(src) != len(tgt):
        raise ValueError(
            f"{source_path} has {len(src)} lines but {target_path} has {len(tgt)}; parallel files must be line-aligned"
        )
    return [{"source": s, "target": t, "line": i + 1} for i, (s, t) in enumerate(zip(src, tgt, strict=True))]


@dataclass(frozen=True)
class CleanReport:
    kept: int
    dropped_empty: int
    dropped_long: int


def clean_pairs(records: Iterable[dict], max_words: int | None = None) -> tuple[list[dict], CleanReport]:
    """Drop pairs with an empty (whitespace-only) side, and, with ``max_words``, pairs where a
    side has more whitespace-separated words. Returns the kept records and the counts."""
    kept, empty, long = [], 0, 0
    for r in records:
        s, t = r["source"].strip(), r["target"].strip()
        if not s or not t:
            empty += 1
        elif max_words is not None and (len(s.split()) > max_words or len(t.split()) > max_words):
            long += 1
        else:
            kept.append(r)
    return kept, CleanReport(len(kept), empty, long)


def hash_split(record: dict, valid_percent: int = 3, test_percent: int = 3, key: str = "source") -> str:
    """A deterministic split from the sha256 of ``record[key]`` (identical sources share a split,
    so duplicates never leak across splits)."""
    bucket = int(hashlib.sha256(record[key].encode("utf-8")).hexdigest(), 16) % 100
    return "test" if bucket < test_percent else "valid" if bucket < test_percent + valid_percent else "train"


def split_records(
    records: Sequence[dict], valid_percent: int = 3, test_percent: int = 3, key: str = "source"
) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {"train": [], "valid": [], "test": []}
    for r in records:
        out[hash_split(r, valid_percent, test_percent, key)].append(r)
    return out


def load_parallel(spec: str, split: str, *, data_dir: str | Path | None = None) -> list[dict]:
    """Records of one split from a registry corpus name (``bible-es-en``; its own leak-free
    chapter split), a ``.tsv`` file, or ``SOURCE_FILE,TARGET_FILE`` (hash split for both)."""
    if split not in ("train", "valid", "test"):
        raise ValueError(f"split must be 'train', 'valid' or 'test', got {split!r}")
    if "," in spec:
        src_path, tgt_path = spec.split(",", 1)
        return split_records(read_parallel_files(src_path, tgt_path))[split]
    if spec.endswith((".tsv", ".txt", ".csv")):
        return split_records(read_tsv(spec, delimiter="," if spec.endswith(".csv") else "\t"))[split]
    from textkit import data

    manifest = data.info(spec)
    if manifest.kind != "parallel":
        raise ValueError(f"corpus {spec!r} is {manifest.kind}, not parallel")
    if manifest.splits:
        return data.load(spec, split=split, data_dir=data_dir)
    return split_records(data.load(spec, data_dir=data_dir))[split]


# -- encoding and batching -------------------------------------------------------------------


def encode_pairs(
    pairs: Iterable[tuple[Sequence[int], Sequence[int]]], *, bos_id: int, eos_id: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(source ids + [EOS], [BOS] + target ids + [EOS])`` as int64 arrays."""
    return [
        (np.asarray(list(s) + [eos_id], dtype=np.int64), np.asarray([bos_id] + list(t) + [eos_id], dtype=np.int64))
        for s, t in pairs
    ]


@dataclass
class Seq2SeqBatch:
    src: np.ndarray  # (B, S)
    tgt_in: np.ndarray  # (B, T): BOS ... (teacher-forced inputs)
    tgt_out: np.ndarray  # (B, T): ... EOS (targets)
    index: np.ndarray  # (B,) positions of the pairs in the dataset
    n_tokens: int = 0  # target tokens (excluding padding)

    def tensors(self, device: str | torch.device) -> tuple[torch.Tensor, ...]:
        import torch

        return tuple(torch.from_numpy(a).to(device, non_blocking=True) for a in (self.src, self.tgt_in, self.tgt_out))


def collate(
    pairs: Sequence[tuple[np.ndarray, np.ndarray]], index: Sequence[int] | np.ndarray, pad_id: int
) -> Seq2SeqBatch:
    s_len = max(len(s) for s, _ in pairs)
    t_len = max(len(t) for _, t in pairs) - 1
    src = np.full((len(pairs), s_len), pad_id, dtype=np.int64)
    tgt_in = np.full((len(pairs), t_len), pad_id, dtype=np.int64)
    tgt_out = np.full((len(pairs), t_len), pad_id, dtype=np.int64)
    for i, (s, t) in enumerate(pairs):
        src[i, : len(s)] = s
        tgt_in[i, : len(t) - 1] = t[:-1]
        tgt_out[i, : len(t) - 1] = t[1:]
    return Seq2SeqBatch(src, tgt_in, tgt_out, np.asarray(index), int(sum(len(t) - 1 for _, t in pairs)))


@dataclass
class ParallelBatches:
    """Length-bucketed batches of at most ``max_tokens`` padded tokens (source or target side,
    whichever is longer). With ``shuffle``, each epoch sorts by length with seeded random
    tie-breaks and shuffles the batch order (seed + epoch): deterministic and resumable.
    Implements the ``batches(epoch, start)`` / ``n_batches(epoch)`` protocol of the Trainer."""

    pairs: list[tuple[np.ndarray, np.ndarray]]
    pad_id: int
    max_tokens: int = 4096
    shuffle: bool = True
    seed: int = 0
    _plans: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.pairs:
            raise ValueError("ParallelBatches needs at least one pair")
        longest = max(max(len(s), len(t)) for s, t in self.pairs)
        if longest > self.max_tokens:
            raise ValueError(
                f"a pair has {longest} tokens, more than max_tokens={self.max_tokens}; "
                "raise max_tokens or filter long pairs"
            )

    def _plan(self, epoch: int) -> list[np.ndarray]:
        key = epoch if self.shuffle else 0
        if key not in self._plans:
            lengths = np.array([max(len(s), len(t)) for s, t in self.pairs])
            rng = np.random.default_rng([self.seed, key])
            noise = rng.random(len(lengths)) if self.shuffle else np.arange(len(lengths)) / len(lengths)
            order = np.lexsort((noise, lengths))
            plan: list[np.ndarray] = []
            current: list[int] = []
            width = 0
            for i in order:
                new_width = max(width, lengths[i])
                if current and new_width * (len(current) + 1) > self.max_tokens:
                    plan.append(np.asarray(current))
                    current, new_width = [], lengths[i]
                current.append(i)
                width = new_width
            if current:
                plan.append(np.asarray(current))
            if self.shuffle:
                plan = [plan[j] for j in rng.permutation(len(plan))]
            self._plans = {key: plan}
        return self._plans[key]

    def n_batches(self, epoch: int = 0) -> int:
        return len(self._plan(epoch))

    def batches(self, epoch: int = 0, start: int = 0) -> Iterator[Seq2SeqBatch]:
        for idx in self._plan(epoch)[start:]:
            yield collate([self.pairs[i] for i in idx], idx, self.pad_id)

    def __len__(self) -> int:
        return len(self.pairs)
