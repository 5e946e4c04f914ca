"""Turning a trained translation model folder into a shipped model (``models/<name>/``).

``export_translation(run / "best", "transformer-es-en", "models")`` stores the weights in bf16
(half the bytes; loading casts back to float32), copies the tokenizer and writes
``manifest.json`` (kind ``translation``, the sha256 and size of every file, the training facts
of the run) for ``textkit.data.pretrained`` to verify on every load. ``translation_card``
renders the model card from the manifest once the scores are in it.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import torch

from textkit._io import atomic_folder, atomic_write_json, read_json, sha256_file, versions


def export_translation(best: str | Path, name: str, out_root: str | Path, *, training: dict, data: list[dict]) -> dict:
    """Write ``out_root/name/`` (replacing a previous export atomically) and its manifest; returns it.
    ``training``: steps, tokens, time, hardware of the run; ``data``: one row per training corpus."""
    from textkit.nn.serialization import load_translation_model, save_translation_model, save_weights

    bundle = load_translation_model(best)
    if bundle.target_tokenizer is not bundle.source_tokenizer:
        raise ValueError(f"{best}: a shipped translation model needs one joint vocabulary")
    target = Path(out_root) / name
    with atomic_folder(target) as staging:
        save_translation_model(bundle.model, staging, source_tokenizer=bundle.source_tokenizer)
        save_weights(bundle.model, staging / "model.safetensors", dtype=torch.bfloat16)
        files = sorted(str(p.relative_to(staging)) for p in staging.rglob("*") if p.is_file())
        manifest = {
            "name": name,
            "format_version": 1,
            "kind": "translation",
            "task": "translation es->en",
            "arch": "transformer",
            "card": f"{name}.md",
            "licence": "MPL-2.0 (LibreOffice help) and public domain (Bible) training data; weights Apache-2.0",
            "files": {rel: sha256_file(staging / rel) for rel in files},
            "sizes": {rel: (staging / rel).stat().st_size for rel in files},
            "stored_dtype": "bf16",
            "model": bundle.config["model"],
            "training": training,
            "data": data,
            "metrics": {},
            "load": [
                "from textkit.recipes.translation import translate",
                f'translate(["Haga clic en Aceptar."], "{name}")',
                f"textkit translate {name} --data sources.txt --out english.txt",
                f"textkit reproduce translation --pretrained {name} --out runs/{name}",
            ],
            "exported_with": versions(),
            "machine": platform.processor() or platform.machine(),
        }
        atomic_write_json(staging / "manifest.json", manifest)
    return manifest


def record_metrics(folder: str | Path, metrics: dict) -> dict:
    """Add scores to a shipped model's manifest (the manifest is not among the verified files)."""
    path = Path(folder) / "manifest.json"
    manifest = read_json(path, "shipped model manifest")
    manifest["metrics"] = metrics
    atomic_write_json(path, manifest)
    return manifest


def translation_card(manifest: dict, *, description: str, notes: str = "") -> str:
    """The model card (markdown): data, steps, tokens, hardware, time, scores and every file's sha256."""
    training = manifest["training"]
    lines = [f"# {manifest['name']}", "", description, "", "## Data", ""]
    lines += ["| corpus | training pairs | licence | what |", "|---|---|---|---|"]
    lines += [f"| {d['corpus']} | {d['pairs']:,} | {d['licence']} | {d['what']} |" for d in manifest["data"]]
    lines += ["", f"Architecture `transformer` with `{json.dumps(manifest['model'])}`.", "", "## Training", ""]
    lines += ["| what | value |", "|---|---|"]
    lines += [f"| {key.replace('_', ' ')} | {value} |" for key, value in training.items()]
    lines += ["", "## Scores", ""]
    for section, rows in manifest.get("metrics", {}).items():
        if not isinstance(rows, dict) or not rows:
            continue
        first = next(iter(rows.values()))
        if not isinstance(first, dict):
            continue
        lines += [f"### {section}", "", "| system | BLEU | chrF | sentences/s (1 thread) |", "|---|---|---|---|"]
        for system, row in rows.items():
            speed = f"{row['sentences_per_s']:.1f}" if row.get("sentences_per_s") else "-"
            lines.append(f"| {system} | {row['bleu']:.2f} | {row['chrf']:.2f} | {speed} |")
        lines.append("")
    if manifest.get("metrics", {}).get("signature"):
        lines += [f"sacreBLEU signature: `{manifest['metrics']['signature']}`", ""]
    lines += ["## Files", "", "| file | bytes | sha256 |", "|---|---|---|"]
    for rel, digest in manifest["files"].items():
        lines.append(f"| {rel} | {manifest['sizes'][rel]:,} | `{digest}` |")
    lines += ["", f"Exported with {json.dumps(manifest['exported_with'])} on {manifest['machine']}.", ""]
    if notes:
        lines += [notes, ""]
    return "\n".join(lines)


__all__ = ["export_translation", "record_metrics", "translation_card"]
