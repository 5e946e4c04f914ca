"""gettext catalogs as parallel text: the .mo reader and the sentence filter."""

from __future__ import annotations

import struct

import pytest

from textkit.data.gettext_pairs import read_mo, sentence_pairs


def write_mo(path, pairs, big_endian=False):
    """A compiled catalog written by hand: header, two (length, offset) tables, then strings."""
    order = ">" if big_endian else "<"
    n = len(pairs)
    originals, translations = 28, 28 + 8 * n
    at = translations + 8 * n
    blob, table_o, table_t = b"", b"", b""
    for msgid, _ in pairs:
        raw = msgid.encode()
        table_o += struct.pack(order + "2I", len(raw), at + len(blob))
        blob += raw + b"\0"
    for _, msgstr in pairs:
        raw = msgstr.encode()
        table_t += struct.pack(order + "2I", len(raw), at + len(blob))
        blob += raw + b"\0"
    magic = 0x950412DE
    header = struct.pack(order + "7I", magic, 0, n, originals, translations, 0, 0)
    path.write_bytes(header + table_o + table_t + blob)
    return path


@pytest.mark.parametrize("big_endian", [False, True])
def test_gettext_pairs_read_mo_round_trip(tmp_path, big_endian):
    pairs = [("", "Content-Type: text/plain"), ("Compare files line by line.", "Compara ficheros línea por línea.")]
    assert read_mo(write_mo(tmp_path / "x.mo", pairs, big_endian)) == pairs


def test_gettext_pairs_filter_keeps_translated_sentences():
    pairs = [
        ("Compare files line by line.", "Compara ficheros línea por línea."),
        ("%s: cannot stat", "%s: no se puede"),  # printf directive
        ("Valid", "Válido"),  # too short
        ("Same text here", "Same text here"),  # untranslated
        ("two\nlines here now", "dos\nlíneas aquí ahora"),
        ("lowercase start is dropped", "se descarta"),
    ]
    assert sentence_pairs(pairs) == [("Compare files line by line.", "Compara ficheros línea por línea.")]


@pytest.mark.parametrize("data", [b"", b"not a catalog at all....", struct.pack("<7I", 0x950412DE, 0, 5, 28, 68, 0, 0)])
def test_gettext_pairs_damaged_catalog_names_the_file(tmp_path, data):
    path = tmp_path / "bad.mo"
    path.write_bytes(data)
    with pytest.raises(ValueError, match="bad.mo"):
        read_mo(path)
