"""``textkit topics``: NMF or SVD topics of your own documents.

    textkit topics --data docs.csv --k 8 --out topics/
    textkit topics --data corpus/ --k 5 --method svd --out topics/

Features are the reference settings of ``textkit reproduce topics`` (scikit-learn's token
pattern, tf-idf, ``--min-df 2``, ``--max-df 0.95``) with the stop words of the documents'
language: ``--lang LANG`` takes spaCy's list for that language, ``--stop-words`` takes none,
scikit-learn's English list or a file, and by default the language is detected from the text
(which candidate language's stop words make up most of its words; English keeps the reference
setting, scikit-learn's list) and printed. The output folder
holds ``topics.json`` (settings, top words, NPMI coherence, versions), ``doc_topics.csv``
(one row per document) and ``top_words.png``; it is written under a temporary name and
renamed only when complete. Thin wrapper over ``textkit.classical``.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from collections.abc import Iterable
from pathlib import Path

from textkit.commands.data_options import add_data_arguments, table_options

FORMAT = "textkit-topics"
FORMAT_VERSION = 1
DETECTED_LANGUAGES = ("en", "fr", "es", "de", "it", "pt", "nl")  # candidates when --lang is not given
MIN_STOP_WORD_SHARE = 0.1  # below this share of stop words in every candidate, the language is unknown
_LETTER_WORD = re.compile(r"[^\W\d_]+")


def _df(value: str) -> int | float:
    """``--min-df``/``--max-df``: an integer is a document count, a number with a point a fraction."""
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a document count (e.g. 2) or a fraction of documents (e.g. 0.95), got {value!r}"
        ) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_arguments(
        parser,
        data_help="documents: CSV, TSV, JSON Lines, fastText lines, plain text (one document per line) or a folder "
        "of text files; a label column or class subfolders, if present, are scored against the topics",
    )
    parser.add_argument("--k", type=int, required=True, help="number of topics (at least 1, fewer than the documents)")
    parser.add_argument("--method", choices=["nmf", "svd"], default="nmf", help="NMF (default) or truncated SVD (LSA)")
    parser.add_argument(
        "--out", required=True, help="output folder (a new folder, or with --overwrite a topics folder)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing topics folder in --out")
    parser.add_argument("--top-words", type=int, default=10, help="words shown and scored per topic (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the factorization (default 0)")
    parser.add_argument(
        "--min-df",
        type=_df,
        default=2,
        help="keep terms in at least this many documents (an int) or this fraction of them (a float); default 2",
    )
    parser.add_argument(
        "--max-df",
        type=_df,
        default=0.95,
        help="drop terms in more than this fraction (a float) or number (an int) of documents; default 0.95",
    )
    stop = parser.add_mutually_exclusive_group()
    stop.add_argument(
        "--lang",
        default=None,
        metavar="LANG",
        help="the documents' language: drop spaCy's stop words for it (fr, es, de, ... any spaCy language); "
        f"default: detected from the text among {', '.join(DETECTED_LANGUAGES)}",
    )
    stop.add_argument(
        "--stop-words",
        default=None,
        metavar="none|english|FILE",
        help="the stop words to drop instead: none, english (scikit-learn's list) or a UTF-8 file of words "
        "(one or more a line; lines starting with # are comments)",
    )


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from textkit.data.tables import read_table

    if args.k < 1:
        raise ValueError(f"--k must be at least 1, got {args.k}")
    if args.top_words < 2:
        raise ValueError(f"--top-words must be at least 2 (coherence scores word pairs), got {args.top_words}")
    from textkit._folders import check_output

    out = check_output(args.out, kind="topics", inputs=[args.data], overwrite=args.overwrite)
    table = read_table(args.data, **table_options(args, "optional"))
    keep = [i for i, text in enumerate(table.texts) if text.strip()]
    n_empty = len(table) - len(keep)
    texts = [table.texts[i] for i in keep]
    if args.k >= len(texts):
        raise ValueError(
            f"--k {args.k} needs more documents than topics: {table.source} has {len(texts)} non-empty "
            "document(s); "
            + (f"ask for at most {len(texts) - 1} topics, or add documents" if len(texts) > 1 else "add documents")
        )
    stop_words, stop_record = choose_stop_words(texts, lang=args.lang, stop_words=args.stop_words)
    print(stop_record["message"])
    X, vectorizer = _features(texts, args.min_df, args.max_df, table.source, stop_words)
    vocab = [str(t) for t in vectorizer.get_feature_names_out()]
    has_terms = np.asarray(X.getnnz(axis=1) > 0)
    if args.k > len(vocab):
        raise ValueError(
            f"--k {args.k} is more than the {len(vocab)} terms left in {table.source} after --min-df {args.min_df}, "
            "--max-df and stop words; ask for fewer topics, lower --min-df, or add documents"
        )
    if args.k >= int(has_terms.sum()):
        raise ValueError(
            f"--k {args.k} needs more documents than topics: only {int(has_terms.sum())} of {len(texts)} documents "
            f"in {table.source} keep a term after --min-df {args.min_df}, --max-df and stop words; ask for fewer "
            "topics or lower --min-df"
        )

    model, doc_topic = _fit(X, args.method, args.k, args.seed)
    components = np.asarray(model.components_, dtype=np.float64)
    if args.method == "nmf":
        # W D, D^-1 H fit equally well: scale each topic's row of H to unit norm (and W to match), so
        # weights compare across topics and the dominant topic is the largest weight (topic_assignments)
        norms = np.linalg.norm(components, axis=1)
        norms[norms == 0] = 1.0
        doc_topic, components = doc_topic * norms, components / norms[:, None]
    dominant = np.argmax(doc_topic, axis=1)

    from textkit.classical import top_words, topic_coherence

    words = top_words(components, vocab, args.top_words)
    presence = X.copy()
    presence.data[:] = 1.0  # coherence counts documents that contain a word, not its weight
    coherence = topic_coherence(words, presence, vocab=vocab, measure="npmi")
    counts = np.bincount(dominant[has_terms], minlength=args.k)
    labels = [table.labels[i] for i in keep]
    agreement = _label_agreement(labels, dominant, has_terms)

    summary = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "method": args.method,
        "k": args.k,
        "data": str(args.data),
        **_data_digest(args.data),
        "documents": len(texts),
        "empty_rows_skipped": n_empty,
        "documents_without_terms": int((~has_terms).sum()),
        "vocabulary_size": len(vocab),
        "stop_words": {key: value for key, value in stop_record.items() if key != "message"},
        "settings": {
            "vectorizer": _jsonable(vectorizer.get_params()),
            "model": _jsonable(model.get_params()),
            "top_words": args.top_words,
            "seed": args.seed,
            "doc_topic_weights": (
                "W scaled by the norm of each row of H (rows of H scaled to unit norm)"
                if args.method == "nmf"
                else "U S (signed)"
            )
            + "; a document's dominant topic is its largest weight",
        },
        "topics": [
            {"topic": t, "top_words": words[t], "coherence_npmi": float(coherence[t]), "documents": int(counts[t])}
            for t in range(args.k)
        ],
        "coherence_npmi_mean": float(np.mean(coherence)),
        **({"label_agreement": agreement} if agreement else {}),
    }
    from textkit._io import atomic_folder, atomic_open, atomic_write_json, versions
    from textkit.classical.plots import plot_top_words

    summary["versions"] = versions()
    from textkit.data.tables import neutralize_csv_cell

    with atomic_folder(out) as staging:
        atomic_write_json(staging / "topics.json", summary)
        with atomic_open(staging / "doc_topics.csv", "w", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            by_file = bool(table.files)
            writer.writerow(["file" if by_file else "line", "dominant_topic", *(f"topic_{t}" for t in range(args.k))])
            for j, i in enumerate(keep):
                # a file name such as "=cmd.txt" must not become a spreadsheet formula
                where = neutralize_csv_cell(_relative(table.files[i], args.data)) if by_file else table.lines[i]
                topic = int(dominant[j]) if has_terms[j] else ""
                writer.writerow([where, topic, *(f"{w:.6g}" for w in doc_topic[j])])
        plot_top_words(
            components, vocab, staging / "top_words.png", n=args.top_words, title=f"{args.method.upper()} topics"
        )
    print(_format_topics(summary))
    print(f"\nwrote {out / 'topics.json'}, {out / 'doc_topics.csv'} and {out / 'top_words.png'}")
    return 0


def stop_words_of(lang: str) -> frozenset[str]:
    """spaCy's stop words for ``lang`` (``spacy.lang.<lang>.stop_words``), lower-cased; an
    error naming the languages that have a list for any other code."""
    import importlib
    import pkgutil

    if not re.fullmatch(r"[a-z]{2,3}", lang or ""):
        raise ValueError(f"--lang must be a language code such as fr, es or de, got {lang!r}")
    try:
        module = importlib.import_module(f"spacy.lang.{lang}.stop_words")
    except ModuleNotFoundError as exc:
        if exc.name == "spacy":
            raise ValueError("--lang needs spaCy (pip install spacy), or give --stop-words none|english|FILE") from None
        import spacy.lang

        known = sorted(
            info.name
            for info in pkgutil.iter_modules(spacy.lang.__path__)
            if info.ispkg and importlib.util.find_spec(f"spacy.lang.{info.name}.stop_words") is not None
        )
        raise ValueError(
            f"spaCy has no stop words for --lang {lang!r}; languages with a list: {', '.join(known)}. "
            "Or give your own list with --stop-words FILE"
        ) from None
    return frozenset(word.lower() for word in module.STOP_WORDS)


def detect_language(texts: list[str], candidates: tuple[str, ...] = DETECTED_LANGUAGES) -> dict[str, float]:
    """Each candidate language's share of the words of ``texts`` (their first 1,000 documents)
    that are its stop words, largest first: a cheap language guess, since the most frequent words
    of any text are its language's function words."""
    from collections import Counter

    counts: Counter[str] = Counter()
    for text in texts[:1000]:
        counts.update(_LETTER_WORD.findall(text.lower()))
    total = sum(counts.values()) or 1
    shares = {}
    for lang in candidates:
        stop = stop_words_of(lang)
        shares[lang] = sum(n for word, n in counts.items() if word in stop) / total
    return dict(sorted(shares.items(), key=lambda item: -item[1]))


