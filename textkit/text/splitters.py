"""Word splitters: text -> pieces (no piece contains whitespace).

``RuleTokenizer`` is a Unicode-aware regex splitter that reproduces what fastai 2.8's default
pipeline gets from spaCy's English tokenizer (which fastai runs on *lowercased* text, where
spaCy's case-sensitive exceptions no longer fire): contractions split as "do n't", punctuation
split off, "Mr." as "Mr" ".", initials ("F."), "e.g.", URLs, e-mails, emoticons and numbers
kept whole, units split off numbers ("100m" -> "100" "m"), hyphens between letters split.

It is *stable*: splitting any of its pieces again gives that piece back, so
``" ".join(pieces)`` is a fixed point. That is what lets
``Tokenizer.detokenize(tokenize(x)) == normalize(x)`` hold for every string.

``SpacyTokenizer`` wraps ``spacy.blank(lang).tokenizer`` for any language spaCy supports.
"""

from __future__ import annotations

import regex

_KEPT_DOTTED = r"i\.e|e\.g|a\.m|p\.m|vs"  # dotted forms spaCy keeps whole even in lower case
_UNITS = "km|cm|mm|dm|nm|yd|ft|kg|mg|lb|oz|mph|kmh|mbar|hpa|mb|kb|gb|tb|am|pm|ha|in|m|g|t|pa"
_WORD_SPLITS = {"gonna": 3, "gotta": 3, "cannot": 3}  # whole words spaCy splits in two

_RULE_PATTERN = regex.compile(
    r"""
    (?:https?://|www\.)[^\s<>"]*[^\s<>".,;:!?)\]}'’]        # URL, trailing punctuation excluded
  | [\w.+-]*\w@\w[\w-]*(?:\.\w[\w-]*)+                      # e-mail
  | (?:[:;=]-?[)(\]\[/p]|<3|\(:|:'\()                       # emoticons spaCy keeps
  | (?:gon(?=na(?!\w))|got(?=ta(?!\w))|can(?=not(?!\w)))    # gonna, gotta, cannot
  | \w+?(?=n['’]t(?!\w))                                    # "do" of "don't"
  | n['’]t(?!\w)                                            # "n't"
  | (?<=\w)['’](?:s|m|d|ll|ve|re)(?!\w)                     # "'s", "'re", ... after a word
  | (?<!\S)['’](?:s|m|d|ll|ve|re)(?!\w)                     # ... and as a piece of their own
  | (?:"""
    + _KEPT_DOTTED
    + r""")\.                                               # e.g. i.e. a.m. p.m.
  | [^\W\d_]\w*(?:\.\w+)+                                    # dotted words: "u.s" of "u.s.", "e.coli", "p.diddy"
  | [a-z]\.(?!\w)                                           # initials: "f."
  | \d+(?:[.,:]\d+)*(?=(?:"""
    + _UNITS
    + r""")(?!\w))                                          # the number of "100m", "5pm"
  | \d+(?:[.,:]\d+)+\w*                                     # 3.5, 1,000, 12:30, 1.5bn
  | [^\W\d_]+-\d\w*                                         # covid-19, f-16
  | \w+(?:['’](?!(?:s|m|d|ll|ve|re)(?!\w))\w+)*             # words, inner apostrophes (o'clock)
  | (?:([^\w\s])\1{2,})                                     # a run of one punctuation mark
  | --                                                      # a double-hyphen dash
  | \.\.                                                    # two dots
  | \X                                                      # any other grapheme, alone
    """,
    regex.VERBOSE | regex.IGNORECASE,
)

_TRAILING = frozenset(',.;:!?)"')


def _split(text: str) -> list[str]:
    # Fast paths give exactly what the regex would for the two commonest chunk shapes, a bare
    # word ("word") and a word with one trailing mark ("word,"): 4-5x faster overall. Chunks
    # starting with a digit, initials ("F."), "vs." and split words take the regex.
    pieces: list[str] = []
    for chunk in text.split():
        if chunk.isalnum() and not chunk[0].isdigit() and chunk.lower() not in _WORD_SPLITS:
            pieces.append(chunk)
        elif (
            chunk[-1] in _TRAILING
            and chunk[:-1].isalnum()
            and not chunk[0].isdigit()
            and chunk[:-1].lower() not in _WORD_SPLITS
            and not (chunk[-1] == "." and (len(chunk) == 2 or chunk[:-1].lower() == "vs"))
        ):
            pieces.append(chunk[:-1])
            pieces.append(chunk[-1])
        else:
            pieces.extend(match.group(0) for match in _RULE_PATTERN.finditer(chunk))
    return pieces


class RuleTokenizer:
    """Fast, Unicode-aware regex word splitter. ``tokenize(text) -> list[str]``."""

    name = "rule"

    def __init__(self, lang: str = "en") -> None:
        self.lang = lang

    def tokenize(self, text: str) -> list[str]:
        return _split(text)

    def config(self) -> dict:
        return {"splitter": self.name, "lang": self.lang}


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


SPLITTERS: dict[str, type[RuleTokenizer] | type[SpacyTokenizer]] = {"rule": RuleTokenizer, "spacy": SpacyTokenizer}
