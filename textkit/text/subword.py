"""Subword tokenization with SentencePiece (unigram or BPE).

Text is normalized by textkit (HTML fixes, NFC, whitespace collapsed) and handed to
SentencePiece with its own normalization switched off and byte fallback on, so any
character, even one never seen in training, round-trips: ``decode(encode(x)) == normalize(x)``.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from pathlib import Path

import sentencepiece as spm

from textkit._io import atomic_write_bytes, atomic_write_json, read_json
from textkit.text import rules as text_rules
from textkit.text.special import BOS, EOS, PAD, SUBWORD_RESERVED, UNK
from textkit.text.tokenizer import check_text

_CONFIG_FILE = "tokenizer.json"
_MODEL_FILE = "spm.model"


_MAX_MODEL_BYTES = 256 << 20  # a SentencePiece model of a million pieces is ~20 MB


class SubwordTokenizer:
    """A trained SentencePiece model plus textkit's normalization."""

    def __init__(self, model_proto: bytes, *, model_type: str, vocab_size: int, lang: str = "xx") -> None:
        self.model_proto = model_proto
        self.model_type = model_type
        self.vocab_size = vocab_size
        self.lang = lang
        self._sp = spm.SentencePieceProcessor(model_proto=model_proto)

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        vocab_size: int = 8000,
        model_type: str = "unigram",
        *,
        lang: str = "xx",
        character_coverage: float = 0.9995,
        max_sentence_length: int = 16384,
        seed: int = 0,
        n_threads: int = 2,
    ) -> SubwordTokenizer:
        """Train on an iterable of texts. ``model_type`` is ``"unigram"`` or ``"bpe"``."""
        if model_type not in ("unigram", "bpe"):
            raise ValueError(f"model_type must be 'unigram' or 'bpe', got {model_type!r}")
        normalized = (cls.normalize(check_text(t, f"texts[{i}]")) for i, t in enumerate(texts))
        sentences = [t for t in normalized if t]
        if not sentences:
            raise ValueError("cannot train a subword model on no text (all texts are empty)")
        model = io.BytesIO()
        spm.set_random_generator_seed(seed)  # process-wide in SentencePiece; set right before training
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences),
            model_writer=model,
            vocab_size=vocab_size,
            model_type=model_type,
            character_coverage=character_coverage,
            byte_fallback=True,
            normalization_rule_name="identity",
            remove_extra_whitespaces=False,
            split_digits=True,
            max_sentence_length=max_sentence_length,
            unk_piece=UNK,
            pad_piece=PAD,
            bos_piece=BOS,
            eos_piece=EOS,
            unk_id=SUBWORD_RESERVED.index(UNK),
            bos_id=SUBWORD_RESERVED.index(BOS),
            eos_id=SUBWORD_RESERVED.index(EOS),
            pad_id=SUBWORD_RESERVED.index(PAD),
            num_threads=n_threads,
            minloglevel=2,
            hard_vocab_limit=False,
        )
        return cls(model.getvalue(), model_type=model_type, vocab_size=vocab_size, lang=lang)

    @staticmethod
    def normalize(text: str) -> str:
        text = check_text(text)
        return text_rules.collapse_whitespace(text_rules.normalize_unicode(text_rules.fix_html(text)))

    def tokenize(self, text: str) -> list[str]:
        return self._sp.encode(self.normalize(text), out_type=str)

    def encode(self, text: str) -> list[int]:
        return self._sp.encode(self.normalize(text), out_type=int)

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return self._sp.encode(
            [self.normalize(check_text(t, f"texts[{i}]")) for i, t in enumerate(texts)], out_type=int
        )

    def decode(self, ids_or_pieces: Sequence[int] | Sequence[str]) -> str:
        items: list[int | str] = list(ids_or_pieces)
        if items and isinstance(items[0], str):
            return self._sp.decode_pieces([str(p) for p in items])
        n = self._sp.get_piece_size()
        ids = [int(i) for i in items]
        bad = [i for i in ids if not 0 <= i < n]
        if bad:
            raise IndexError(f"ids {bad[:5]} are outside the subword vocabulary (size {n})")
        return self._sp.decode_ids(ids)

    detokenize = decode

    def __len__(self) -> int:
        return self._sp.get_piece_size()

    @property
    def unk_index(self) -> int:
        return self._sp.unk_id()

    @property
    def pad_index(self) -> int:
        return self._sp.pad_id()

    def id_to_piece(self, i: int) -> str:
        return self._sp.id_to_piece(int(i))

    def token_to_id(self, token: str) -> int | None:
        """The id of a piece, or None when the model has no such piece."""
        index = self._sp.piece_to_id(token)
        return index if self._sp.id_to_piece(index) == token else None

    def id_to_token(self, index: int) -> str:
        if not 0 <= int(index) < len(self):
            raise IndexError(f"id {index} is outside the subword vocabulary (size {len(self)})")
        return self._sp.id_to_piece(int(index))

    @property
    def special_ids(self) -> dict[str, int]:
        """Ids of 'unk', 'pad', 'bos' and 'eos' (those the model reserves)."""
        ids = {"unk": self._sp.unk_id(), "pad": self._sp.pad_id(), "bos": self._sp.bos_id(), "eos": self._sp.eos_id()}
        return {name: index for name, index in ids.items() if index >= 0}

    def config(self) -> dict:
        return {
            "type": "subword",
            "model_type": self.model_type,
            "vocab_size": self.vocab_size,
            "lang": self.lang,
            "model_file": _MODEL_FILE,
        }

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        atomic_write_bytes(folder / _MODEL_FILE, self.model_proto)
        atomic_write_json(folder / _CONFIG_FILE, self.config())
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> SubwordTokenizer:
        from textkit._folders import FolderError, check_int, confined

        folder = Path(folder)
        where = folder / _CONFIG_FILE
        config = read_json(confined(folder, _CONFIG_FILE, "tokenizer config"), "tokenizer config")
        if not isinstance(config, dict) or config.get("type") != "subword":
            kind = config.get("type") if isinstance(config, dict) else type(config).__name__
            raise FolderError(f"{where}: holds a {kind!r} tokenizer, not a subword one")
        for key in ("model_file", "model_type", "lang"):
            if not isinstance(config.get(key), str):
                raise FolderError(f"{where}: field {key!r} must be a string, got {config.get(key)!r}")
        check_int(config, "vocab_size", 1, 10_000_000, where, required=True)
        model_path = confined(folder, config["model_file"], "SentencePiece model")
        if model_path.stat().st_size > _MAX_MODEL_BYTES:
            raise FolderError(
                f"{model_path}: {model_path.stat().st_size:,} bytes is too large for a SentencePiece model"
            )
        proto = model_path.read_bytes()
        try:
            return cls(proto, model_type=config["model_type"], vocab_size=config["vocab_size"], lang=config["lang"])
        except RuntimeError as exc:
            raise ValueError(
                f"{folder / config['model_file']} is not a valid SentencePiece model (truncated?): {exc}"
            ) from exc

    def __getstate__(self) -> dict:
        return {"model_proto": self.model_proto, **self.config()}

    def __setstate__(self, state: dict) -> None:
        type(self).__init__(
            self,
            state["model_proto"],
            model_type=state["model_type"],
            vocab_size=state["vocab_size"],
            lang=state["lang"],
        )
