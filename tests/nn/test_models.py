"""AWD-LSTM and GRU language models: shapes, explicit state, every dropout, JSON configs."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from textkit.nn import (
    AWDLSTMConfig,
    AWDLSTMLanguageModel,
    GRUCell,
    GRUConfig,
    GRULanguageModel,
    LockedDropout,
    ScratchGRU,
    config_from_dict,
    config_to_dict,
    embedding_dropout,
    load_config,
    save_config,
)


def test_awd_lstm_forward_shapes_and_explicit_state(tiny_awd_config):
    torch.manual_seed(0)
    model = AWDLSTMLanguageModel(tiny_awd_config).eval()
    x = torch.randint(0, 40, (3, 7))
    logits, state = model(x)
    assert logits.shape == (3, 7, 40)
    assert [h.shape for h, _ in state] == [(1, 3, 12), (1, 3, 8)]
    # feeding in two halves with the carried state equals one pass
    a, s = model(x[:, :4])
    b, _ = model(x[:, 4:], s)
    torch.testing.assert_close(torch.cat([a, b], 1), logits)
    # nothing hidden on the module: the same call twice gives the same answer
    torch.testing.assert_close(model(x)[0], logits)


def test_awd_lstm_weights_are_tied(tiny_awd_config):
    model = AWDLSTMLanguageModel(tiny_awd_config)
    assert model.decoder.weight is model.encoder.embedding.weight
    untied = AWDLSTMLanguageModel(dataclasses.replace(tiny_awd_config, tie_weights=False))
    assert untied.decoder.weight is not untied.encoder.embedding.weight
    assert untied.decoder.weight.shape == (40, 12)


def test_awd_lstm_weight_drop_active_in_train_and_off_in_eval(tiny_awd_config):
    config = dataclasses.replace(tiny_awd_config, embed_p=0, input_p=0, hidden_p=0, output_p=0, weight_p=0.5)
    torch.manual_seed(0)
    model = AWDLSTMLanguageModel(config)
    x = torch.randint(0, 40, (2, 5))
    model.eval()
    e1, e2 = model(x)[0], model(x)[0]
    torch.testing.assert_close(e1, e2)
    model.train()
    t1, t2 = model(x)[0], model(x)[0]
    assert not torch.allclose(t1, t2), "weight drop must draw a fresh mask each training forward"
    assert not torch.allclose(t1, e1)
    # the raw weight is still the module's parameter, untouched, and it receives gradients
    raw = model.encoder.rnns[0].weight_hh_l0
    assert isinstance(raw, torch.nn.Parameter)
    before = raw.detach().clone()
    t1.sum().backward()
    assert raw.grad is not None and raw.grad.abs().sum() > 0
    torch.testing.assert_close(raw.detach(), before)
    # with weight_p=0 training and eval agree exactly (no other dropout is on)
    plain = AWDLSTMLanguageModel(dataclasses.replace(config, weight_p=0.0))
    plain.load_state_dict(model.state_dict())
    torch.testing.assert_close(plain.train()(x)[0], plain.eval()(x)[0])


def test_awd_lstm_weight_drop_equals_lstm_with_dropped_matrix(tiny_awd_config):
    """DropConnect through functional_call == an nn.LSTM whose weight_hh is the dropped copy."""
    config = dataclasses.replace(
        tiny_awd_config, embed_p=0, input_p=0, hidden_p=0, output_p=0, weight_p=0.5, n_layers=1
    )
    model = AWDLSTMLanguageModel(config).train()
    rnn = model.encoder.rnns[0]
    x = torch.randn(2, 6, 8)
    torch.manual_seed(3)
    out, _ = model.encoder._run_rnn(rnn, x, (torch.zeros(1, 2, 8), torch.zeros(1, 2, 8)))
    torch.manual_seed(3)
    dropped = torch.nn.functional.dropout(rnn.weight_hh_l0, 0.5, True)
    ref = torch.nn.LSTM(8, 8, batch_first=True)
    ref.load_state_dict(rnn.state_dict())
    with torch.no_grad():
        ref.weight_hh_l0.copy_(dropped)
    torch.testing.assert_close(out, ref(x)[0])


def test_locked_dropout_mask_is_shared_across_time():
    torch.manual_seed(0)
    drop = LockedDropout(0.5).train()
    y = drop(torch.ones(4, 9, 16))
    zero = y == 0
    assert zero.any() and (~zero).any()
    assert torch.equal(zero, zero[:, :1].expand_as(zero)), "the same units must be dropped at every step"
    assert not torch.equal(zero[0], zero[1]), "each sequence gets its own mask"
    torch.testing.assert_close(y[~zero], torch.full_like(y[~zero], 2.0))
    assert torch.equal(drop.eval()(torch.ones(4, 9, 16)), torch.ones(4, 9, 16))


def test_embedding_dropout_drops_whole_words():
    torch.manual_seed(0)
    weight = torch.randn(50, 6)
    dropped = embedding_dropout(weight, 0.5, training=True)
    rows_zero = (dropped == 0).all(dim=1)
    assert 5 < rows_zero.sum() < 45
    torch.testing.assert_close(dropped[~rows_zero], weight[~rows_zero] * 2)
    assert embedding_dropout(weight, 0.5, training=False) is weight


def test_awd_lstm_embedding_dropout_zeroes_every_occurrence_of_a_word(tiny_awd_config):
    config = dataclasses.replace(tiny_awd_config, embed_p=0.5, input_p=0, hidden_p=0, weight_p=0, output_p=0)
    model = AWDLSTMLanguageModel(config).train()
    seen = []
    handle = model.encoder.input_dropout.register_forward_hook(lambda m, i, o: seen.append(i[0].detach()))
    torch.manual_seed(1)
    x = torch.tensor([[5, 6, 5, 7, 5, 6]])
    model(x)
    handle.remove()
    emb = seen[0][0]  # (T, E)
    zero = (emb == 0).all(dim=1)
    for token in (5, 6, 7):
        positions = x[0] == token
        assert zero[positions].all() or not zero[positions].any()


def test_drop_mult_scales_every_dropout(tiny_awd_config):
    config = dataclasses.replace(tiny_awd_config, drop_mult=0.5)
    model = AWDLSTMLanguageModel(config)
    assert model.encoder.input_dropout.p == pytest.approx(0.3)
    assert model.output_dropout.p == pytest.approx(0.05)
    assert config.p("weight_p") == pytest.approx(0.25)
    off = AWDLSTMLanguageModel(dataclasses.replace(tiny_awd_config, drop_mult=0.0))
    x = torch.randint(0, 40, (2, 5))
    torch.testing.assert_close(off.train()(x)[0], off.eval()(x)[0])


@pytest.mark.parametrize("cls", [AWDLSTMConfig, GRUConfig])
def test_config_round_trips_through_json(cls, tmp_path):
    config = cls(vocab_size=123, emb_size=10, hidden_size=20, n_layers=2, drop_mult=0.7, pad_index=1)
    assert config_from_dict(cls, json.loads(json.dumps(config_to_dict(config)))) == config
    save_config(config, tmp_path / "c.json")
    assert load_config(cls, tmp_path / "c.json") == config


def test_config_unknown_key_is_a_clear_error():
    with pytest.raises(ValueError, match=r"unknown keys \['hiden_size'\].*valid keys"):
        config_from_dict(AWDLSTMConfig, {"vocab_size": 10, "hiden_size": 5})
    with pytest.raises(ValueError, match="missing required keys \\['vocab_size'\\]"):
        config_from_dict(AWDLSTMConfig, {"emb_size": 5, "pad_index": 1})
    with pytest.raises(ValueError, match="must be in \\[0, 1\\)"):
        AWDLSTMConfig(vocab_size=10, input_p=0.6, drop_mult=2.0, pad_index=1)


def test_gru_cell_matches_torch_gru_numerically():
    torch.manual_seed(0)
    ref = torch.nn.GRU(5, 7, num_layers=2, batch_first=True).double()
    scratch = ScratchGRU(5, 7, num_layers=2).double()
    scratch.load_state_dict(ref.state_dict())
    x = torch.randn(3, 11, 5, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2, 3, 7, dtype=torch.float64)
    out_ref, h_ref = ref(x, h0)
    out, h = scratch(x, h0)
    torch.testing.assert_close(out, out_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(h, h_ref, rtol=1e-12, atol=1e-12)
    # gradients agree too
    g_ref = torch.autograd.grad(out_ref.sum(), [x, ref.weight_hh_l0])
    g = torch.autograd.grad(out.sum(), [x, scratch.weight_hh_l0])
    for a, b in zip(g, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_gru_cell_single_step_matches_torch_gru_cell():
    torch.manual_seed(1)
    ref = torch.nn.GRUCell(4, 6)
    cell = GRUCell(4, 6)
    cell.load_state_dict(ref.state_dict())
    x, h = torch.randn(2, 4), torch.randn(2, 6)
    torch.testing.assert_close(cell(x, h), ref(x, h), rtol=1e-6, atol=1e-6)


def test_gru_language_model_fused_and_scratch_agree(tiny_gru_config):
    fused = GRULanguageModel(dataclasses.replace(tiny_gru_config, hidden_p=0.0)).eval()
    scratch = GRULanguageModel(dataclasses.replace(tiny_gru_config, hidden_p=0.0, impl="scratch")).eval()
    scratch.load_state_dict(fused.state_dict())
    x = torch.randint(0, 40, (2, 9))
    a, sa = fused(x)
    b, sb = scratch(x)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(sa, sb, rtol=1e-5, atol=1e-5)
    assert fused.decoder.weight is fused.embedding.weight
    # state carries: two halves equal one pass
    c, s = fused(x[:, :4])
    d, _ = fused(x[:, 4:], s)
    torch.testing.assert_close(torch.cat([c, d], 1), a)


@pytest.mark.parametrize("arch", ["awd_lstm", "gru"])
def test_every_lm_offers_step_with_the_last_positions_logits(arch):
    """``model.step`` is the decoders' one seam (``LanguageModelStep``): last-position logits,
    the state carried, equal to forward's."""
    from textkit.nn.generate import LanguageModelStep
    from textkit.nn.registry import build_language_model

    torch.manual_seed(0)
    model = build_language_model(
        arch, {"vocab_size": 30, "emb_size": 8, "hidden_size": 16, "n_layers": 2, "pad_index": 0}
    ).eval()
    assert isinstance(model, LanguageModelStep)
    x = torch.randint(0, 30, (2, 5))
    with torch.no_grad():
        full, _ = model(x)
    first, state = model.step(x[:, :3], None)
    second, _ = model.step(x[:, 3:], state)
    torch.testing.assert_close(first, full[:, 2], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(second, full[:, -1], atol=1e-5, rtol=1e-5)
