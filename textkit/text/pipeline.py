"""A whole text pipeline (tokenizer + vocabulary) that saves to a folder of JSON and loads
back identically in a fresh process. No pickle anywhere."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from textkit._io import read_json
from textkit.text.subword import SubwordTokenizer
from textkit.text.tokenizer import Tokenizer
from textkit.text.vocab import Vocab


@dataclass
class Encoded:
    """One encoded text: ids and the tokens they stand for."""

    ids: list[int]
    tokens: list[str]


class TextPipeline:
    """Text -> ids and back. Word pipelines pair a ``Tokenizer`` with a ``Vocab``;
    subword pipelines carry their own vocabulary in the SentencePiece model.

    The protocol every model, trainer and recipe relies on (no caller needs to know which
    kind of tokenizer is inside): ``encode``/``decode``, ``encode_documents``, ``len()``,
    ``token_to_id``/``id_to_token``, ``itos``, ``special_ids`` and ``pad_index``."""

    def __init__(self, tokenizer: Tokenizer | SubwordTokenizer, vocab: Vocab | None = None) -> None:
        if isinstance(tokenizer, Tokenizer) and vocab is None:
            raise ValueError("a word pipeline needs a Vocab: TextPipeline(tokenizer, Vocab.build(...))")
        self.tokenizer = tokenizer
        self.vocab = vocab

    @property
    def _ids(self) -> Vocab | SubwordTokenizer:
        """Whatever owns the token <-> id mapping."""
        return self.vocab if self.vocab is not None else self.tokenizer  # type: ignore[return-value]

    @property
    def _word_vocab(self) -> Vocab:
        """The ``Vocab`` of a word pipeline (``__init__`` makes sure one has it)."""
        if self.vocab is None:
            raise TypeError(f"{self.tokenizer!r} needs a Vocab in this pipeline, and it has none")
        return self.vocab

    @property
    def has_own_vocab(self) -> bool:
        """True for word pipelines, whose ``Vocab`` can be rebuilt for new texts; subword
        models keep their fixed piece inventory."""
        return self.vocab is not None

    def token_to_id(self, token: str) -> int | None:
        return self._ids.token_to_id(token)

    def id_to_token(self, index: int) -> str:
        return self._ids.id_to_token(index)

    @property
    def special_ids(self) -> dict[str, int]:
        """Ids of the special tokens: among 'unk', 'pad', 'bos', 'eos'."""
        return self._ids.special_ids

    @property
    def pad_index(self) -> int:
        pad = self.special_ids.get("pad")
        if pad is None:
            raise ValueError(
                "this pipeline's vocabulary has no padding token; build it with textkit.text.PAD among its specials"
            )
        return pad

    def encode_documents(self, texts: Iterable[str]) -> list[np.ndarray]:
        """One int32 id array per document, each starting with BOS (a language model's document
        boundary) when the vocabulary has one and the tokenizer did not already add it."""
        bos = self.special_ids.get("bos")
        out = []
        for text in texts:
            ids = self.encode(text).ids
            if bos is not None and (not ids or ids[0] != bos):
                ids = [bos, *ids]
            out.append(np.asarray(ids, dtype=np.int32))
        return out

    def encode(self, text: str) -> Encoded:
        if isinstance(self.tokenizer, SubwordTokenizer):
            ids = self.tokenizer.encode(text)
            return Encoded(ids, [self.tokenizer.id_to_piece(i) for i in ids])
        tokens = self.tokenizer.tokenize(text)
        return Encoded(self._word_vocab.encode(tokens), tokens)

    def decode(self, ids: list[int]) -> str:
        """Ids -> the normalized text: a word pipeline undoes its markers (case, repeats) and
        joins the words with single spaces (``"Hello , world !"``), which
        ``encode`` reads back to the same ids."""
        if isinstance(self.tokenizer, SubwordTokenizer):
            return self.tokenizer.decode(ids)
        return self.tokenizer.detokenize(self._word_vocab.decode(ids))

    def decode_text(self, ids: list[int]) -> str:
        """Ids -> text as it is written, for people to read (``"Hello, world!"``): ``decode``,
        then the spaces the word splitter put around punctuation, contractions, quotes and
        hyphens removed (``join_words``). Subword pipelines already decode to text."""
        if isinstance(self.tokenizer, SubwordTokenizer):
            return self.tokenizer.decode(ids)
        return join_words(self.decode(ids).split(" "))

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def itos(self) -> list[str]:
        """Every token (or SentencePiece piece) in id order."""
        return [self.id_to_token(i) for i in range(len(self))]

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        self.tokenizer.save(folder)
        if self.vocab is not None:
            self.vocab.save(folder / "vocab.json")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> TextPipeline:
        return load_pipeline(folder)


# Pieces written against the word before them ("said," "don't" "10%"), or after them ("(see" "$5").
_ATTACH_LEFT = re.compile(r"[,.;:!?%)\]}»”’…]+|n['’]t|['’](?:s|m|d|ll|ve|re)", re.IGNORECASE)
_ATTACH_RIGHT = frozenset("([{$£€¥#¿¡«“‘")
_JOINERS = frozenset("-/")  # "well - known" -> "well-known" between two word pieces
_SPLIT_WORDS = {("gon", "na"), ("got", "ta")}  # "gonna", "gotta" split in two by the splitter


def join_words(pieces: Sequence[str]) -> str:
    """Word pieces -> text with the spacing of written English: no space before closing
    punctuation and contractions (``"do n't"`` -> ``"don't"``), none after opening brackets and
    currency signs, straight quotes paired (opening, then closing), ``-`` and ``/`` joined between
    two words, and ``"gon na"`` -> ``"gonna"``. The inverse of the word splitter for
    ordinary prose, for display only: ``decode`` is the lossless form."""
    pieces = [p for p in pieces if p]
    out: list[str] = []
    glue_next = False  # the previous piece opens: no space after it
    open_quotes: set[str] = set()
    for i, piece in enumerate(pieces):
        prev = pieces[i - 1] if i else ""
        nxt = pieces[i + 1] if i + 1 < len(pieces) else ""
        attach = glue_next or not out
        glue_next = False
        if piece in ('"', "'"):
            possessive = piece == "'" and piece not in open_quotes and prev[-1:] in ("s", "S") and prev.isalpha()
            if possessive or piece in open_quotes:  # closing (or "the students' books")
                open_quotes.discard(piece)
                attach = True
            else:
                open_quotes.add(piece)
                glue_next = True
        elif piece in _JOINERS and prev[-1:].isalnum() and nxt[:1].isalnum():
            attach = glue_next = True
        elif _ATTACH_LEFT.fullmatch(piece) or (prev.lower(), piece.lower()) in _SPLIT_WORDS:
            attach = True
        elif piece in _ATTACH_RIGHT:
            glue_next = True
        out.append(piece if attach else " " + piece)
    return "".join(out)


def load_pipeline(folder: str | Path) -> TextPipeline:
    folder = Path(folder)
    config = read_json(folder / "tokenizer.json", "tokenizer config")
    if config.get("type") == "subword":
        return TextPipeline(SubwordTokenizer.load(folder))
    if config.get("type") == "word":
        return TextPipeline(Tokenizer.from_config(config), Vocab.load(folder / "vocab.json"))
    raise ValueError(f"{folder}/tokenizer.json has unknown type {config.get('type')!r}")
