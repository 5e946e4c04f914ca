"""Run by test_distributed.py under torchrun (2 CPU processes, gloo) and once on its own
(1 process, the combined batch). Trains a tiny AWD-LSTM for a few steps and writes the
first step's (averaged) gradients and the final weights from rank 0."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from textkit.data.lm import LMStream
from textkit.nn import AWDLSTMConfig, AWDLSTMLanguageModel
from textkit.train import (
    Callback,
    CheckpointEvery,
    GradientClipping,
    LanguageModelTask,
    OneCycle,
    RNNRegularizer,
    Trainer,
)
from textkit.train.distributed import init_distributed

GLOBAL_BATCH = 8


class FirstGrads(Callback):
    order = 100  # after clipping

    def __init__(self):
        self.grads = None

    def after_backward(self, trainer):
        if self.grads is None:
            self.grads = {
                n: p.grad.detach().clone() for n, p in trainer.unwrapped_model.named_parameters() if p.grad is not None
            }


def main(out: Path) -> None:
    torch.set_num_threads(1)
    info = init_distributed()
    rng = np.random.default_rng(0)
    docs = [rng.integers(2, 40, size=int(n)) for n in rng.integers(20, 60, size=40)]
    # dropout off: the test compares against one process, whose masks would differ
    torch.manual_seed(0)
    model = AWDLSTMLanguageModel(
        AWDLSTMConfig(vocab_size=40, emb_size=8, hidden_size=12, n_layers=2, drop_mult=0.0, pad_index=1)
    )
    bs = GLOBAL_BATCH // info.world_size
    train = LMStream(docs, bs, 8, seed=1, rank=info.rank, world_size=info.world_size)
    valid = LMStream(
        docs[:6], 4 // info.world_size, 8, shuffle=False, random_bptt=False, rank=info.rank, world_size=info.world_size
    )
    grads = FirstGrads()
    trainer = Trainer(
        model,
        LanguageModelTask(),
        train,
        valid,
        lr=1e-2,
        schedule=OneCycle(),
        device="cpu",
        seed=0,
        callbacks=[
            GradientClipping(1.0),
            RNNRegularizer(2.0, 1.0),
            grads,
            CheckpointEvery(out / f"ckpt-{info.world_size}", every_steps=3),
        ],
    )
    trainer.fit(max_steps=6)
    if info.is_main:
        save_file(
            {k: v.contiguous() for k, v in grads.grads.items()}, str(out / f"grads-{info.world_size}.safetensors")
        )
        weights = {k: v.detach().contiguous() for k, v in model.state_dict().items() if k != "decoder.weight"}
        save_file(weights, str(out / f"weights-{info.world_size}.safetensors"))
        (out / f"valid-{info.world_size}.txt").write_text(repr(trainer.history[-1]["valid_loss"]))
    (out / f"rank-{info.rank}-of-{info.world_size}.done").write_text(str(trainer.dist))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
