"""Byte-level BPE (GPT-2 style) for pretrained decoders such as SmolLM2, behind textkit's
tokenizer protocol.

The engine is Hugging Face ``tokenizers``, assembled from named stages: a pre-tokenizer
(:data:`PRE_TOKENIZERS`: which splits happen before BPE, e.g. SmolLM2's one-digit-per-token
rule), the BPE model (vocabulary + ranked merges), and the byte-level decoder. Control tokens
(``<|im_start|>``, ...) are matched in the text before anything else, as Hugging Face does.

:class:`ByteBPETokenizer` is a drop-in for :class:`textkit.text.TextPipeline`: ``encode`` (an
:class:`~textkit.text.Encoded`), ``decode``, ``encode_documents``, ``len()``,
``token_to_id``/``id_to_token``, ``special_ids`` and ``pad_index``. It saves to one JSON file
(``tokenizer.json``: textkit's fields plus the whole Hugging Face pipeline under
``"tokenizer"``) and :func:`textkit.text.load_pipeline` loads it back.

``tokenizers`` is imported on first use, so ``import textkit.text`` stays light.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from textkit._io import atomic_write_json, read_json
from textkit.text.pipeline import Encoded
from textkit.text.tokenizer import check_text

__all__ = ["PRE_TOKENIZERS", "ByteBPETokenizer", "chatml_prompt"]

_CONFIG_FILE = "tokenizer.json"
TYPE = "byte_bpe"

# Pre-tokenizer names as llama.cpp records them in GGUF ("tokenizer.ggml.pre") -> the stages
# the original Hugging Face tokenizer runs before byte-level BPE. GGUF keeps only the name, so
# the stages live here. "digits": every digit is its own pre-token (SmolLM2, StarCoder).
PRE_TOKENIZERS: dict[str, tuple[str, ...]] = {
    "default": ("bytelevel",),
    "gpt2": ("bytelevel",),
    "smollm": ("digits", "bytelevel"),
    "starcoder": ("digits", "bytelevel"),
}


def _require_tokenizers() -> Any:
    try:
        import tokenizers
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "byte-level BPE tokenizers need the Hugging Face `tokenizers` package: pip install tokenizers"
        ) from exc
    return tokenizers


def _pre_tokenizer(stages: Sequence[str]) -> Any:
    tk = _require_tokenizers()
    built = []
    for stage in stages:
        if stage == "digits":
            built.append(tk.pre_tokenizers.Digits(individual_digits=True))
        elif stage == "bytelevel":
            built.append(tk.pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True))
        else:
            raise ValueError(f"unknown pre-tokenizer stage {stage!r}; use 'digits' or 'bytelevel'")
    return built[0] if len(built) == 1 else tk.pre_tokenizers.Sequence(built)


class ByteBPETokenizer:
    """A byte-level BPE tokenizer with named special ids.

    ``special_ids`` maps textkit's names ('unk', 'bos', 'eos', 'pad') to ids; ``add_bos``
    says whether ``encode_documents`` starts each document with BOS (SmolLM2: no).
    ``chat_template`` is the model's Jinja template, kept for reference (:func:`chatml_prompt`
    renders ChatML without Jinja)."""

    def __init__(
        self,
        hf_tokenizer: Any,
        *,
        special_ids: Mapping[str, int],
        add_bos: bool = False,
        pre: str = "default",
        chat_template: str = "",
    ) -> None:
        self._tk = hf_tokenizer
        self._special_ids = dict(special_ids)
        self.add_bos = add_bos
        self.pre = pre
        self.chat_template = chat_template
        n = len(self)
        bad = {name: i for name, i in self._special_ids.items() if not 0 <= i < n}
        if bad:
            raise ValueError(f"special ids {bad} are outside the vocabulary (size {n})")

    @classmethod
    def from_vocab(
        cls,
        tokens: Sequence[str],
        merges: Iterable[str | tuple[str, str]],
        *,
        control_ids: Iterable[int] = (),
        special_ids: Mapping[str, int],
        pre: str = "default",
        add_bos: bool = False,
        chat_template: str = "",
    ) -> ByteBPETokenizer:
        """Build from a vocabulary (id order), ranked merges (``"a b"`` or ``("a", "b")``) and
        the ids of control tokens, which are matched whole in the text and never split.
        ``pre`` names the pre-tokenizer (a key of :data:`PRE_TOKENIZERS`)."""
        tk = _require_tokenizers()
        if pre not in PRE_TOKENIZERS:
            raise ValueError(
                f"unknown pre-tokenizer {pre!r}; known: {', '.join(sorted(PRE_TOKENIZERS))} "
                "(add its stages to textkit.text.bpe.PRE_TOKENIZERS)"
            )
        vocab = {token: i for i, token in enumerate(tokens)}
        if len(vocab) != len(tokens):
            raise ValueError("the vocabulary lists a token twice")
        pairs = []
        for rank, merge in enumerate(merges):
            pair = tuple(merge.split(" ")) if isinstance(merge, str) else tuple(merge)
            if len(pair) != 2:
                raise ValueError(f"merge {rank} {merge!r} is not a pair of tokens")
            pairs.append((pair[0], pair[1]))
        model = tk.models.BPE(vocab=vocab, merges=pairs, fuse_unk=False, byte_fallback=False)
        hf = tk.Tokenizer(model)
        hf.pre_tokenizer = _pre_tokenizer(PRE_TOKENIZERS[pre])
        hf.decoder = tk.decoders.ByteLevel()
        hf.post_processor = tk.processors.ByteLevel(trim_offsets=False)
        hf.add_special_tokens([tk.AddedToken(tokens[i], special=True, normalized=False) for i in sorted(control_ids)])
        return cls(hf, special_ids=special_ids, add_bos=add_bos, pre=pre, chat_template=chat_template)

    # -- the tokenizer protocol (as TextPipeline) ----------------------------------------------

    @property
    def has_own_vocab(self) -> bool:
        return False  # a fixed, pretrained inventory

    def encode(self, text: str) -> Encoded:
        """Ids and tokens of ``text``; control tokens written in it (``<|im_start|>``) are
        their own ids. No BOS is added."""
        encoding = self._tk.encode(check_text(text), add_special_tokens=False)
        return Encoded(list(encoding.ids), list(encoding.tokens))

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        checked = [check_text(t, f"texts[{i}]") for i, t in enumerate(texts)]
        return [list(e.ids) for e in self._tk.encode_batch(checked, add_special_tokens=False)]

    def encode_documents(self, texts: Iterable[str]) -> list[np.ndarray]:
        """One int32 id array per document (with BOS first only when ``add_bos``)."""
        bos = self._special_ids.get("bos") if self.add_bos else None
        out = []
        for ids in self.encode_batch(list(texts)):
            if bos is not None and (not ids or ids[0] != bos):
                ids = [bos, *ids]
            out.append(np.asarray(ids, dtype=np.int32))
        return out

    def decode(self, ids: Sequence[int], skip_special: bool = False) -> str:
        """Text of ``ids``; ``skip_special`` drops control tokens."""
        values = [int(i) for i in ids]
        n = len(self)
        bad = [i for i in values if not 0 <= i < n]
        if bad:
            raise IndexError(f"ids {bad[:5]} are outside the vocabulary (size {n})")
        return str(self._tk.decode(values, skip_special_tokens=skip_special))

    def tokenize(self, text: str) -> list[str]:
        return self.encode(text).tokens

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
        """Every token in id order (the pipeline protocol's, as ``TextPipeline.itos``)."""
        return [self.id_to_token(i) for i in range(len(self))]

    @property
    def special_ids(self) -> dict[str, int]:
        """Ids of the special tokens the model names: among 'unk', 'pad', 'bos', 'eos'."""
        return dict(self._special_ids)

    @property
    def pad_index(self) -> int:
        pad = self._special_ids.get("pad")
        if pad is None:
            raise ValueError("this tokenizer names no padding token")
        return pad

    # -- one JSON file ----------------------------------------------------------------------------

    def config(self) -> dict:
        return {
            "type": TYPE,
            "pre": self.pre,
            "special_ids": self._special_ids,
            "add_bos": self.add_bos,
            "chat_template": self.chat_template,
            "tokenizer": json.loads(self._tk.to_str()),
        }

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        atomic_write_json(folder / _CONFIG_FILE, self.config(), indent=None)
        return folder

    @classmethod
    def from_config(cls, config: dict, where: str = "tokenizer config") -> ByteBPETokenizer:
        if config.get("type") != TYPE:
            raise ValueError(f"{where} holds a {config.get('type')!r} tokenizer, not a {TYPE!r} one")
        tk = _require_tokenizers()
        try:
            hf = tk.Tokenizer.from_str(json.dumps(config["tokenizer"]))
        except Exception as exc:  # tokenizers raises a bare Exception on a malformed pipeline
            raise ValueError(f"{where} does not hold a valid byte-level BPE pipeline: {exc}") from exc
        return cls(
            hf,
            special_ids={k: int(v) for k, v in config.get("special_ids", {}).items()},
            add_bos=bool(config.get("add_bos", False)),
            pre=str(config.get("pre", "default")),
            chat_template=str(config.get("chat_template", "")),
        )

    @classmethod
    def load(cls, folder: str | Path) -> ByteBPETokenizer:
        path = Path(folder) / _CONFIG_FILE
        return cls.from_config(read_json(path, "tokenizer config"), where=str(path))

    def __repr__(self) -> str:
        return f"ByteBPETokenizer({len(self)} tokens, pre={self.pre!r}, special_ids={self._special_ids})"


SMOLLM_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


def chatml_prompt(
    messages: Sequence[Mapping[str, str]] | str,
    *,
    default_system: str | None = SMOLLM_SYSTEM,
    add_generation_prompt: bool = True,
) -> str:
    """ChatML text for ``messages`` (``[{"role": "user", "content": "..."}]``, or one user
    string), as SmolLM2's chat template renders it: a default system message first when the
    conversation has none (``default_system=None``: no system message), each message as
    ``<|im_start|>role\\ncontent<|im_end|>\\n``, then ``<|im_start|>assistant\\n``."""
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    if not messages:
        raise ValueError("a chat needs at least one message")
    parts = []
    for i, message in enumerate(messages):
        if not {"role", "content"} <= set(message):
            raise ValueError(f"message {i} needs 'role' and 'content' keys, got {sorted(message)}")
        if i == 0 and message["role"] != "system" and default_system is not None:
            parts.append(f"<|im_start|>system\n{default_system}<|im_end|>\n")
        parts.append(f"<|im_start|>{message['role']}\n{message['content']}<|im_end|>\n")
    if add_generation_prompt:
        parts.append("<|im_start|>assistant\n")
    return "".join(parts)
