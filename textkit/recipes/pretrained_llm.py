"""Pretrained LLMs (SmolLM2-135M) end to end: load by name, generate text, score perplexity.

``load_pretrained_llm("smollm2-135m")`` fetches the GGUF named by its manifest (once),
converts it to safetensors (once) and returns ``LanguageModelBundle(model, tokenizer, config)``;
``precision="q4"`` runs the GGUF's own 4-bit weights (2.5x fp32's tokens/s, +0.3% perplexity on
SmolLM2-135M; see :mod:`textkit.nn.quantize`).
:func:`generate_llm` continues a prompt (or a ChatML conversation) through
``textkit.decode.generate`` with any strategy, ``Greedy()``, ``Sample(...)`` or ``Beam(...)``;
the model itself never samples. :func:`llm_perplexity` scores texts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import torch
import torch.nn.functional as F

from textkit import decode
from textkit.nn.serialization import LanguageModelBundle, load_language_model
from textkit.text.bpe import chatml_prompt

__all__ = ["generate_llm", "llm_perplexity", "load_pretrained_llm", "prompt_ids"]

Chat = Sequence[Mapping[str, str]]


def load_pretrained_llm(
    name: str = "smollm2-135m",
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
    precision: str | None = None,
) -> LanguageModelBundle:
    """The model (eval mode) and its tokenizer; unpacks as ``model, tokenizer``. An unknown
    name raises a KeyError listing the known ones. ``precision``: ``"fp32"`` (default),
    ``"bf16"``, ``"int8"`` or ``"q4"`` (the GGUF's own 4-bit weights; see
    :mod:`textkit.nn.quantize`)."""
    from textkit.data.llms import pretrained_llm_folder

    folder = pretrained_llm_folder(name, verbose=True)
    return load_language_model(folder, device=device, dtype=dtype, precision=precision)


def prompt_ids(tokenizer, prompt: str | Chat, *, chat: bool = False) -> list[int]:
    """Token ids of a plain-text prompt, or (``chat=True``, or a list of messages) of its ChatML
    rendering with the assistant's turn opened. An empty prompt raises a ValueError."""
    if not isinstance(prompt, str):
        chat = True
    elif not prompt.strip():
        raise ValueError("the prompt is empty; give some text to continue")
    text = chatml_prompt(prompt) if chat else prompt
    return tokenizer.encode(text).ids


def generate_llm(
    bundle: LanguageModelBundle,
    prompt: str | Chat,
    strategy: decode.Strategy | None = None,
    max_new_tokens: int = 64,
    *,
    chat: bool = False,
    processors: Sequence[decode.LogitsProcessor] = (),
    stop_at_eos: bool = True,
) -> str:
    """The text a pretrained LLM writes after ``prompt`` (without the prompt or the final end
    token). ``strategy`` defaults to ``Greedy()``; sampling needs ``Sample(..., seed=...)``.
    ``chat=True`` (or a list of ``{"role", "content"}`` messages) wraps the prompt in the
    model's ChatML template. A prompt that leaves no room for ``max_new_tokens`` in the
    model's context raises a ValueError (nothing is truncated silently)."""
    model, tokenizer = bundle
    ids = prompt_ids(tokenizer, prompt, chat=chat)
    context = model.config.max_len
    if len(ids) + max_new_tokens > context:
        raise ValueError(
            f"the prompt has {len(ids)} tokens; with max_new_tokens={max_new_tokens} that exceeds the model's "
            f"context of {context} tokens. Shorten the prompt or ask for fewer tokens"
        )
    eos = tokenizer.special_ids.get("eos") if stop_at_eos else None
    device = next(model.parameters()).device
    out = decode.generate(
        model.step,
        torch.tensor([ids], device=device),
        strategy or decode.Greedy(),
        max_new_tokens,
        eos_id=eos,
        processors=processors,
    )
    new = out.to_lists(strip_eos_id=eos)[0]
    return tokenizer.decode(new)


def llm_perplexity(bundle: LanguageModelBundle, texts: Iterable[str], window: int | None = None) -> dict:
    """Perplexity of ``texts``, each scored on its own in windows of ``window`` tokens (default
    512, or the context if shorter; the first token of each window is context only). Returns
    ``{"perplexity", "loss", "accuracy", "tokens"}`` (accuracy: top-1 next-token)."""
    model, tokenizer = bundle
    window = min(512, model.config.max_len) if window is None else window
    if window < 2 or window > model.config.max_len:
        raise ValueError(f"window must be between 2 and the model's context {model.config.max_len}, got {window}")
    device = next(model.parameters()).device
    total, count, correct = 0.0, 0, 0
    for ids in tokenizer.encode_documents(texts):
        for start in range(0, len(ids) - 1, window):
            chunk = torch.as_tensor(ids[start : start + window], dtype=torch.long, device=device)[None]  # (1, T)
            if chunk.size(1) < 2:
                break
            with torch.no_grad():
                logits = model(chunk)[0][0].float()  # (T, V)
            total += F.cross_entropy(logits[:-1], chunk[0, 1:], reduction="sum").item()
            correct += int((logits[:-1].argmax(-1) == chunk[0, 1:]).sum())
            count += chunk.size(1) - 1
    if count == 0:
        raise ValueError("the texts hold fewer than 2 tokens; nothing to score")
    return {"perplexity": math.exp(total / count), "loss": total / count, "accuracy": correct / count, "tokens": count}
