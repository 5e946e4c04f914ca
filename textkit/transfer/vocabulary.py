"""Vocabulary transfer: move a pretrained language model onto the target corpus' vocabulary.

Tokens the pretrained model knows keep their embedding row (and decoder bias); new tokens
start from the mean of the pretrained rows, as in ULMFiT/fastai. Padding stays a zero row.
The report says how much of the target vocabulary, and of its running text, was covered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from textkit.nn.awd_lstm import AWDLSTMConfig, AWDLSTMLanguageModel


@dataclass(frozen=True)
class VocabularyTransfer:
    """What the transfer did (JSON-able through ``dataclasses.asdict``)."""

    pretrained_size: int
    target_size: int
    kept: int  # target tokens found in the pretrained vocabulary
    new: int  # target tokens initialised from the mean embedding
    type_coverage: float  # kept / target_size
    token_coverage: float | None  # share of target running tokens whose type was pretrained
    new_examples: tuple[str, ...]  # a few of the most frequent new tokens

    def summary(self) -> str:
        tokens = (
            f", {100 * self.token_coverage:.1f}% of the target's running tokens"
            if self.token_coverage is not None
            else ""
        )
        return (
            f"vocabulary transfer: {self.kept}/{self.target_size} target tokens ({100 * self.type_coverage:.1f}%) "
            f"kept their pretrained rows{tokens}; {self.new} start from the mean embedding"
        )


def load_pretrained(folder: str | Path, device: str | torch.device = "cpu", direction: str = "forward"):
    """An AWD-LSTM language model as a ``LanguageModelBundle``: a textkit LM folder
    (``textkit lm pretrain``) or the name of a model shipped in ``models/`` (``"awd_lstm-en"``;
    ``direction`` picks its forward or backward LM; every file is checked against the sha256 in
    its manifest first). Any other architecture is refused with the reason."""
    from textkit._io import read_json
    from textkit.data.pretrained import list_pretrained
    from textkit.nn.serialization import CONFIG_FILE, load_language_model

    from textkit.data.resolver import resolve_model

    folder = resolve_model(folder, direction=direction, expects=("language_model",), verb="ULMFiT (--pretrained)")
    config_path = folder / CONFIG_FILE
    if not config_path.exists():
        shipped = ", ".join(list_pretrained()) or "none"
        raise FileNotFoundError(
            f"{folder} is not a textkit language-model folder (no {CONFIG_FILE}) nor a shipped model name (shipped: "
            f"{shipped}); "
            "pretrain one with `textkit lm pretrain`"
        )
    arch = read_json(config_path, "model config").get("arch")
    if arch != "awd_lstm":
        raise ValueError(
            f"{folder} holds a {arch!r} language model; ULMFiT transfer needs an AWD-LSTM ('awd_lstm') encoder. "
            "Pretrain one with a recipe whose arch is 'awd_lstm' (e.g. models/awd_lstm-small.json)"
        )
    return load_language_model(folder, device=device)


def transfer_vocabulary(
    model: AWDLSTMLanguageModel,
    pretrained_itos: Sequence[str],
    target_itos: Sequence[str],
    *,
    pad_token: str,
    target_counts: Counter | None = None,
) -> tuple[AWDLSTMLanguageModel, VocabularyTransfer]:
    """A new language model over ``target_itos`` with every other weight copied from ``model``."""
    if not isinstance(model, AWDLSTMLanguageModel):
        raise TypeError(f"transfer_vocabulary needs an AWDLSTMLanguageModel, got {type(model).__name__}")
    if len(pretrained_itos) != model.config.vocab_size:
        raise ValueError(
            f"the pretrained vocabulary has {len(pretrained_itos)} tokens but the model has {model.config.vocab_size} "
            "rows"
        )
    if pad_token not in target_itos:
        raise ValueError(f"the target vocabulary has no padding token {pad_token!r}")
    old_index = {token: i for i, token in enumerate(pretrained_itos)}
    old_emb = model.encoder.embedding.weight.detach()
    device = old_emb.device
    keep_rows = [j for j, t in enumerate(target_itos) if t in old_index]
    from_rows = [old_index[target_itos[j]] for j in keep_rows]
    real = [i for i, t in enumerate(pretrained_itos) if t != pad_token]
    mean_emb = old_emb[real].mean(0)
    new_emb = mean_emb.expand(len(target_itos), -1).clone()
    new_emb[keep_rows] = old_emb[from_rows]
    pad_index = list(target_itos).index(pad_token)
    new_emb[pad_index] = 0.0

    config: AWDLSTMConfig = replace(model.config, vocab_size=len(target_itos), pad_index=pad_index)
    new_model = AWDLSTMLanguageModel(config).to(device)
    state = {
        k: v
        for k, v in model.state_dict().items()
        if not k.endswith("embedding.weight") and k not in ("decoder.weight", "decoder.bias")
    }
    missing, unexpected = new_model.load_state_dict(state, strict=False)
    assert not unexpected, unexpected
    with torch.no_grad():
        new_model.encoder.embedding.weight.copy_(new_emb)
        if not config.tie_weights:
            old_dec = model.decoder.weight.detach()
            new_dec = old_dec[real].mean(0).expand(len(target_itos), -1).clone()
            new_dec[keep_rows] = old_dec[from_rows]
            new_model.decoder.weight.copy_(new_dec)
        if config.out_bias:
            old_bias = model.decoder.bias.detach()
            new_bias = old_bias[real].mean().expand(len(target_itos)).clone()
            new_bias[keep_rows] = old_bias[from_rows]
            new_model.decoder.bias.copy_(new_bias)

    token_coverage = None
    new_tokens = [t for t in target_itos if t not in old_index]
    if target_counts:
        total = sum(target_counts.values())
        covered = sum(n for t, n in target_counts.items() if t in old_index)
        token_coverage = covered / total if total else None
        new_tokens.sort(key=lambda t: -target_counts.get(t, 0))
    report = VocabularyTransfer(
        pretrained_size=len(pretrained_itos),
        target_size=len(target_itos),
        kept=len(keep_rows),
        new=len(target_itos) - len(keep_rows),
        type_coverage=len(keep_rows) / len(target_itos),
        token_coverage=token_coverage,
        new_examples=tuple(new_tokens[:10]),
    )
    return new_model, report


def adapt_to_texts(bundle, texts: Sequence[str], *, min_freq: int = 2, max_vocab: int = 60000, n_workers: int = 1):
    """Build the target vocabulary from ``texts`` with the pretrained tokenizer and transfer
    the model onto it. Returns ``(model, pipeline, report)``.

    SentencePiece models keep their fixed piece vocabulary: nothing to transfer (coverage 1)."""
    from textkit.text import TextPipeline, Vocab

    model, pipeline = bundle.model, bundle.pipeline
    if not pipeline.has_own_vocab:
        n = len(pipeline)
        return model, pipeline, VocabularyTransfer(n, n, n, 0, 1.0, 1.0, ())
    tokens = pipeline.tokenizer.tokenize_many(list(texts), n_workers=n_workers)
    vocab = Vocab.build(tokens, min_freq=min_freq, max_size=max_vocab)
    new_model, report = transfer_vocabulary(
        model, pipeline.vocab.itos, vocab.itos, pad_token=pipeline.vocab.pad_token, target_counts=vocab.counts
    )
    return new_model, TextPipeline(pipeline.tokenizer, vocab), report


__all__ = ["VocabularyTransfer", "adapt_to_texts", "load_pretrained", "transfer_vocabulary"]
