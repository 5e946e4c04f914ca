"""es->en translation side by side: textkit's shipped Transformer (greedy and beam 5) against
Apertium's rule-based spa-eng (the MT system a user would pick instead) and the copy baseline,
on the held-out LibreOffice help pages, the held-out Bible chapters and 418 program messages
outside both domains. One thread for every system; sacreBLEU and chrF with signatures.

    python bench/translation.py                      # full test sets -> bench/results/translation_es_en.json
    python bench/translation.py --quick --out X.json # 8 sentences per set (smoke test)

Apertium is the Debian packages apertium + apertium-eng-spa (a bench peer only, never a textkit
dependency); without it the JSON records {"available": false, "reason": ...} for the peer.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from textkit.reproduce.translation_pretrained import APERTIUM_INSTALL, apertium_available, run_comparison


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="transformer-es-en", help="a shipped model's name or a model folder")
    parser.add_argument("--out", default="bench/results/translation_es_en.json")
    parser.add_argument("--max-sentences", type=int, default=None, help="first N sentences of each test set")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="8 sentences per test set")
    args = parser.parse_args()
    limit = 8 if args.quick else args.max_sentences
    with tempfile.TemporaryDirectory(prefix="textkit-bench-translation-") as work:
        results = run_comparison(args.model, work, max_sentences=limit, beam=args.beam, log=print)
    results["peer"] = (
        {"name": "apertium", "available": True, "version": results["apertium"]}
        if apertium_available()
        else {"name": "apertium", "available": False, "reason": f"not installed ({APERTIUM_INSTALL})"}
    )
    results["config"] = {"quick": args.quick, "max_sentences": limit, "beam": args.beam, "threads": 1}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
