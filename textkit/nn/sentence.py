"""Sentence embeddings from a pretrained encoder: ``encode(texts, model="minilm-l6")``.

The recipe is sentence-transformers' for all-MiniLM-L6-v2: WordPiece ids ``[CLS] ... [SEP]``,
the BERT's hidden states, the mean over each text's real positions (the attention mask),
then L2 normalization, so a dot product of two rows is their cosine similarity.

- **By name or folder.** ``model`` is a pretrained encoder's name (fetched, sha256-verified and
  converted once by :mod:`textkit.data.encoders`), a converted encoder folder, or a
  :class:`SentenceEncoder` already loaded (reuse one across calls: loading hashes the weights).
  Every load checks the converted files against the sha256 recorded at conversion.
- **Batched by length, input order kept.** Texts are tokenized a chunk at a time (so a long
  stream never sits in memory as ids), sorted by length within the chunk, run ``batch_size``
  at a time with little padding, and written back in input order.
- **Truncation and empty texts.** A text over 510 word pieces is cut (one
  :class:`~textkit.text.wordpiece.TruncationWarning` names them all, by index); a text with no
  word pieces (empty, only whitespace) is refused with an
  :class:`~textkit.text.wordpiece.EmptyTextError` naming its index: its vector would be that of
  ``[CLS] [SEP]`` alone, the same for every such text.
- **int8.** ``precision="int8"`` quantizes every ``Linear`` layer with
  ``torch.ao.quantization.quantize_dynamic``: int8 weights with one scale per output channel,
  activations quantized per batch at run time (CPU only). It is faster, and it is not exact:
  torch quantizes each activation tensor with one scale (7-bit on x86), and BERT's hidden
  states carry a few outlier dimensions (|x| ~ 28 where the typical value is ~0.4), so
  all-MiniLM-L6-v2's int8 embeddings keep a cosine of about 0.97 to the fp32 ones on average
  (``bench/results/encoder_exactness.json`` has the measured figures), short of the 0.999 that
  int8 weights alone would keep. Use fp32 where the last digits matter.
"""

from __future__ import annotations

import itertools
import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from textkit.data.encoders import FORMAT_VERSION, verify_converted
from textkit.nn.config import config_from_dict
from textkit.nn.pooling import pool_states
from textkit.nn.registry import ENCODERS
from textkit.nn.serialization import load_weights
from textkit.text.wordpiece import (
    EmptyTextError,
    TruncationWarning,
    WordPieceBatch,
    WordPieceTokenizer,
    truncation_message,
)

__all__ = ["PRECISIONS", "SentenceEncoder", "encode", "load_encoder", "pool_sentences", "quantize_int8"]

PRECISIONS = ("fp32", "int8")
DEFAULT_ENCODER = "minilm-l6"
CHUNK_TEXTS = 4096  # texts tokenized (and sorted by length) at a time


def pool_sentences(
    hidden: torch.Tensor, attention_mask: torch.Tensor, mode: str = "mean", normalize: bool = True
) -> torch.Tensor:
    """Sentence vectors (B, H) from hidden states (B, T, H): the mean over each row's real
    positions (``attention_mask`` (B, T), 1 at real tokens; right padding) or the ``[CLS]``
    state (``mode="cls"``); ``normalize`` scales each to unit L2 norm."""
    if mode == "mean":
        vectors = pool_states(hidden, attention_mask.sum(1), ("mean",))  # (B, H)
    elif mode == "cls":
        vectors = hidden[:, 0]
    else:
        raise ValueError(f"unknown sentence pooling {mode!r}; use 'mean' or 'cls'")
    return F.normalize(vectors, p=2, dim=1) if normalize else vectors


