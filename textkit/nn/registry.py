"""Architecture names -> (config class, model class): a plain dict, no exec."""

from __future__ import annotations

from torch import nn

from textkit.nn.awd_lstm import AWDLSTMConfig, AWDLSTMLanguageModel
from textkit.nn.config import config_from_dict, config_to_dict
from textkit.nn.gru import GRUConfig, GRULanguageModel

ARCHITECTURES: dict[str, tuple[type, type[nn.Module]]] = {
    "awd_lstm": (AWDLSTMConfig, AWDLSTMLanguageModel),
    "gru": (GRUConfig, GRULanguageModel),
}


def arch_name(model_or_config) -> str:
    config = getattr(model_or_config, "config", model_or_config)
    for name, (config_cls, _) in ARCHITECTURES.items():
        if type(config) is config_cls:
            return name
    raise ValueError(f"{type(config).__name__} is not a registered architecture ({sorted(ARCHITECTURES)})")


def build_language_model(arch: str, config: dict) -> nn.Module:
    """Build a model from an architecture name and a config dict (unknown keys raise)."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {sorted(ARCHITECTURES)}")
    config_cls, model_cls = ARCHITECTURES[arch]
    return model_cls(config_from_dict(config_cls, config, where=f"{arch} model config"))


def model_config_dict(model: nn.Module) -> dict:
    return {"arch": arch_name(model), "model": config_to_dict(model.config)}
