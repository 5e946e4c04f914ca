"""Tokenize and numericalize large corpora: worker processes, streaming, bounded memory,
input order kept, and an on-disk cache of the numericalized corpus.

``iter_tokenized`` keeps at most ``2 * n_workers`` batches in flight (``Pool.imap`` would
read the whole input eagerly). ``numericalize_corpus`` streams ids to disk and stores them as
``ids.npy`` (int32) plus ``offsets.npy`` (int64, one more than the number of documents),
memory-mapped on load, in a cache folder keyed by the texts and the tokenizer/vocab config.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import tempfile
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from textkit._io import atomic_write_json, read_json
from textkit.text.tokenizer import check_text

_worker_tokenizer = None


def _init_worker(tokenizer) -> None:
    global _worker_tokenizer
    _worker_tokenizer = tokenizer


def _tokenize_batch(batch: list[str]) -> list[str | list[str]]:
    # Sending one joined string per document is ~4x cheaper to pickle than a list of 100s of
    # small strings; a document whose tokens contain the separator goes back as a list.
    out: list[str | list[str]] = []
    for text in batch:
        tokens = _worker_tokenizer.tokenize(text)
        joined = " ".join(tokens)
        out.append(joined if tokens and joined.count(" ") == len(tokens) - 1 else tokens)
    return out


def _unpack(batch: list[str | list[str]]) -> list[list[str]]:
    return [item.split(" ") if isinstance(item, str) else item for item in batch]


def _batches(texts: Iterable[str], batch_size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for index, text in enumerate(texts):
        batch.append(check_text(text, f"texts[{index}]"))
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def iter_tokenized(
    texts: Iterable[str],
    tokenizer,
    n_workers: int = 1,
    batch_size: int = 512,
    progress: bool = False,
    total: int | None = None,
) -> Iterator[list[str]]:
    """Yield ``tokenizer.tokenize(text)`` for each text, in input order.

    With ``n_workers > 1`` batches go to spawned worker processes (safe with torch loaded);
    at most ``2 * n_workers`` batches are pending at any time, so memory stays bounded for
    any input length.
    """
    from tqdm.auto import tqdm

    if total is None and hasattr(texts, "__len__"):
        total = len(texts)  # type: ignore[arg-type]
    bar = tqdm(total=total, unit="doc", disable=not progress, desc="tokenize")
    try:
        if n_workers <= 1:
            for batch in _batches(texts, batch_size):
                for text in batch:
                    yield tokenizer.tokenize(text)
                bar.update(len(batch))
            return
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(n_workers, mp_context=context, initializer=_init_worker, initargs=(tokenizer,)) as pool:
            pending: deque[Future] = deque()
            for batch in _batches(texts, batch_size):
                pending.append(pool.submit(_tokenize_batch, batch))
                if len(pending) >= 2 * n_workers:
                    done = _unpack(pending.popleft().result())
                    bar.update(len(done))
                    yield from done
            while pending:
                done = _unpack(pending.popleft().result())
                bar.update(len(done))
                yield from done
    finally:
        bar.close()


@dataclass
class NumericalizedCorpus:
    """Token ids of many documents in one flat memory-mapped array."""

    ids: np.ndarray  # (total_tokens,) int32
    offsets: np.ndarray  # (n_docs + 1,) int64; document i is ids[offsets[i]:offsets[i + 1]]
    folder: Path

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index: int) -> np.ndarray:
        if not -len(self) <= index < len(self):
            raise IndexError(f"document {index} out of range ({len(self)} documents)")
        index %= len(self)
        return self.ids[self.offsets[index] : self.offsets[index + 1]]

    @property
    def n_tokens(self) -> int:
        return int(self.offsets[-1])


def _texts_fingerprint(texts: Iterable[str]) -> tuple[str, int]:
    digest = hashlib.sha256()
    count = 0
    for index, text in enumerate(texts):
        encoded = check_text(text, f"texts[{index}]").encode("utf-8", "surrogatepass")
        digest.update(len(encoded).to_bytes(8, "little"))
        digest.update(encoded)
        count += 1
    return digest.hexdigest(), count


def numericalize_corpus(
    texts: Sequence[str] | Callable[[], Iterable[str]],
    tokenizer,
    vocab,
    cache_dir: str | Path | None = None,
    n_workers: int = 1,
    batch_size: int = 512,
    progress: bool = False,
) -> NumericalizedCorpus:
    """Tokenize and numericalize ``texts`` once; later calls with the same texts, tokenizer
    config and vocabulary load the memory-mapped result from the cache.

    ``texts`` is read twice (once to fingerprint it, once to tokenize it), so pass a sequence
    or a function that returns a fresh iterator, not a one-shot generator.
    """
    if isinstance(texts, Iterator):
        raise TypeError("texts is a one-shot iterator; pass a list or a function returning a fresh iterator")
    open_texts = texts if callable(texts) else (lambda: texts)
    text_hash, n_docs = _texts_fingerprint(open_texts())
    config = {"tokenizer": tokenizer.config(), "vocab": vocab.fingerprint(), "texts": text_hash, "n_docs": n_docs}
    key = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:24]
    if cache_dir is None:
        from textkit.data import textkit_home

        cache_dir = textkit_home() / "numericalized"
    folder = Path(cache_dir) / key
    if (folder / "meta.json").exists():
        return _load_numericalized(folder)

    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=cache_dir))
    try:
        offsets = array("q", [0])
        with open(staging / "ids.bin", "wb") as out:
            for tokens in iter_tokenized(open_texts(), tokenizer, n_workers, batch_size, progress, total=n_docs):
                ids = np.asarray(vocab.encode(tokens), dtype=np.int32)
                out.write(ids.tobytes())
                offsets.append(offsets[-1] + len(ids))
        n_tokens = offsets[-1]
        if len(offsets) - 1 != n_docs:
            raise RuntimeError(f"texts changed while being read: fingerprinted {n_docs} documents, tokenized {len(offsets) - 1}")
        ids_mm = np.lib.format.open_memmap(staging / "ids.npy", mode="w+", dtype=np.int32, shape=(n_tokens,))
        raw = np.memmap(staging / "ids.bin", dtype=np.int32, mode="r", shape=(n_tokens,)) if n_tokens else np.zeros(0, np.int32)
        ids_mm[:] = raw
        ids_mm.flush()
        del ids_mm, raw
        os.unlink(staging / "ids.bin")
        np.save(staging / "offsets.npy", np.frombuffer(offsets, dtype=np.int64))
        atomic_write_json(staging / "meta.json", {**config, "n_tokens": n_tokens})
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return _load_numericalized(folder)


def _load_numericalized(folder: Path) -> NumericalizedCorpus:
    meta = read_json(folder / "meta.json", "numericalized corpus metadata")
    try:
        ids = np.load(folder / "ids.npy", mmap_mode="r")
        offsets = np.load(folder / "offsets.npy")
    except (ValueError, OSError) as exc:
        raise ValueError(f"numericalized corpus cache {folder} is damaged ({exc}); delete the folder to rebuild it") from exc
    if len(ids) != meta["n_tokens"] or len(offsets) != meta["n_docs"] + 1 or (len(offsets) and offsets[-1] != len(ids)):
        raise ValueError(f"numericalized corpus cache {folder} is inconsistent with its meta.json; delete the folder to rebuild it")
    return NumericalizedCorpus(ids=ids, offsets=offsets, folder=folder)
