"""ULMFiT transfer learning (Howard & Ruder 2018): vocabulary transfer from a pretrained
AWD-LSTM language model, language-model fine-tuning, a concat-pooling classifier trained
with discriminative rates and gradual unfreezing, forward + backward ensembles, and an
exported ``TextClassifier`` (JSON + safetensors) that predicts from raw text.

Importing this package imports torch.
"""

from textkit.transfer.classifier import AWDLSTMClassifier, ClassifierConfig, PoolingHead
from textkit.transfer.data import ClassificationBatches, LabelEncoder
from textkit.transfer.encoder_classifier import EncoderClassifier, train_encoder_classifier
from textkit.transfer.llm_classifier import LlamaClassifier, LLMClassifierConfig, LLMTextClassifier
from textkit.transfer.text_classifier import TextClassifier
from textkit.transfer.training import (
    ClassificationTask,
    ClassifierSettings,
    FineTuneSettings,
    UnfreezeStage,
    build_classifier,
    fine_tune_language_model,
    settings_from_dict,
    train_classifier,
)
from textkit.transfer.vocabulary import VocabularyTransfer, adapt_to_texts, load_pretrained, transfer_vocabulary

__all__ = [
    "EncoderClassifier",
    "LLMClassifierConfig",
    "LLMTextClassifier",
    "LlamaClassifier",
    "AWDLSTMClassifier",
    "ClassificationBatches",
    "ClassificationTask",
    "ClassifierConfig",
    "ClassifierSettings",
    "FineTuneSettings",
    "LabelEncoder",
    "PoolingHead",
    "TextClassifier",
    "UnfreezeStage",
    "VocabularyTransfer",
    "adapt_to_texts",
    "build_classifier",
    "fine_tune_language_model",
    "load_pretrained",
    "settings_from_dict",
    "train_classifier",
    "train_encoder_classifier",
    "transfer_vocabulary",
]
