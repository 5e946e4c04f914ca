"""The pretrained-encoder classifier (``textkit.transfer.encoder_classifier``) on a tiny random
BERT built here: it learns a separable task through the ULMFiT machinery and plain full
fine-tuning, round-trips through its folder, and refuses hostile folders before allocating."""

from __future__ import annotations

import json
import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch

pytest.importorskip("tokenizers")

from tests.data import test_encoders
from tests.data.test_encoders import VOCAB, hf_tokenizer_json
from textkit._folders import FolderError
from textkit.nn.bert import BertConfig, BertModel
from textkit.nn.sentence import SentenceEncoder
from textkit.text.wordpiece import TruncationWarning, WordPieceTokenizer
from textkit.transfer.encoder_classifier import (
    FORMAT,
    BertClassifier,
    EncoderClassifier,
    EncoderClassifierConfig,
    EncoderClassifierSettings,
    default_settings,
    settings_from_dict,
    train_encoder_classifier,
)
from textkit.transfer.training import UnfreezeStage

tiny_encoder = test_encoders.tiny_encoder  # the fixture: a tiny random BERT by name ("tiny-bert")

POSITIVE = ["the movie was great", "i loved it", "a great film", "great plot !", "loved the film", "it was great ."]
NEGATIVE = ["the movie was bad", "a bad film", "bad plot !", "it was bad .", "the plot was bad", "bad , bad film"]


def tiny_sentence_encoder(seed: int = 0) -> SentenceEncoder:
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(VOCAB), d_model=16, n_layers=4, n_heads=4, d_ff=32, dropout=0.0, attn_dropout=0.0
    )
    model = BertModel(config).eval()
    tokenizer = WordPieceTokenizer.from_hf_json(hf_tokenizer_json())
    return SentenceEncoder(model, tokenizer, {"name": "tiny", "model": {"d_model": 16}, "files": {}})


def task(repeat: int = 4) -> tuple[list[str], list[str]]:
    texts = (POSITIVE + NEGATIVE) * repeat
    labels = (["pos"] * len(POSITIVE) + ["neg"] * len(NEGATIVE)) * repeat
    return texts, labels


FAST = EncoderClassifierSettings(
    stages=(UnfreezeStage(1, 2, 2e-2), UnfreezeStage(2, 2, 1e-2), UnfreezeStage("all", 4, 5e-3)),
    batch_size=8,
    head_dropout=0.0,
)


@pytest.fixture(scope="module")
def trained() -> EncoderClassifier:
    texts, labels = task()
    return train_encoder_classifier(texts, labels, model=tiny_sentence_encoder(), settings=FAST, quiet=True, log=None)


def test_encoder_classifier_learns_a_separable_task_with_gradual_unfreezing(trained):
    texts, labels = task(1)
    assert trained.classes == ["neg", "pos"]
    assert (trained.predict(texts) == np.asarray(labels)).all()
    info = trained.info
    assert info["mode"] == "ulmfit" and [s["groups"] for s in info["stages"]] == [1, 2, 4]
    assert len(info["epochs"]) == 8 and info["train_examples_per_s"] > 0
    # discriminative rates: each group below gets lr / lr_factor
    lrs = info["stages"][-1]["lrs"]
    assert len(lrs) == 4 and lrs[0] < lrs[-1]


def test_encoder_classifier_layer_groups_cover_every_parameter_once():
    net = BertClassifier(tiny_sentence_encoder().model, EncoderClassifierConfig(n_classes=3, group_size=2))
    groups = net.layer_groups()
    assert len(groups) == 1 + 2 + 1  # embeddings, 2 block groups, head
    ids = [id(p) for g in groups for p in g]
    assert len(ids) == len(set(ids)) == len(list(net.parameters()))
    assert net.backbone.pooler is None and not net.backbone_config.pooler


