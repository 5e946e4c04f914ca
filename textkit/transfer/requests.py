"""What every text classifier folder and predict call shares (the AWD-LSTM and the LLM
classifiers alike): the folder's config file name and format version, and the checks on a
``predict_proba`` request. Kept apart so the two classifiers need not import each other."""

from __future__ import annotations

CONFIG_FILE = "classifier.json"
FORMAT_VERSION = 1


def check_texts(texts: object) -> list[str]:
    if isinstance(texts, (str, bytes)):
        raise TypeError("texts must be a list of strings, not a single string; wrap it: predict([text])")
    texts = list(texts)
    for i, text in enumerate(texts):
        if isinstance(text, bytes):
            raise TypeError(f"texts[{i}] is bytes; decode it first (e.g. text.decode('utf-8'))")
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is {type(text).__name__}, not str")
    return texts


def check_predict_request(texts: object, batch_size: object, on_empty: str, empty_input: str) -> list[str]:
    """The texts of a ``predict_proba`` call, checked with its options: ``on_empty="error"``
    refuses empty or whitespace-only texts, naming the rows; ``"predict"`` lets the classifier
    read them as ``empty_input`` alone (its start or end token)."""
    texts = check_texts(texts)
    if on_empty not in ("error", "predict"):
        raise ValueError(f"on_empty must be 'error' or 'predict', got {on_empty!r}")
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    blank = [i for i, t in enumerate(texts) if not t.strip()]
    if blank and on_empty == "error":
        raise ValueError(
            f"texts {blank[:10]} are empty or whitespace only ({len(blank)} in all); drop them, or pass "
            f"on_empty='predict' to classify them from {empty_input} alone"
        )
    return texts
