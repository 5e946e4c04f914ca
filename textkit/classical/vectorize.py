"""Raw text to sparse CSR features: counts, binary, tf-idf; word n-grams; regex extractors.

``TextVectorizer`` is a scikit-learn transformer. It never densifies: documents are turned
into term ids with a growing dictionary, the ids go into one flat int64 array, and scipy
builds the CSR matrix (summing repeated terms) in C. That is what lets it handle IMDb with
trigrams (25k documents, millions of features) in a few hundred MB.

The analyzer is any textkit tokenizer (by name) or any callable ``str -> list[str]``:

- ``"rule"`` (default): ``textkit.text.RuleTokenizer``, a plain word splitter that splits off
  punctuation and contractions ("do n't") but has no case rules, so ``lowercase`` applies;
- ``"textkit"``: ``textkit.text.Tokenizer``, the fastai-style tokenizer with ``xxmaj`` /
  ``xxup`` / ``xxrep`` markers (use ``lowercase=False`` so the markers survive);
- ``"spacy"``: ``spacy.blank("en")``'s tokenizer;
- ``"regex-words"``: ``(?u)\\b\\w\\w+\\b``, scikit-learn's default token pattern;
- ``"pretokenized"``: the documents already are sequences of tokens.

Regex extractors (the course's regex lesson) turn patterns into tokens before tokenizing:
``"urls"`` -> ``xxurl``, ``"numbers"`` -> ``xxnum`` (both in place, so they take part in
n-grams) and ``"emoticons"`` (taken out of the text and added as unigram tokens such as
``:)``, since word splitters would cut them into punctuation).
"""

from __future__ import annotations

import functools
import itertools
import re
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, cast

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import normalize as _normalize_rows
from sklearn.utils.validation import check_is_fitted

if TYPE_CHECKING:
    from sklearn.utils import Tags

__all__ = ["ANALYZERS", "REGEX_EXTRACTORS", "TextVectorizer", "get_analyzer"]

WEIGHTINGS = ("count", "binary", "tfidf")
# documents remembered per call to reuse their term ids when they occur again: ~100 bytes each
MEMO_DOCUMENTS = 100_000
REMAP_BLOCK = 1 << 22  # column ids renumbered per block in fit_transform


# --- analyzers --------------------------------------------------------------------------------


def _rule() -> Callable[[str], list[str]]:
    from textkit.text import RuleTokenizer

    return RuleTokenizer(lang="en").tokenize


def _textkit() -> Callable[[str], list[str]]:
    from textkit.text import Tokenizer

    return Tokenizer(lang="en").tokenize


def _spacy() -> Callable[[str], list[str]]:
    from textkit.text import SpacyTokenizer

    return SpacyTokenizer(lang="en").tokenize


def _regex_words() -> Callable[[str], list[str]]:
    return re.compile(r"(?u)\b\w\w+\b").findall


# name -> factory of a ``str -> list[str]`` function. Factories run once per process.
ANALYZERS: dict[str, Callable[[], Callable[[str], list[str]]]] = {
    "rule": _rule,
    "textkit": _textkit,
    "spacy": _spacy,
    "regex-words": _regex_words,
}


@functools.lru_cache(maxsize=None)
def _named_analyzer(name: str) -> Callable[[str], list[str]]:
    return ANALYZERS[name]()


def get_analyzer(analyzer: str | Callable[[str], list[str]]) -> Callable[[str], list[str]] | None:
    """The tokenize function for an analyzer name or callable (``None`` for ``"pretokenized"``)."""
    if callable(analyzer):
        return analyzer
    if analyzer == "pretokenized":
        return None
    if analyzer not in ANALYZERS:
        raise ValueError(
            f"unknown analyzer {analyzer!r}; use one of {sorted(ANALYZERS) + ['pretokenized']} "
            "or a callable str -> list[str]"
        )
    return _named_analyzer(analyzer)


# --- regex extractors ---------------------------------------------------------------------------

_EMOTICON = re.compile(
    r"""(?<![\w:;=])(?:
        [<>]?[:;=8][\-o*']?[)\](\[dDpP/\\|}{@3*]   # :) ;-) :D :P :/ :'( =] 8) ...
      | [)\](\[dDpP/\\|}{@][\-o*']?[:;=8]          # (: D: ...
      | <3
    )(?![\w:;=])""",
    re.VERBOSE,
)
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"]+", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:[.,:]\d+)*(?![\w])")


