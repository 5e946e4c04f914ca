"""Ship a trained es->en translation run as models/transformer-es-en/ with its card.

    python tools/ship_translation.py RUN_FOLDER [--name transformer-es-en] [--max-sentences N]

1. exports RUN_FOLDER/best (bf16 weights, tokenizer, manifest with every file's sha256);
2. scores the exported files with bench/translation.py's comparison (textkit greedy and beam 5,
   Apertium spa-eng, the copy baseline; one thread) and writes bench/results/translation_es_en.json;
3. records the scores in the manifest and writes models/<name>.md, the card.

A retrained model is committed only when it is better on the validation sets: compare the
manifest's valid loss (training.valid_loss) before replacing a shipped one.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = [
    {
        "corpus": "libreoffice-help-es-en",
        "licence": "MPL-2.0",
        "what": "LibreOffice 7.4 help paragraphs (Debian), whole pages held out",
    },
    {
        "corpus": "bible-es-en",
        "licence": "public domain",
        "what": "Reina-Valera 1909 -> King James verses, whole chapters held out",
    },
]
DESCRIPTION = (
    "textkit's shipped Spanish->English Transformer, trained from scratch on a 2-core CPU on the training "
    "splits of two corpora with one joint SentencePiece unigram vocabulary of 8,000 pieces: LibreOffice help "
    "and the Bible. It is a small model for those two domains; on other text it is weak (see the out-of-domain "
    "row). Load it by name: `textkit translate transformer-es-en --data F` or "
    '`textkit.recipes.translation.translate(texts, "transformer-es-en")`.'
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--name", default="transformer-es-en")
    parser.add_argument("--max-sentences", type=int, default=None)
    parser.add_argument(
        "--hardware", default="2-core Intel Xeon (shared with other work), 1 torch thread, bf16 autocast"
    )
    args = parser.parse_args()

    from textkit._io import read_json
    from textkit.data.parallel_text import clean_pairs, load_parallel
    from textkit.recipes.translation_export import export_translation, record_metrics, translation_card

    run_config = read_json(args.run / "run_config.json", "run config")
    best = read_json(args.run / "best" / "training.json", "best weights facts")
    history = read_json(args.run / "history.json", "history") if (args.run / "history.json").exists() else None
    data = [{**row, "pairs": len(clean_pairs(load_parallel(row["corpus"], "train"))[0])} for row in DATA]
    training = {
        "steps": f"{best['step']:,} (the weights with the best validation loss; validation every "
        f"{run_config['config']['eval_every']} steps)",
        "target_tokens_seen": f"{best['tokens_seen']:,}",
        "train_time": f"{best['train_seconds'] / 3600:.2f} h of training steps",
        "hardware": args.hardware,
        "valid_loss": round(best["valid_loss"], 4),
        "schedule": f"inverse square root, warm-up {run_config['config']['warmup_steps']} steps, "
        f"peak lr {run_config['config']['lr']}, AdamW (0.9, 0.98), label smoothing "
        f"{run_config['config']['label_smoothing']}",
        "batch": f"{run_config['config']['max_tokens']:,} padded tokens",
        "seed": run_config["config"]["seed"],
        "machine": platform.machine(),
        "warm_restart": "textkit translate train --corpus libreoffice-help-es-en --corpus bible-es-en "
        f"--init-from {args.name} --out runs/continue",
    }
    if history:
        training["validations"] = len(history)
    manifest = export_translation(args.run / "best", args.name, ROOT / "models", training=training, data=data)
    out = ROOT / "bench" / "results" / "translation_es_en.json"
    command = [sys.executable, str(ROOT / "bench" / "translation.py"), "--model", args.name, "--out", str(out)]
    if args.max_sentences:
        command += ["--max-sentences", str(args.max_sentences)]
    subprocess.run(command, check=True, cwd=ROOT)
    results = json.loads(out.read_text(encoding="utf-8"))
    metrics = {
        f"{name} test ({results['sentences'][name]} sentences)": rows for name, rows in results["metrics"].items()
    }
    metrics["signature"] = results["signatures"]["bleu"]
    metrics["artifact"] = "bench/results/translation_es_en.json"
    manifest = record_metrics(ROOT / "models" / args.name, metrics)
    notes = (
        "Scores are sacreBLEU corpus BLEU and chrF of the stored bf16 weights on detokenized text "
        "(`bench/results/translation_es_en.json`); sentences/s is wall time at one thread, Apertium included. "
        "The copy baseline outputs the Spanish source: many LibreOffice help paragraphs are code, names or "
        "numbers left untranslated, which is why copying scores well there. The out-of-domain set is "
        "`gnu-messages-es-en`: 418 program messages from the Spanish gettext catalogs of GNU coreutils, tar, grep, "
        "findutils, diffutils, gawk and apt."
    )
    (ROOT / "models" / f"{args.name}.md").write_text(
        translation_card(manifest, description=DESCRIPTION, notes=notes), encoding="utf-8"
    )
    print(f"shipped {args.name}: {sum(manifest['sizes'].values()):,} bytes")


if __name__ == "__main__":
    main()