def test_encoder_classifier_frozen_groups_do_not_change():
    encoder = tiny_sentence_encoder()
    before = {k: v.clone() for k, v in encoder.model.state_dict().items()}
    texts, labels = task(1)
    settings = replace(FAST, stages=(UnfreezeStage(1, 1, 1e-2), UnfreezeStage(2, 1, 1e-2)))
    clf = train_encoder_classifier(texts, labels, model=encoder, settings=settings, quiet=True, log=None)
    after = clf.model.backbone.state_dict()
    # the encoder passed in is copied, never changed; the bottom 2 blocks and embeddings stayed frozen
    assert all(torch.equal(before[k], v) for k, v in encoder.model.state_dict().items())
    for name, tensor in after.items():
        same = torch.equal(before[name], tensor)
        assert same == (not name.startswith(("blocks.2.", "blocks.3."))), name


def test_encoder_classifier_full_mode_trains_every_group_at_one_rate():
    texts, labels = task()
    settings = replace(
        default_settings("full"), stages=(UnfreezeStage("all", 6, 5e-3),), batch_size=8, head_dropout=0.0
    )
    clf = train_encoder_classifier(
        texts, labels, model=tiny_sentence_encoder(), mode="full", settings=settings, quiet=True, log=None
    )
    assert clf.info["mode"] == "full" and len(clf.info["stages"]) == 1
    assert len(set(clf.info["stages"][0]["lrs"])) == 1
    assert (clf.predict(texts) == np.asarray(labels)).mean() >= 0.9


def test_encoder_classifier_epochs_and_batch_size_override_the_mode():
    texts, labels = task(1)
    clf = train_encoder_classifier(
        texts, labels, model=tiny_sentence_encoder(), epochs=1, batch_size=4, quiet=True, log=None
    )
    assert [s["epochs"] for s in clf.info["stages"]] == [1, 1, 1]
    assert clf.info["settings"]["batch_size"] == 4
    with pytest.raises(ValueError, match="mode must be"):
        train_encoder_classifier(texts, labels, model=tiny_sentence_encoder(), mode="lora", log=None)


def test_encoder_classifier_by_name(tiny_encoder):
    texts, labels = task(1)
    clf = train_encoder_classifier(texts, labels, model="tiny-bert", epochs=1, quiet=True, log=None)
    assert clf.info["model"] == "tiny-bert" and clf.predict_proba(texts).shape == (len(texts), 2)


def test_encoder_classifier_predict_keeps_input_order_and_takes_empty_and_long_texts(trained):
    texts = ["great", "", "the movie was bad and the plot was bad", "i loved it"]
    proba = trained.predict_proba(texts)
    one_by_one = np.concatenate([trained.predict_proba([t]) for t in texts])
    assert proba.shape == (4, 2) and np.allclose(proba.sum(1), 1.0)
    np.testing.assert_allclose(proba, one_by_one, atol=1e-5)
    assert trained.predict_proba([]).shape == (0, 2)
    long = "great " * 600  # 600 word pieces: cut to 510 with one notice
    with pytest.warns(TruncationWarning, match=r"1 of 2 texts .* texts\[1\]") as record:
        out = trained.predict_proba(["bad", long])
    assert len(record) == 1 and out.shape == (2, 2)
    np.testing.assert_allclose(out[1], trained.predict_proba(["great " * 510])[0], atol=1e-5)


def test_encoder_classifier_training_refuses_blank_texts():
    with pytest.raises(ValueError, match=r"training texts \[1\] are empty"):
        train_encoder_classifier(["great", "  ", "bad"], ["pos", "neg", "neg"], model=tiny_sentence_encoder(), log=None)


