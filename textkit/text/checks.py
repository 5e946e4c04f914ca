"""Input checks shared by every text module (the lowest module of ``textkit.text``: it
imports nothing from textkit, so tokenizers and the parallel runner can both use it without
importing each other)."""

from __future__ import annotations


def check_text(text: object, where: str = "text") -> str:
    """Return ``text`` if it is a str; otherwise raise a TypeError that says what to do."""
    if isinstance(text, str):
        return text
    if isinstance(text, (bytes, bytearray)):
        raise TypeError(
            f"{where} is bytes, not str: decode it first, e.g. textkit.data.decode_robustly(raw)[0] "
            "(UTF-8, then Windows-1252, then Latin-1) or raw.decode('utf-8')"
        )
    if text is None:
        raise TypeError(f"{where} is None: drop missing texts or replace them with '' before tokenizing")
    raise TypeError(f"{where} must be str, got {type(text).__name__}")
