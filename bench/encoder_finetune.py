"""Fine-tuning peer: Hugging Face ``BertForSequenceClassification`` from the same all-MiniLM-L6-v2
weights as textkit's ``minilm-l6``, on rotten-tomatoes fold 0 (the split of ``textkit reproduce
ulmfit``), trained by a plain PyTorch loop with textkit's plain full fine-tuning settings
(``textkit.transfer.encoder_classifier.default_settings("full")``): the same epochs, batch
size, peak learning rate, slanted triangular schedule (10% warm-up), AdamW betas and weight
decay, gradient clipping, precision (bf16 autocast where the CPU has bfloat16 instructions)
and torch threads. The batches are the same too: textkit's length-bucketed plan
(``ClassificationBatches``, the same seed), so neither side pads more than the other.

Two measurements:

- **accuracy** (``--accuracy``): the peer trained on the whole training part, scored on the
  test part after every epoch; textkit's figure is the ``--mode full`` run of
  ``python -m textkit.reproduce.ulmfit_encoder`` (same settings, same seed).
- **speed** (``--speed``): training examples/s of both, on the same ``--speed-texts`` texts, one
  epoch each, interleaved ``--repeats`` times (textkit through ``train_encoder_classifier``, its
  ``Trainer`` timing the steps; the peer timed the same way: forward, loss, backward, clip and
  step, excluding evaluation); medians.

Peer environment: ``.venv-bench-encoder`` (see ``bench/encoder_exactness.py``). Run::

    nice -n 10 .venv-bench-encoder/bin/python bench/encoder_finetune.py --speed --accuracy

Writes ``bench/results/encoder_finetune.json`` (``--out`` elsewhere).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from textkit._io import atomic_write_json, versions
from textkit.data.cache import corpus_dir
from textkit.data.encoders import encoder_manifest, pretrained_encoder_folder
from textkit.nn.sentence import load_encoder
from textkit.reproduce.ulmfit import fold_zero_split
from textkit.train.schedules import slanted_triangular_lr
from textkit.transfer.data import ClassificationBatches, LabelEncoder
from textkit.transfer.encoder_classifier import default_settings, train_encoder_classifier
from textkit.transfer.llm_classifier import cpu_supports_bf16

ROOT = Path(__file__).resolve().parents[1]
MODEL = "minilm-l6"


def peer_model(download: Path, n_classes: int, seed: int):
    from transformers import BertForSequenceClassification
    from transformers import logging as hf_logging

    hf_logging.set_verbosity_error()
    torch.manual_seed(seed)
    return BertForSequenceClassification.from_pretrained(str(download), num_labels=n_classes)


def train_peer(
    model, docs, y, settings, epochs: int, lr: float, precision: str, seed: int, valid=None, fused: bool = False
) -> dict:
    """A plain PyTorch loop over textkit's batch plan; returns timings and the per-epoch curve.
    ``fused``: torch's fused AdamW kernel (what textkit's ``optimizer="adamw_fused"`` uses)
    instead of the default per-tensor loop."""
    data = ClassificationBatches(docs, y, settings.batch_size, 0, seed=seed)
    total = data.n_batches() * epochs
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=lr, betas=(0.9, 0.99), eps=1e-8, weight_decay=settings.weight_decay, fused=fused
    )
    step, train_time, curve = 0, 0.0, []
    autocast = (
        torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else torch.autocast("cpu", enabled=False)
    )
    for epoch in range(epochs):
        model.train()
        losses = []
        for batch in data.batches(epoch):
            for group in optimizer.param_groups:
                group["lr"] = slanted_triangular_lr(step, total, lr)
            started = time.perf_counter()
            ids = torch.from_numpy(batch.x)
            mask = (torch.arange(ids.size(1))[None, :] < torch.from_numpy(batch.lengths)[:, None]).long()
            with autocast:
                logits = model(input_ids=ids, attention_mask=mask).logits
            loss = torch.nn.functional.cross_entropy(logits.float(), torch.from_numpy(batch.y))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.clip)
            optimizer.step()
            train_time += time.perf_counter() - started
            losses.append(float(loss.detach()))
            step += 1
        row = {
            "epoch": epoch + 1,
            "train_loss": round(float(np.mean(losses)), 5),
            "train_seconds": round(train_time, 1),
        }
        if valid is not None:
            row["valid_accuracy"] = round(evaluate_peer(model, valid[0], valid[1], precision), 5)
        curve.append(row)
        print(f"  peer epoch {epoch + 1}: {row}", flush=True)
    return {
        "train_seconds": round(train_time, 2),
        "train_examples_per_s": round(len(docs) * epochs / train_time, 2),
        "epochs": curve,
    }


def evaluate_peer(model, docs, y, precision: str) -> float:
    data = ClassificationBatches(docs, y, 64, 0, shuffle=False)
    correct = 0
    autocast = (
        torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else torch.autocast("cpu", enabled=False)
    )
    model.eval()
    with torch.inference_mode(), autocast:
        for batch in data.batches(0):
            ids = torch.from_numpy(batch.x)
            mask = (torch.arange(ids.size(1))[None, :] < torch.from_numpy(batch.lengths)[:, None]).long()
            pred = model(input_ids=ids, attention_mask=mask).logits.float().argmax(-1).numpy()
            correct += int((pred == batch.y).sum())
    return correct / len(docs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", action="store_true", help="(neither flag: both)")
    parser.add_argument("--accuracy", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--speed-texts", type=int, default=640)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="300 training texts, 100 test texts, 64 speed texts")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if not args.speed and not args.accuracy:
        args.speed = args.accuracy = True
    if args.quick:
        args.speed_texts, args.repeats = min(args.speed_texts, 64), 1
    torch.set_num_threads(args.threads)
    settings = default_settings("full")
    stage = settings.stages[-1]
    precision = "bf16" if settings.precision == "auto" and cpu_supports_bf16() else settings.precision
    precision = "fp32" if precision == "auto" else precision
    manifest = encoder_manifest(MODEL)
    pretrained_encoder_folder(MODEL, verbose=True)
    download = corpus_dir(manifest.name)
    peer: dict = {"name": "transformers", "available": True, "model": "BertForSequenceClassification"}
    try:
        from transformers import AutoTokenizer
    except ImportError as exc:
        peer = {"name": "transformers", "available": False, "reason": f"{exc.name or exc} is not installed"}
        print(f"peer not available, textkit side only: {peer['reason']} (see bench/requirements-encoder.txt)")
    split = fold_zero_split(0, {"max_train_docs": 300, "max_test_docs": 100} if args.quick else {})
    train_texts, train_labels, test_texts, test_labels = split[0], split[1], split[2], split[3]
    labels = LabelEncoder.fit(train_labels)
    encoder = load_encoder(MODEL)
    if peer["available"]:
        hf_tokenizer = AutoTokenizer.from_pretrained(str(download))

        def hf_docs(texts):
            ids = hf_tokenizer(list(texts), truncation=True, max_length=512)["input_ids"]
            return [np.asarray(row, dtype=np.int64) for row in ids]

    results: dict = {
        "benchmark": "fine-tuning all-MiniLM-L6-v2 on rotten-tomatoes fold 0: textkit vs transformers",
        "peer": peer,
        "quick": args.quick,
        "settings": {
            "epochs": stage.epochs,
            "lr": stage.lr,
            "batch_size": settings.batch_size,
            "schedule": "slanted triangular (cut_frac 0.1, ratio 32), per step",
            "optimizer": f"AdamW betas (0.9, 0.99), eps 1e-8, weight decay {settings.weight_decay} "
            f"(textkit: {settings.optimizer}; peer: torch default, and fused for the record)",
            "clip": settings.clip,
            "dropout": "0.1 (hidden, attention, head)",
            "precision": precision,
            "threads": args.threads,
            "batches": "textkit's length-bucketed plan (ClassificationBatches), same seed",
            "peer_head": "BertForSequenceClassification: pooler (tanh over [CLS]) -> dropout -> linear",
            "textkit_head": "mean over real positions -> dropout -> linear",
        },
        "seed": args.seed,
        "n_train": len(train_texts),
        "n_test": len(test_texts),
        "command": "nice -n 10 .venv-bench-encoder/bin/python bench/encoder_finetune.py"
        + (" --speed" if args.speed and not args.accuracy else "")
        + (" --accuracy" if args.accuracy and not args.speed else "")
        + (" --quick" if args.quick else ""),
        "versions": versions(("transformers", "tokenizers", "safetensors"), git=True),
    }
    if args.speed:
        rng = np.random.default_rng(args.seed)
        rows = np.sort(rng.choice(len(train_texts), min(args.speed_texts, len(train_texts)), replace=False))
        texts = [train_texts[i] for i in rows]
        y_text = [train_labels[i] for i in rows]
        ours, theirs, theirs_fused = [], [], []
        for r in range(args.repeats):
            clf = train_encoder_classifier(
                texts, y_text, model=encoder, seed=args.seed, mode="full", epochs=1, quiet=True, log=None
            )
            ours.append(clf.info["train_examples_per_s"])
            if peer["available"]:
                net = peer_model(download, len(labels.classes), args.seed)
                run = train_peer(
                    net, hf_docs(texts), labels.encode(y_text), settings, 1, stage.lr, precision, args.seed
                )
                theirs.append(run["train_examples_per_s"])
                net = peer_model(download, len(labels.classes), args.seed)
                run = train_peer(
                    net, hf_docs(texts), labels.encode(y_text), settings, 1, stage.lr, precision, args.seed, fused=True
                )
                theirs_fused.append(run["train_examples_per_s"])
            print(f"speed repeat {r + 1}: textkit {ours[-1]:.1f}, peer {theirs[-1] if theirs else '-'} examples/s")
        ratio = round(statistics.median(ours) / statistics.median(theirs), 3) if theirs else None
        results["speed"] = {
            "texts": len(texts),
            "textkit_examples_per_s": ours,
            "peer_examples_per_s": theirs or None,
            "textkit_median": statistics.median(ours),
            "peer_median": statistics.median(theirs) if theirs else None,
            "ratio_median": ratio,
            "goal >= 1.2x": None if ratio is None else ratio >= 1.2,
            "peer_fused_adamw_examples_per_s": theirs_fused or None,
            "peer_fused_adamw_median": statistics.median(theirs_fused) if theirs_fused else None,
            "ratio_to_peer_fused_adamw_median": round(statistics.median(ours) / statistics.median(theirs_fused), 3)
            if theirs_fused
            else None,
            "note": "textkit trains with AdamW in torch's fused kernel (optimizer='adamw_fused'); the peer's plain "
            "loop uses torch's default AdamW, as a plain loop (or HF Trainer's adamw_torch) does; the peer with fused "
            "AdamW is measured too, so the share of the gain that is the optimizer kernel is visible",
        }
    if args.accuracy and peer["available"]:
        wall, cpu = time.perf_counter(), time.process_time()
        net = peer_model(download, len(labels.classes), args.seed)
        run = train_peer(
            net,
            hf_docs(train_texts),
            labels.encode(train_labels),
            settings,
            stage.epochs,
            stage.lr,
            precision,
            args.seed,
            valid=(hf_docs(test_texts), labels.encode(test_labels)),
        )
        run["accuracy"] = run["epochs"][-1]["valid_accuracy"]
        run["wall_seconds"] = round(time.perf_counter() - wall, 1)
        run["cpu_seconds"] = round(time.process_time() - cpu, 1)
        results["peer_accuracy"] = run
    out = (
        Path(args.out)
        if args.out
        else ROOT / "bench" / "results" / ("encoder_finetune_quick.json" if args.quick else "encoder_finetune.json")
    )
    atomic_write_json(out, results)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