def test_encoder_classifier_save_load_round_trip(trained, tmp_path):
    texts, _ = task(1)
    folder = tmp_path / "clf"
    folder.mkdir()
    trained.save(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["classifier.json", "model.safetensors", "tokenizer.json"]
    raw = json.loads((folder / "classifier.json").read_text())
    assert raw["format"] == FORMAT and raw["format_version"] == 1 and raw["classes"] == ["neg", "pos"]
    assert raw["encoder"]["d_model"] == 16 and raw["info"]["mode"] == "ulmfit"
    loaded = EncoderClassifier.load(folder)
    np.testing.assert_array_equal(loaded.predict_proba(texts), trained.predict_proba(texts))
    assert loaded.classes == trained.classes and loaded.info["epochs"] == trained.info["epochs"]


def test_encoder_classifier_concat_pooling_round_trips(tmp_path):
    texts, labels = task(1)
    settings = replace(FAST, pooling=("cls", "mean", "max"), stages=(UnfreezeStage("all", 1, 1e-3),))
    clf = train_encoder_classifier(
        texts, labels, model=tiny_sentence_encoder(), settings=settings, quiet=True, log=None
    )
    assert clf.model.head[-1].in_features == 3 * 16
    clf.save(tmp_path)
    np.testing.assert_array_equal(EncoderClassifier.load(tmp_path).predict_proba(texts), clf.predict_proba(texts))
    assert settings_from_dict(json.loads(json.dumps(clf.info["settings"]))) == settings


def test_encoder_classifier_save_needs_an_existing_empty_folder(trained, tmp_path):
    with pytest.raises(FolderError, match="not an existing folder"):
        trained.save(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FolderError, match="not empty"):
        trained.save(tmp_path)


@pytest.fixture
def saved(trained, tmp_path):
    folder = tmp_path / "clf"
    folder.mkdir()
    trained.save(folder)
    return folder


def _edit(folder, change) -> None:
    path = folder / "classifier.json"
    raw = json.loads(path.read_text())
    change(raw)
    path.write_text(json.dumps(raw))


@pytest.fixture
def no_allocation(monkeypatch):
    """Loading must refuse before any weights are read or a real model is built."""
    import textkit.nn.serialization as serialization

    def refuse(*args, **kwargs):
        raise AssertionError("weights were read before the folder was checked")

    monkeypatch.setattr(serialization, "load_weights", refuse)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda r: r.update(format_version=99), "format_version 99 is newer"),
        (lambda r: r.update(format="textkit-text-classifier"), "expected 'textkit-encoder-classifier'"),
        (lambda r: r["encoder"].update(d_model=10**9), r"'encoder'.*'d_model' = 1,000,000,000 is outside"),
        (lambda r: r["encoder"].update(n_layers="6"), r"'n_layers' must be an integer"),
        (lambda r: r["classifier"].update(n_classes=3), "'classes' must be 3 distinct strings"),
        (lambda r: r["encoder"].update(d_ff=64), r"model.safetensors does not fit the config.*d_ff|up.weight"),
        (lambda r: r["files"].update(tokenizer="../tokenizer.json"), "no absolute path, no '..'"),
        (lambda r: r["files"].update(weights="/etc/passwd"), "no absolute path"),
        (lambda r: r["encoder"].update(hidden=3), "unknown keys"),
    ],
)
def test_encoder_classifier_load_refuses_hostile_folders(saved, no_allocation, change, message):
    _edit(saved, change)
    with pytest.raises(FolderError, match=message) as info:
        EncoderClassifier.load(saved)
    assert str(saved) in str(info.value)


def test_encoder_classifier_load_refuses_a_weights_file_of_another_shape(saved, no_allocation):
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(saved / "model.safetensors"))
    tensors["head.1.weight"] = torch.zeros(3, 16)
    save_file(tensors, str(saved / "model.safetensors"))
    with pytest.raises(FolderError, match=r"head.1.weight is F32 \[3, 16\], expected F32 \[2, 16\]"):
        EncoderClassifier.load(saved)


def test_encoder_classifier_load_refuses_a_truncated_weights_file(saved, no_allocation):
    path = saved / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(FolderError, match="corrupted or truncated"):
        EncoderClassifier.load(saved)


@pytest.mark.slow
def test_encoder_classifier_minilm_real_weights_small_slice(tmp_path):
    from textkit.reproduce.ulmfit import fold_zero_split

    split = fold_zero_split(0, {"max_train_docs": 96, "max_test_docs": 32})
    clf = train_encoder_classifier(
        split[0], split[1], valid=(split[2], split[3]), mode="full", epochs=1, quiet=True, log=None
    )
    assert clf.classes == sorted(set(split[1])) and clf.info["model"] == "minilm-l6"
    assert clf.model.backbone_config.d_model == 384 and len(clf.model.layer_groups()) == 5
    clf.save(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(
            EncoderClassifier.load(tmp_path).predict_proba(split[2]), clf.predict_proba(split[2])
        )
