"""Text handling: normalization rules, word and subword tokenizers, Vocab, parallel tokenization."""

from textkit.text.parallel import (
    NumericalizedCorpus,
    WorkerDiedError,
    WorkerStartError,
    iter_tokenized,
    numericalize_corpus,
    resolve_start_method,
)
from textkit.text.pipeline import Encoded, TextPipeline, load_pipeline
from textkit.text.rules import (
    collapse_whitespace,
    compose,
    escape_specials,
    fix_html,
    normalize_unicode,
    replace_case,
    replace_rep,
    replace_wrep,
)
from textkit.text.special import BOS, EOS, ESC, FLD, MAJ, PAD, REP, SPECIAL_TOKENS, UNK, UP, WREP
from textkit.text.splitters import RuleTokenizer, SpacyTokenizer
from textkit.text.subword import SubwordTokenizer
from textkit.text.tokenizer import Tokenizer, decode_markers
from textkit.text.vocab import Vocab

__all__ = [
    "BOS",
    "EOS",
    "ESC",
    "FLD",
    "MAJ",
    "PAD",
    "REP",
    "SPECIAL_TOKENS",
    "UNK",
    "UP",
    "WREP",
    "Encoded",
    "NumericalizedCorpus",
    "RuleTokenizer",
    "SpacyTokenizer",
    "SubwordTokenizer",
    "TextPipeline",
    "Tokenizer",
    "Vocab",
    "WorkerDiedError",
    "WorkerStartError",
    "collapse_whitespace",
    "compose",
    "decode_markers",
    "escape_specials",
    "fix_html",
    "iter_tokenized",
    "load_pipeline",
    "normalize_unicode",
    "numericalize_corpus",
    "replace_case",
    "replace_rep",
    "replace_wrep",
    "resolve_start_method",
]
