"""Write `models/awd_lstm-en.md`, the shipped AWD-LSTM's model card, from its manifest.

    .venv/bin/python tools/awd_lstm_en_card.py [MODEL_DIR] [CARD]

Steps, tokens, time, perplexities and sha256 come from `MODEL_DIR/manifest.json` (written by
`textkit lm export`); the data table (words and licence of each en-mix part, counted when the
corpus was built) and the reproduce notes are kept here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from textkit.recipes.pretrained import model_card

folder = Path(sys.argv[1] if len(sys.argv) > 1 else "models/awd_lstm-en")
card = Path(sys.argv[2] if len(sys.argv) > 2 else "models/awd_lstm-en.md")
manifest = json.loads((folder / "manifest.json").read_text())
recipe = json.loads(Path("models/awd_lstm-en.json").read_text())
rows = [
    ("brown (all 500 files)", "1,161,192", "non-commercial research", "1961 American English, 15 genres"),
    ("bbc-news (2,225 articles)", "854,490", "non-commercial research (BBC)", "news 2004-5"),
    ("sotu (233 addresses)", "1,794,884", "public domain; dataset CC0", "State of the Union 1790-2021"),
    ("wiki-summaries, en (9,997 articles)", "775,848", "CC BY-SA 4.0", "Wikipedia lead sections, vital articles"),
    ("bible-web (half of the chapters)", "478,950", "public domain", "World English Bible, modern English"),
    (
        "treasury-of-david (half of the psalms)",
        "1,095,369",
        "public domain",
        "Spurgeon's commentary, 19th-century prose",
    ),
    (
        "**en-mix** (documents split 96/2/2 by hash)",
        "**6,160,733**",
        "mixed",
        "7,349,847 training tokens (textkit word tokens)",
    ),
]
notes = (
    "Not in the training data: `news-articles-2017` (licence unclear), GCIDE and WordNet glosses (added as corpora "
    "later in the same session, after this run had started), rotten-tomatoes and IMDb (the evaluation tasks).\n\n"
    "## Reproduce\n\n```\n"
    "textkit lm pretrain --config awd_lstm-en --out runs/awd_lstm-en-fwd  # builds the 16k vocabulary\n"
    "textkit lm pretrain --config awd_lstm-en --out runs/awd_lstm-en-bwd --backwards --pipeline runs/awd_lstm-en-fwd\n"
    "# second cycle, from the first run's weights (a fresh one-cycle schedule, another data order)\n"
    "textkit lm pretrain --config awd_lstm-en --out runs/awd_lstm-en-fwd-2 --init-from runs/awd_lstm-en-fwd --lr 0.0025 --seed 1 --max-steps 4000\n"  # noqa: E501 - one command line in the card
    "textkit lm pretrain --config awd_lstm-en --out runs/awd_lstm-en-bwd-2 --init-from runs/awd_lstm-en-bwd --lr 0.0025 --seed 1 --max-steps 4000 --backwards\n"  # noqa: E501 - one command line in the card
    "textkit lm export --forward runs/awd_lstm-en-fwd-2 --backward runs/awd_lstm-en-bwd-2 --name awd_lstm-en --to models\n```\n\n"  # noqa: E501 - one command line in the card
    "(The first run built the vocabulary once into a pipeline folder and gave it to both directions with `--pipeline`; "
    "the second cycle takes it from the first run's folder. Both directions ran side by side, one torch thread each, "
    "with bf16 autocast, on a 2-core CPU shared with other work, in two sessions.)\n\n"
    "## Use\n\n```python\nfrom textkit.transfer import load_pretrained\n"
    'bundle = load_pretrained("awd_lstm-en", direction="forward")  # every file checked against its sha256 first\n```\n\n'  # noqa: E501 - one command line in the card
    "`textkit reproduce ulmfit` starts from it by default."
)
card.write_text(model_card(manifest, recipe, data_rows=rows, notes=notes))
