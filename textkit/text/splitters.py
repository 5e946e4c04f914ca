"""Word splitters: text -> pieces (no piece contains whitespace).

``RuleTokenizer`` is a Unicode-aware regex splitter that reproduces what fastai 2.8's default
pipeline gets from spaCy's English tokenizer (which fastai runs on *lowercased* text, where
spaCy's case-sensitive exceptions no longer fire): contractions split as "do n't", punctuation
split off, "Mr." as "Mr" ".", initials ("F."), "e.g.", URLs, e-mails, emoticons and numbers
kept whole, units split off numbers ("100m" -> "100" "m"), hyphens between letters split.

It is *stable*: splitting any of its pieces again gives that piece back, so
``" ".join(pieces)`` is a fixed point. That is what lets
``Tokenizer.detokenize(tokenize(x)) == normalize(x)`` hold for every string.

Any string splits in time and memory linear in its length. A whitespace-free stretch longer
than ``MAX_CHUNK`` characters is cut into windows of at most ``MAX_CHUNK`` characters before the
regex sees it (a run of one repeated character, or of word characters, longer than that is
one piece without the regex), and the e-mail alternative is only tried where an e-mail can
match. Stretches up to ``MAX_CHUNK`` split exactly as one regex pass would.

``SpacyTokenizer`` wraps ``spacy.blank(lang).tokenizer`` for any language spaCy supports.
"""

from __future__ import annotations

import regex

_KEPT_DOTTED = r"i\.e|e\.g|a\.m|p\.m|vs"  # dotted forms spaCy keeps whole even in lower case
_UNITS = "km|cm|mm|dm|nm|yd|ft|kg|mg|lb|oz|mph|kmh|mbar|hpa|mb|kb|gb|tb|am|pm|ha|in|m|g|t|pa"
_WORD_SPLITS = {"gonna": 3, "gotta": 3, "cannot": 3}  # whole words spaCy splits in two

_URL = r"""(?:https?://|www\.)[^\s<>"]*[^\s<>".,;:!?)\]}'’]        # URL, trailing punctuation excluded
"""
_EMAIL = r"""
  | [\w.+-]*\w@\w[\w-]*(?:\.\w[\w-]*)+                      # e-mail
"""
_REST = (
    r"""
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
"""
)
_RULE_PATTERN = regex.compile(_URL + _EMAIL + _REST, regex.VERBOSE | regex.IGNORECASE)
# The same without the e-mail alternative. Where no e-mail can match they agree, and this one
# stays linear: "[\w.+-]*\w@" rescans a long run of those characters at every position.
_NO_EMAIL_PATTERN = regex.compile(_URL + _REST, regex.VERBOSE | regex.IGNORECASE)

_TRAILING = frozenset(',.;:!?)"')

MAX_CHUNK = 1000
"""Whitespace-free stretches longer than this many characters are cut into windows of at most
this many before the regex sees them: the regex then costs at most a constant per character,
and its backtracking memory stays bounded."""

# Where an e-mail's local part can end: "\w@" then a dotted domain.
_EMAIL_AT = regex.compile(r"(?<=\w)@\w[\w-]*(?:\.\w[\w-]*)+")
# A whole run of local-part characters followed by "@" (anchored at the run's start, so linear).
_LOCAL_RUN = regex.compile(r"(?<![\w.+-])[\w.+-]+(?=@)")
_WORD_RUN = regex.compile(r"\w+")
_SOFT_CUT = regex.compile(r"\W(?=\w)", regex.REVERSE)  # the last non-word character before a word


def _email_spans(chunk: str) -> list[tuple[int, int]]:
    """Spans [start, at) of the runs where the e-mail alternative matches at every position: an
    e-mail's local part is the whole rest of its ``[\\w.+-]`` run, so whether it matches is the
    same at every position of a run, and false outside these runs."""
    spans = []
    for run in _LOCAL_RUN.finditer(chunk):
        if _EMAIL_AT.match(chunk, run.end()):
            spans.append((run.start(), run.end()))
    return spans


def _regex_pieces(chunk: str) -> list[str]:
    """Exactly ``[m.group(0) for m in _RULE_PATTERN.finditer(chunk)]``, in linear time: the full
    pattern runs only inside runs where an e-mail matches, the pattern without it elsewhere
    (some alternative matches at every position, so the matches are contiguous)."""
    spans = _email_spans(chunk) if "@" in chunk else []
    if not spans:
        return [m.group(0) for m in _NO_EMAIL_PATTERN.finditer(chunk)]
    pieces: list[str] = []
    pos, i, n = 0, 0, len(chunk)
    while pos < n:
        while i < len(spans) and spans[i][1] <= pos:
            i += 1
        if i < len(spans) and spans[i][0] <= pos:
            match = _RULE_PATTERN.match(chunk, pos)
            assert match is not None  # "\X" matches any character
            pieces.append(match.group(0))
            pos = match.end()
            continue
        stop = spans[i][0] if i < len(spans) else n
        for match in _NO_EMAIL_PATTERN.finditer(chunk, pos):
            pieces.append(match.group(0))
            pos = match.end()
            if pos >= stop:
                break
    return pieces


def _run_length(chunk: str, pos: int) -> int:
    """Length of the run of ``chunk[pos]`` starting at ``pos``, in C-speed steps."""
    char, length, width = chunk[pos], 0, 64
    while True:
        window = chunk[pos + length : pos + length + width]
        rest = window.lstrip(char)
        length += len(window) - len(rest)
        if rest or len(window) < width:
            return length
        width *= 2


def _split_long(chunk: str, max_chunk: int, pieces: list[str]) -> None:
    """Split a whitespace-free stretch longer than ``max_chunk`` in windows of at most
    ``max_chunk`` characters. A run of one character, or of word characters, longer than
    ``max_chunk`` is one piece, as the regex would make it. Other windows end before the
    last word that starts in them, else at ``max_chunk``, never inside a run of one character;
    each window splits as that text alone would. Every piece splits again into itself."""
    pos, n = 0, len(chunk)
    while pos < n:
        end = pos + _run_length(chunk, pos)
        if end - pos <= max_chunk:
            word = _WORD_RUN.match(chunk, pos)
            end = word.end() if word is not None else pos
        if end - pos > max_chunk:  # longer than a window, so it comes back here when split again
            pieces.append(chunk[pos:end])
            pos = end
            continue
        end = pos + max_chunk
        if end < n:
            soft = _SOFT_CUT.search(chunk, pos + 1, end)
            if soft is not None:
                end = soft.end()
            elif chunk[end - 1] == chunk[end]:  # back to the start of the run that crosses the cut
                window = chunk[pos:end]
                end -= len(window) - len(window.rstrip(chunk[end]))
        pieces.extend(_regex_pieces(chunk[pos:end]))
        pos = end


def _split(text: str, max_chunk: int | None = None) -> list[str]:
    # Fast paths give exactly what the regex would for the two commonest chunk shapes, a bare
    # word ("word") and a word with one trailing mark ("word,"): 4-5x faster overall. Chunks
    # starting with a digit, initials ("F."), "vs." and split words take the regex.
    limit = MAX_CHUNK if max_chunk is None else max_chunk
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
        elif len(chunk) > limit:
            _split_long(chunk, limit, pieces)
        else:
            pieces.extend(_regex_pieces(chunk))
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
