"""CUDA paths: AMP (bf16 where supported, else fp16 with a grad scaler), CPU/GPU agreement.
Skipped when no CUDA device is present (run them with bench/gpu_check.py on a GPU machine)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def _loss(model, x, y):
    logits, _ = model(x)
    return torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1))


def test_gpu_and_cpu_losses_agree_on_a_tiny_seeded_model():
    from textkit.nn import AWDLSTMConfig, AWDLSTMLanguageModel

    torch.manual_seed(0)
    model = AWDLSTMLanguageModel(
        AWDLSTMConfig(vocab_size=50, emb_size=16, hidden_size=32, n_layers=2, pad_index=1)
    ).eval()
    x, y = torch.randint(0, 50, (4, 12)), torch.randint(0, 50, (4, 12))
    cpu = _loss(model, x, y).item()
    gpu = _loss(model.cuda(), x.cuda(), y.cuda()).item()
    assert gpu == pytest.approx(cpu, rel=1e-4)


@pytest.mark.parametrize("precision", ["auto", "fp16", "fp32"])
def test_gpu_trainer_amp_trains(make_trainer, precision):
    trainer = make_trainer(device="cuda", precision=precision, lr=1e-2)
    assert trainer.device.type == "cuda"
    if precision == "fp16":
        assert trainer.scaler is not None
    if precision == "auto":
        assert trainer.precision == ("bf16" if torch.cuda.is_bf16_supported() else "fp16")
    before = {k: v.detach().clone() for k, v in trainer.unwrapped_model.state_dict().items()}
    history = trainer.fit(epochs=1, max_steps=20)
    assert all(torch.isfinite(torch.tensor(r["valid_loss"])) for r in history)
    changed = [k for k, v in trainer.unwrapped_model.state_dict().items() if not torch.equal(v, before[k])]
    assert changed


def test_gpu_checkpoint_resumes_on_gpu_and_loads_on_cpu(make_trainer, tmp_path):
    from textkit.train import CheckpointEvery, read_checkpoint

    trainer = make_trainer(device="cuda", precision="fp16", callbacks=[CheckpointEvery(tmp_path / "c", every_steps=5)])
    trainer.fit(max_steps=8, stop_at=5)  # resuming needs the same plan (the schedule depends on it)
    resumed = make_trainer(device="cuda", precision="fp16")
    resumed.fit(max_steps=8, resume=tmp_path / "c")
    assert resumed.step == 8
    data = read_checkpoint(tmp_path / "c")
    assert all(t.device.type == "cpu" for t in data["model"].values())


def test_gpu_weight_drop_keeps_the_fused_kernel_on_cuda():
    from textkit.nn import AWDLSTMConfig, AWDLSTMLanguageModel

    config = AWDLSTMConfig(vocab_size=50, emb_size=16, hidden_size=32, n_layers=2, pad_index=1)
    model = AWDLSTMLanguageModel(dataclasses.replace(config)).cuda().train()
    x = torch.randint(0, 50, (4, 12), device="cuda")
    a, b = model(x)[0], model(x)[0]
    assert not torch.allclose(a, b)
    model.eval()
    torch.testing.assert_close(model(x)[0], model(x)[0])
