"""Normalization rules: small, pure ``str -> str`` functions in the fastai spirit.

There are two kinds.

* Lossy text fixes (``fix_html``, ``normalize_unicode``, ``collapse_whitespace``). Together they
  make ``normalize``; they are idempotent, and they are the only information a textkit word
  tokenizer loses (besides where the whitespace was).
* Marker rules (``escape_specials``, ``replace_rep``, ``replace_wrep``, ``replace_case``). They
  work on *pre-tokenized* text: pieces without whitespace joined by single spaces. Each is
  exactly undone by ``textkit.text.tokenizer.decode_markers``.

``compose(*rules)`` chains any of them into one function.

Every rule runs in time and memory linear in its input, whatever the input: a run of ten
million ``!`` or ``very`` is counted with string operations, not matched by a backtracking
regex, and deeply nested escapes (``&amp;amp;amp;...``) are undone in one scan.
"""

from __future__ import annotations

import functools
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

# Whitespace inside "<br />" is bounded so that a fix can only reach back a bounded distance.
_BR = re.compile(r"<\s{0,32}br\s{0,32}/?\s{0,32}>", re.IGNORECASE)
# html.unescape's own pattern for a character reference, and either kind of fix in one pattern.
_CHARREF = r"&(?:#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)"
_HTML_FIX = re.compile(f"{_BR.pattern}|{_CHARREF}", re.IGNORECASE)
_FAST_PASSES = 8  # real text reaches the fixed point in two or three passes
_REACH = 128  # a new fix starts at most this far before a changed character (34 for "&name;", 100 for "<br />")
_LOOKAHEAD = 256


def _html_pass(text: str) -> str:
    return html.unescape(_BR.sub("\n", text))


@functools.lru_cache(maxsize=4096)
def _fix_one(found: str) -> str:
    # cached: a scan sees the same few references again and again as it steps back
    return "\n" if found[0] == "<" else html.unescape(found)


def fix_html(text: str) -> str:
    """Turn ``<br />`` into a newline and unescape HTML entities, repeatedly, until nothing
    changes: doubly escaped text (``&amp;lt;``) is common in scraped corpora, and a fixed
    point keeps ``normalize`` idempotent. Linear time: text that is still changing after a few
    passes (one nesting level is undone per pass) is finished by :func:`_fix_html_scan`."""
    for _ in range(_FAST_PASSES):
        fixed = _html_pass(text)
        if fixed == text:
            return text
        text = fixed
    while True:  # terminates: every change makes the text strictly shorter
        text = _fix_html_scan(text)
        fixed = _html_pass(text)
        if fixed == text:
            return text
        text = fixed


def _fix_html_scan(text: str) -> str:
    """One left-to-right scan to a fixed point of ``_html_pass``. After each fix the scan steps
    back to the last ``&`` or ``<`` among the ``_REACH`` characters before it: only a
    reference or ``<br>`` starting there can be completed by the replacement (neither can
    contain a later ``&`` or ``<``). Settled text lives in a UTF-32 buffer, so stepping back
    costs only the characters taken back."""
    out = bytearray()

    def settle(piece: str) -> None:
        out.extend(piece.encode("utf-32-le", "surrogatepass"))

    def take_back() -> str:
        size = min(len(out), 4 * _REACH)
        last = out[len(out) - size :].decode("utf-32-le", "surrogatepass")
        start = max(last.rfind("&"), last.rfind("<"))
        if start < 0:
            return ""
        del out[len(out) - 4 * (len(last) - start) :]
        return last[start:]

    tail = ""  # characters to scan again before text[i:]
    i, n = 0, len(text)
    while True:
        if tail:
            end = min(n, i + _LOOKAHEAD)
            window = tail + text[i:end]
            match = _HTML_FIX.search(window)
            while match is not None and match.end() == len(window) and end < n:  # the match may go on
                end = min(n, i + 2 * (end - i))
                window = tail + text[i:end]
                match = _HTML_FIX.search(window)
            if match is None or match.start() >= len(tail):
                settle(tail)
                tail = ""
                continue
            settle(window[: match.start()])
            found, after = match.group(0), window[match.end() : len(tail)]
            i += max(0, match.end() - len(tail))
        else:
            match = _HTML_FIX.search(text, i)
            if match is None:
                settle(text[i:])
                break
            settle(text[i : match.start()])
            found, after = match.group(0), ""
            i = match.end()
        fixed = _fix_one(found)
        if fixed == found:  # "&" that starts no known reference: it stays, as in html.unescape
            settle(found)
            tail = after
        else:
            tail = take_back() + fixed + after
    return out.decode("utf-32-le", "surrogatepass")


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
_SPACE = re.compile(r"\s")
# The first three characters of a run; the rest is counted with str.count, because "\1{2,}"
# keeps backtracking state for every repetition (5M "!" took 440 MB).
# (The class before the look-behind is 5x faster on long pieces; the possessive "\w++" does not
# backtrack through a long word, where backtracking could never match.)
_CHAR_RUN_START = re.compile(r"([^\w\s])(?<!\S.)\1\1")
_WORD_RUN_START = re.compile(rf"(?<!\S)(?!(?i:{_SPECIALS_PATTERN})(?!\S))(\w++)(?: \1){{2}}")


