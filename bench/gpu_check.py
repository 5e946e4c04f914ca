"""One script for a lent GPU machine (under ~5 minutes).

1. runs the `gpu`-marked tests (AMP, grad scaler, CPU/GPU agreement, checkpoints);
2. checks that CPU and GPU losses agree on a tiny seeded AWD-LSTM (fp32) and reports the
   bf16/fp16 autocast loss next to them;
3. measures training tokens/s on the `awd_lstm-base` size (400/1152/3, all dropouts and
   weight drop on the fused kernel, AR/TAR, clipping) in fp32 and with AMP, through
   textkit's Trainer, on random tokens with a 60k vocabulary.

Writes JSON to $OUT/gpu_check.json when $OUT is set, else bench/results/gpu_check.json.

    python bench/gpu_check.py [--steps 30] [--skip-tests]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class RandomStream:
    """`batches(epoch, start)` of random tokens, the shape of LMStream batches."""

    def __init__(self, vocab, bs, bptt, n):
        self.vocab, self.bs, self.bptt, self.n = vocab, bs, bptt, n

    def n_batches(self, epoch=0):
        return self.n

    def batches(self, epoch, start=0):
        from textkit.data.lm import LMBatch

        rng = np.random.default_rng(epoch)
        for i in range(start, self.n):
            chunk = rng.integers(4, self.vocab, size=(self.bs, self.bptt + 1))
            yield LMBatch(chunk[:, :-1], chunk[:, 1:], epoch, i)


def throughput(precision: str, steps: int, bs: int, bptt: int, vocab: int) -> dict:
    from textkit.nn import AWDLSTMConfig, AWDLSTMLanguageModel
    from textkit.train import (
        Callback,
        GradientClipping,
        LanguageModelTask,
        OneCycle,
        ProgressBar,
        RNNRegularizer,
        Trainer,
    )

    class Timer(Callback):
        def __init__(self):
            self.t = []

        def after_step(self, trainer):
            torch.cuda.synchronize()
            self.t.append(time.perf_counter())

    torch.manual_seed(0)
    model = AWDLSTMLanguageModel(
        AWDLSTMConfig(vocab_size=vocab, emb_size=400, hidden_size=1152, n_layers=3, pad_index=1)
    )
    timer = Timer()
    trainer = Trainer(
        model,
        LanguageModelTask(),
        RandomStream(vocab, bs, bptt, steps),
        None,
        lr=2e-3,
        schedule=OneCycle(),
        device="cuda",
        precision=precision,
        callbacks=[GradientClipping(0.4), RNNRegularizer(), ProgressBar(quiet=True), timer],
    )
    torch.cuda.reset_peak_memory_stats()
    trainer.fit(max_steps=steps)
    warm = 5
    seconds = timer.t[-1] - timer.t[warm - 1]
    return {
        "precision": trainer.precision,
        "tokens_per_s": round((steps - warm) * bs * bptt / seconds, 1),
        "peak_gpu_mem_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
        "final_train_loss": round(trainer.raw_loss, 4),
    }


def agreement() -> dict:
    from textkit.nn import AWDLSTMConfig, AWDLSTMLanguageModel

    torch.manual_seed(0)
    model = AWDLSTMLanguageModel(
        AWDLSTMConfig(vocab_size=1000, emb_size=64, hidden_size=128, n_layers=2, pad_index=1)
    ).eval()
    x, y = torch.randint(0, 1000, (8, 50)), torch.randint(0, 1000, (8, 50))

    def loss(m, a, b, dtype=None):
        with torch.no_grad(), torch.autocast("cuda", dtype=dtype, enabled=dtype is not None):
            logits = m(a)[0]
        return torch.nn.functional.cross_entropy(logits.float().reshape(-1, 1000), b.reshape(-1)).item()

    cpu = loss(model, x, y)
    model.cuda()
    out = {
        "cpu_fp32": cpu,
        "gpu_fp32": loss(model, x.cuda(), y.cuda()),
        "gpu_fp16": loss(model, x.cuda(), y.cuda(), torch.float16),
    }
    if torch.cuda.is_bf16_supported():
        out["gpu_bf16"] = loss(model, x.cuda(), y.cuda(), torch.bfloat16)
    out["fp32_rel_diff"] = abs(out["gpu_fp32"] - cpu) / cpu
    out["fp32_agree_1e-4"] = out["fp32_rel_diff"] < 1e-4
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--bs", type=int, default=64)
    parser.add_argument("--bptt", type=int, default=70)
    parser.add_argument("--vocab", type=int, default=60000)
    parser.add_argument("--skip-tests", action="store_true")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; nothing to check", file=sys.stderr)
        return 2
    result = {
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "bf16_supported": torch.cuda.is_bf16_supported(),
    }
    started = time.time()
    if not args.skip_tests:
        tests = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "tests/train", "tests/nn", "-p", "no:cacheprovider"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=240,
        )
        result["gpu_tests"] = {"returncode": tests.returncode, "tail": tests.stdout[-1500:]}
        print(tests.stdout[-1500:], flush=True)
    result["agreement"] = agreement()
    print(json.dumps(result["agreement"]), flush=True)
    result["awd_lstm_base"] = {"batch_size": args.bs, "bptt": args.bptt, "vocab": args.vocab, "steps": args.steps}
    for precision in ("fp32", "auto"):
        result["awd_lstm_base"][precision] = throughput(precision, args.steps, args.bs, args.bptt, args.vocab)
        print(precision, json.dumps(result["awd_lstm_base"][precision]), flush=True)
    base = result["awd_lstm_base"]
    base["amp_speedup"] = round(base["auto"]["tokens_per_s"] / base["fp32"]["tokens_per_s"], 3)
    result["seconds"] = round(time.time() - started, 1)
    out_dir = Path(os.environ.get("OUT", ROOT / "bench" / "results"))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "gpu_check.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"amp_speedup": base["amp_speedup"], "seconds": result["seconds"]}))
    ok = result["agreement"]["fp32_agree_1e-4"] and result.get("gpu_tests", {}).get("returncode", 0) == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
