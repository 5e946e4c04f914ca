"""The trainer: events, exact resume, checkpoint errors, NaN stop, callbacks, history, LR finder."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch

from textkit.train import (
    EVENTS,
    Callback,
    CheckpointError,
    CheckpointEvery,
    EarlyStopping,
    GradientClipping,
    HistoryWriter,
    NonFiniteLossError,
    ProgressBar,
    RNNRegularizer,
    SlantedTriangular,
    discriminative_lrs,
    lr_find,
    read_checkpoint,
    resolve_device,
    resolve_precision,
)


def _weights(trainer):
    return {k: v.detach().clone() for k, v in trainer.unwrapped_model.state_dict().items()}


class Recorder(Callback):
    def __init__(self):
        self.events = []

    def __getattr__(self, name):
        if name in EVENTS:
            return lambda trainer: self.events.append(name)
        raise AttributeError(name)


class StopAt(Callback):
    """Simulates a crash (e.g. the machine going away) after a given step."""

    def __init__(self, step):
        self.at = step

    def after_batch(self, trainer):
        if trainer.step == self.at:
            raise KeyboardInterrupt


def test_trainer_events_fire_in_order(make_trainer):
    recorder = Recorder()
    trainer = make_trainer(callbacks=[recorder])
    trainer.fit(epochs=1, max_steps=2)
    assert recorder.events == [
        "before_fit",
        "before_epoch",
        "before_batch",
        "after_loss",
        "after_backward",
        "after_step",
        "after_batch",
        "before_batch",
        "after_loss",
        "after_backward",
        "after_step",
        "after_batch",
        "after_validate",
        "after_fit",
    ]


def test_trainer_resume_is_bit_identical_on_cpu(make_trainer, tmp_path):
    """Train N steps straight; separately train, crash after step 13, resume from the last
    checkpoint (step 10) and finish: the weights are bit-identical. The run crosses an epoch
    boundary, uses every dropout, random BPTT, AR/TAR, clipping and one-cycle."""
    n_steps = 30
    straight = make_trainer(batch_size=8)
    assert 13 < straight.train_data.n_batches(0) < n_steps  # the resumed part crosses an epoch
    straight.fit(epochs=3, max_steps=n_steps)
    expected = _weights(straight)

    crashed = make_trainer(batch_size=8, callbacks=[CheckpointEvery(tmp_path / "ckpt", every_steps=5), StopAt(13)])
    with pytest.raises(KeyboardInterrupt):
        crashed.fit(epochs=3, max_steps=n_steps)
    assert json.loads((tmp_path / "ckpt" / "latest.json").read_text())["step"] == 10

    resumed = make_trainer(batch_size=8, model_seed=123, callbacks=[CheckpointEvery(tmp_path / "ckpt", every_steps=5)])
    resumed.fit(epochs=3, max_steps=n_steps, resume=tmp_path / "ckpt")
    assert resumed.step == n_steps
    got = _weights(resumed)
    for name in expected:
        assert torch.equal(got[name], expected[name]), f"{name} differs after resume"
    assert [r["step"] for r in resumed.history] == [r["step"] for r in straight.history]
    assert resumed.history[-1]["valid_loss"] == straight.history[-1]["valid_loss"]


def test_trainer_resume_from_each_checkpoint_including_epoch_end(make_trainer, tmp_path):
    straight = make_trainer()
    n = straight.train_data.n_batches(0)  # a checkpoint exactly at the epoch end
    straight.fit(epochs=2)
    expected = _weights(straight)
    first = make_trainer(callbacks=[CheckpointEvery(tmp_path / "c", every_steps=n, keep_last=5), StopAt(n + 1)])
    with pytest.raises(KeyboardInterrupt):
        first.fit(epochs=2)
    second = make_trainer()
    second.fit(epochs=2, resume=tmp_path / "c" / f"step-{n:08d}")
    for name, tensor in _weights(second).items():
        assert torch.equal(tensor, expected[name])


def test_trainer_corrupted_checkpoint_is_a_clear_error(make_trainer, tmp_path):
    trainer = make_trainer(callbacks=[CheckpointEvery(tmp_path / "c", every_steps=3)])
    trainer.fit(max_steps=3)
    folder = tmp_path / "c" / "step-00000003"
    read_checkpoint(folder)  # intact

    truncated = tmp_path / "truncated"
    shutil.copytree(folder, truncated)
    data = (truncated / "model.safetensors").read_bytes()
    (truncated / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="model.safetensors does not match its sha256"):
        make_trainer().fit(max_steps=5, resume=truncated)

    flipped = tmp_path / "flipped"
    shutil.copytree(folder, flipped)
    raw = bytearray((flipped / "optimizer.pt").read_bytes())
    raw[-10] ^= 0xFF
    (flipped / "optimizer.pt").write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="optimizer.pt"):
        make_trainer().fit(max_steps=5, resume=flipped)

    incomplete = tmp_path / "incomplete"
    shutil.copytree(folder, incomplete)
    (incomplete / "manifest.json").unlink()
    with pytest.raises(CheckpointError, match="incomplete"):
        make_trainer().fit(max_steps=5, resume=incomplete)

    missing = tmp_path / "missing"
    shutil.copytree(folder, missing)
    (missing / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="missing model.safetensors"):
        make_trainer().fit(max_steps=5, resume=missing)

    with pytest.raises(CheckpointError, match="does not exist"):
        make_trainer().fit(max_steps=5, resume=tmp_path / "nowhere")


def test_trainer_checkpoint_from_another_vocabulary_is_rejected(make_trainer, tmp_path):
    from textkit.nn import AWDLSTMConfig

    make_trainer(callbacks=[CheckpointEvery(tmp_path / "c", every_steps=2)]).fit(max_steps=2)
    other = make_trainer(config=AWDLSTMConfig(vocab_size=41, emb_size=8, hidden_size=12, n_layers=2, pad_index=1))
    with pytest.raises(CheckpointError, match="vocabulary"):
        other.fit(max_steps=4, resume=tmp_path / "c")


class PoisonLoss(Callback):
    def __init__(self, step):
        self.at = step

    def after_loss(self, trainer):
        if trainer.step + 1 == self.at:
            trainer.loss = trainer.loss * float("nan")


def test_trainer_nan_loss_stops_and_keeps_the_last_good_checkpoint(make_trainer, tmp_path):
    trainer = make_trainer(callbacks=[PoisonLoss(8), CheckpointEvery(tmp_path / "c", every_steps=5)])
    with pytest.raises(NonFiniteLossError, match=r"nan at step 8.*step-00000005"):
        trainer.fit(max_steps=20)
    assert trainer.step == 7
    data = read_checkpoint(tmp_path / "c")
    assert data["trainer_state"]["step"] == 5
    assert all(torch.isfinite(t).all() for t in data["model"].values())


@pytest.mark.slow
def test_trainer_history_files_and_quiet_mode(make_trainer, tmp_path, capsys):
    trainer = make_trainer(callbacks=[HistoryWriter(tmp_path / "run")], eval_every=10)
    history = trainer.fit(epochs=2)
    assert capsys.readouterr().out == "" and capsys.readouterr().err == ""
    saved = json.loads((tmp_path / "run" / "history.json").read_text())
    assert saved == json.loads(json.dumps(history))
    lines = (tmp_path / "run" / "history.csv").read_text().splitlines()
    assert lines[0].startswith("step,epoch,train_loss,valid_loss,accuracy,perplexity")
    assert len(lines) == len(history) + 1
    assert (tmp_path / "run" / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for row in history:
        assert row["perplexity"] == pytest.approx(math.exp(row["valid_loss"]))
        assert 0 <= row["accuracy"] <= 1
    steps = [r["step"] for r in history]
    assert steps == sorted(steps) and 10 in steps


def test_trainer_progress_bar_writes_when_not_quiet(make_trainer, capsys):
    trainer = make_trainer(callbacks=[ProgressBar(quiet=False)])
    trainer.callbacks = [c for c in trainer.callbacks if not (isinstance(c, ProgressBar) and c.quiet)]
    trainer.fit(max_steps=3)
    captured = capsys.readouterr()
    assert "valid_loss=" in captured.out + captured.err


def test_trainer_learns_a_repeating_sequence(make_trainer):
    """Sanity: on a periodic stream the validation loss falls far below uniform (log 40)."""
    from textkit.data.lm import LMStream
    from textkit.nn import AWDLSTMConfig

    trainer = make_trainer(
        config=AWDLSTMConfig(vocab_size=40, emb_size=16, hidden_size=32, n_layers=2, drop_mult=0.2, pad_index=1),
        lr=1e-2,
    )
    cycle = np.tile(np.arange(2, 12), 200)
    trainer.train_data = LMStream([cycle], batch_size=4, bptt=10, seed=0)
    trainer.valid_data = LMStream([cycle[:400]], batch_size=2, bptt=10, shuffle=False, random_bptt=False)
    trainer.fit(epochs=3)
    assert trainer.history[-1]["valid_loss"] < 0.5 * math.log(40)
    assert trainer.history[-1]["accuracy"] > 0.5


def test_trainer_early_stopping(make_trainer):
    stopper = EarlyStopping(patience=2)
    trainer = make_trainer(callbacks=[stopper], lr=0.0, eval_every=2)
    trainer.fit(epochs=5)
    assert trainer.stop_reason is not None and "early stopping" in trainer.stop_reason
    assert trainer.step == 6  # validations at 2 (best), 4, 6 -> stop
    assert stopper.wait == 2


def test_trainer_param_groups_keep_discriminative_ratios_under_a_schedule(make_trainer):
    class Spy(Callback):
        def __init__(self):
            self.lrs = []

        def after_step(self, trainer):
            self.lrs.append(trainer.lrs)

    spy = Spy()
    trainer = make_trainer(callbacks=[spy], schedule=SlantedTriangular())
    groups = trainer.unwrapped_model.layer_groups()
    lrs = discriminative_lrs(1e-2, len(groups))
    trainer = make_trainer(callbacks=[spy], schedule=SlantedTriangular(), param_groups=groups, lr=lrs)
    trainer.fit(max_steps=10)
    assert len(trainer.opt.param_groups) == 3
    for step_lrs in spy.lrs:
        assert np.allclose(np.array(step_lrs) / step_lrs[-1], np.array(lrs) / lrs[-1])
    assert max(s[-1] for s in spy.lrs) == pytest.approx(1e-2)


def test_trainer_sgd_momentum_follows_one_cycle(make_trainer):
    class Spy(Callback):
        moms: list = []

        def before_batch(self, trainer):
            self.moms.append(trainer.opt.param_groups[0]["momentum"])

    spy = Spy()
    trainer = make_trainer(callbacks=[spy], optimizer="sgd", lr=0.5)
    trainer.fit(max_steps=20)
    assert spy.moms[0] == pytest.approx(0.95)
    assert min(spy.moms) < 0.87


def test_adamw_weight_decay_is_decoupled(make_trainer):
    """With lr > 0 and zero gradients, AdamW only shrinks weights by lr * wd."""
    trainer = make_trainer(weight_decay=0.1, lr=0.5)
    param = trainer.opt.param_groups[0]["params"][0]
    before = param.detach().clone()
    param.grad = torch.zeros_like(param)
    for group in trainer.opt.param_groups:
        group["lr"] = 0.5
    trainer.opt.step()
    torch.testing.assert_close(param.detach(), before * (1 - 0.5 * 0.1))


def test_gradient_clipping_bounds_the_norm(make_trainer):
    class Check(Callback):
        order = 5
        norms: list = []

        def after_backward(self, trainer):
            grads = [p.grad for p in trainer.model.parameters() if p.grad is not None]
            self.norms.append(float(torch.norm(torch.stack([g.norm() for g in grads]))))

    check = Check()
    trainer = make_trainer(callbacks=[check], lr=1e-2)
    trainer.callbacks = [GradientClipping(0.05), RNNRegularizer(), check]
    trainer.fit(max_steps=5)
    assert max(check.norms) <= 0.05 + 1e-6


def test_rnn_regularizer_adds_ar_and_tar():
    class Fake:
        pass

    trainer = Fake()
    raw = torch.tensor([[[1.0], [3.0], [6.0]]])  # (1, 3, 1)
    dropped = torch.tensor([[[2.0], [0.0], [2.0]]])
    trainer.hidden = (raw, dropped)
    trainer.loss = torch.tensor(1.0)
    RNNRegularizer(alpha=2.0, beta=1.0).after_loss(trainer)
    ar = 2.0 * (4 + 0 + 4) / 3
    tar = 1.0 * (4 + 9) / 2
    assert float(trainer.loss) == pytest.approx(1 + ar + tar)


def test_lr_finder_suggests_a_rate_and_restores_the_model(make_trainer, tmp_path):
    trainer = make_trainer()
    before = _weights(trainer)
    rng = torch.get_rng_state()
    result = lr_find(trainer, start_lr=1e-5, end_lr=10, num_it=40, plot_path=tmp_path / "lr.png")
    assert 1e-5 <= result.suggestion <= 10
    assert len(result.lrs) == len(result.losses) >= 10
    assert np.all(np.diff(result.lrs) > 0)
    assert (tmp_path / "lr.png").read_bytes()[:4] == b"\x89PNG"
    for name, tensor in _weights(trainer).items():
        assert torch.equal(tensor, before[name])
    assert torch.equal(torch.get_rng_state(), rng)


def test_device_and_precision_resolution_on_cpu():
    if not torch.cuda.is_available():
        assert resolve_device("auto").type == "cpu"
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            resolve_device("cuda")
    assert resolve_precision("auto", torch.device("cpu")) == "fp32"
    assert resolve_precision("bf16", torch.device("cpu")) == "bf16"  # opt-in CPU autocast
    with pytest.raises(ValueError, match="needs a CUDA device"):
        resolve_precision("fp16", torch.device("cpu"))
    with pytest.raises(ValueError, match="precision must be"):
        resolve_precision("fp8", torch.device("cpu"))


def test_trainer_bad_arguments(make_trainer):
    with pytest.raises(ValueError, match="unknown optimizer"):
        make_trainer(optimizer="adam")
    with pytest.raises(ValueError, match="epochs"):
        make_trainer().fit(epochs=0)
    with pytest.raises(ValueError, match="learning rates"):
        make_trainer(lr=[1e-3, 1e-3])


def test_trainer_pause_and_resume_is_bit_identical(make_trainer, tmp_path):
    """Train N steps; versus train k steps (stop_at=k), stop, resume in a new trainer and train
    the remaining N - k: identical weights and history."""
    n_steps, k = 30, 11
    straight = make_trainer(batch_size=8)
    straight.fit(epochs=3, max_steps=n_steps)
    paused = make_trainer(batch_size=8, callbacks=[CheckpointEvery(tmp_path / "c")])
    paused.fit(epochs=3, max_steps=n_steps, stop_at=k)
    assert paused.step == k and json.loads((tmp_path / "c" / "latest.json").read_text())["step"] == k
    resumed = make_trainer(batch_size=8, model_seed=7)
    resumed.fit(epochs=3, max_steps=n_steps, resume=tmp_path / "c")
    for name, tensor in _weights(straight).items():
        assert torch.equal(_weights(resumed)[name], tensor), name

    def timeless(history):
        return [{k: v for k, v in row.items() if k not in ("time", "tokens_per_s")} for row in history]

    assert len(straight.history) >= 2 and timeless(resumed.history) == timeless(straight.history)
    # resuming with a different plan would silently change the schedule: refused
    with pytest.raises(CheckpointError, match="planned for 30 steps"):
        make_trainer(batch_size=8).fit(epochs=3, max_steps=20, resume=tmp_path / "c")


def test_trainer_gru_language_model_resumes_bit_identically(tmp_path):
    """The GRU's state is one (L, B, H) tensor, not LSTM (h, c) pairs: the carried state still
    round-trips through the checkpoint."""
    from textkit.data.lm import LMStream
    from textkit.nn import GRUConfig, GRULanguageModel
    from textkit.train import LanguageModelTask, OneCycle, Trainer

    from .conftest import tiny_docs

    def make(callbacks=()):
        torch.manual_seed(0)
        model = GRULanguageModel(GRUConfig(vocab_size=40, emb_size=8, hidden_size=12, n_layers=2, pad_index=1))
        return Trainer(
            model,
            LanguageModelTask(),
            LMStream(tiny_docs(), 8, 8, seed=1),
            None,
            lr=3e-3,
            schedule=OneCycle(),
            device="cpu",
            callbacks=[GradientClipping(0.4), RNNRegularizer(), ProgressBar(quiet=True), *callbacks],
        )

    straight = make()
    straight.fit(max_steps=12)
    make([CheckpointEvery(tmp_path / "c")]).fit(max_steps=12, stop_at=5)
    resumed = make()
    resumed.fit(max_steps=12, resume=tmp_path / "c")
    for name, tensor in _weights(straight).items():
        assert torch.equal(_weights(resumed)[name], tensor), name
