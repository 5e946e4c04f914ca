"""Fixtures for the ULMFiT tests: a tiny word pipeline and a tiny AWD-LSTM LM over it, built
in-process (no corpus download, seconds to train)."""

from __future__ import annotations

import numpy as np
import pytest

GOOD = ["wonderful", "great", "lovely", "loved", "fun"]
BAD = ["terrible", "awful", "boring", "hated", "mess"]
NEUTRAL = ["a", "film", "the", "story", "acting", "and", "it", "was", ",", "i"]


@pytest.fixture
def sentiment_texts():
    """A separable toy task: 64 reviews of 3 to 12 words; 'pos' ones contain words from GOOD,
    'neg' ones from BAD (lengths do not give the label away)."""
    rng = np.random.default_rng(0)
    texts, labels = [], []
    for i in range(64):
        label = ["pos", "neg"][i % 2]
        words = list(rng.choice(NEUTRAL, size=int(rng.integers(2, 10))))
        words += list(rng.choice(GOOD if label == "pos" else BAD, size=int(rng.integers(1, 3))))
        texts.append(" ".join(rng.permutation(words)))
        labels.append(label)
    return texts, labels


@pytest.fixture
def tiny_pipeline(sentiment_texts):
    from textkit.text import TextPipeline, Tokenizer, Vocab

    tokenizer = Tokenizer(add_bos=True)
    vocab = Vocab.build(tokenizer.tokenize_many([" ".join(GOOD + BAD + NEUTRAL), "the movie was fine"]))
    return TextPipeline(tokenizer, vocab)


@pytest.fixture
def tiny_lm(tiny_pipeline):
    import torch

    from textkit.nn import AWDLSTMConfig, AWDLSTMLanguageModel

    torch.manual_seed(0)
    config = AWDLSTMConfig(
        vocab_size=len(tiny_pipeline),
        emb_size=8,
        hidden_size=16,
        n_layers=2,
        pad_index=tiny_pipeline.vocab.pad_index,
        drop_mult=0.0,
    )
    return AWDLSTMLanguageModel(config)
