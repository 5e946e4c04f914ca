"""Normalization rules: small, pure ``str -> str`` functions in the fastai spirit.

There are two kinds.

* Lossy text fixes (``fix_html``, ``normalize_unicode``, ``collapse_whitespace``). Together they
  make ``normalize``; they are idempotent, and they are the only information a textkit word
  tokenizer loses (besides where the whitespace was).
* Marker rules (``escape_specials``, ``replace_rep``, ``replace_wrep``, ``replace_case``). They
  work on *pre-tokenized* text: pieces without whitespace joined by single spaces. Each is
  exactly undone by ``textkit.text.tokenizer.decode_markers``.

``compose(*rules)`` chains any of them into one function.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable

from textkit.text.special import ESC, MAJ, REP, SPECIAL_TOKENS, UP, WREP

Rule = Callable[[str], str]


def compose(*rules: Rule) -> Rule:
    """Chain rules left to right into one ``str -> str`` function."""

    def composed(text: str) -> str:
        for rule in rules:
            text = rule(text)
        return text

    composed.__name__ = "+".join(getattr(r, "__name__", "rule") for r in rules)
    return composed


# --- lossy text fixes -------------------------------------------------------------------------

_BR = re.compile(r"<\s*br\s*/?\s*>", re.IGNORECASE)


def fix_html(text: str) -> str:
    """Turn ``<br />`` into a newline and unescape HTML entities, repeatedly, until nothing
    changes: doubly escaped text (``&amp;lt;``) is common in scraped corpora, and a fixed
    point keeps ``normalize`` idempotent."""
    while True:  # terminates: every change makes the text strictly shorter
        fixed = html.unescape(_BR.sub("\n", text))
        if fixed == text:
            return text
        text = fixed


def normalize_unicode(text: str) -> str:
    """Unicode NFC: composed characters, so ``é`` is one code point however it was typed."""
    return unicodedata.normalize("NFC", text)


def collapse_whitespace(text: str) -> str:
    """Runs of whitespace (any ``str.isspace`` character) become one space; ends are stripped."""
    return " ".join(text.split())


# --- marker rules (pre-tokenized text) ----------------------------------------------------------

# Plain ``re`` is 2-3x faster than ``regex`` for these simple patterns (both are Unicode-aware).
_SPECIALS_PATTERN = "|".join(re.escape(t) for t in sorted(SPECIAL_TOKENS, key=len, reverse=True))
_SPECIAL_PIECE = re.compile(rf"(?<!\S)(?:{_SPECIALS_PATTERN})(?!\S)", re.IGNORECASE)
_CHAR_RUN = re.compile(r"(?<!\S)([^\w\s])\1{2,}(?!\S)")
_WORD_RUN = re.compile(rf"(?<!\S)(?!(?i:{_SPECIALS_PATTERN})(?!\S))(\w+)(?: \1){{2,}}(?!\S)")


def escape_specials(text: str) -> str:
    """A piece of the input that spells a special token (in any case) gets ``xxesc`` before it,
    so the decoder reads it as text, not as a marker."""
    return _SPECIAL_PIECE.sub(lambda m: f"{ESC} {m.group(0)}", text)


def replace_rep(text: str) -> str:
    """A piece that is one non-word character repeated 3+ times: ``!!!!`` -> ``xxrep 4 !``."""
    return _CHAR_RUN.sub(lambda m: f"{REP} {len(m.group(0))} {m.group(1)}", text)


def replace_wrep(text: str) -> str:
    """A word piece repeated 3+ times in a row: ``very very very`` -> ``xxwrep 3 very``.
    Special tokens are never grouped (their repetitions carry structure)."""
    return _WORD_RUN.sub(lambda m: f"{WREP} {m.group(0).count(' ') + 1} {m.group(1)}", text)


def capitalize_first(piece: str) -> str:
    return piece[:1].upper() + piece[1:]


def mark_case(piece: str) -> str:
    """``HELLO`` -> ``xxup hello``, ``Hello`` -> ``xxmaj hello``. Single capitals ("I") and
    mixed case ("iPhone", "McDonald") stay as they are: lowercasing them would lose
    information that no marker restores. Every marking is checked to decode exactly."""
    lower = piece.lower()
    if lower == piece or len(piece) < 2:
        return piece
    if lower.upper() == piece:
        return f"{UP} {lower}"
    if capitalize_first(lower) == piece:
        return f"{MAJ} {lower}"
    return piece


def replace_case(text: str) -> str:
    """Apply ``mark_case`` to every piece except the one after ``xxesc`` (literal text)."""
    out = []
    escaped = False
    for piece in text.split(" "):
        out.append(piece if escaped or piece.islower() else mark_case(piece))
        escaped = not escaped and piece == ESC
    return " ".join(out)


# Named registry, so a tokenizer's rules serialize as a list of names.
MARKER_RULES: dict[str, Rule] = {
    "escape_specials": escape_specials,
    "replace_rep": replace_rep,
    "replace_wrep": replace_wrep,
    "replace_case": replace_case,
}
DEFAULT_MARKER_RULES: tuple[str, ...] = ("escape_specials", "replace_rep", "replace_wrep", "replace_case")
