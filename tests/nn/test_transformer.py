"""TransformerSeq2Seq: KV-cache decoding equals the full forward, padding changes nothing."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from textkit import decode
from textkit.nn.config import config_from_dict, config_to_dict
from textkit.nn.seq2seq import count_parameters
from textkit.nn.transformer import TransformerConfig, TransformerSeq2Seq
from textkit.recipes.translation import translate_ids

PAD = 3


def tiny(**overrides) -> TransformerSeq2Seq:
    torch.manual_seed(0)
    config = TransformerConfig(
        src_vocab_size=30,
        tgt_vocab_size=25,
        d_model=16,
        n_heads=2,
        n_encoder_layers=2,
        n_decoder_layers=2,
        d_ff=32,
        dropout=0.0,
        max_len=40,
        pad_index=PAD,
        **overrides,
    )
    return TransformerSeq2Seq(config).eval()


def batch(seed=0, b=3, s=7, t=6, vocab=25):
    gen = torch.Generator().manual_seed(seed)
    src = torch.randint(4, 30, (b, s), generator=gen)
    tgt = torch.randint(4, vocab, (b, t), generator=gen)
    return src, tgt


@pytest.mark.parametrize("overrides", [{}, {"positions": "learned"}, {"tie_embeddings": False}])
def test_transformer_incremental_kv_cache_equals_full_forward(overrides):
    model = tiny(**overrides)
    src, tgt = batch()
    with torch.no_grad():
        full = model(src, tgt)  # (B, T, V)
        state = model.encode(src)
        pieces = []
        for i in range(tgt.size(1)):
            logits, state = model.step(tgt[:, i : i + 1], state)
            pieces.append(logits)
        torch.testing.assert_close(torch.cat(pieces, 1), full, atol=1e-5, rtol=1e-5)
        # a multi-token chunk after a cached prefix uses an offset causal mask
        state = model.encode(src)
        a, state = model.step(tgt[:, :2], state)
        b, state = model.step(tgt[:, 2:5], state)
        c, state = model.step(tgt[:, 5:], state)
        torch.testing.assert_close(torch.cat([a, b, c], 1), full, atol=1e-5, rtol=1e-5)
        assert state["pos"] == tgt.size(1) and state["self_k"][0].shape == (3, 2, 6, 8)


def test_transformer_source_padding_does_not_change_outputs():
    model = tiny()
    src, tgt = batch(b=2, s=9)
    short = src[:1, :4]
    padded = src.clone()
    padded[0, 4:] = PAD  # row 0 is the short sentence padded to the batch width
    with torch.no_grad():
        alone = model(short, tgt[:1])
        together = model(padded, tgt)
    torch.testing.assert_close(together[:1], alone, atol=1e-5, rtol=1e-5)


def test_transformer_target_padding_does_not_change_earlier_positions():
    model = tiny()
    src, tgt = batch(b=1)
    longer = torch.cat([tgt, torch.full((1, 4), PAD)], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(model(src, longer)[:, : tgt.size(1)], model(src, tgt), atol=1e-5, rtol=1e-5)


def test_transformer_attention_weights_ignore_padding():
    model = tiny()
    src, tgt = batch(b=2)
    src[1, 5:] = PAD
    with torch.no_grad():
        logits, attn = model(src, tgt, return_attention=True)
    assert attn.shape == (2, 6, 7)
    torch.testing.assert_close(attn.sum(-1), torch.ones(2, 6))
    assert attn[1, :, 5:].abs().max() == 0


def test_transformer_shared_and_tied_embeddings():
    shared = tiny(share_embeddings=False, tie_embeddings=True)
    assert shared.head.weight is shared.tgt_embed.weight
    joint = TransformerSeq2Seq(dataclasses.replace(shared.config, src_vocab_size=25, share_embeddings=True))
    assert joint.src_embed is joint.tgt_embed and joint.head.weight is joint.src_embed.weight
    assert count_parameters(joint) < count_parameters(shared)
    with pytest.raises(ValueError, match="joint vocabulary"):
        TransformerConfig(src_vocab_size=30, tgt_vocab_size=25, share_embeddings=True, pad_index=3)


def test_transformer_config_round_trips_json():
    config = tiny(positions="learned").config
    assert config_from_dict(TransformerConfig, config_to_dict(config)) == config
    with pytest.raises(ValueError, match="positions"):
        TransformerConfig(src_vocab_size=5, tgt_vocab_size=5, positions="rotary", pad_index=3)


def test_transformer_too_long_raises_and_translate_truncates_with_warning():
    model = tiny()
    with pytest.raises(ValueError, match="max_len"):
        model(torch.randint(4, 30, (1, 41)), torch.randint(4, 25, (1, 3)))
    with pytest.warns(UserWarning, match="truncated"):
        out = translate_ids(model, [list(range(4, 30)) * 3], bos_id=1, eos_id=2, pad_id=PAD, max_new_tokens=5)
    assert len(out) == 1 and len(out[0]) <= 5


def test_transformer_empty_source_has_a_defined_translation_and_all_pad_rows_raise():
    model = tiny()
    out = translate_ids(model, [[], [5, 6, 7]], bos_id=1, eos_id=2, pad_id=PAD, max_new_tokens=4)
    assert len(out) == 2 and all(isinstance(t, list) and len(t) <= 4 for t in out)
    with pytest.raises(ValueError, match="all padding"):
        model.encode(torch.full((1, 3), PAD))


def test_transformer_greedy_and_beam_through_decode_match_the_model():
    model = tiny()
    src, _ = batch(b=3)
    bos = torch.full((3, 1), 1)
    with torch.no_grad():
        g = decode.greedy(model.step, bos, 8, state=model.encode(src), eos_id=2)
        # greedy tokens are the argmax of the teacher-forced forward on its own output
        tokens = torch.cat([bos, g.tokens], 1)
        ok = (g.lengths == 8).all()  # no EOS in the tiny random model: every row runs to the end
        if ok:
            assert torch.equal(model(src, tokens[:, :-1]).argmax(-1), g.tokens)
        b1 = decode.beam_search(model.step, bos, 8, beam_size=1, eos_id=2, state=model.encode(src), length_norm="none")
        assert b1.to_lists() == [[r] for r in g.to_lists()]
        b4 = decode.beam_search(
            model.step, bos, 8, beam_size=4, eos_id=2, state=model.encode(src), length_norm="none", early_stopping=False
        )
        assert (b4.raw_scores[:, 0] >= g.scores - 1e-4).all()
        one = decode.beam_search(
            model.step,
            bos[:1],
            8,
            beam_size=4,
            eos_id=2,
            state=model.encode(src[:1]),
            length_norm="none",
            early_stopping=False,
        )
        assert one.to_lists()[0] == b4.to_lists()[0]


@pytest.mark.slow
def test_transformer_learns_to_copy():
    torch.manual_seed(0)
    config = TransformerConfig(
        src_vocab_size=14,
        tgt_vocab_size=14,
        d_model=32,
        n_heads=4,
        n_encoder_layers=1,
        n_decoder_layers=1,
        d_ff=64,
        dropout=0.0,
        max_len=16,
        pad_index=PAD,
        share_embeddings=True,
    )
    model = TransformerSeq2Seq(config)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(250):
        seq = torch.randint(4, 14, (32, 5), generator=gen)
        src = torch.cat([seq, torch.full((32, 1), 2)], 1)
        tgt_in = torch.cat([torch.full((32, 1), 1), seq], 1)
        tgt_out = torch.cat([seq, torch.full((32, 1), 2)], 1)
        loss = torch.nn.functional.cross_entropy(model(src, tgt_in).reshape(-1, 14), tgt_out.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    tests = torch.randint(4, 14, (8, 5), generator=gen).tolist()
    assert translate_ids(model, tests, bos_id=1, eos_id=2, pad_id=PAD, beam_size=3) == tests


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_transformer_on_cuda_matches_cpu_and_runs_under_autocast():
    model = tiny()
    src, tgt = batch()
    with torch.no_grad():
        cpu = model(src, tgt)
        gpu_model = model.cuda()
        torch.testing.assert_close(gpu_model(src.cuda(), tgt.cuda()).cpu(), cpu, atol=1e-4, rtol=1e-4)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            assert torch.isfinite(gpu_model(src.cuda(), tgt.cuda()).float()).all()
    assert translate_ids(
        gpu_model, src.tolist(), bos_id=1, eos_id=2, pad_id=PAD, beam_size=2, max_new_tokens=5
    ) == translate_ids(model.cpu(), src.tolist(), bos_id=1, eos_id=2, pad_id=PAD, beam_size=2, max_new_tokens=5)
