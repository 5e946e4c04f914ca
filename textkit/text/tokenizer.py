"""The default word pipeline: normalize -> split into pieces -> marker rules -> tokens.

Stages, in the Hugging Face tokenizers sense:

1. normalizer: ``fix_html``, Unicode NFC (lossy, idempotent);
2. pre-tokenizer: a word splitter (``RuleTokenizer`` by default, or spaCy);
3. marker rules on the space-joined pieces (``escape_specials``, ``replace_rep``,
   ``replace_wrep``, ``replace_case``); tokens are that string split on spaces;
4. decoder: ``decode_markers`` undoes every marker and joins pieces with single spaces.

So ``detokenize(tokenize(x)) == normalize(x)`` for every string ``x``, where
``normalize(x)`` is the NFC, HTML-fixed text with one space between pieces. Where the
whitespace was, and how much, is the only thing lost.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from textkit._io import atomic_write_json, read_json
from textkit.text import rules as text_rules
from textkit.text.checks import check_text
from textkit.text.parallel import iter_tokenized
from textkit.text.special import BOS, EOS, ESC, FLD, MAJ, PAD, REP, UP, WREP
from textkit.text.splitters import SPLITTERS

_CONFIG_FILE = "tokenizer.json"
_STRUCTURAL = {BOS, EOS, PAD, FLD}
_MARKERS = _STRUCTURAL | {ESC, MAJ, UP, REP, WREP}


def _decode_unit(tokens: Sequence[str], i: int) -> tuple[str | None, int]:
    """Decode the text unit starting at ``tokens[i]``. Returns (text or None, next index).

    Malformed markers (a marker at the very end, a count that is not ASCII digits, a repeat
    inside ``xxwrep``) are skipped: decoding model output must never crash, and a well-formed
    encoding never contains them. Iterative, so a long chain of ``xxmaj`` cannot exhaust the
    stack.
    """
    start, n = i, len(tokens)
    wrappers: list[str | int] = []  # MAJ / UP, or a WREP count, outermost first
    while True:
        token = tokens[i]
        if token in (MAJ, UP):
            if i + 1 >= n:
                return None, i + 1
            wrappers.append(token)
            i += 1
        elif token == WREP and i + 2 < n and _is_count(tokens[i + 1]):
            if any(isinstance(w, int) for w in wrappers):  # the encoder never nests repeats
                return None, start + 1
            wrappers.append(int(tokens[i + 1]))
            i += 2
        else:
            break
    text: str | None
    if token == ESC:
        text, nxt = (tokens[i + 1], i + 2) if i + 1 < n else (None, i + 1)
    elif token == REP:
        if i + 2 < n and _is_count(tokens[i + 1]):
            if any(isinstance(w, int) for w in wrappers):
                return None, start + 1
            text, nxt = tokens[i + 2] * int(tokens[i + 1]), i + 3
        else:
            text, nxt = None, i + 1
    elif token == WREP or token in _STRUCTURAL:
        text, nxt = None, i + 1
    else:
        text, nxt = token, i + 1
    if text is None:
        return None, nxt
    for wrapper in reversed(wrappers):
        if wrapper == MAJ:
            text = text_rules.capitalize_first(text)
        elif wrapper == UP:
            text = text.upper()
        else:
            text = " ".join([text] * int(wrapper))
    return text, nxt


def _is_count(token: str) -> bool:
    # ASCII digits only: "²".isdigit() is true but int("²") fails
    return token.isascii() and token.isdigit()


def decode_markers(tokens: Sequence[str]) -> str:
    """Undo the marker rules and join pieces with single spaces.

    ``xxbos``/``xxeos``/``xxpad``/``xxfld`` are dropped; ``xxunk`` stays as the text "xxunk"
    (what it stood for is gone).
    """
    out: list[str] = []
    i, n = 0, len(tokens)
    while i < n:
        token = tokens[i]
        if token not in _MARKERS:  # most tokens: plain text
            out.append(token)
            i += 1
            continue
        text, i = _decode_unit(tokens, i)
        if text is not None:
            out.append(text)
    return " ".join(out)


class Tokenizer:
    """The default textkit word tokenizer (fastai-style markers, lossless round trip).

    >>> tok = Tokenizer()
    >>> tok.tokenize("Don't SHOUT!!!")
    ['xxmaj', 'do', "n't", 'xxup', 'shout', 'xxrep', '3', '!']
    >>> tok.detokenize(tok.tokenize("Don't SHOUT!!!"))
    "Do n't SHOUT !!!"
    """

    def __init__(
        self,
        lang: str = "en",
        *,
        splitter: str = "rule",
        rules: Sequence[str] = text_rules.DEFAULT_MARKER_RULES,
        add_bos: bool = False,
        add_eos: bool = False,
    ) -> None:
        if splitter not in SPLITTERS:
            raise ValueError(f"unknown splitter {splitter!r}; choose one of {sorted(SPLITTERS)}")
        unknown = [r for r in rules if r not in text_rules.MARKER_RULES]
        if unknown:
            raise ValueError(f"unknown rules {unknown}; available: {sorted(text_rules.MARKER_RULES)}")
        self.lang = lang
        self.splitter_name = splitter
        self.rules = tuple(rules)
        self.add_bos = add_bos
        self.add_eos = add_eos
        self.splitter = SPLITTERS[splitter](lang)
        self._apply_rules = text_rules.compose(*(text_rules.MARKER_RULES[r] for r in self.rules))

    # -- the three public operations -------------------------------------------------------

    def pieces(self, text: str) -> list[str]:
        """The normalized text split into pieces, before any marker rule."""
        text = check_text(text)
        return self.splitter.tokenize(text_rules.normalize_unicode(text_rules.fix_html(text)))

    def normalize(self, text: str) -> str:
        """The lossy part only: HTML fixes, NFC, and one space between pieces. Idempotent."""
        return " ".join(self.pieces(text))

    def tokenize(self, text: str) -> list[str]:
        marked = self._apply_rules(" ".join(self.pieces(text)))
        tokens = marked.split(" ") if marked else []
        if self.add_bos:
            tokens.insert(0, BOS)
        if self.add_eos:
            tokens.append(EOS)
        return tokens

    def detokenize(self, tokens: Sequence[str]) -> str:
        return decode_markers(tokens)

    def tokenize_many(
        self,
        texts: Iterable[str],
        n_workers: int = 1,
        batch_size: int = 512,
        progress: bool = False,
        *,
        start_method: str | None = None,
    ) -> list[list[str]]:
        """Tokenize many texts, in input order, optionally in ``n_workers`` processes: the caller
        and ``n_workers - 1`` worker processes (``n_workers=2`` on two cores).

        Works from scripts without a main guard and from standard input (workers fork on
        Linux when that is safe); where spawned workers cannot serve the caller it raises
        ``WorkerStartError`` at once, saying what to do. See ``textkit.text.parallel``.
        """
        return list(
            iter_tokenized(
                texts, self, n_workers=n_workers, batch_size=batch_size, progress=progress, start_method=start_method
            )
        )

    # -- serialization ---------------------------------------------------------------------

    def config(self) -> dict:
        return {
            "type": "word",
            "lang": self.lang,
            "splitter": self.splitter_name,
            "rules": list(self.rules),
            "add_bos": self.add_bos,
            "add_eos": self.add_eos,
        }

    @classmethod
    def from_config(cls, config: dict) -> Tokenizer:
        if config.get("type") != "word":
            raise ValueError(f"not a word tokenizer config: type={config.get('type')!r}")
        return cls(
            config["lang"],
            splitter=config["splitter"],
            rules=config["rules"],
            add_bos=config["add_bos"],
            add_eos=config["add_eos"],
        )

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        atomic_write_json(folder / _CONFIG_FILE, self.config())
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Tokenizer:
        return cls.from_config(read_json(Path(folder) / _CONFIG_FILE, "tokenizer config"))

    def __repr__(self) -> str:
        return f"Tokenizer({json.dumps(self.config())})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tokenizer) and self.config() == other.config()

    def __getstate__(self) -> dict:
        # Worker processes rebuild the tokenizer from its JSON config (no spaCy objects pickled).
        return self.config()

    def __setstate__(self, state: dict) -> None:
        type(self).__init__(
            self,
            state["lang"],
            splitter=state["splitter"],
            rules=state["rules"],
            add_bos=state["add_bos"],
            add_eos=state["add_eos"],
        )