def _read_stop_words(path: str) -> list[str]:
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"--stop-words {path}: no such file; give none, english or a file of stop words")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"--stop-words {path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    words = [w.lower() for line in text.splitlines() if not line.lstrip().startswith("#") for w in line.split()]
    if not words:
        raise ValueError(f"--stop-words {path} holds no words; for no stop words give --stop-words none")
    return words


def choose_stop_words(
    texts: list[str], *, lang: str | None = None, stop_words: str | None = None
) -> tuple[str | list[str] | None, dict]:
    """The stop words for ``TextVectorizer`` (``"english"``, a sorted list or None) and a record
    of where they came from, with a one-line ``message`` for the user. ``stop_words`` (none,
    english or a file) wins; then ``lang``; else the language is detected (``detect_language``):
    English keeps scikit-learn's list (the reference setting), another language gets spaCy's list,
    and a text where no candidate's stop words reach ``MIN_STOP_WORD_SHARE`` of the words keeps
    scikit-learn's English list and says so."""
    if stop_words is not None:
        if stop_words.lower() == "none":
            return None, {"source": "none", "words": 0, "message": "stop words: none (--stop-words none)"}
        if stop_words.lower() == "english":
            return "english", _english("stop words: scikit-learn's English list (--stop-words english)")
        words = _expand_stop_words(_read_stop_words(stop_words))
        return words, {
            "source": f"file {stop_words}",
            "words": len(words),
            "message": f"stop words: {len(words)} from {stop_words}",
        }
    if lang is not None:
        words = _expand_stop_words(stop_words_of(lang))
        return words, {
            "source": f"spacy {lang}",
            "language": lang,
            "words": len(words),
            "message": f"language: {lang} (--lang); stop words: spaCy's {lang} list ({len(words)} words)",
        }
    shares = detect_language(texts)
    (best, share), *rest = shares.items()
    rounded = {code: round(value, 4) for code, value in shares.items()}
    runner_up = f"; next {rest[0][0]} {rest[0][1]:.0%}" if rest else ""
    if share < MIN_STOP_WORD_SHARE:
        message = (
            f"language: not detected (the stop words of {', '.join(shares)} make at most {share:.0%} of the words); "
            "stop words: scikit-learn's English list. Give --lang LANG or --stop-words none|FILE"
        )
        return "english", {**_english(message), "detected": None, "stop_word_shares": rounded}
    detected = f"language: {best} (detected: {share:.0%} of the words are its stop words{runner_up}; --lang to choose)"
    if best == "en":
        message = f"{detected}; stop words: scikit-learn's English list"
        return "english", {**_english(message), "language": "en", "detected": "en", "stop_word_shares": rounded}
    words = _expand_stop_words(stop_words_of(best))
    return words, {
        "source": f"spacy {best}",
        "language": best,
        "words": len(words),
        "detected": best,
        "stop_word_shares": rounded,
        "message": f"{detected}; stop words: spaCy's {best} list ({len(words)} words)",
    }