def quantize_int8(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every ``nn.Linear`` dynamically quantized: int8 weights with a
    scale per output channel (per-tensor scales lose twice as much on MiniLM), activations
    quantized per batch at run time. CPU inference only."""
    if torch.backends.quantized.engine == "none":
        raise RuntimeError("this build of torch has no quantized CPU engine; use precision='fp32'")
    with warnings.catch_warnings():  # torch.ao.quantization announces its move to torchao
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        return quantize_dynamic(model, {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)


@dataclass
class SentenceEncoder:
    """A loaded encoder: the BERT, its WordPiece tokenizer and the folder's config (pooling,
    source, sha256). :meth:`encode` turns texts into an (N, dim) float32 array."""

    model: nn.Module
    tokenizer: WordPieceTokenizer
    config: dict
    precision: str = "fp32"

    @property
    def dim(self) -> int:
        return int(self.config["model"]["d_model"])

    @property
    def pooling(self) -> str:
        return str(self.config.get("pooling", {}).get("mode", "mean"))

    @property
    def name(self) -> str:
        return str(self.config.get("name", ""))

    def encode(
        self, texts: Iterable[str], *, batch_size: int = 32, normalize: bool = True, progress: bool = False
    ) -> np.ndarray:
        """Embeddings (N, dim) float32 of ``texts``, in input order; see the module docstring."""
        if isinstance(texts, str):
            raise TypeError("texts must be a list of strings, not one string: encode([text])")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        total = len(texts) if hasattr(texts, "__len__") else None  # type: ignore[arg-type]
        bar = _progress(total, progress)
        parts, truncated, seen = [], [], 0
        try:
            for chunk in _chunks(texts, CHUNK_TEXTS):
                batch = self.tokenizer.encode_batch(chunk, warn=False)
                if batch.empty:
                    index = seen + batch.empty[0]
                    raise EmptyTextError(
                        f"texts[{index}] has no word pieces (it is empty, or only whitespace or control characters): "
                        "its embedding would be the same for every such text. Drop it or give it text",
                        index,
                    )
                truncated += [seen + i for i in batch.truncated]
                parts.append(self._embed(batch, batch_size, normalize, bar))
                seen += len(batch)
        finally:
            if bar is not None:
                bar.close()
        if truncated:
            message = truncation_message(truncated, seen, self.tokenizer.max_length)
            warnings.warn(TruncationWarning(message, truncated), stacklevel=2)
        return np.concatenate(parts) if parts else np.zeros((0, self.dim), dtype=np.float32)

    def _embed(self, batch: WordPieceBatch, batch_size: int, normalize: bool, bar: Any) -> np.ndarray:
        out = np.empty((len(batch), self.dim), dtype=np.float32)
        order = np.argsort(-batch.lengths, kind="stable")  # longest first: little padding per batch
        device = next(iter(self.model.state_dict().values())).device
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                padded = batch.pad(rows)
                ids = torch.from_numpy(padded.input_ids).to(device)  # (B, T)
                mask = torch.from_numpy(padded.attention_mask).to(device)  # (B, T)
                hidden = self.model(ids, mask)  # (B, T, H)
                out[rows] = pool_sentences(hidden, mask, self.pooling, normalize).float().cpu().numpy()
                if bar is not None:
                    bar.update(len(rows))
        return out


def _chunks(texts: Iterable[str], size: int) -> Iterator[list[str]]:
    iterator = iter(texts)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _progress(total: int | None, progress: bool) -> Any:
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="text", desc="embedding", mininterval=0.5, leave=False)


def _resolve(model: str | os.PathLike) -> Path:
    """A pretrained encoder's name -> its converted folder (fetched and converted once); a path
    -> that folder; another kind of model is refused (``textkit.data.resolver``)."""
    from textkit.data.resolver import resolve_model

    folder = resolve_model(model, verbose=True, expects=("encoder",), verb="textkit embed")
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not an encoder folder (no such folder)")
    return folder


def load_encoder(
    model: str | os.PathLike = DEFAULT_ENCODER, *, precision: str = "fp32", device: str | torch.device = "cpu"
) -> SentenceEncoder:
    """A :class:`SentenceEncoder` from a pretrained encoder's name or a converted folder, in
    eval mode, its converted files checked against their recorded sha256. ``precision`` is
    ``"fp32"`` or ``"int8"`` (dynamic quantization of the Linear layers; CPU only)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    folder = _resolve(model)
    config = verify_converted(folder)
    where = str(folder / "config.json")
    version = config.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"{where} has format_version {version!r}; this textkit reads encoder folders up to version "
            f"{FORMAT_VERSION}: upgrade textkit, or convert the encoder again with this one"
        )
    arch = config.get("arch")
    if arch not in ENCODERS:
        raise ValueError(f"{where}: unknown encoder architecture {arch!r}; choose one of {sorted(ENCODERS)}")
    config_cls, model_cls = ENCODERS[str(arch)]
    model_config = config_from_dict(config_cls, config.get("model"), where=where)
    tokenizer = WordPieceTokenizer.load(folder)
    if len(tokenizer) != model_config.vocab_size:
        raise ValueError(
            f"{folder}: the tokenizer has {len(tokenizer)} pieces but the model was built for "
            f"{model_config.vocab_size}; they do not belong together"
        )
    with torch.device("meta"):  # no random init, no second copy of the weights while loading
        encoder = model_cls(model_config)
    load_weights(encoder, folder / "model.safetensors", assign=True)
    encoder.eval()
    if precision == "int8":
        if torch.device(device).type != "cpu":
            raise ValueError("precision='int8' (dynamic quantization) runs on the CPU only; use device='cpu'")
        encoder = quantize_int8(encoder)
    else:
        encoder.to(device)
    return SentenceEncoder(encoder, tokenizer, config, precision)


def encode(
    texts: Iterable[str],
    model: str | os.PathLike | SentenceEncoder = DEFAULT_ENCODER,
    *,
    batch_size: int = 32,
    normalize: bool = True,
    precision: str = "fp32",
    progress: bool = False,
) -> np.ndarray:
    """Sentence embeddings (N, dim) float32 of ``texts`` in input order: mean-pooled hidden
    states, L2-normalized (``normalize=False`` keeps the raw means). ``model`` is a pretrained
    encoder's name (``"minilm-l6"``), a converted folder or a loaded :class:`SentenceEncoder`
    (pass one to embed many lists without loading each time; ``precision`` then is its own)."""
    encoder = model if isinstance(model, SentenceEncoder) else load_encoder(model, precision=precision)
    return encoder.encode(texts, batch_size=batch_size, normalize=normalize, progress=progress)
