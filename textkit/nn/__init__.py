"""Neural models with explicit state: AWD-LSTM and GRU language models, GRU and attention
seq2seq, the Transformer, and pretrained encoders (BERT) with sentence embeddings
(``encode(texts, model="minilm-l6")``).

Importing this package imports torch; ``textkit``, ``textkit.text`` and ``textkit.data`` do not.
"""

from textkit.nn.attention import AdditiveAttention, MultiHeadAttention, MultiplicativeAttention
from textkit.nn.awd_lstm import AWDLSTM, AWDLSTMConfig, AWDLSTMLanguageModel
from textkit.nn.bert import BertConfig, BertModel
from textkit.nn.config import config_from_dict, config_to_dict, load_config, save_config
from textkit.nn.dropout import LockedDropout, embedding_dropout, locked_dropout_mask, weight_drop
from textkit.nn.generate import LanguageModelStep
from textkit.nn.gru import GRUCell, GRUConfig, GRULanguageModel, ScratchGRU
from textkit.nn.llama import LlamaConfig, LlamaLanguageModel
from textkit.nn.registry import ARCHITECTURES, build_language_model, model_config_dict
from textkit.nn.seq2seq import (
    Seq2SeqAttention,
    Seq2SeqAttentionConfig,
    Seq2SeqGRU,
    Seq2SeqGRUConfig,
    sequence_loss,
)
from textkit.nn.serialization import (
    LanguageModelBundle,
    load_language_model,
    load_translation_model,
    load_weights,
    read_weights,
    save_language_model,
    save_translation_model,
    save_weights,
)
from textkit.nn.sentence import SentenceEncoder, encode, load_encoder
from textkit.nn.transformer import TransformerConfig, TransformerSeq2Seq

__all__ = [
    "LanguageModelStep",
    "ARCHITECTURES",
    "AWDLSTM",
    "AWDLSTMConfig",
    "AWDLSTMLanguageModel",
    "AdditiveAttention",
    "BertConfig",
    "BertModel",
    "MultiHeadAttention",
    "MultiplicativeAttention",
    "Seq2SeqAttention",
    "Seq2SeqAttentionConfig",
    "Seq2SeqGRU",
    "Seq2SeqGRUConfig",
    "SentenceEncoder",
    "TransformerConfig",
    "TransformerSeq2Seq",
    "load_translation_model",
    "save_translation_model",
    "sequence_loss",
    "GRUCell",
    "GRUConfig",
    "GRULanguageModel",
    "LlamaConfig",
    "LlamaLanguageModel",
    "LanguageModelBundle",
    "LockedDropout",
    "ScratchGRU",
    "build_language_model",
    "config_from_dict",
    "config_to_dict",
    "embedding_dropout",
    "encode",
    "load_config",
    "load_encoder",
    "load_language_model",
    "load_weights",
    "locked_dropout_mask",
    "model_config_dict",
    "read_weights",
    "save_config",
    "save_language_model",
    "save_weights",
    "weight_drop",
]