def _emoticon_token(match: str) -> str:
    return match.replace("-", "").replace("o", "").replace("'", "") or match


# name -> (pattern, replacement or None). None: the match is removed from the text and added
# as a unigram token (normalized: ":-)" -> ":)"). Applied in this order whatever order the
# user names them in: URLs first (they contain ":/"), then emoticons, then numbers.
REGEX_EXTRACTORS: dict[str, tuple[re.Pattern, str | None]] = {
    "urls": (_URL, " xxurl "),
    "emoticons": (_EMOTICON, None),
    "numbers": (_NUMBER, " xxnum "),
}


def _check_extractors(extractors: Sequence[str] | None) -> tuple[str, ...]:
    if extractors is None:
        return ()
    if isinstance(extractors, str):
        extractors = (extractors,)
    unknown = [e for e in extractors if e not in REGEX_EXTRACTORS]
    if unknown:
        raise ValueError(f"unknown regex extractors {unknown}; available: {list(REGEX_EXTRACTORS)}")
    return tuple(name for name in REGEX_EXTRACTORS if name in extractors)


def _resolve_stop_words(stop_words: str | Iterable[str] | None) -> frozenset[str]:
    if stop_words is None:
        return frozenset()
    if isinstance(stop_words, str):
        if stop_words != "english":
            raise ValueError(f"stop_words must be None, 'english' or a collection of words, got {stop_words!r}")
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        return frozenset(ENGLISH_STOP_WORDS)
    return frozenset(stop_words)


def growing_vocabulary() -> defaultdict[str, int]:
    """An empty term -> id dict that gives each new term the next id on first lookup, for
    ``TextVectorizer._count(..., grow=True)`` (the streaming path's one vocabulary for all chunks)."""
    vocabulary: defaultdict[str, int] = defaultdict()
    vocabulary.default_factory = vocabulary.__len__
    return vocabulary


# --- the vectorizer -----------------------------------------------------------------------------


