"""LM fine-tuning and classifier training: discriminative rates, gradual unfreezing, learning."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from textkit.transfer import (
    ClassifierSettings,
    FineTuneSettings,
    UnfreezeStage,
    fine_tune_language_model,
    train_classifier,
)
from textkit.transfer.text_classifier import encode_texts
from textkit.transfer.training import _lrs, build_classifier, settings_from_dict

FAST = ClassifierSettings(
    stages=(UnfreezeStage(1, 2, 2e-2), UnfreezeStage("all", 6, 1e-2)), batch_size=8, bptt=8, drop_mult=0.0
)
# a random tiny encoder needs a few hundred steps to separate the toy task
LEARN = ClassifierSettings(
    stages=(UnfreezeStage("all", 20, 3e-2),), batch_size=8, bptt=8, drop_mult=0.0, schedule="one_cycle"
)


def lm_loss(model, pipeline, texts) -> float:
    model.eval()
    with torch.no_grad():
        losses = []
        for doc in encode_texts(pipeline, texts):
            x = torch.as_tensor(doc[None, :-1].astype(np.int64))
            logits, _ = model(x)
            losses.append(F.cross_entropy(logits[0], torch.as_tensor(doc[1:].astype(np.int64))).item())
    return float(np.mean(losses))


def test_discriminative_rates_divide_by_the_factor_per_group():
    assert _lrs(1e-2, 4, 2.6) == pytest.approx([1e-2 / 2.6**3, 1e-2 / 2.6**2, 1e-2 / 2.6, 1e-2])


def test_fine_tuning_lowers_the_loss_on_the_target_texts(tiny_lm, tiny_pipeline, sentiment_texts):
    texts = sentiment_texts[0]
    before = lm_loss(tiny_lm, tiny_pipeline, texts)
    settings = FineTuneSettings(
        epochs_frozen=1, epochs=8, lr=3e-2, batch_size=4, bptt=8, drop_mult=0.0, valid_fraction=0.2
    )
    model, metrics = fine_tune_language_model(tiny_lm, tiny_pipeline, texts, settings, device="cpu")
    assert lm_loss(model, tiny_pipeline, texts) < before - 0.3
    assert [s["groups"] for s in metrics["stages"]] == [1, 3]
    assert all(p.requires_grad for p in model.parameters())  # unfrozen again at the end


def test_frozen_stage_changes_only_the_embedding_group(tiny_lm, tiny_pipeline, sentiment_texts):
    lstm_before = [p.detach().clone() for p in tiny_lm.encoder.rnns.parameters()]
    emb_before = tiny_lm.encoder.embedding.weight.detach().clone()
    settings = FineTuneSettings(epochs_frozen=1, epochs=0, batch_size=4, bptt=8, drop_mult=0.0)
    fine_tune_language_model(tiny_lm, tiny_pipeline, sentiment_texts[0], settings, device="cpu")
    assert all(torch.equal(a, b) for a, b in zip(lstm_before, tiny_lm.encoder.rnns.parameters(), strict=True))
    assert not torch.equal(emb_before, tiny_lm.encoder.embedding.weight)


def test_gradual_unfreezing_first_stage_trains_the_head_only(tiny_lm, tiny_pipeline, sentiment_texts):
    texts, labels = sentiment_texts
    settings = ClassifierSettings(stages=(UnfreezeStage(1, 1, 1e-2),), batch_size=8, bptt=8, drop_mult=0.0)
    clf, _ = train_classifier(tiny_lm, tiny_pipeline, texts, labels, settings, device="cpu")
    model = clf.members["forward"]
    torch.testing.assert_close(model.encoder.embedding.weight, tiny_lm.encoder.embedding.weight)
    torch.testing.assert_close(model.encoder.rnns[1].weight_ih_l0, tiny_lm.encoder.rnns[1].weight_ih_l0)


def test_classifier_learns_a_separable_task_in_both_directions(tiny_lm, tiny_pipeline, sentiment_texts):
    texts, labels = sentiment_texts
    for backwards in (False, True):
        clf, metrics = train_classifier(
            tiny_lm,
            tiny_pipeline,
            texts,
            labels,
            LEARN,
            backwards=backwards,
            valid=(texts[:8], labels[:8]),
            device="cpu",
            seed=1,
        )
        assert clf.score(texts, labels) >= 0.9
        assert list(clf.members) == ["backward" if backwards else "forward"]
        assert metrics["stages"][-1]["groups"] == 4 and metrics["stages"][-1]["valid_accuracy"] is not None


def test_backward_encoding_reverses_each_text(tiny_pipeline):
    fwd = encode_texts(tiny_pipeline, ["a wonderful film"])[0]
    bwd = encode_texts(tiny_pipeline, ["a wonderful film"], backwards=True)[0]
    assert bwd.tolist() == fwd[::-1].tolist() and fwd[0] == tiny_pipeline.vocab.stoi["xxbos"]


def test_no_pretraining_ablation_starts_from_a_random_encoder(tiny_lm):
    scratch = build_classifier(tiny_lm.config, 2, FAST)
    pretrained = build_classifier(tiny_lm, 2, FAST)
    torch.testing.assert_close(pretrained.encoder.rnns[0].weight_hh_l0, tiny_lm.encoder.rnns[0].weight_hh_l0)
    assert not torch.equal(scratch.encoder.rnns[0].weight_hh_l0, tiny_lm.encoder.rnns[0].weight_hh_l0)


def test_training_refuses_bad_input(tiny_lm, tiny_pipeline, sentiment_texts):
    texts, labels = sentiment_texts
    with pytest.raises(ValueError, match="empty or whitespace"):
        train_classifier(tiny_lm, tiny_pipeline, [*texts, "  "], [*labels, "pos"], FAST, device="cpu")
    with pytest.raises(TypeError, match="mix str and int"):
        train_classifier(tiny_lm, tiny_pipeline, texts, [*labels[:-1], 1], FAST, device="cpu")
    with pytest.raises(ValueError, match="were not seen at training time"):
        train_classifier(tiny_lm, tiny_pipeline, texts, labels, FAST, valid=(texts[:1], ["neutral"]), device="cpu")
    with pytest.raises(ValueError, match="groups=7"):
        train_classifier(
            tiny_lm, tiny_pipeline, texts, labels, ClassifierSettings(stages=(UnfreezeStage(7, 1, 1e-2),)), device="cpu"
        )


def test_settings_from_dict_reads_the_reproduce_format():
    from textkit.reproduce.ulmfit import FULL_SETTINGS

    finetune, classifier = settings_from_dict(FULL_SETTINGS)
    assert finetune.epochs == FULL_SETTINGS["finetune"]["epochs"]
    assert [s.groups for s in classifier.stages] == [stage["groups"] for stage in FULL_SETTINGS["classifier"]["stages"]]
    assert [s.lr for s in classifier.stages] == [stage["lr"] for stage in FULL_SETTINGS["classifier"]["stages"]]
    with pytest.raises(ValueError, match="unknown keys"):
        settings_from_dict({"classifier": {"stages": [{"groups": 1, "epochs": 1, "lr": 0.1, "oops": 1}]}})


def test_unfreezing_stages_keep_reshuffling_instead_of_replaying_epoch_0(
    tiny_lm, tiny_pipeline, sentiment_texts, monkeypatch
):
    # regression: each stage built a fresh Trainer whose epoch counter restarted at 0, and the
    # sortish plan is a function of (seed, epoch): every stage replayed epoch 0's batches
    from textkit.transfer.data import ClassificationBatches

    seen, original = [], ClassificationBatches.batches

    def spy(self, epoch=0, start=0):
        if self.shuffle:
            seen.append(epoch)
        return original(self, epoch, start)

    monkeypatch.setattr(ClassificationBatches, "batches", spy)
    texts, labels = sentiment_texts
    stages = (UnfreezeStage(1, 1, 1e-2), UnfreezeStage(2, 2, 1e-2), UnfreezeStage("all", 1, 1e-3))
    train_classifier(
        tiny_lm,
        tiny_pipeline,
        texts,
        labels,
        ClassifierSettings(stages=stages, batch_size=8, bptt=8, drop_mult=0.0),
        device="cpu",
    )
    assert seen == [0, 1, 2, 3]


def test_lm_fine_tuning_stages_keep_reshuffling_instead_of_replaying_epoch_0(
    tiny_lm, tiny_pipeline, sentiment_texts, monkeypatch
):
    from textkit.data.lm import LMStream

    seen, original = [], LMStream.batches

    def spy(self, epoch, start=0):
        if self.shuffle:
            seen.append(epoch)
        return original(self, epoch, start)

    monkeypatch.setattr(LMStream, "batches", spy)
    settings = FineTuneSettings(epochs_frozen=1, epochs=2, batch_size=4, bptt=8, drop_mult=0.0)
    fine_tune_language_model(tiny_lm, tiny_pipeline, sentiment_texts[0], settings, device="cpu")
    assert seen == [0, 1, 2]


def test_default_classifier_schedule_follows_its_momentum_setting():
    # regression: the default slanted-triangular schedule ignored ``moms``, so the (0.8, 0.7, 0.8)
    # that `reproduce ulmfit` and the fastai peer set never reached the optimizer
    from textkit.transfer.training import _schedule

    settings = ClassifierSettings()
    schedule = _schedule(settings.schedule, settings.moms)
    assert schedule(0, 100)[1] == pytest.approx(settings.moms[0])
    assert min(schedule(s, 100)[1] for s in range(100)) == pytest.approx(settings.moms[1], abs=1e-3)
