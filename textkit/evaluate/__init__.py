"""Evaluation metrics. Translation: sacrebleu BLEU and chrF on detokenized text."""

from textkit.evaluate.translation import TranslationScore, corpus_bleu, corpus_chrf, read_lines, score_files

__all__ = ["TranslationScore", "corpus_bleu", "corpus_chrf", "read_lines", "score_files"]
