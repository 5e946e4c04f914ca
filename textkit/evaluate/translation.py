"""BLEU and chrF with sacrebleu on detokenized text, with the signature that pins the settings.

Scores are corpus-level, on plain strings (one hypothesis and one reference per segment, same
order). Token-id "BLEU" on padded batches, as the fast.ai course printed, is not comparable and
is not offered here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TranslationScore:
    name: str  # "BLEU" or "chrF"
    score: float  # 0-100, as sacrebleu reports
    signature: str
    detail: str  # sacrebleu's one-line summary (n-gram precisions, brevity penalty, ...)

    def __str__(self) -> str:
        return f"{self.detail}  [{self.signature}]"


def _sacrebleu():
    try:
        import sacrebleu
    except ModuleNotFoundError as exc:  # pragma: no cover - sacrebleu is a dependency
        raise RuntimeError("BLEU and chrF need sacrebleu: pip install sacrebleu") from exc
    return sacrebleu


def _check(hypotheses: Sequence[str], references: Sequence[str]) -> tuple[list[str], list[str]]:
    hyps, refs = list(hypotheses), list(references)
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} references; they must align one to one")
    if not refs:
        raise ValueError("no segments to score")
    for name, items in (("hypotheses", hyps), ("references", refs)):
        bad = [i for i, x in enumerate(items) if not isinstance(x, str)]
        if bad:
            raise TypeError(
                f"{name}[{bad[0]}] is {type(items[bad[0]]).__name__}, not str: score detokenized text, not token ids"
            )
        if any("\n" in x for x in items):
            raise ValueError(f"a segment of the {name} contains a newline; one segment per line")
    return hyps, refs


def corpus_bleu(
    hypotheses: Sequence[str], references: Sequence[str], *, tokenize: str = "13a", lowercase: bool = False
) -> TranslationScore:
    """sacreBLEU corpus BLEU (default 13a tokenization, exp smoothing)."""
    hyps, refs = _check(hypotheses, references)
    metric = _sacrebleu().BLEU(tokenize=tokenize, lowercase=lowercase)
    result = metric.corpus_score(hyps, [refs])
    return TranslationScore("BLEU", float(result.score), str(metric.get_signature()), str(result))


def corpus_chrf(hypotheses: Sequence[str], references: Sequence[str], *, word_order: int = 0) -> TranslationScore:
    """sacreBLEU chrF (``word_order=2`` gives chrF++)."""
    hyps, refs = _check(hypotheses, references)
    metric = _sacrebleu().CHRF(word_order=word_order)
    result = metric.corpus_score(hyps, [refs])
    return TranslationScore("chrF", float(result.score), str(metric.get_signature()), str(result))


def read_lines(path: str | Path) -> list[str]:
    """Segments of a hypotheses/references file: one per line (a final newline is not a segment)."""
    text = Path(path).read_text(encoding="utf-8")
    return text.split("\n")[:-1] if text.endswith("\n") else text.split("\n") if text else []


def score_files(hypotheses_path: str | Path, references_path: str | Path) -> dict[str, TranslationScore]:
    hyps, refs = read_lines(hypotheses_path), read_lines(references_path)
    return {"bleu": corpus_bleu(hyps, refs), "chrf": corpus_chrf(hyps, refs)}
