"""WordPiece (BERT's tokenizer) for pretrained encoders such as all-MiniLM-L6-v2, behind
textkit's tokenizer protocol.

The engine is Hugging Face ``tokenizers`` running the model's own ``tokenizer.json``: its
stages are BERT's normalizer (clean-up, CJK spacing, lower-casing, accents), the BERT
pre-tokenizer (whitespace and punctuation), the WordPiece model (greedy longest match,
``##`` continuations, ``[UNK]`` for a word it cannot spell) and a post-processor that frames
each text as ``[CLS] ... [SEP]``. textkit keeps that pipeline as it is and adds two rules of
its own, instead of the file's fixed padding and truncation:

- **Truncation.** A sequence has at most ``max_length`` pieces (512: BERT's position table),
  ``[CLS]`` and ``[SEP]`` included, so a text of more than ``max_length - 2`` word pieces keeps
  its first ``max_length - 2`` and its closing ``[SEP]``. :meth:`WordPieceTokenizer.encode_batch`
  says which texts were cut (``WordPieceBatch.truncated``) and, unless asked not to, warns once
  with a :class:`TruncationWarning` that carries their indices. (sentence-transformers cuts
  all-MiniLM-L6-v2's input at 256 pieces; the two agree on anything shorter.)
- **Empty texts.** A text with no word pieces (``""``, only whitespace or control characters)
  encodes to ``[CLS] [SEP]``, as BERT does; ``WordPieceBatch.empty`` lists them. The tokenizer
  does not refuse them: what to do is the caller's decision (``textkit.nn.encode`` refuses them
  with an :class:`EmptyTextError`, since such a vector says nothing about its text).

Batches are padded on the right with the pad id (:meth:`WordPieceBatch.pad`). The tokenizer
saves to one JSON file (``tokenizer.json``: textkit's fields plus the whole Hugging Face
pipeline under ``"tokenizer"``). ``tokenizers`` is imported on first use.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from textkit._io import atomic_write_json, read_json
from textkit.text.checks import check_text
from textkit.text.pipeline import Encoded

__all__ = [
    "MAX_LENGTH",
    "EmptyTextError",
    "PaddedBatch",
    "TruncationWarning",
    "WordPieceBatch",
    "WordPieceTokenizer",
]

_CONFIG_FILE = "tokenizer.json"
TYPE = "wordpiece"
MAX_LENGTH = 512  # BERT's positions: the longest sequence, [CLS] and [SEP] included
# textkit's names for the special tokens -> how BERT's vocabularies spell them
SPECIAL_TOKENS = {"pad": "[PAD]", "unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]", "mask": "[MASK]"}
REQUIRED_SPECIALS = ("pad", "cls", "sep")


class TruncationWarning(UserWarning):
    """Some texts were longer than the model reads and were cut; ``indices`` says which
    (positions in the list that was encoded)."""

    def __init__(self, message: str, indices: Sequence[int] = ()) -> None:
        super().__init__(message)
        self.indices = tuple(indices)


class EmptyTextError(ValueError):
    """A text has no word pieces (empty, or only whitespace or control characters); ``index``
    is its position in the list that was encoded."""

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.index = index


@dataclass(frozen=True)
class PaddedBatch:
    """Rows of ids padded on the right: ``input_ids`` and ``attention_mask`` (1 at real
    pieces), both int64 (B, T) with T the longest row."""

    input_ids: np.ndarray
    attention_mask: np.ndarray

    @property
    def lengths(self) -> np.ndarray:
        return self.attention_mask.sum(axis=1)


@dataclass(frozen=True)
class WordPieceBatch:
    """Texts as word-piece ids, one int64 array per text (``[CLS] ... [SEP]``, unpadded).

    ``n_pieces`` counts each text's word pieces before truncation (no ``[CLS]``/``[SEP]``);
    ``truncated`` and ``empty`` are the indices of the texts that were cut and of those that
    have no word pieces."""

    ids: list[np.ndarray]
    n_pieces: np.ndarray
    max_length: int
    pad_id: int

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def lengths(self) -> np.ndarray:
        """Each row's length in pieces, ``[CLS]`` and ``[SEP]`` included."""
        return np.fromiter((len(row) for row in self.ids), dtype=np.int64, count=len(self.ids))

    @property
    def truncated(self) -> tuple[int, ...]:
        return tuple(int(i) for i in np.flatnonzero(self.n_pieces > self.max_length - 2))

    @property
    def empty(self) -> tuple[int, ...]:
        return tuple(int(i) for i in np.flatnonzero(self.n_pieces == 0))

    def pad(self, rows: Sequence[int] | np.ndarray | None = None) -> PaddedBatch:
        """The rows ``rows`` (default: all, in order) padded on the right to the longest of them."""
        chosen = [self.ids[int(i)] for i in (range(len(self.ids)) if rows is None else rows)]
        if not chosen:
            raise ValueError("pad() needs at least one row")
        width = max(len(row) for row in chosen)
        input_ids = np.full((len(chosen), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(chosen), width), dtype=np.int64)
        for r, row in enumerate(chosen):
            input_ids[r, : len(row)] = row
            mask[r, : len(row)] = 1
        return PaddedBatch(input_ids, mask)


