"""Parallel sentences from gettext message catalogs (``.mo``): English msgid -> translated msgstr.

The catalog format is small enough to read directly (a header, then two tables of
(length, offset) pairs), so no gettext internals are touched and a damaged file is an error
that names it.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

from textkit.data.registry import Manifest

_MAGIC_LE, _MAGIC_BE = 0x950412DE, 0xDE120495
_STARTS_LIKE_A_SENTENCE = re.compile(r"^[A-Z][a-z]")


def read_mo(path: Path) -> list[tuple[str, str]]:
    """(msgid, msgstr) pairs of a compiled catalog, in file order."""
    data = path.read_bytes()
    if len(data) < 20:
        raise ValueError(f"{path} is not a gettext catalog ({len(data)} bytes)")
    (magic,) = struct.unpack("<I", data[:4])
    if magic not in (_MAGIC_LE, _MAGIC_BE):
        raise ValueError(f"{path} is not a gettext catalog (magic {magic:#x})")
    order = "<" if magic == _MAGIC_LE else ">"
    _, count, originals, translations = struct.unpack(order + "4I", data[4:20])
    pairs = []
    for i in range(count):
        try:
            id_len, id_at = struct.unpack_from(order + "2I", data, originals + 8 * i)
            str_len, str_at = struct.unpack_from(order + "2I", data, translations + 8 * i)
        except struct.error as exc:
            raise ValueError(f"{path}: entry {i} lies past the end of the file (truncated?)") from exc
        if id_at + id_len > len(data) or str_at + str_len > len(data):
            raise ValueError(f"{path}: entry {i} lies past the end of the file (truncated?)")
        msgid = data[id_at : id_at + id_len].decode("utf-8", "replace")
        msgstr = data[str_at : str_at + str_len].decode("utf-8", "replace")
        pairs.append((msgid, msgstr))
    return pairs


def sentence_pairs(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Translated one-line messages of 3-40 words that start like a sentence and hold no
    printf directive (the corpus's documented filter)."""
    kept = []
    for english, translated in pairs:
        english, translated = english.strip(), translated.strip()
        if not english or not translated or translated == english or "\x00" in english:
            continue
        if "\n" in english or "\n" in translated or "%" in english:
            continue
        if not 3 <= len(english.split()) <= 40 or not _STARTS_LIKE_A_SENTENCE.match(english):
            continue
        kept.append((english, translated))
    return kept


def read_gettext_parallel(root: Path, manifest: Manifest, split: str | None) -> list[dict]:
    """Records ``{"source": translation, "target": English, "catalog": file}``, one per English
    message (first catalog in manifest order wins), for the manifest's ``.mo`` files."""
    if split not in (None, "test"):
        raise ValueError(f"{manifest.name} has one split, 'test', not {split!r}")
    records, seen = [], set()
    for name in manifest.files:
        for english, translated in sentence_pairs(read_mo(root / name)):
            if english in seen:
                continue
            seen.add(english)
            records.append({"source": translated, "target": english, "catalog": name})
    return records


__all__ = ["read_gettext_parallel", "read_mo", "sentence_pairs"]
