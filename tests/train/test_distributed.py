"""DDP on 2 CPU processes (torchrun, gloo) matches one process on the combined batch."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

WORKER = Path(__file__).with_name("ddp_worker.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
    }
    env.update(OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    return env


@pytest.mark.slow
def test_distributed_two_processes_match_one_process_on_the_combined_batch(tmp_path):
    port = _free_port()
    torchrun = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--nnodes",
        "1",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(port),
    ]
    ddp = subprocess.run(
        [*torchrun, str(WORKER), str(tmp_path)], capture_output=True, text=True, env=_env(), timeout=240
    )
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    single = subprocess.run(
        [sys.executable, str(WORKER), str(tmp_path)], capture_output=True, text=True, env=_env(), timeout=240
    )
    assert single.returncode == 0, single.stderr[-3000:]

    assert (tmp_path / "rank-0-of-2.done").exists() and (tmp_path / "rank-1-of-2.done").exists()
    grads_2, grads_1 = (
        load_file(str(tmp_path / "grads-2.safetensors")),
        load_file(str(tmp_path / "grads-1.safetensors")),
    )
    assert set(grads_2) == set(grads_1) and len(grads_1) > 5
    for name in grads_1:
        torch.testing.assert_close(
            grads_2[name], grads_1[name], rtol=1e-4, atol=1e-6, msg=f"averaged gradient of {name}"
        )
    weights_2, weights_1 = (
        load_file(str(tmp_path / "weights-2.safetensors")),
        load_file(str(tmp_path / "weights-1.safetensors")),
    )
    for name in weights_1:
        torch.testing.assert_close(
            weights_2[name], weights_1[name], rtol=1e-4, atol=1e-5, msg=f"weights of {name} after 6 steps"
        )
    # validation is all-reduced over both shards: the same number as one process
    assert float((tmp_path / "valid-2.txt").read_text()) == pytest.approx(
        float((tmp_path / "valid-1.txt").read_text()), rel=1e-5
    )
    # only rank 0 wrote checkpoints, and they load
    from textkit.train import read_checkpoint

    assert read_checkpoint(tmp_path / "ckpt-2")["trainer_state"]["step"] == 6