class TextVectorizer(TransformerMixin, BaseEstimator):
    """Turn raw documents into a sparse CSR document-term matrix.

    Parameters
    ----------
    analyzer : name or callable
        Tokenizer: ``"rule"`` (default, ``textkit.text.RuleTokenizer``), ``"textkit"``,
        ``"spacy"``, ``"regex-words"``, ``"pretokenized"`` or a callable ``str -> list[str]``.
    lowercase : bool
        Lowercase the text before tokenizing (not applied to ``"pretokenized"`` input).
    ngram_range : (min_n, max_n)
        Word n-grams from ``min_n`` to ``max_n``, joined with a space.
    weighting : {"count", "binary", "tfidf"}
        Raw counts, presence (0/1), or tf-idf with scikit-learn's smoothed idf
        ``ln((1 + n) / (1 + df)) + 1``.
    sublinear_tf : bool
        Replace a count ``tf`` by ``1 + ln(tf)`` (tf-idf only).
    norm : {"l2", "l1", None}
        Row normalization of tf-idf weights (ignored for counts and binary).
    smooth_idf : bool
        Add one to document frequencies, as if one extra document held every term.
    min_df, max_df : int or float
        Drop terms in fewer / more documents than this (a float is a fraction of documents).
    max_features : int or None
        Keep the most frequent terms over the corpus (ties broken alphabetically).
    stop_words : None, "english" or a collection
        Tokens removed before n-grams are formed (``"english"`` is scikit-learn's list).
    extractors : tuple of names
        Regex extractors applied to the raw text: ``"urls"``, ``"emoticons"``, ``"numbers"``.
    dtype : numpy dtype
        dtype of the returned matrix.

    Attributes
    ----------
    vocabulary_ : dict[str, int]
        Term -> column, columns in alphabetical order of terms.
    idf_ : ndarray of shape (n_features,)
        Inverse document frequencies (tf-idf only).
    n_documents_ : int
        Documents seen in ``fit``.
    """

    def __init__(
        self,
        *,
        analyzer: str | Callable[[str], list[str]] = "rule",
        lowercase: bool = True,
        ngram_range: tuple[int, int] = (1, 1),
        weighting: str = "count",
        sublinear_tf: bool = False,
        norm: str | None = "l2",
        smooth_idf: bool = True,
        min_df: int | float = 1,
        max_df: int | float = 1.0,
        max_features: int | None = None,
        stop_words: str | Iterable[str] | None = None,
        extractors: tuple[str, ...] = (),
        dtype: type = np.float64,
    ) -> None:
        self.analyzer = analyzer
        self.lowercase = lowercase
        self.ngram_range = ngram_range
        self.weighting = weighting
        self.sublinear_tf = sublinear_tf
        self.norm = norm
        self.smooth_idf = smooth_idf
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features
        self.stop_words = stop_words
        self.extractors = extractors
        self.dtype = dtype

    # -- analysis --------------------------------------------------------------------------------

    def build_analyzer(self) -> Callable[[str | Sequence[str]], list[str]]:
        """The function that maps one document to its list of terms (n-grams included)."""
        tokenize = get_analyzer(self.analyzer)
        extractors = [REGEX_EXTRACTORS[name] for name in _check_extractors(self.extractors)]
        stop = _resolve_stop_words(self.stop_words)
        min_n, max_n = self._check_ngram_range()
        lowercase = self.lowercase

        def analyze(doc: str | Sequence[str]) -> list[str]:
            extra: list[str] = []
            if tokenize is None:
                tokens = list(doc)
            else:
                doc = cast(str, doc)  # _count checked it: only "pretokenized" takes token lists
                for pattern, replacement in extractors:
                    if replacement is None:
                        found = pattern.findall(doc)
                        if found:
                            extra.extend(map(_emoticon_token, found))
                            doc = pattern.sub(" ", doc)
                    else:
                        doc = pattern.sub(replacement, doc)
                tokens = tokenize(doc.lower() if lowercase else doc)
            if stop:
                tokens = [t for t in tokens if t not in stop]
            if max_n == 1:
                terms = tokens
            else:
                terms = tokens if min_n == 1 else []
                for n in range(max(min_n, 2), max_n + 1):
                    terms = terms + list(map(" ".join, zip(*(tokens[i:] for i in range(n)), strict=False)))
            return terms + extra if extra else terms

        return analyze

    def _check_ngram_range(self) -> tuple[int, int]:
        try:
            min_n, max_n = self.ngram_range
        except (TypeError, ValueError):
            raise ValueError(f"ngram_range must be a pair (min_n, max_n), got {self.ngram_range!r}") from None
        if not (1 <= min_n <= max_n):
            raise ValueError(f"ngram_range must satisfy 1 <= min_n <= max_n, got {self.ngram_range!r}")
        return int(min_n), int(max_n)

    def _check_params(self) -> None:
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {self.weighting!r}")
        if self.norm not in ("l1", "l2", None):
            raise ValueError(f"norm must be 'l1', 'l2' or None, got {self.norm!r}")
        for name in ("min_df", "max_df"):
            value = getattr(self, name)
            if isinstance(value, float) and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} as a float is a fraction of documents in [0, 1], got {value}")
            if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if self.max_features is not None and (
            not isinstance(self.max_features, (int, np.integer)) or self.max_features < 1
        ):
            raise ValueError(f"max_features must be a positive int or None, got {self.max_features!r}")
        self._check_ngram_range()
        _check_extractors(self.extractors)

    @staticmethod
    def _check_documents(raw_documents: Iterable | None) -> Iterable:
        if isinstance(raw_documents, (str, bytes)):
            raise ValueError(
                "TextVectorizer expects an iterable of documents (e.g. a list of strings), "
                "got a single string; wrap it in a list: [text]"
            )
        if raw_documents is None:
            raise ValueError("TextVectorizer expects an iterable of documents, got None")
        return raw_documents

    # -- counting --------------------------------------------------------------------------------

    def _count(
        self,
        raw_documents: Iterable,
        vocabulary: dict[str, int] | None,
        *,
        grow: bool = False,
        memo: dict[str, array] | None = None,
    ) -> tuple[sp.csr_matrix, dict[str, int]]:
        """Count terms. With ``vocabulary=None`` a new one grows (ids in order of first sight);
        with ``grow=True`` the given ``vocabulary`` grows in place; otherwise it is fixed and
        unknown terms are dropped.

        A document seen before copies its first occurrence's term ids instead of being analyzed
        again. The ids are remembered for at most ``MEMO_DOCUMENTS`` documents: within this call,
        or across calls in ``memo`` (a dict the caller keeps, valid while ids do not change: for
        one fixed or growing vocabulary), so memory stays bounded.
        """
        analyze = self.build_analyzer()
        ids = array("i")  # int32 column ids: the CSR indices, shared without a copy
        indptr = array("q", [0])
        pretokenized = self.analyzer == "pretokenized"
        if vocabulary is None or grow:
            growing = growing_vocabulary() if vocabulary is None else vocabulary
            if not (isinstance(growing, defaultdict) and growing.default_factory == growing.__len__):
                raise TypeError("grow=True takes a vocabulary made by growing_vocabulary()")
            lookup = growing.__getitem__

            def term_ids(doc: str | Sequence[str]) -> Iterable[int]:
                return map(lookup, analyze(doc))
        else:  # unknown terms become -1 here (a C-level map, no Python loop) and are dropped below
            get = vocabulary.get
            unknown = itertools.repeat(-1)

            def term_ids(doc: str | Sequence[str]) -> Iterable[int]:
                return map(get, analyze(doc), unknown)

        seen: dict[str, array] = {} if memo is None else memo
        for i, doc in enumerate(raw_documents):
            self._check_doc(doc, i, pretokenized)
            known = None if pretokenized else seen.get(doc)
            if known is not None:
                ids.extend(known)
            else:
                start = len(ids)
                ids.extend(term_ids(doc))
                if not pretokenized and len(seen) < MEMO_DOCUMENTS:
                    seen[doc] = ids[start:]
            indptr.append(len(ids))
        del seen
        fixed = not (vocabulary is None or grow)
        if vocabulary is None:
            vocabulary = dict(growing)
        n_docs = len(indptr) - 1
        col = np.frombuffer(ids, dtype=np.int32) if len(ids) else np.zeros(0, dtype=np.int32)
        row_ptr = np.frombuffer(indptr, dtype=np.int64)
        if fixed and len(col) and col.min() < 0:  # drop the unknown terms
            kept = col >= 0
            row_ptr = np.concatenate([[0], np.cumsum(kept)])[row_ptr]
            col = col[kept]
        index_dtype = np.int32 if len(ids) < np.iinfo(np.int32).max else np.int64
        X = sp.csr_matrix(
            (np.ones(len(col), dtype=self.dtype), col.astype(index_dtype, copy=False), row_ptr.astype(index_dtype)),
            shape=(n_docs, len(vocabulary)),
        )
        X.sum_duplicates()  # sorts indices and adds repeated terms, in C
        return X, vocabulary

    @staticmethod
    def _check_doc(doc: object, i: int, pretokenized: bool) -> None:
        if pretokenized:
            if isinstance(doc, str):
                raise ValueError(
                    f"analyzer='pretokenized' expects each document to be a list of tokens; document {i} is a string"
                )
        elif not isinstance(doc, str):
            raise ValueError(
                f"document {i} is {type(doc).__name__}, not str; "
                "TextVectorizer takes raw text (or analyzer='pretokenized')"
            )

    # -- fit / transform ------------------------------------------------------------------------

    def fit(self, raw_documents: Iterable[str], y: object = None) -> TextVectorizer:
        """Learn the vocabulary (and idf for tf-idf) from ``raw_documents``."""
        self.fit_transform(raw_documents)
        return self

    def fit_transform(self, raw_documents: Iterable[str], y: object = None) -> sp.csr_matrix:
        """Learn the vocabulary and return the document-term matrix of ``raw_documents``."""
        self._check_params()
        X, vocabulary = self._count(self._check_documents(raw_documents), None)
        n_docs = X.shape[0]
        if n_docs == 0:
            raise ValueError("TextVectorizer.fit got no documents")
        if not vocabulary:
            raise ValueError(
                f"empty vocabulary: all {n_docs} documents are empty or contain only stop words / "
                "tokens the analyzer drops; check the input or the analyzer"
            )
        # Columns in alphabetical order of terms, so the result does not depend on document order.
        terms = np.array(list(vocabulary), dtype=object)
        order = np.argsort(terms, kind="stable")
        remap = np.empty(len(order), dtype=X.indices.dtype)
        remap[order] = np.arange(len(order), dtype=X.indices.dtype)
        for start in range(0, X.nnz, REMAP_BLOCK):  # in place, a block at a time: no second index array
            block = X.indices[start : start + REMAP_BLOCK]
            block[:] = remap[block]
        X.has_sorted_indices = False
        X.sort_indices()
        terms = terms[order]
        keep = self._select_features(X, n_docs)
        if keep is not None:
            if not keep.any():
                raise ValueError(
                    f"min_df={self.min_df!r} / max_df={self.max_df!r} / max_features={self.max_features!r} "
                    f"left no terms (of {len(terms)}); loosen them"
                )
            columns = np.flatnonzero(keep)
            X = X[:, columns]
            terms = terms[columns]
        self.vocabulary_ = dict(zip(terms.tolist(), range(len(terms)), strict=True))
        self.n_documents_ = n_docs
        if self.weighting == "tfidf":
            self.idf_ = self._idf(np.bincount(X.indices, minlength=X.shape[1]), n_docs)
        return self._weight(X)

    def _idf(self, df: np.ndarray, n_docs: int) -> np.ndarray:
        """scikit-learn's (smoothed) idf from document frequencies."""
        smooth = 1.0 if self.smooth_idf else 0.0
        return np.log((n_docs + smooth) / (df.astype(np.float64) + smooth)) + 1.0

    def _select_features(self, X: sp.csr_matrix, n_docs: int) -> np.ndarray | None:
        if not self._selects(n_docs):
            return None
        df = np.bincount(X.indices, minlength=X.shape[1])
        totals = np.bincount(X.indices, weights=X.data, minlength=X.shape[1]) if self.max_features else None
        return self._keep_terms(df, totals, n_docs)

    def _df_bounds(self, n_docs: int) -> tuple[float, float]:
        min_df = self.min_df if isinstance(self.min_df, (int, np.integer)) else self.min_df * n_docs
        max_df = self.max_df if isinstance(self.max_df, (int, np.integer)) else self.max_df * n_docs
        return min_df, max_df

    def _selects(self, n_docs: int) -> bool:
        """Whether min_df, max_df or max_features can drop any term of ``n_docs`` documents."""
        min_df, max_df = self._df_bounds(n_docs)
        return not (min_df <= 1 and max_df >= n_docs and self.max_features is None)

    def _keep_terms(self, df: np.ndarray, totals: np.ndarray | None, n_docs: int) -> np.ndarray:
        """The terms min_df / max_df / max_features keep, from document frequencies and total
        counts of terms in alphabetical order (the streaming path calls it with counts summed
        over chunks, so both paths select the same terms)."""
        min_df, max_df = self._df_bounds(n_docs)
        keep = (df >= min_df) & (df <= max_df)
        if self.max_features is not None and keep.sum() > self.max_features:
            assert totals is not None  # computed whenever max_features is set
            candidates = np.flatnonzero(keep)
            # most frequent first; columns are alphabetical, so a stable sort breaks ties alphabetically
            best = candidates[np.argsort(-totals[candidates], kind="stable")[: self.max_features]]
            keep = np.zeros_like(keep)
            keep[best] = True
        return keep

    def transform(self, raw_documents: Iterable[str]) -> sp.csr_matrix:
        """Document-term matrix of new documents; terms not in the vocabulary are ignored."""
        check_is_fitted(self, "vocabulary_")
        X, _ = self._count(self._check_documents(raw_documents), self.vocabulary_)
        return self._weight(X)

    def _weight(self, X: sp.csr_matrix) -> sp.csr_matrix:
        if self.weighting == "binary":
            X.data[:] = 1
        elif self.weighting == "tfidf":
            if self.sublinear_tf:
                np.log(X.data, out=X.data)
                X.data += 1
            X.data *= self.idf_[X.indices]
            if self.norm is not None:
                X = _normalize_rows(X, norm=self.norm, copy=False)
        return X

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """Terms in column order."""
        check_is_fitted(self, "vocabulary_")
        names = np.empty(len(self.vocabulary_), dtype=object)
        names[list(self.vocabulary_.values())] = list(self.vocabulary_)
        return names

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.requires_fit = True
        return tags