def _require_tokenizers() -> Any:
    try:
        import tokenizers
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "WordPiece tokenizers need the Hugging Face `tokenizers` package: pip install tokenizers"
        ) from exc
    return tokenizers


def truncation_message(indices: Sequence[int], total: int, max_length: int, where: Sequence[str] = ()) -> str:
    """The notice for texts cut at ``max_length`` pieces; ``where`` names them (default ``texts[i]``)."""
    names = list(where) or [f"texts[{i}]" for i in indices]
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return (
        f"{len(indices)} of {total} texts have more than {max_length - 2} word pieces and were cut to their first "
        f"{max_length - 2} ({max_length} with [CLS] and [SEP], the model's limit): {shown}"
    )


class WordPieceTokenizer:
    """A pretrained WordPiece tokenizer (BERT's) with named special ids and a length limit.

    ``special_ids`` maps textkit's names ('pad', 'unk', 'cls', 'sep', 'mask') to ids;
    ``max_length`` is the longest sequence, ``[CLS]`` and ``[SEP]`` included."""

    def __init__(self, hf_tokenizer: Any, *, special_ids: Mapping[str, int], max_length: int = MAX_LENGTH) -> None:
        if max_length < 3:
            raise ValueError(f"max_length must leave room for [CLS], a piece and [SEP]: got {max_length}")
        hf_tokenizer.no_padding()  # textkit pads batches itself (WordPieceBatch.pad)
        hf_tokenizer.no_truncation()  # and truncates with a notice (encode_batch)
        self._tk = hf_tokenizer
        self._special_ids = dict(special_ids)
        self.max_length = int(max_length)
        n = len(self)
        bad = {name: i for name, i in self._special_ids.items() if not 0 <= i < n}
        if bad:
            raise ValueError(f"special ids {bad} are outside the vocabulary (size {n})")
        missing = [name for name in REQUIRED_SPECIALS if name not in self._special_ids]
        if missing:
            raise ValueError(f"a WordPiece tokenizer needs the special tokens {missing} (BERT's [PAD], [CLS], [SEP])")

    @classmethod
    def from_hf_json(
        cls, text: str, *, max_length: int = MAX_LENGTH, where: str = "tokenizer.json"
    ) -> WordPieceTokenizer:
        """From a Hugging Face ``tokenizer.json`` (its text) with a WordPiece model; the special
        ids are looked up by BERT's spellings (``[PAD]``, ``[CLS]``, ...)."""
        tk = _require_tokenizers()
        try:
            raw = json.loads(text)
            hf = tk.Tokenizer.from_str(text)
        except Exception as exc:  # tokenizers raises a bare Exception on a malformed pipeline
            raise ValueError(f"{where} is not a Hugging Face tokenizer pipeline: {exc}") from exc
        model_type = (raw.get("model") or {}).get("type")
        if model_type != "WordPiece":
            raise ValueError(f"{where} holds a {model_type!r} model, not a WordPiece one")
        special_ids = {}
        for name, token in SPECIAL_TOKENS.items():
            index = hf.token_to_id(token)
            if index is not None:
                special_ids[name] = int(index)
        return cls(hf, special_ids=special_ids, max_length=max_length)

    # -- encoding -----------------------------------------------------------------------------

    def _cut(self, ids: list[int]) -> list[int]:
        """Keep the first ``max_length - 1`` ids and the closing one (``[SEP]``)."""
        return ids if len(ids) <= self.max_length else [*ids[: self.max_length - 1], ids[-1]]

    def encode(self, text: str) -> Encoded:
        """Ids and pieces of one text, framed as ``[CLS] ... [SEP]`` and cut to ``max_length``
        (with a :class:`TruncationWarning`)."""
        encoding = self._tk.encode(check_text(text), add_special_tokens=True)
        ids, tokens = list(encoding.ids), list(encoding.tokens)
        if len(ids) > self.max_length:
            warnings.warn(TruncationWarning(truncation_message([0], 1, self.max_length, ["text"]), [0]), stacklevel=2)
            ids, tokens = self._cut(ids), [*tokens[: self.max_length - 1], tokens[-1]]
        return Encoded(ids, tokens)

    def encode_batch(self, texts: Sequence[str], *, warn: bool = True) -> WordPieceBatch:
        """Every text as ``[CLS] ... [SEP]`` ids (a :class:`WordPieceBatch`, unpadded), in input
        order. Texts over ``max_length - 2`` pieces are cut; ``warn`` issues one
        :class:`TruncationWarning` naming them (``warn=False``: read ``.truncated`` instead)."""
        checked = [check_text(t, f"texts[{i}]") for i, t in enumerate(texts)]
        encodings = self._tk.encode_batch(checked, add_special_tokens=True)
        n_special = self._tk.num_special_tokens_to_add(False)
        rows, n_pieces = [], np.empty(len(encodings), dtype=np.int64)
        for i, encoding in enumerate(encodings):
            ids = encoding.ids
            n_pieces[i] = len(ids) - n_special
            rows.append(np.asarray(self._cut(ids), dtype=np.int64))
        batch = WordPieceBatch(rows, n_pieces, self.max_length, self.pad_index)
        if warn and batch.truncated:
            message = truncation_message(batch.truncated, len(batch), self.max_length)
            warnings.warn(TruncationWarning(message, batch.truncated), stacklevel=2)
        return batch

    def decode(self, ids: Sequence[int], skip_special: bool = True) -> str:
        values = [int(i) for i in ids]
        n = len(self)
        bad = [i for i in values if not 0 <= i < n]
        if bad:
            raise IndexError(f"ids {bad[:5]} are outside the vocabulary (size {n})")
        return str(self._tk.decode(values, skip_special_tokens=skip_special))

    def tokenize(self, text: str) -> list[str]:
        return self.encode(text).tokens

    # -- the vocabulary -------------------------------------------------------------------------

    @property
    def has_own_vocab(self) -> bool:
        return False  # a fixed, pretrained inventory

    def __len__(self) -> int:
        return int(self._tk.get_vocab_size(with_added_tokens=True))

    def token_to_id(self, token: str) -> int | None:
        index = self._tk.token_to_id(token)
        return None if index is None else int(index)

    def id_to_token(self, index: int) -> str:
        token = self._tk.id_to_token(int(index))
        if token is None:
            raise IndexError(f"id {index} is outside the vocabulary (size {len(self)})")
        return str(token)

    @property
    def itos(self) -> list[str]:
        return [self.id_to_token(i) for i in range(len(self))]

    @property
    def special_ids(self) -> dict[str, int]:
        return dict(self._special_ids)

    @property
    def pad_index(self) -> int:
        return self._special_ids["pad"]

    # -- one JSON file ----------------------------------------------------------------------------

    def config(self) -> dict:
        return {
            "type": TYPE,
            "max_length": self.max_length,
            "special_ids": self._special_ids,
            "tokenizer": json.loads(self._tk.to_str()),
        }

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        atomic_write_json(folder / _CONFIG_FILE, self.config(), indent=None)
        return folder

    @classmethod
    def from_config(cls, config: dict, where: str = "tokenizer config") -> WordPieceTokenizer:
        if not isinstance(config, dict) or config.get("type") != TYPE:
            kind = config.get("type") if isinstance(config, dict) else type(config).__name__
            raise ValueError(f"{where} holds a {kind!r} tokenizer, not a {TYPE!r} one")
        tk = _require_tokenizers()
        try:
            hf = tk.Tokenizer.from_str(json.dumps(config["tokenizer"]))
        except Exception as exc:  # tokenizers raises a bare Exception on a malformed pipeline
            raise ValueError(f"{where} does not hold a valid WordPiece pipeline: {exc}") from exc
        max_length = config.get("max_length", MAX_LENGTH)
        if isinstance(max_length, bool) or not isinstance(max_length, int) or not 3 <= max_length <= 65536:
            raise ValueError(f"{where}: max_length must be an integer in [3, 65536], got {max_length!r}")
        return cls(hf, special_ids={k: int(v) for k, v in config.get("special_ids", {}).items()}, max_length=max_length)

    @classmethod
    def load(cls, folder: str | Path) -> WordPieceTokenizer:
        path = Path(folder) / _CONFIG_FILE
        return cls.from_config(read_json(path, "tokenizer config"), where=str(path))

    def __repr__(self) -> str:
        return f"WordPieceTokenizer({len(self)} pieces, max_length={self.max_length}, special_ids={self._special_ids})"
