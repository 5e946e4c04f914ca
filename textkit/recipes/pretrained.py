"""Turning trained LM folders into a shipped pretrained model (``models/<name>/``).

``export_pretrained({"forward": run_fwd, "backward": run_bwd}, "awd_lstm-en", "models")``
copies each direction's config, tokenizer and vocabulary, stores the weights in bf16 (half the
bytes; loading casts back to float32), measures the *stored* weights' perplexity on the
corpus's valid and test splits, and writes ``manifest.json`` with the sha256 of every file and
``<name>.md``, the model card. ``textkit lm export`` is the command for it.
"""

from __future__ import annotations

import json
import platform
import shutil
from pathlib import Path

import torch

from textkit._io import atomic_write_json, sha256_file, versions

# what a word-level model folder holds; a SentencePiece one adds spm.model
SHIPPED_FILES = ("config.json", "model.safetensors", "tokenizer.json", "vocab.json")
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": None}


def export_pretrained(runs: dict[str, str | Path], name: str, out_root: str | Path, dtype: str = "bf16") -> dict:
    """Write ``out_root/name/{direction}/`` for each trained run, plus the manifest and card.
    Returns the manifest."""
    from textkit.nn.serialization import load_language_model
    from textkit.recipes.language_model import evaluate_language_model, training_chain

    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    if not runs or set(runs) - {"forward", "backward"}:
        raise ValueError(f"runs must map 'forward' and/or 'backward' to LM folders, got {sorted(runs)}")
    root = Path(out_root) / name
    directions, pipelines = {}, []
    for direction, run in runs.items():
        run = Path(run)
        bundle = load_language_model(run)
        saved = bundle.config.get("data", {})
        if bool(saved.get("backwards", False)) != (direction == "backward"):
            raise ValueError(
                f"{run} was trained with backwards={saved.get('backwards', False)}; it cannot be the {direction} model"
            )
        pipelines.append(tuple(bundle.pipeline.itos))
        target = root / direction
        if target.exists():
            shutil.rmtree(target)
        # the run's metrics describe the fp32 weights; the manifest records the stored ones
        config = {k: v for k, v in bundle.config.items() if k not in ("arch", "model")}
        bundle.save(target, dtype=DTYPES[dtype])  # a fresh folder: config, weights, tokenizer, vocab (+ spm.model)
        files = sorted(p.name for p in target.iterdir())
        evaluation = {split: evaluate_language_model(target, split=split, device="cpu") for split in ("valid", "test")}
        train_metrics = config.get("metrics", {})
        directions[direction] = {
            "files": {rel: sha256_file(target / rel) for rel in files},
            "bytes": sum((target / rel).stat().st_size for rel in files),
            "sizes": {rel: (target / rel).stat().st_size for rel in files},
            "stored_dtype": dtype,
            "perplexity": {split: round(m["perplexity"], 3) for split, m in evaluation.items()},
            "loss": {split: round(m["loss"], 5) for split, m in evaluation.items()},
            "tokens": {split: m["tokens"] for split, m in evaluation.items()},
            "fp32_perplexity": {
                "valid": train_metrics.get("valid_perplexity"),
                "test": train_metrics.get("test_perplexity"),
            },
            "training": {
                k: train_metrics.get(k)
                for k in (
                    "steps",
                    "epochs",
                    "train_tokens_per_s",
                    "train_time_s",
                    "wall_time_s",
                    "device",
                    "precision",
                    "processes",
                )
            },
            "recipe": config.get("recipe"),
            "effective_train": config.get("effective_train"),
            # every training run behind these weights, first first (more than one after --init-from)
            "runs": [_run_summary(run) for run in training_chain(config)],
        }
    if len(set(pipelines)) > 1:
        raise ValueError(
            "the runs use different vocabularies; a backward model must share its forward twin's (lm pretrain "
            "--pipeline)"
        )
    manifest = {
        "name": name,
        "format_version": 1,
        "arch": "awd_lstm",
        "card": f"{name}.md",
        "directions": directions,
        "exported_with": versions(),
        "machine": platform.processor() or platform.machine(),
    }
    atomic_write_json(root / "manifest.json", manifest)
    return manifest


