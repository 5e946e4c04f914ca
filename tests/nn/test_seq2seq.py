"""GRU encoder-decoders: padding, step == forward, attention weights, scheduled teacher forcing,
and training through textkit.train.Trainer."""

from __future__ import annotations

import pytest
import torch

from textkit import decode
from textkit.nn.config import config_from_dict, config_to_dict
from textkit.nn.seq2seq import (
    Seq2SeqAttention,
    Seq2SeqAttentionConfig,
    Seq2SeqGRU,
    Seq2SeqGRUConfig,
    scheduled_logits,
)
from textkit.nn.transformer import TransformerConfig, TransformerSeq2Seq
from textkit.recipes.translation import translate_ids

PAD = 3


def make(kind: str, n_layers: int = 2):
    torch.manual_seed(0)
    common = dict(
        src_vocab_size=30,
        tgt_vocab_size=25,
        emb_size=8,
        hidden_size=12,
        n_layers=n_layers,
        dropout=0.0,
        max_len=40,
        pad_index=PAD,
    )
    if kind == "gru":
        return Seq2SeqGRU(Seq2SeqGRUConfig(**common)).eval()
    return Seq2SeqAttention(Seq2SeqAttentionConfig(attention=kind, **common)).eval()


KINDS = ["gru", "luong", "bahdanau"]


def batch(b=3, s=7, t=6):
    gen = torch.Generator().manual_seed(1)
    return torch.randint(4, 30, (b, s), generator=gen), torch.randint(4, 25, (b, t), generator=gen)


@pytest.mark.parametrize("kind", KINDS)
def test_seq2seq_step_by_step_equals_forward(kind):
    model = make(kind)
    src, tgt = batch()
    with torch.no_grad():
        full = model(src, tgt)
        state = model.encode(src)
        pieces = []
        for i in range(tgt.size(1)):
            logits, state = model.step(tgt[:, i : i + 1], state)
            pieces.append(logits)
    torch.testing.assert_close(torch.cat(pieces, 1), full, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_seq2seq_source_padding_does_not_change_outputs(kind):
    model = make(kind)
    src, tgt = batch(b=2, s=9)
    padded = src.clone()
    padded[0, 4:] = PAD
    with torch.no_grad():
        alone = model(src[:1, :4], tgt[:1])
        together = model(padded, tgt)
    torch.testing.assert_close(together[:1], alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", ["luong", "bahdanau"])
def test_seq2seq_attention_weights_sum_to_one_and_skip_padding(kind):
    model = make(kind)
    src, tgt = batch(b=2)
    src[1, 4:] = PAD
    with torch.no_grad():
        logits, weights = model(src, tgt, return_attention=True)
    assert logits.shape == (2, 6, 25) and weights.shape == (2, 6, 7)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 6))
    assert weights[1, :, 4:].abs().max() == 0


@pytest.mark.parametrize("kind", KINDS)
def test_seq2seq_scheduled_teacher_forcing_extremes(kind):
    model = make(kind)
    src, tgt = batch()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        torch.testing.assert_close(scheduled_logits(model, src, tgt, 1.0, gen), model(src, tgt))
        free = scheduled_logits(model, src, tgt, 0.0, gen)
        # ratio 0 feeds the model's own argmax: exactly greedy decoding from BOS = tgt[:, 0]
        g = decode.greedy(model.step, tgt[:, :1], tgt.size(1), state=model.encode(src))
        assert torch.equal(free.argmax(-1), g.tokens)
    with pytest.raises(ValueError, match="teacher_forcing"):
        scheduled_logits(model, src, tgt, 1.5, gen)


@pytest.mark.parametrize("kind", KINDS)
def test_seq2seq_beam_one_equals_greedy_and_batched_equals_single(kind):
    model = make(kind)
    src, _ = batch()
    src[2, 3:] = PAD
    bos = torch.full((3, 1), 1)
    with torch.no_grad():
        g = decode.greedy(model.step, bos, 7, state=model.encode(src), eos_id=2)
        b1 = decode.beam_search(model.step, bos, 7, beam_size=1, eos_id=2, state=model.encode(src), length_norm="none")
        assert b1.to_lists() == [[r] for r in g.to_lists()]
        b3 = decode.beam_search(model.step, bos, 7, beam_size=3, eos_id=2, state=model.encode(src))
        single = decode.beam_search(model.step, bos[2:], 7, beam_size=3, eos_id=2, state=model.encode(src[2:, :3]))
        assert single.to_lists()[0] == b3.to_lists()[2]


def test_seq2seq_configs_round_trip_and_validate():
    for kind in KINDS:
        config = make(kind).config
        assert config_from_dict(type(config), config_to_dict(config)) == config
    with pytest.raises(ValueError, match="attention"):
        Seq2SeqAttentionConfig(src_vocab_size=5, tgt_vocab_size=5, attention="dot", pad_index=3)


