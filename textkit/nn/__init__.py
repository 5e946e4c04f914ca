"""Neural models: AWD-LSTM and GRU language models with explicit recurrent state.

Importing this package imports torch; ``textkit``, ``textkit.text`` and ``textkit.data`` do not.
"""

from textkit.nn.awd_lstm import AWDLSTM, AWDLSTMConfig, AWDLSTMLanguageModel
from textkit.nn.config import config_from_dict, config_to_dict, load_config, save_config
from textkit.nn.dropout import LockedDropout, embedding_dropout, locked_dropout_mask, weight_drop
from textkit.nn.generate import model_step, sample
from textkit.nn.gru import GRUCell, GRUConfig, GRULanguageModel, ScratchGRU
from textkit.nn.registry import ARCHITECTURES, build_language_model, model_config_dict
from textkit.nn.serialization import (
    LanguageModelBundle,
    load_language_model,
    load_weights,
    read_weights,
    save_language_model,
    save_weights,
)

__all__ = [
    "ARCHITECTURES",
    "AWDLSTM",
    "AWDLSTMConfig",
    "AWDLSTMLanguageModel",
    "GRUCell",
    "GRUConfig",
    "GRULanguageModel",
    "LanguageModelBundle",
    "LockedDropout",
    "ScratchGRU",
    "build_language_model",
    "config_from_dict",
    "config_to_dict",
    "embedding_dropout",
    "load_config",
    "load_language_model",
    "load_weights",
    "locked_dropout_mask",
    "model_config_dict",
    "model_step",
    "read_weights",
    "sample",
    "save_config",
    "save_language_model",
    "save_weights",
    "weight_drop",
]
