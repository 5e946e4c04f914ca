"""textkit.decode on textkit.nn language models, whose recurrent state is (layers, B, H)."""

import functools

import pytest
import torch

from textkit import decode
from textkit.nn import AWDLSTMConfig, AWDLSTMLanguageModel, GRUConfig, GRULanguageModel


def lm_step(model):
    def step(tokens, state):
        with torch.no_grad():
            return model(tokens, state)[:2]

    return step


@pytest.mark.parametrize("arch", ["gru", "awd_lstm"])
def test_lm_decoding_beam_and_greedy_over_recurrent_state(arch):
    torch.manual_seed(0)
    if arch == "gru":
        model = GRULanguageModel(GRUConfig(vocab_size=30, emb_size=8, hidden_size=12, n_layers=2, pad_index=1)).eval()
    else:
        model = AWDLSTMLanguageModel(
            AWDLSTMConfig(vocab_size=30, emb_size=8, hidden_size=12, n_layers=2, pad_index=1)
        ).eval()
    step = lm_step(model)
    prompts = [[2, 5, 7], [3, 3, 9], [4, 8, 6]]
    greedy = decode.greedy(step, prompts, 10, eos_id=0)
    beam1 = decode.beam_search(
        step, prompts, 10, beam_size=1, eos_id=0, length_norm="none", reorder=decode.reorder_dim1
    )
    assert beam1.to_lists() == [[r] for r in greedy.to_lists()]
    beam = decode.beam_search(
        step, prompts, 10, beam_size=4, num_return=2, eos_id=0, reorder=functools.partial(decode.index_state, dim=1)
    )
    for i, p in enumerate(prompts):
        one = decode.beam_search(step, [p], 10, beam_size=4, num_return=2, eos_id=0, reorder=decode.reorder_dim1)
        assert one.to_lists()[0] == beam.to_lists()[i]
    a = decode.sample(step, prompts, 10, generator=torch.Generator().manual_seed(3), top_k=5, repetition_penalty=1.3)
    b = decode.sample(step, prompts, 10, generator=torch.Generator().manual_seed(3), top_k=5, repetition_penalty=1.3)
    assert torch.equal(a.tokens, b.tokens)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_lm_decoding_on_cuda_matches_cpu():
    torch.manual_seed(0)
    model = GRULanguageModel(GRUConfig(vocab_size=30, emb_size=8, hidden_size=12, n_layers=2, pad_index=1)).eval()
    cpu = decode.beam_search(lm_step(model), [[2, 5]], 8, beam_size=3, eos_id=0, reorder=decode.reorder_dim1)
    gpu_model = model.cuda()
    gpu = decode.beam_search(
        lm_step(gpu_model), torch.tensor([[2, 5]], device="cuda"), 8, beam_size=3, eos_id=0, reorder=decode.reorder_dim1
    )
    assert gpu.to_lists() == cpu.to_lists()
    drawn = decode.sample(
        lm_step(gpu_model),
        torch.tensor([[2, 5]], device="cuda"),
        8,
        generator=torch.Generator(device="cuda").manual_seed(0),
        top_p=0.9,
    )
    assert drawn.tokens.device.type == "cuda"
