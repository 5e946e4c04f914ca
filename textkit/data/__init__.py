"""Corpora: a registry of manifests, a checksummed cache, and readers that return records."""

from __future__ import annotations

from pathlib import Path

from textkit.data.cache import ChecksumError, FetchError, corpus_dir, textkit_home
from textkit.data.cache import fetch as _fetch_manifest
from textkit.data.readers import READERS, decode_robustly
from textkit.data.registry import Manifest, get_manifest, list_manifests

__all__ = [
    "ChecksumError",
    "FetchError",
    "Manifest",
    "corpus_dir",
    "decode_robustly",
    "fetch",
    "info",
    "list_corpora",
    "load",
    "textkit_home",
]


def list_corpora() -> list[str]:
    """Names of every corpus with a manifest."""
    return sorted(list_manifests())


def info(name: str) -> Manifest:
    """The manifest of a corpus (raises KeyError naming the known corpora for an unknown name)."""
    return get_manifest(name)


def fetch(name: str, force: bool = False, verbose: bool = False) -> Path:
    """Fetch a corpus into ``$TEXTKIT_HOME`` (or verify the cached copy) and return its folder.
    A composite corpus (``reader = "composite"``) fetches each of its parts."""
    manifest = get_manifest(name)
    if manifest.composite:
        for part in manifest.options["parts"]:
            fetch(part["corpus"], force=force, verbose=verbose)
        return corpus_dir(name)
    return _fetch_manifest(manifest, force=force, verbose=verbose)


def load(name: str, split: str | None = None, data_dir: str | Path | None = None) -> list[dict]:
    """Records of a corpus: ``{"text", "label", ...}`` for labelled corpora, ``{"text", ...}``
    for plain ones and ``{"source", "target", ...}`` for parallel ones.

    ``data_dir`` reads files you already have in the corpus's standard layout (for example
    an unpacked ``aclImdb``) instead of the cache.
    """
    manifest = get_manifest(name)
    if data_dir is not None:
        root = Path(data_dir).expanduser()
        if not root.is_dir():
            raise FileNotFoundError(f"data_dir {root} for corpus {name!r} is not a folder")
    elif manifest.composite:  # its parts are fetched as the reader loads them
        root = corpus_dir(name)
    else:
        root = _fetch_manifest(manifest)
    return READERS[manifest.reader](root, manifest, split)
