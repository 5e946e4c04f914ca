"""A corpus summary: counts, vocabulary size and top tokens (the first thing to look at)."""

from __future__ import annotations

from collections import Counter

from textkit.text.special import SPECIAL_TOKENS
from textkit.text.tokenizer import Tokenizer
from textkit.text.vocab import Vocab


def summarize(records: list[dict], tokenizer: Tokenizer | None = None, top: int = 20, n_workers: int = 1) -> dict:
    """Tokenize ``records`` (``text`` or ``source``/``target`` fields) and count."""
    tokenizer = tokenizer or Tokenizer()
    field = "text" if records and "text" in records[0] else "source"
    texts = [r[field] for r in records]
    token_lists = tokenizer.tokenize_many(texts, n_workers=n_workers)
    vocab = Vocab.build(token_lists)
    counts = vocab.counts or Counter()
    labels = Counter(r["label"] for r in records if r.get("label") is not None)
    n_tokens = sum(len(t) for t in token_lists)
    return {
        "documents": len(records),
        "labels": dict(labels.most_common()),
        "tokens": n_tokens,
        "mean_tokens_per_doc": n_tokens / max(len(records), 1),
        "empty_documents": sum(1 for t in token_lists if not t),
        "vocab_size": len(vocab),
        "vocab_size_min_freq_2": sum(1 for t, n in counts.items() if n >= 2 and t not in SPECIAL_TOKENS)
        + len(SPECIAL_TOKENS),
        "top_tokens": [(t, n) for t, n in counts.most_common(top + len(SPECIAL_TOKENS)) if t not in SPECIAL_TOKENS][
            :top
        ],
        "top_markers": {t: counts[t] for t in SPECIAL_TOKENS if counts[t]},
    }


def corpus_summary(name: str, top: int = 20) -> dict:
    """Fetch a corpus, tokenize it and print a summary."""
    from textkit import data

    summary = summarize(data.load(name), top=top)
    print(f"corpus {name}")
    print(f"  documents          {summary['documents']:,}")
    for label, n in summary["labels"].items():
        print(f"    {label:16s} {n:,}")
    print(f"  tokens             {summary['tokens']:,} ({summary['mean_tokens_per_doc']:.1f} per document)")
    print(f"  vocab size         {summary['vocab_size']:,} ({summary['vocab_size_min_freq_2']:,} with min_freq=2)")
    print(f"  marker tokens      {', '.join(f'{t} {n:,}' for t, n in summary['top_markers'].items())}")
    print(f"  top {top} tokens:")
    for token, n in summary["top_tokens"]:
        print(f"    {token!r:16s} {n:,}")
    return summary
