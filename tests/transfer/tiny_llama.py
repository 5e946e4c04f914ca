"""A tiny random Llama backbone with a byte-level BPE tokenizer, saved as an LM folder: what the
LLM-classifier tests (and ``reproduce ulmfit --backbone``'s quick test) load instead of SmolLM2."""

from __future__ import annotations

from pathlib import Path

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MERGES = ["Ġ t", "h e", "Ġt he", "i n", "Ġ a", "e r", "o n", "Ġ s"]


def tiny_tokenizer():
    from tokenizers import pre_tokenizers

    from textkit.text.bpe import ByteBPETokenizer

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tokens = SPECIALS + alphabet + [m.replace(" ", "") for m in MERGES]
    return ByteBPETokenizer.from_vocab(
        tokens, MERGES, control_ids=(0, 1, 2), special_ids={"unk": 0, "bos": 1, "eos": 2, "pad": 2}, pre="smollm"
    )


def tiny_config(vocab_size: int, n_layers: int = 4):
    from textkit.nn.llama import LlamaConfig

    return LlamaConfig(
        vocab_size=vocab_size, d_model=32, n_layers=n_layers, n_heads=4, n_kv_heads=2, d_ff=48, max_len=128
    )


def tiny_backbone_folder(folder: Path, seed: int = 0, n_layers: int = 4) -> Path:
    """Write a random tiny Llama LM folder (config.json, model.safetensors, tokenizer.json)."""
    import torch

    from textkit.nn.llama import LlamaLanguageModel
    from textkit.nn.serialization import save_language_model

    tokenizer = tiny_tokenizer()
    torch.manual_seed(seed)
    model = LlamaLanguageModel(tiny_config(len(tokenizer), n_layers)).eval()
    with torch.no_grad():  # norms away from 1, so a wrong norm would show
        for module in model.modules():
            if hasattr(module, "eps"):
                module.weight.uniform_(0.5, 1.5)
    return save_language_model(model, tokenizer, folder)
