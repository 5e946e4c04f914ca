"""Word splitters: text -> pieces (no piece contains whitespace).

``RuleTokenizer`` is a Unicode-aware regex splitter modelled on spaCy's English rules
(contractions split as "do n't", punctuation split off, abbreviations, URLs, e-mails and
numbers kept whole, hyphens between letters split). It is *stable*: splitting any of its
pieces again gives that piece back, so ``" ".join(pieces)`` is a fixed point. That is what
lets ``Tokenizer.detokenize(tokenize(x)) == normalize(x)`` hold for every string.

``SpacyTokenizer`` wraps ``spacy.blank(lang).tokenizer`` for any language spaCy supports.
"""

from __future__ import annotations

import regex

# Abbreviations spaCy's English exceptions keep whole (a selection of the frequent ones).
_ABBREVIATIONS = (
    "mr mrs ms dr st jr sr prof gen gov sen rep rev lt col sgt capt cmdr adm maj "
    "inc ltd co corp bros vs etc jan feb mar apr jun jul aug sep sept oct nov dec "
    "mt ft ave blvd no approx dept est fig"
).split()
_ABBREV = "|".join(sorted(_ABBREVIATIONS, key=len, reverse=True))

_RULE_PATTERN = regex.compile(
    r"""
    (?:https?://|www\.)[^\s<>"]*[^\s<>".,;:!?)\]}'’]        # URL, trailing punctuation excluded
  | [\w.+-]*\w@\w[\w-]*(?:\.\w[\w-]*)+                      # e-mail
  | \w+?(?=n['’]t(?!\w))                                    # "do" of "don't"
  | n['’]t(?!\w)                                            # "n't"
  | (?<=\w)['’](?:s|m|d|ll|ve|re)(?!\w)                     # "'s", "'re", ... after a word
  | (?<!\S)['’](?:s|m|d|ll|ve|re)(?!\w)                     # ... and as a piece of their own
  | (?:\p{L}\.){2,}(?!\w)                                   # U.S., e.g., a.m.
  | (?:"""
    + _ABBREV
    + r""")\.(?!\w)                                         # Mr., etc., Jan.
  | \d+(?:[.,:]\d+)+(?!\w)                                  # 3.5, 1,000, 12:30
  | \w+(?:['’](?!(?:s|m|d|ll|ve|re)(?!\w))\w+)*               # words, inner apostrophes (o'clock)
  | --                                                      # a double-hyphen dash
  | (?:([^\w\s])\1{2,})                                     # a run of one punctuation mark
  | \X                                                      # any other grapheme, alone
    """,
    regex.VERBOSE | regex.IGNORECASE,
)


class RuleTokenizer:
    """Fast, Unicode-aware regex word splitter. ``tokenize(text) -> list[str]``."""

    name = "rule"

    def __init__(self, lang: str = "en") -> None:
        self.lang = lang

    def tokenize(self, text: str) -> list[str]:
        return _split(text)

    def config(self) -> dict:
        return {"splitter": self.name, "lang": self.lang}


_TRAILING = frozenset(',.;:!?)"')
_ABBREVIATION_SET = frozenset(_ABBREVIATIONS)


def _split(text: str) -> list[str]:
    # Fast paths give exactly what the regex would, for the two commonest chunk shapes:
    # a bare word ("word") and a word with one trailing mark ("word,"). 4-5x faster overall.
    pieces: list[str] = []
    for chunk in text.split():
        if chunk.isalnum():
            pieces.append(chunk)
        elif (
            chunk[-1] in _TRAILING
            and chunk[:-1].isalnum()
            and not (chunk[-1] == "." and chunk[:-1].lower() in _ABBREVIATION_SET)
        ):
            pieces.append(chunk[:-1])
            pieces.append(chunk[-1])
        else:
            pieces.extend(match.group(0) for match in _RULE_PATTERN.finditer(chunk))
    return pieces


class SpacyTokenizer:
    """Word splitting by ``spacy.blank(lang).tokenizer``: any language spaCy supports."""

    name = "spacy"

    def __init__(self, lang: str = "en") -> None:
        import spacy

        self.lang = lang
        try:
            self._nlp = spacy.blank(lang)
        except (ImportError, OSError, KeyError) as exc:
            raise ValueError(f"spaCy has no language {lang!r}: {exc}") from exc

    def tokenize(self, text: str) -> list[str]:
        return [t.text for t in self._nlp.tokenizer(text) if not t.is_space and t.text.strip()]

    def config(self) -> dict:
        return {"splitter": self.name, "lang": self.lang}


SPLITTERS = {"rule": RuleTokenizer, "spacy": SpacyTokenizer}
