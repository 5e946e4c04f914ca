"""The task protocol: a task computes, the trainer owns the state; one evaluation loop."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from textkit.train import StepContext, Task, TaskOutput, Trainer, evaluate


@dataclass
class _Batch:
    x: np.ndarray
    y: np.ndarray


class _Stream:
    def __init__(self, x, y, batch_size):
        self.x, self.y, self.batch_size = x, y, batch_size

    def n_batches(self, epoch: int) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def batches(self, epoch: int, start: int = 0):
        for i in range(start * self.batch_size, len(self.x), self.batch_size):
            yield _Batch(self.x[i : i + self.batch_size], self.y[i : i + self.batch_size])


class _RegressionTask:
    """A task written against the protocol only: mean squared error of a linear model."""

    def reset(self) -> None:
        pass

    def train_step(self, model, batch, context: StepContext) -> TaskOutput:
        x, y = torch.from_numpy(batch.x).to(context.device), torch.from_numpy(batch.y).to(context.device)
        pred = model(x).squeeze(-1)
        return TaskOutput(F.mse_loss(pred, y), pred=pred, target=y)

    def eval_step(self, model, batch, device, carry):
        x, y = torch.from_numpy(batch.x), torch.from_numpy(batch.y)
        carry = (carry or 0) + 1  # counts batches: carry flows from one batch to the next
        return {
            "sse": float(((model(x).squeeze(-1) - y) ** 2).sum()),
            "count": len(y),
            "batches": 1.0 if carry else 0.0,
        }, carry

    def metrics(self, sums):
        return {"valid_loss": sums["sse"] / sums["count"], "batches": sums["batches"]}

    def state_dict(self):
        return {}, {}

    def load_state_dict(self, meta, tensors, device) -> None:
        pass


def _data(seed=0, n=50):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    return x, (x @ np.array([1.0, -2.0, 0.5], dtype=np.float32)).astype(np.float32)


def test_tasks_evaluate_sums_batches_like_one_pass():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    x, y = _data()
    task: Task = _RegressionTask()
    metrics = evaluate(model, task, _Stream(x, y, batch_size=7), torch.device("cpu"))
    with torch.no_grad():
        expected = float(((model(torch.from_numpy(x)).squeeze(-1) - torch.from_numpy(y)) ** 2).mean())
    assert metrics["valid_loss"] == pytest.approx(expected, rel=1e-5)
    assert metrics["batches"] == 8  # ceil(50 / 7)
    assert model.training  # evaluate restores the mode


def test_tasks_trainer_owns_outputs_of_a_protocol_task():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    x, y = _data()
    seen = []

    class _Spy:
        order = 50
        during_lr_find = False

        def after_loss(self, trainer):
            seen.append((trainer.pred.shape, trainer.target.shape, trainer.loss.item()))

    trainer = Trainer(
        model, _RegressionTask(), _Stream(x, y, 10), _Stream(*_data(1), 10), lr=0.1, device="cpu", callbacks=[_Spy()]
    )
    before = trainer.validate()["valid_loss"]
    trainer.fit(epochs=5)
    assert trainer.validate()["valid_loss"] < before / 10
    assert seen and seen[0][:2] == (torch.Size([10]), torch.Size([10]))