def _english(message: str) -> dict:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return {"source": "scikit-learn english", "words": len(ENGLISH_STOP_WORDS), "message": message}


def _expand_stop_words(words: Iterable[str]) -> list[str]:
    """The words, plus the pieces the feature tokenizer cuts them into ("aujourd'hui" ->
    "aujourd", "hui"), so that each stop word matches the terms it becomes."""
    from textkit.classical.vectorize import get_analyzer

    words = list(words)
    tokenize = get_analyzer("regex-words")
    pieces = [piece for word in words for piece in tokenize(word)] if tokenize is not None else []
    return sorted({*words, *pieces})


def _features(
    texts: list[str], min_df: int | float, max_df: int | float, source: str, stop_words: str | list[str] | None
):
    from textkit.classical import TextVectorizer

    vectorizer = TextVectorizer(
        analyzer="regex-words", stop_words=stop_words, min_df=min_df, max_df=max_df, weighting="tfidf"
    )
    try:
        X = vectorizer.fit_transform(texts)
    except ValueError as exc:
        if "left no terms" in str(exc) or "empty vocabulary" in str(exc):
            raise ValueError(
                f"{source}: no terms are left to model ({exc}). A term must occur in at least --min-df {min_df} "
                f"and at most --max-df {max_df} of the {len(texts)} documents, and stop words are dropped; "
                "for a small input try --min-df 1, or add documents"
            ) from None
        raise
    return X, vectorizer