def test_seq2seq_empty_source_translates_and_all_pad_row_raises():
    model = make("luong")
    out = translate_ids(model, [[], [5, 6]], bos_id=1, eos_id=2, pad_id=PAD, max_new_tokens=4, beam_size=2)
    assert len(out) == 2 and all(len(o) <= 4 for o in out)
    with pytest.raises(ValueError, match="all padding"):
        model.encode(torch.full((1, 2), PAD))


@pytest.mark.slow
def test_seq2seq_attention_learns_to_reverse_with_the_trainer():
    """Seq2SeqTask + textkit.train.Trainer on a reversal task with scheduled teacher forcing."""
    from textkit.data.parallel_text import ParallelBatches, encode_pairs
    from textkit.train.tasks import Seq2SeqTask
    from textkit.train import Trainer

    gen = torch.Generator().manual_seed(0)
    pairs = []
    for _ in range(600):
        seq = torch.randint(4, 12, (int(torch.randint(2, 7, (1,), generator=gen)),), generator=gen).tolist()
        pairs.append((seq, seq[::-1]))
    encoded = encode_pairs(pairs, bos_id=1, eos_id=2)
    train = ParallelBatches(encoded[:500], pad_id=PAD, max_tokens=400, shuffle=True, seed=0)
    valid = ParallelBatches(encoded[500:], pad_id=PAD, max_tokens=400, shuffle=False)
    torch.manual_seed(0)
    model = Seq2SeqAttention(
        Seq2SeqAttentionConfig(
            src_vocab_size=12, tgt_vocab_size=12, emb_size=16, hidden_size=32, dropout=0.0, pad_index=PAD
        )
    )
    trainer = Trainer(model, Seq2SeqTask(PAD, teacher_forcing=(1.0, 0.7)), train, valid, lr=1e-2, device="cpu", seed=0)
    history = trainer.fit(epochs=12)
    assert history[-1]["valid_loss"] < 0.5 * history[0]["valid_loss"]
    sources = [p[0] for p in pairs[500:520]]
    hyps = translate_ids(model, sources, bos_id=1, eos_id=2, pad_id=PAD, beam_size=3)
    assert sum(h == s[::-1] for h, s in zip(hyps, sources, strict=True)) >= 15


@pytest.mark.parametrize("kind", ["gru", "bahdanau", "transformer"])
def test_seq2seq_training_resumes_bit_identically(kind, tmp_path):
    """Straight N steps versus k steps, a checkpoint, and a new trainer resuming: identical
    weights, with scheduled teacher forcing (its sampling generator is part of the state)."""
    from textkit.data.parallel_text import ParallelBatches, encode_pairs
    from textkit.train.tasks import Seq2SeqTask
    from textkit.train import CheckpointEvery, Trainer

    gen = torch.Generator().manual_seed(1)
    pairs = [
        (s, s[::-1])
        for s in (
            torch.randint(4, 12, (int(n),), generator=gen).tolist() for n in torch.randint(2, 7, (120,), generator=gen)
        )
    ]
    train = ParallelBatches(encode_pairs(pairs, bos_id=1, eos_id=2), pad_id=PAD, max_tokens=120, shuffle=True, seed=0)

    def trainer(callbacks=()):
        torch.manual_seed(0)
        common = dict(src_vocab_size=12, tgt_vocab_size=12, max_len=40, pad_index=PAD, dropout=0.2)
        if kind == "transformer":  # dropout on, so the resumed RNG state matters
            model = TransformerSeq2Seq(
                TransformerConfig(d_model=16, n_heads=2, n_encoder_layers=1, n_decoder_layers=1, d_ff=32, **common)
            )
            task = Seq2SeqTask(PAD, label_smoothing=0.1)
        else:
            model = (
                Seq2SeqGRU(Seq2SeqGRUConfig(emb_size=8, hidden_size=12, n_layers=2, **common))
                if kind == "gru"
                else Seq2SeqAttention(
                    Seq2SeqAttentionConfig(attention=kind, emb_size=8, hidden_size=12, n_layers=2, **common)
                )
            )
            task = Seq2SeqTask(PAD, teacher_forcing=(1.0, 0.5), label_smoothing=0.1)
        return Trainer(model, task, train, lr=5e-3, device="cpu", seed=0, callbacks=list(callbacks))

    n_steps, k = 14, 6
    straight = trainer()
    straight.fit(epochs=3, max_steps=n_steps)
    trainer([CheckpointEvery(tmp_path / "c")]).fit(epochs=3, max_steps=n_steps, stop_at=k)
    resumed = trainer()
    resumed.fit(epochs=3, max_steps=n_steps, resume=tmp_path / "c")
    assert resumed.step == n_steps
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
