"""Translation as a workflow: decode a whole list of sources with a trained encoder-decoder
(``textkit.nn.seq2seq`` / ``textkit.nn.transformer``) through ``textkit.decode.generate``.

Models only expose ``encode(src) -> state`` and ``step(tokens, state) -> (logits, state)``;
this module batches the sources, truncates what does not fit, and picks the strategy.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from textkit import decode
from textkit.nn.modes import eval_mode


def translate_ids(
    model: nn.Module,
    sources: Sequence[Sequence[int]],
    *,
    bos_id: int,
    eos_id: int,
    pad_id: int,
    beam_size: int = 1,
    max_new_tokens: int | None = None,
    batch_size: int = 64,
    length_norm: str = "average",
    length_penalty: float = 1.0,
    banned_ids: Sequence[int] | None = None,
    strategy: decode.Greedy | decode.Beam | None = None,
    device: str | torch.device | None = None,
) -> list[list[int]]:
    """Translate source id lists (without EOS; it is appended) greedily (``beam_size=1``) or
    with beam search; returns target ids without BOS/EOS, in the input order.

    ``strategy`` (``decode.Greedy()`` or ``decode.Beam(...)``) replaces ``beam_size``,
    ``length_norm`` and ``length_penalty``. Sources longer than the model's ``max_len - 1``
    are truncated with a warning. An empty source is encoded as ``[EOS]`` and translated like
    any other. ``max_new_tokens`` defaults to ``1.5 * source length + 10`` per batch, capped
    by ``max_len - 1``. ``banned_ids`` (default: BOS and PAD) are never produced."""
    if strategy is None:
        strategy = (
            decode.Greedy()
            if beam_size == 1
            else decode.Beam(beam_size, length_penalty=length_penalty, length_norm=length_norm)
        )
    elif not isinstance(strategy, (decode.Greedy, decode.Beam)):
        raise TypeError(f"translate decodes with decode.Greedy() or decode.Beam(...), got {strategy!r}")
    banned = tuple(sorted({bos_id, pad_id} if banned_ids is None else set(banned_ids)))
    processors = [decode.BanTokens(banned)] if banned else []

    model_max = model.config.max_len
    device = torch.device(device) if device is not None else next(model.parameters()).device
    rows = []
    truncated = 0
    for ids in sources:
        ids = list(ids)
        if len(ids) > model_max - 1:
            ids, truncated = ids[: model_max - 1], truncated + 1
        rows.append(ids + [eos_id])
    if truncated:
        warnings.warn(
            f"{truncated} source sentence(s) longer than the model's max_len - 1 = {model_max - 1} tokens were "
            "truncated",
            stacklevel=2,
        )
    order = np.argsort([len(r) for r in rows], kind="stable")[::-1]  # longest first: less padding per batch
    out: list[list[int] | None] = [None] * len(rows)
    with eval_mode(model), torch.no_grad():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            width = max(len(rows[i]) for i in idx)
            src = torch.full((len(idx), width), pad_id, dtype=torch.long)  # (B, S)
            for j, i in enumerate(idx):
                src[j, : len(rows[i])] = torch.tensor(rows[i])
            src = src.to(device)
            budget = max_new_tokens if max_new_tokens is not None else int(1.5 * width) + 10
            budget = max(1, min(budget, model_max - 1))
            prompt = torch.full((len(idx), 1), bos_id, dtype=torch.long, device=device)  # (B, 1)
            hyps = decode.generate(
                model.step,
                prompt,
                strategy,
                budget,
                state=model.encode(src),
                eos_id=eos_id,
                pad_id=pad_id,
                processors=processors,
            ).to_lists(strip_eos_id=eos_id)
            for j, i in enumerate(idx):
                out[i] = hyps[j]
    return out  # type: ignore[return-value]


def translate_texts(
    bundle,
    texts: Sequence[str],
    *,
    beam_size: int = 5,
    batch_size: int = 64,
    max_new_tokens: int | None = None,
) -> tuple[list[str], int]:
    """Translations of ``texts`` (one line each, whitespace collapsed, input order) and the
    number of sources truncated to the model's ``max_len - 1`` tokens. A blank source gives
    an empty line without running the model."""
    model, source, target = bundle
    specials = target.special_ids
    keep = [i for i, text in enumerate(texts) if text.strip()]
    ids = source.encode_batch([texts[i] for i in keep])
    limit = model.config.max_len - 1
    truncated = sum(len(x) > limit for x in ids)
    with warnings.catch_warnings():  # counted above and reported once, not per batch
        warnings.filterwarnings("ignore", message=r".*were truncated", category=UserWarning)
        hypotheses = translate_ids(
            model,
            ids,
            bos_id=specials["bos"],
            eos_id=specials["eos"],
            pad_id=specials["pad"],
            beam_size=beam_size,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
        )
    out = [""] * len(texts)
    for i, hypothesis in zip(keep, hypotheses, strict=True):
        out[i] = " ".join(target.decode(hypothesis).split())  # one line per sentence, whatever was decoded
    return out, truncated


def load_translator(model: str | os.PathLike, device: str | torch.device = "cpu"):
    """A ``TranslationModelBundle`` from a shipped model's name (``"transformer-es-en"``,
    sha256-verified) or a folder path, through the model-folder resolver."""
    from textkit.nn.serialization import load_translation_model

    return load_translation_model(model, device=device)


def translate(
    texts: Sequence[str],
    model,
    *,
    beam_size: int = 5,
    batch_size: int = 64,
    max_new_tokens: int | None = None,
    device: str | torch.device = "cpu",
) -> list[str]:
    """Translate ``texts`` with ``model``: a name (``"transformer-es-en"``), a folder, or a loaded
    ``TranslationModelBundle``. One line per text, in input order; beam 5 by default."""
    if isinstance(texts, str):
        raise TypeError("translate takes a list of texts; wrap a single sentence in a list")
    bundle = model if hasattr(model, "source_tokenizer") else load_translator(model, device=device)
    hypotheses, _ = translate_texts(
        bundle, list(texts), beam_size=beam_size, batch_size=batch_size, max_new_tokens=max_new_tokens
    )
    return hypotheses


__all__ = ["load_translator", "translate", "translate_ids", "translate_texts"]
