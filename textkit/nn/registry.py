"""Architecture names -> (config class, model class): plain dicts, no exec.

One table per task, because names are per task and saved ``config.json`` files hold them:
``"gru"`` is a GRU language model in :data:`LANGUAGE_MODELS` and a GRU encoder-decoder in
:data:`TRANSLATION_MODELS`; :data:`ENCODERS` holds bidirectional encoders (hidden states, no
logits: ``textkit.nn.sentence`` loads them). :data:`ARCHITECTURES` is the language-model table
(its older name).
"""

from __future__ import annotations

from torch import nn

from textkit.nn.awd_lstm import AWDLSTMConfig, AWDLSTMLanguageModel
from textkit.nn.bert import BertConfig, BertModel
from textkit.nn.config import config_from_dict, config_to_dict
from textkit.nn.gru import GRUConfig, GRULanguageModel
from textkit.nn.llama import LlamaConfig, LlamaLanguageModel
from textkit.nn.seq2seq import Seq2SeqAttention, Seq2SeqAttentionConfig, Seq2SeqGRU, Seq2SeqGRUConfig
from textkit.nn.transformer import TransformerConfig, TransformerSeq2Seq

Registry = dict[str, tuple[type, type[nn.Module]]]

LANGUAGE_MODELS: Registry = {
    "awd_lstm": (AWDLSTMConfig, AWDLSTMLanguageModel),
    "gru": (GRUConfig, GRULanguageModel),
    "llama": (LlamaConfig, LlamaLanguageModel),  # pretrained decoders (textkit.data.llms); not trained here
}

TRANSLATION_MODELS: Registry = {
    "gru": (Seq2SeqGRUConfig, Seq2SeqGRU),
    "gru-attn": (Seq2SeqAttentionConfig, Seq2SeqAttention),
    "transformer": (TransformerConfig, TransformerSeq2Seq),
}

ENCODERS: Registry = {
    "bert": (BertConfig, BertModel),  # pretrained encoders (textkit.data.encoders); hidden states, not logits
}

ARCHITECTURES = LANGUAGE_MODELS
# the language models a recipe can pretrain (the trainer's task needs ``return_hidden``)
TRAINABLE_LANGUAGE_MODELS = ("awd_lstm", "gru")


def arch_name(model_or_config, registry: Registry = LANGUAGE_MODELS) -> str:
    """The registered name of a model's (or a config's) architecture in ``registry``."""
    config = getattr(model_or_config, "config", model_or_config)
    for name, (config_cls, _) in registry.items():
        if type(config) is config_cls:
            return name
    raise ValueError(f"{type(config).__name__} is not a registered architecture ({sorted(registry)})")


def build_model(arch: str, config: dict, registry: Registry, where: str | None = None) -> nn.Module:
    """Build a model from an architecture name of ``registry`` and a config dict (unknown keys raise)."""
    if arch not in registry:
        raise ValueError(
            f"{where + ': ' if where else ''}unknown architecture {arch!r}; choose one of {sorted(registry)}"
        )
    config_cls, model_cls = registry[arch]
    return model_cls(config_from_dict(config_cls, config, where=where or f"{arch} model config"))


def build_language_model(arch: str, config: dict) -> nn.Module:
    """Build a language model from an architecture name and a config dict (unknown keys raise)."""
    return build_model(arch, config, LANGUAGE_MODELS)


def model_config_dict(model: nn.Module) -> dict:
    return {"arch": arch_name(model), "model": config_to_dict(model.config)}