def _run_summary(run: dict) -> dict:
    metrics, train = run["metrics"], run["effective_train"]
    summary = {k: metrics.get(k) for k in ("steps", "epochs", "train_time_s", "train_tokens_per_s", "precision")}
    summary.update({k: train.get(k) for k in ("lr", "batch_size", "bptt", "seed")})
    summary["tokens_seen"] = (metrics.get("steps") or 0) * (train.get("batch_size") or 0) * (train.get("bptt") or 0)
    summary["valid_perplexity"] = metrics.get("valid_perplexity")
    return summary


def _training_totals(facts: dict) -> dict:
    """Steps, epochs, tokens seen and training time summed over a direction's runs."""
    runs = facts["runs"]
    return {
        "steps": " + ".join(f"{run['steps']:,}" for run in runs),
        "epochs": round(sum(run["epochs"] for run in runs), 3),
        "tokens_seen": sum(run["tokens_seen"] for run in runs),
        "train_time_s": sum(run["train_time_s"] for run in runs),
    }


def model_card(manifest: dict, recipe: dict, *, data_rows: list[tuple[str, str, str, str]], notes: str = "") -> str:
    """The model card (markdown) of a shipped model, from its manifest and recipe: data,
    steps, tokens seen, hardware, time, perplexities of the stored weights and the sha256 of
    every file. ``data_rows``: (part, words, licence, what) per training-data part."""
    lines = [f"# {manifest['name']}", "", recipe.get("description", ""), ""]
    lines += ["## Data", "", "| part | words | licence | what |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in data_rows]
    lines += [
        "",
        f"Architecture `{recipe['arch']}` with `{json.dumps(recipe['model'])}`; "
        f"tokenizer `{json.dumps(recipe['tokenizer'])}`.",
        "",
    ]
    lines += [
        "## Training and metrics",
        "",
        "| direction | steps | epochs | tokens seen | tokens/s | train time | device, precision "
        "| valid ppl | test ppl | fp32 valid / test ppl |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for direction, facts in manifest["directions"].items():
        train = facts["training"]
        totals = _training_totals(facts)
        fp32 = facts["fp32_perplexity"]
        lines.append(
            f"| {direction} | {totals['steps']} | {totals['epochs']} | ~{totals['tokens_seen'] / 1e6:.1f}M "
            f"| {train['train_tokens_per_s']:,} | {totals['train_time_s'] / 3600:.2f} h "
            f"| {train['device']}, {train['precision']} | {facts['perplexity']['valid']:.2f} | "
            f"{facts['perplexity']['test']:.2f} | {fp32['valid']:.2f} / {fp32['test']:.2f} |"
        )
    lines += [
        "",
        "Perplexities are per textkit word token (case and repetition markers included) of the stored "
        f"{next(iter(manifest['directions'].values()))['stored_dtype']} weights on the corpus's held-out documents; "
        "the last column is the float32 weights at the end of training. "
        "Tokens seen = steps x batch x bptt (approximate: "
        "BPTT lengths vary around bptt). Steps, epochs, tokens and time are summed over the training runs "
        "(a second run started from the first's weights with `lm pretrain --init-from`); tokens/s is the last run's.",
        "",
    ]
    chained = {d: f["runs"] for d, f in manifest["directions"].items() if len(f.get("runs") or []) > 1}
    if chained:
        lines += ["### Training runs", "", "| direction | run | steps | peak lr | seed | valid ppl at its end |"]
        lines += ["|---|---|---|---|---|---|"]
        for direction, runs in chained.items():
            for i, run in enumerate(runs, 1):
                ppl = "–" if run["valid_perplexity"] is None else f"{run['valid_perplexity']:.2f}"
                lines.append(f"| {direction} | {i} | {run['steps']:,} | {run['lr']} | {run['seed']} | {ppl} |")
        lines += ["", "Each run's valid perplexity is of its float32 weights at its own end.", ""]
    lines += ["## Files", "", "| file | bytes | sha256 |", "|---|---|---|"]
    for direction, facts in manifest["directions"].items():
        for rel, digest in facts["files"].items():
            lines.append(f"| {direction}/{rel} | {facts.get('sizes', {}).get(rel, 0):,} | `{digest}` |")
    lines += ["", f"Exported with {json.dumps(manifest['exported_with'])} on {manifest['machine']}.", ""]
    if notes:
        lines += [notes, ""]
    return "\n".join(lines)


__all__ = ["SHIPPED_FILES", "export_pretrained", "model_card"]
