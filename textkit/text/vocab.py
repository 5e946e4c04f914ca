"""Vocab: tokens <-> integer ids, with special tokens first and an explicit unknown index."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from textkit._io import atomic_write_json, read_json
from textkit.text.special import BOS, EOS, PAD, SPECIAL_TOKENS, UNK


class Vocab:
    """An ordered token list. ``encode`` maps unknown tokens to ``unk_index`` (never silently
    to 0); ``decode`` refuses ids outside the vocabulary."""

    def __init__(self, itos: Sequence[str], *, unk_token: str = UNK, pad_token: str = PAD) -> None:
        itos = list(itos)
        if len(set(itos)) != len(itos):
            dupes = [t for t, n in Counter(itos).items() if n > 1][:5]
            raise ValueError(f"vocabulary has duplicate tokens, e.g. {dupes}")
        if unk_token not in itos:
            raise ValueError(f"the unknown token {unk_token!r} must be in the vocabulary")
        self.itos = itos
        self.stoi = {token: i for i, token in enumerate(itos)}
        self.unk_token = unk_token
        self.pad_token = pad_token
        self.unk_index = self.stoi[unk_token]
        self.pad_index = self.stoi.get(pad_token, -1)
        self.counts: Counter | None = None  # token counts, when built from a corpus

    @classmethod
    def build(
        cls,
        token_lists: Iterable[Sequence[str]],
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = SPECIAL_TOKENS,
    ) -> Vocab:
        """Count tokens; keep those seen at least ``min_freq`` times, most frequent first (ties
        alphabetical, so the result is deterministic). ``max_size`` bounds the whole
        vocabulary, specials included."""
        if min_freq < 1:
            raise ValueError(f"min_freq must be >= 1, got {min_freq}")
        if max_size is not None and max_size < len(specials):
            raise ValueError(f"max_size={max_size} is smaller than the {len(specials)} special tokens")
        counts: Counter = Counter()
        for i, tokens in enumerate(token_lists):
            if isinstance(tokens, str) or tokens is None:
                raise TypeError(f"token_lists[{i}] must be a list of tokens, got {type(tokens).__name__}")
            counts.update(tokens)
        ranked = sorted(
            (t for t, n in counts.items() if n >= min_freq and t not in specials), key=lambda t: (-counts[t], t)
        )
        if max_size is not None:
            ranked = ranked[: max_size - len(specials)]
        vocab = cls([*specials, *ranked])
        vocab.counts = counts
        return vocab

    def token_to_id(self, token: str) -> int | None:
        """The id of ``token``, or None when the vocabulary does not hold it."""
        return self.stoi.get(token)

    def id_to_token(self, index: int) -> str:
        if not 0 <= int(index) < len(self.itos):
            raise IndexError(f"id {index} is outside the vocabulary (size {len(self.itos)})")
        return self.itos[int(index)]

    @property
    def special_ids(self) -> dict[str, int]:
        """Ids of the special tokens this vocabulary holds: among 'unk', 'pad', 'bos', 'eos'."""
        names = {"unk": self.unk_token, "pad": self.pad_token, "bos": BOS, "eos": EOS}
        return {name: self.stoi[token] for name, token in names.items() if token in self.stoi}

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.itos == other.itos and self.unk_token == other.unk_token

    def encode(self, tokens: Sequence[str]) -> list[int]:
        if isinstance(tokens, str):
            raise TypeError("encode takes a list of tokens, not a str: tokenize the text first")
        stoi, unk = self.stoi, self.unk_index
        return [stoi.get(t, unk) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        itos, n = self.itos, len(self.itos)
        out = []
        for position, i in enumerate(ids):
            i = int(i)
            if not 0 <= i < n:
                raise IndexError(f"id {i} at position {position} is outside the vocabulary (size {n})")
            out.append(itos[i])
        return out

    def encode_batch(self, batch: Sequence[Sequence[str]], pad: bool = False) -> list[list[int]] | np.ndarray:
        """Encode many token lists. ``pad=True`` returns an int64 array padded with ``pad_index``."""
        encoded = []
        for i, tokens in enumerate(batch):
            if tokens is None:
                raise TypeError(f"batch[{i}] is None: drop missing items or use [] for an empty text")
            encoded.append(self.encode(tokens))
        if not pad:
            return encoded
        if self.pad_index < 0:
            raise ValueError(f"padding needs {self.pad_token!r} in the vocabulary")
        width = max((len(e) for e in encoded), default=0)
        out = np.full((len(encoded), width), self.pad_index, dtype=np.int64)
        for row, ids in enumerate(encoded):
            out[row, : len(ids)] = ids
        return out

    def decode_batch(self, batch: Iterable[Iterable[int]], strip_pad: bool = True) -> list[list[str]]:
        decoded = [self.decode(ids) for ids in batch]
        if strip_pad:
            decoded = [[t for t in tokens if t != self.pad_token] for tokens in decoded]
        return decoded

    def fingerprint(self) -> str:
        return hashlib.sha256("\n".join(self.itos).encode("utf-8", "surrogatepass")).hexdigest()[:16]

    def to_dict(self) -> dict:
        return {"itos": self.itos, "unk_token": self.unk_token, "pad_token": self.pad_token}

    def save(self, path: str | Path) -> Path:
        """Save as JSON (a file path, or a folder, which gets ``vocab.json``)."""
        path = Path(path)
        if path.is_dir() or not path.suffix:
            path = path / "vocab.json"
        atomic_write_json(path, self.to_dict(), indent=None)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        path = Path(path)
        if path.is_dir():
            path = path / "vocab.json"
        raw = read_json(path, "vocabulary")
        if not isinstance(raw, dict) or not isinstance(raw.get("itos"), list):
            raise ValueError(f"{path} is not a textkit vocabulary (expected an object with an 'itos' list)")
        return cls(raw["itos"], unk_token=raw.get("unk_token", UNK), pad_token=raw.get("pad_token", PAD))

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)}, unk_index={self.unk_index})"
