"""A whole text pipeline (tokenizer + vocabulary) that saves to a folder of JSON and loads
back identically in a fresh process. No pickle anywhere."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
    subword pipelines carry their own vocabulary in the SentencePiece model."""

    def __init__(self, tokenizer: Tokenizer | SubwordTokenizer, vocab: Vocab | None = None) -> None:
        if isinstance(tokenizer, Tokenizer) and vocab is None:
            raise ValueError("a word pipeline needs a Vocab: TextPipeline(tokenizer, Vocab.build(...))")
        self.tokenizer = tokenizer
        self.vocab = vocab

    def encode(self, text: str) -> Encoded:
        if isinstance(self.tokenizer, SubwordTokenizer):
            ids = self.tokenizer.encode(text)
            return Encoded(ids, [self.tokenizer.id_to_piece(i) for i in ids])
        tokens = self.tokenizer.tokenize(text)
        return Encoded(self.vocab.encode(tokens), tokens)

    def decode(self, ids: list[int]) -> str:
        if isinstance(self.tokenizer, SubwordTokenizer):
            return self.tokenizer.decode(ids)
        return self.tokenizer.detokenize(self.vocab.decode(ids))

    def __len__(self) -> int:
        return len(self.tokenizer) if isinstance(self.tokenizer, SubwordTokenizer) else len(self.vocab)

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        self.tokenizer.save(folder)
        if self.vocab is not None:
            self.vocab.save(folder / "vocab.json")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> TextPipeline:
        return load_pipeline(folder)


def load_pipeline(folder: str | Path) -> TextPipeline:
    folder = Path(folder)
    config = read_json(folder / "tokenizer.json", "tokenizer config")
    if config.get("type") == "subword":
        return TextPipeline(SubwordTokenizer.load(folder))
    if config.get("type") == "word":
        return TextPipeline(Tokenizer.from_config(config), Vocab.load(folder / "vocab.json"))
    raise ValueError(f"{folder}/tokenizer.json has unknown type {config.get('type')!r}")
