"""The classifier over a Llama backbone on a tiny random config: padding, pooling, layer groups,
frozen blocks without gradients, the frozen-bottom cache, save/load, input order, empty texts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.transfer.tiny_llama import tiny_backbone_folder
from textkit.transfer.llm_classifier import (
    LLMClassifierConfig,
    LLMTextClassifier,
    LlamaClassifier,
    encode_for_classifier,
    load_backbone,
    pool_states,
)
from textkit.transfer.llm_training import (
    CachedBatches,
    LinearProbe,
    LLMClassifierSettings,
    advance_frozen,
    frozen_pass,
    init_head_from_probe,
    llm_settings_from_dict,
    train_llm_classifier,
)
from textkit.transfer.training import UnfreezeStage

STAGES = (UnfreezeStage(1, 1, 1e-2), UnfreezeStage(2, 2, 3e-3))


@pytest.fixture(scope="module")
def backbone_folder(tmp_path_factory):
    return tiny_backbone_folder(tmp_path_factory.mktemp("tiny-llama") / "backbone")


@pytest.fixture(scope="module")
def backbone(backbone_folder):
    return load_backbone(backbone_folder)


@pytest.fixture(scope="module")
def texts_labels():
    rng = np.random.default_rng(0)
    good, bad, neutral = ["wonderful", "great", "lovely"], ["terrible", "awful", "boring"], ["a", "film", "the", "it"]
    texts, labels = [], []
    for i in range(48):
        label = ["pos", "neg"][i % 2]
        words = list(rng.choice(neutral, size=int(rng.integers(1, 6)))) + [str(rng.choice(good if i % 2 == 0 else bad))]
        texts.append(" ".join(rng.permutation(words)))
        labels.append(label)
    return texts, labels


@pytest.fixture(scope="module")
def trained(backbone, texts_labels):
    texts, labels = texts_labels
    settings = LLMClassifierSettings(stages=STAGES, batch_size=16, precision="fp32")
    return train_llm_classifier(backbone, texts, labels, settings, seed=0)


def _classifier(backbone, n_top: int | None = None) -> LlamaClassifier:
    import copy

    torch.manual_seed(0)
    model = LlamaClassifier(copy.deepcopy(backbone.model), LLMClassifierConfig(n_classes=2)).eval()
    if n_top is not None:
        from textkit.transfer.training import _set_trainable

        _set_trainable(model.layer_groups(), n_top)
    return model


def test_llm_classifier_right_padding_leaves_real_positions_unchanged(backbone):
    model = backbone.model
    ids = torch.randint(3, model.config.vocab_size, (1, 7), generator=torch.Generator().manual_seed(0))
    padded = torch.cat([ids, torch.full((1, 5), 2)], dim=1)
    with torch.no_grad():
        alone = model.run_blocks(model.embed(ids))
        in_batch = model.run_blocks(model.embed(padded))
        features, _ = model.features(ids)  # run_blocks + norm is the model's own forward
    torch.testing.assert_close(in_batch[:, :7], alone, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(model.norm(alone), features, atol=1e-6, rtol=1e-6)
    # and the classifier: one text alone == the same text in a padded batch with a longer one
    clf = _classifier(backbone)
    other = torch.randint(3, model.config.vocab_size, (1, 12), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        single = clf(ids, torch.tensor([7]))
        batch = clf(torch.cat([padded, other]), torch.tensor([7, 12]))
    torch.testing.assert_close(batch[:1], single, atol=1e-5, rtol=1e-5)


def test_llm_classifier_pooling_ignores_padding():
    hidden = torch.randn(2, 5, 3)
    lengths = torch.tensor([3, 5])
    noisy = hidden.clone()
    noisy[0, 3:] = 1e6  # padding values must never reach the pooled features
    pooled = pool_states(noisy, lengths)
    expected0 = torch.cat([hidden[0, 2], hidden[0, :3].mean(0), hidden[0, :3].amax(0)])
    expected1 = torch.cat([hidden[1, 4], hidden[1].mean(0), hidden[1].amax(0)])
    torch.testing.assert_close(pooled, torch.stack([expected0, expected1]))
    assert pool_states(hidden, lengths, ("mean",)).shape == (2, 3)
    with pytest.raises(ValueError, match="lengths"):
        pool_states(hidden, torch.tensor([0, 5]))


def test_llm_classifier_layer_groups_cover_every_parameter_once(backbone):
    model = _classifier(backbone)
    groups = model.layer_groups()
    n_layers = backbone.model.config.n_layers  # 4 blocks, groups of 2
    assert len(groups) == 1 + n_layers // 2 + 1
    ids = [id(p) for g in groups for p in g]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))  # the tied LM head is the embedding
    assert groups[0] == [model.backbone.embed.weight]
    assert model.first_block_of_top(1) == n_layers  # the head only
    assert model.first_block_of_top(2) == 2 and model.first_block_of_top(3) == 0
    assert model.first_block_of_top(len(groups)) == 0
    with pytest.raises(ValueError, match="layer groups"):
        model.first_block_of_top(len(groups) + 1)


def test_llm_classifier_frozen_blocks_get_no_grad_and_no_backward(backbone):
    model = _classifier(backbone, n_top=2).train()  # norm + head + blocks 2-3
    assert model.frozen_blocks() == 2
    grad_enabled = {}
    for i, block in enumerate(model.backbone.blocks):
        block.register_forward_hook(lambda m, a, o, i=i: grad_enabled.__setitem__(i, torch.is_grad_enabled()))
    ids = torch.randint(3, 50, (4, 6), generator=torch.Generator().manual_seed(0))
    model(ids, torch.tensor([6, 5, 4, 3])).sum().backward()
    assert grad_enabled == {0: False, 1: False, 2: True, 3: True}
    for name, p in model.named_parameters():
        frozen = name.startswith(("backbone.embed", "backbone.blocks.0.", "backbone.blocks.1."))
        assert (p.grad is None) == frozen, name


def test_llm_classifier_cache_gives_the_same_logits(backbone, texts_labels):
    texts, _ = texts_labels
    model = _classifier(backbone)
    docs = encode_for_classifier(backbone.tokenizer, texts, model.config)
    frozen, pooled = frozen_pass(model, docs, 2, n_blocks=2, batch_size=8, pooled=True)
    from textkit.transfer.data import ClassificationBatches

    data = ClassificationBatches(docs, np.zeros(len(docs), dtype=np.int64), 8, 2, shuffle=False)
    with torch.no_grad():
        for batch, cached in zip(data.batches(0), CachedBatches(data, frozen).batches(0), strict=True):
            lengths = torch.from_numpy(batch.lengths)
            direct = model(torch.from_numpy(batch.x), lengths)
            from_cache = model(None, lengths, states=cached.states, first_block=2)
            torch.testing.assert_close(from_cache, direct, atol=1e-5, rtol=1e-5)
            full = model.backbone.norm(model.backbone.run_blocks(model.backbone.embed(torch.from_numpy(batch.x))))
            torch.testing.assert_close(torch.from_numpy(pooled[batch.rows]), pool_states(full, lengths))


def test_llm_classifier_cache_moves_up_to_a_higher_block(backbone, texts_labels):
    texts, _ = texts_labels
    model = _classifier(backbone)
    docs = encode_for_classifier(backbone.tokenizer, texts, model.config)
    low, _ = frozen_pass(model, docs, 2, n_blocks=1, batch_size=8)
    high, _ = frozen_pass(model, docs, 2, n_blocks=3, batch_size=8)
    moved = advance_frozen(model, low, 3, batch_size=5)
    assert moved.n_blocks == 3 and advance_frozen(model, high, 3) is high
    torch.testing.assert_close(moved.packed, high.packed, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="cannot move"):
        advance_frozen(model, high, 1)


def test_llm_classifier_training_with_and_without_cache_agree(backbone, texts_labels, trained):
    texts, labels = texts_labels
    cached, cached_metrics = trained
    settings = LLMClassifierSettings(stages=STAGES, batch_size=16, precision="fp32", cache=False)
    direct, direct_metrics = train_llm_classifier(backbone, texts, labels, settings, seed=0)
    assert cached_metrics["cached"] and cached_metrics["cache_boundary_block"] == 2
    assert not direct_metrics["cached"]
    # same batches, same dropout draws, same updates: the cached states differ from the direct
    # ones only by float rounding (other padded lengths give other GEMM blockings, ~1e-7), which
    # three epochs of AdamW carry to ~2e-4 in the weights
    a, b = cached.model.state_dict(), direct.model.state_dict()
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=2e-3, rtol=1e-3, msg=name)
    np.testing.assert_allclose(cached.predict_proba(texts), direct.predict_proba(texts), atol=1e-3)
    # training copies the backbone: the loaded one is unchanged
    torch.testing.assert_close(
        backbone.model.blocks[3].mlp.up.weight, load_backbone(backbone.source).model.blocks[3].mlp.up.weight
    )


def test_llm_classifier_learns_the_toy_task(trained, texts_labels):
    clf, metrics = trained
    texts, labels = texts_labels
    assert clf.score(texts, labels) >= 0.8
    assert [s["groups"] for s in metrics["stages"]] == [1, 2]
    # the trained backbone tensors: blocks 2-3 and the final norm, nothing below
    assert clf.trained and all(
        n.startswith(("backbone.blocks.2.", "backbone.blocks.3.", "backbone.norm")) for n in clf.trained
    )


def test_llm_classifier_save_load_round_trip(trained, texts_labels, tmp_path):
    from safetensors import safe_open

    from textkit.transfer import TextClassifier

    clf, _ = trained
    texts, _ = texts_labels
    folder = clf.save(tmp_path / "clf")
    raw = json.loads((folder / "classifier.json").read_text())
    assert raw["arch"] == "llama" and raw["classes"] == ["neg", "pos"]
    assert len(raw["backbone"]["weights_sha256"]) == 64
    with safe_open(str(folder / "classifier.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert keys == {k for k in clf.model.state_dict() if k.startswith("head.")} | set(clf.trained)
    assert not any(k.startswith(("backbone.embed", "backbone.blocks.0.")) for k in keys)  # referenced, not copied
    expected = clf.predict_proba(texts)
    for loaded in (LLMTextClassifier.load(folder), TextClassifier.load(folder)):  # TextClassifier dispatches on arch
        assert isinstance(loaded, LLMTextClassifier) and loaded.classes == clf.classes
        np.testing.assert_allclose(loaded.predict_proba(texts), expected, atol=1e-6)
        assert list(loaded.predict(texts)) == list(clf.predict(texts))


def test_llm_classifier_load_refuses_another_backbone(trained, tmp_path):
    clf, _ = trained
    folder = clf.save(tmp_path / "clf")
    other = tiny_backbone_folder(tmp_path / "other", seed=1)
    with pytest.raises(ValueError, match="sha256"):
        LLMTextClassifier.load(folder, backbone=other)


def test_llm_classifier_predict_keeps_input_order(trained, texts_labels):
    clf, _ = trained
    texts, _ = texts_labels
    expected = clf.predict_proba(texts, batch_size=48)
    order = np.random.default_rng(1).permutation(len(texts))
    for batch_size in (1, 5, 64):
        shuffled = clf.predict_proba([texts[i] for i in order], batch_size=batch_size)
        np.testing.assert_allclose(shuffled, expected[order], atol=1e-5)
    assert clf.predict_proba([]).shape == (0, 2)
    bf16 = clf.predict_proba(texts, precision="bf16")
    assert np.abs(bf16 - expected).max() < 0.1


def test_llm_classifier_empty_text_policy(trained, backbone, texts_labels):
    clf, _ = trained
    with pytest.raises(ValueError, match=r"texts \[1, 2\] are empty"):
        clf.predict(["a great film", "", "   "])
    proba = clf.predict_proba(["a great film", "", "   "], on_empty="predict")
    assert proba.shape == (3, 2) and np.allclose(proba.sum(1), 1)
    with pytest.raises(TypeError, match="single string"):
        clf.predict("a great film")
    texts, labels = texts_labels
    with pytest.raises(ValueError, match=r"training texts \[0\] are empty"):
        train_llm_classifier(backbone, [" ", *texts[1:]], labels, LLMClassifierSettings(stages=STAGES))


def test_llm_classifier_truncates_and_templates(backbone):
    config = LLMClassifierConfig(n_classes=2, max_tokens=4, template="Review: {text}")
    docs = encode_for_classifier(backbone.tokenizer, ["a very long text " * 10, ""], config)
    assert len(docs[0]) == 4
    assert list(docs[0]) == list(backbone.tokenizer.encode("Review: a very long text ").ids[:4])
    plain = LLMClassifierConfig(n_classes=2)
    assert list(encode_for_classifier(backbone.tokenizer, [""], plain)[0]) == [backbone.tokenizer.special_ids["eos"]]
    with pytest.raises(ValueError, match="template"):
        LLMClassifierConfig(n_classes=2, template="no placeholder")


def test_llm_classifier_settings_round_trip_from_dict():
    settings = llm_settings_from_dict({"stages": [{"groups": 1, "epochs": 2, "lr": 0.01}], "lr_factor": 2.0})
    assert settings.stages == (UnfreezeStage(1, 2, 0.01),) and settings.lr_factor == 2.0
    with pytest.raises(ValueError):
        llm_settings_from_dict({"no_such_option": 1})


@pytest.mark.parametrize("n_classes", [2, 3])
def test_llm_classifier_head_from_a_probe_gives_the_probes_probabilities(backbone, n_classes):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = LlamaClassifier(backbone.model, LLMClassifierConfig(n_classes=n_classes)).eval()
    n_features = model.head[-1].in_features
    rng = np.random.default_rng(0)
    features = rng.normal(3.0, 2.0, size=(120, n_features))
    labels = rng.integers(0, n_classes, size=120)
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(features, labels)
    scaler, lr = probe.named_steps["standardscaler"], probe.named_steps["logisticregression"]
    init_head_from_probe(model, LinearProbe(scaler.mean_, scaler.var_, lr.coef_, lr.intercept_))
    with torch.no_grad():
        ours = torch.softmax(model.head(torch.as_tensor(features, dtype=torch.float32)), dim=-1).numpy()
    np.testing.assert_allclose(ours, probe.predict_proba(features), atol=1e-4)


def test_llm_classifier_head_from_a_probe_refuses_other_shapes(backbone):
    model = LlamaClassifier(backbone.model, LLMClassifierConfig(n_classes=2))
    n = model.head[-1].in_features
    with pytest.raises(ValueError, match="the head needs"):
        init_head_from_probe(model, LinearProbe(np.zeros(n + 1), np.ones(n + 1), np.zeros((1, n + 1)), np.zeros(1)))