def _fit(X, method: str, k: int, seed: int):
    from textkit.classical import NMFTopics, SVDTopics

    model = (
        NMFTopics(n_components=k, random_state=seed)
        if method == "nmf"
        else SVDTopics(n_components=k, random_state=seed)
    )
    doc_topic = model.fit_transform(X)
    import numpy as np

    return model, np.asarray(doc_topic, dtype=np.float64)


def _label_agreement(labels: list, dominant, has_terms) -> dict | None:
    """NMI and purity between the file's labels (where present) and the dominant topics."""
    import numpy as np

    from textkit.classical import topic_label_agreement

    rows = [i for i, label in enumerate(labels) if label and has_terms[i]]
    if len(rows) < 2:
        return None
    result = topic_label_agreement([labels[i] for i in rows], np.asarray(dominant)[rows])
    return {**result, "documents": len(rows), "classes": len({labels[i] for i in rows})}


def _data_digest(path: str) -> dict:
    from textkit._io import sha256_file

    if path == "-" or not Path(path).is_file():
        return {}
    return {"data_sha256": sha256_file(path)}


def _relative(file: str, root: str) -> str:
    try:
        return Path(file).relative_to(root).as_posix()
    except ValueError:
        return file


def _jsonable(params: dict) -> dict:
    # numpy dtypes and classes are recorded by name
    return json.loads(json.dumps(params, default=lambda value: getattr(value, "__name__", str(value))))


def _format_topics(summary: dict) -> str:
    lines = [
        f"{summary['method']}: {summary['k']} topics of {summary['documents']:,} documents, "
        f"{summary['vocabulary_size']:,} terms; mean coherence (NPMI) {summary['coherence_npmi_mean']:.3f}"
    ]
    if "label_agreement" in summary:
        agreement = summary["label_agreement"]
        lines.append(
            f"agreement with the {agreement['classes']} labels: NMI {agreement['nmi']:.3f}, "
            f"purity {agreement['purity']:.3f} ({agreement['documents']:,} labelled documents)"
        )
    lines.append("")
    for topic in summary["topics"]:
        lines.append(
            f"topic {topic['topic']:>2}  npmi {topic['coherence_npmi']:+.3f}  {topic['documents']:>6,} docs  "
            + " ".join(topic["top_words"])
        )
    return "\n".join(lines)
