"""Vocabulary transfer: kept rows, mean-initialised new rows, coverage, and refusals."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from textkit.nn import save_language_model
from textkit.transfer import adapt_to_texts, load_pretrained, transfer_vocabulary


def test_known_tokens_keep_their_rows_and_new_ones_start_from_the_mean(tiny_lm, tiny_pipeline):
    old = tiny_pipeline.vocab.itos
    new = ["xxunk", "xxpad", "brandnew", old[-1], old[-2], "another"]
    counts = Counter({"brandnew": 3, old[-1]: 5, old[-2]: 2, "another": 1})
    model, report = transfer_vocabulary(tiny_lm, old, new, pad_token="xxpad", target_counts=counts)
    emb_old, emb_new = tiny_lm.encoder.embedding.weight, model.encoder.embedding.weight
    real = [i for i, t in enumerate(old) if t != "xxpad"]
    torch.testing.assert_close(emb_new[3], emb_old[len(old) - 1])
    torch.testing.assert_close(emb_new[4], emb_old[len(old) - 2])
    torch.testing.assert_close(emb_new[2], emb_old[real].mean(0))
    assert torch.count_nonzero(emb_new[1]) == 0  # padding
    torch.testing.assert_close(model.decoder.bias[3], tiny_lm.decoder.bias[len(old) - 1])
    assert model.decoder.weight is model.encoder.embedding.weight  # still tied
    # every non-embedding weight is copied
    torch.testing.assert_close(model.encoder.rnns[1].weight_hh_l0, tiny_lm.encoder.rnns[1].weight_hh_l0)
    assert (report.kept, report.new, report.target_size) == (4, 2, 6)
    assert report.token_coverage == pytest.approx(7 / 11)
    assert report.new_examples[0] == "brandnew"  # most frequent new token first


def test_transferred_model_scores_shared_tokens_like_the_original(tiny_lm, tiny_pipeline):
    old = tiny_pipeline.vocab.itos
    new = list(reversed(old))  # same tokens, another order
    model, report = transfer_vocabulary(tiny_lm, old, new, pad_token="xxpad")
    assert report.type_coverage == 1.0
    ids_old = torch.tensor([[old.index(t) for t in old[2:8]]])
    ids_new = torch.tensor([[new.index(t) for t in old[2:8]]])
    tiny_lm.eval(), model.eval()
    with torch.no_grad():
        logits_old, _ = tiny_lm(ids_old)
        logits_new, _ = model(ids_new)
    perm = torch.tensor([old.index(t) for t in new])
    torch.testing.assert_close(logits_new, logits_old[..., perm], rtol=1e-5, atol=1e-6)


def test_adapt_to_texts_builds_the_target_vocabulary(tiny_lm, tiny_pipeline):
    from textkit.nn.serialization import LanguageModelBundle

    texts = ["a wonderful film", "a never seen before word : zyzzyva zyzzyva"]
    model, pipeline, report = adapt_to_texts(LanguageModelBundle(tiny_lm, tiny_pipeline, {}), texts, min_freq=1)
    assert "zyzzyva" in pipeline.vocab and "zyzzyva" not in tiny_pipeline.vocab
    assert model.config.vocab_size == len(pipeline)
    assert pipeline.tokenizer is tiny_pipeline.tokenizer
    assert 0 < report.type_coverage < 1 and "zyzzyva" in report.new_examples


def test_load_pretrained_refuses_other_architectures(tmp_path, tiny_pipeline):
    from textkit.nn import GRUConfig, GRULanguageModel

    gru = GRULanguageModel(GRUConfig(vocab_size=len(tiny_pipeline), emb_size=8, hidden_size=8, n_layers=1, pad_index=1))
    save_language_model(gru, tiny_pipeline, tmp_path / "gru")
    with pytest.raises(ValueError, match="'gru' language model; ULMFiT transfer needs an AWD-LSTM"):
        load_pretrained(tmp_path / "gru")
    with pytest.raises(FileNotFoundError, match="not a textkit language-model folder"):
        load_pretrained(tmp_path / "nothing")


def test_load_pretrained_round_trip(tmp_path, tiny_lm, tiny_pipeline):
    save_language_model(tiny_lm, tiny_pipeline, tmp_path / "lm")
    bundle = load_pretrained(tmp_path / "lm")
    torch.testing.assert_close(bundle.model.encoder.embedding.weight, tiny_lm.encoder.embedding.weight)


def test_transfer_refuses_mismatched_inputs(tiny_lm, tiny_pipeline):
    with pytest.raises(ValueError, match="rows"):
        transfer_vocabulary(tiny_lm, tiny_pipeline.vocab.itos[:-1], ["xxunk", "xxpad"], pad_token="xxpad")
    with pytest.raises(ValueError, match="padding token"):
        transfer_vocabulary(tiny_lm, tiny_pipeline.vocab.itos, ["xxunk", "a"], pad_token="xxpad")