def _piece_end(text: str, pos: int) -> int:
    space = _SPACE.search(text, pos)
    return len(text) if space is None else space.start()


def escape_specials(text: str) -> str:
    """A piece of the input that spells a special token (in any case) gets ``xxesc`` before it,
    so the decoder reads it as text, not as a marker."""
    return _SPECIAL_PIECE.sub(lambda m: f"{ESC} {m.group(0)}", text)


def replace_rep(text: str) -> str:
    """A piece that is one non-word character repeated 3+ times: ``!!!!`` -> ``xxrep 4 !``."""
    out: list[str] = []
    done = pos = 0
    while (match := _CHAR_RUN_START.search(text, pos)) is not None:
        start, char = match.start(), match.group(1)
        pos = _piece_end(text, start)
        if text.count(char, start, pos) == pos - start:
            out.append(text[done:start])
            out.append(f"{REP} {pos - start} {char}")
            done = pos
    if not out:
        return text
    out.append(text[done:])
    return "".join(out)


def _count_repeats(text: str, pos: int, unit: str) -> int:
    """How many times ``unit`` repeats back to back from ``pos``: doubling, then halving, the
    block compared, so a long run costs a few passes over it."""
    count, step = 0, 1
    while text.startswith(unit * step, pos):
        pos += len(unit) * step
        count += step
        step *= 2
    while step > 1:
        step //= 2
        if text.startswith(unit * step, pos):
            pos += len(unit) * step
            count += step
    return count


def replace_wrep(text: str) -> str:
    """A word piece repeated 3+ times in a row: ``very very very`` -> ``xxwrep 3 very``.
    Special tokens are never grouped (their repetitions carry structure)."""
    out: list[str] = []
    done = pos = 0
    while (match := _WORD_RUN_START.search(text, pos)) is not None:
        word = match.group(1)
        unit = " " + word
        repeats = 2 + _count_repeats(text, match.end(), unit)
        end = match.start() + len(word) + repeats * len(unit)
        if end < len(text) and not _SPACE.match(text, end):  # the last repeat is the start of a longer piece
            repeats -= 1
            end -= len(unit)
        if repeats < 2:
            pos = match.start() + 1
            continue
        out.append(text[done : match.start()])
        out.append(f"{WREP} {repeats + 1} {word}")
        done = pos = end
    if not out:
        return text
    out.append(text[done:])
    return "".join(out)


def capitalize_first(piece: str) -> str:
    return piece[:1].upper() + piece[1:]


def mark_case(piece: str) -> str:
    """``HELLO`` -> ``xxup hello``, ``Hello`` -> ``xxmaj hello``. Single capitals ("I") and
    mixed case ("iPhone", "McDonald") stay as they are: lowercasing them would lose
    information that no marker restores. Every marking is checked to decode exactly."""
    return " ".join(_marked(piece))


_LONG_PIECE = 1 << 16


def _marked(piece: str) -> tuple[str, ...]:
    """``mark_case`` as its parts: ``(piece,)``, ``(UP, lower)`` or ``(MAJ, lower)``."""
    lower = piece.lower()
    if lower == piece or len(piece) < 2:
        return (piece,)
    if len(piece) > _LONG_PIECE:
        return _marked_long(piece, lower)
    if lower.upper() == piece:
        return (UP, lower)
    if capitalize_first(lower) == piece:
        return (MAJ, lower)
    return (piece,)


def _marked_long(piece: str, lower: str) -> tuple[str, ...]:
    """``_marked`` for a long piece, comparing in blocks rather than through whole-piece copies
    (``upper()``, ``capitalize_first``), which would each cost the piece's size again.
    ``str.upper`` maps each character on its own and never shortens, so blockwise equality is
    whole equality."""
    step = _LONG_PIECE
    if len(lower) == len(piece) and all(
        lower[i : i + step].upper() == piece[i : i + step] for i in range(0, len(piece), step)
    ):
        return (UP, lower)
    first = lower[:1].upper()
    if (
        len(first) + len(lower) - 1 == len(piece)
        and piece.startswith(first)
        and all(
            lower[i : i + step] == piece[i - 1 + len(first) : i - 1 + len(first) + step]
            for i in range(1, len(lower), step)
        )
    ):
        return (MAJ, lower)
    return (piece,)


def replace_case(text: str) -> str:
    """Apply ``mark_case`` to every piece except the one after ``xxesc`` (literal text)."""
    out: list[str] = []
    escaped = False
    pieces = text.split(" ")
    for i, piece in enumerate(pieces):
        if escaped or piece.islower():
            out.append(piece)
        else:
            if len(piece) > _LONG_PIECE:
                pieces[i] = ""  # held once, not also by the list: a long piece costs its size once
            out.extend(_marked(piece))
        escaped = not escaped and piece == ESC
    del pieces, piece
    return " ".join(out)


# Named registry, so a tokenizer's rules serialize as a list of names.
MARKER_RULES: dict[str, Rule] = {
    "escape_specials": escape_specials,
    "replace_rep": replace_rep,
    "replace_wrep": replace_wrep,
    "replace_case": replace_case,
}
DEFAULT_MARKER_RULES: tuple[str, ...] = ("escape_specials", "replace_rep", "replace_wrep", "replace_case")
