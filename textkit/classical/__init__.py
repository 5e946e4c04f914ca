"""Classical NLP: n-gram features, naive Bayes, NBSVM, SVD and NMF topic models.

All estimators are scikit-learn estimators (clone, pickle, ``Pipeline``, ``GridSearchCV``).
SVD and NMF run in torch (CPU or CUDA); torch is imported only when they run, so
``import textkit.classical`` stays light.

>>> from sklearn.pipeline import Pipeline
>>> from textkit.classical import NBSVMClassifier, TextVectorizer
>>> model = Pipeline([("vec", TextVectorizer(ngram_range=(1, 2))), ("clf", NBSVMClassifier())])

Data larger than memory: ``fit_streaming(model, chunks)`` reads ``(texts, labels)`` chunks twice
(a vocabulary, then counts) and fits the same model as ``model.fit``; ``partial_fit`` on the
naive Bayes and NBSVM estimators follows scikit-learn's convention (``textkit.classical.streaming``).
"""

from textkit.classical.naive_bayes import NaiveBayesClassifier, log_count_ratio
from textkit.classical.nbsvm import NBSVMClassifier
from textkit.classical.nmf import NMFTopics, nmf, reconstruction_error
from textkit.classical.streaming import TermCounts, fit_streaming, merge_naive_bayes
from textkit.classical.svd import SVDTopics, exact_svd, randomized_svd
from textkit.classical.topic_metrics import (
    purity_score,
    top_word_ids,
    top_words,
    topic_assignments,
    topic_coherence,
    topic_label_agreement,
)
from textkit.classical.vectorize import ANALYZERS, REGEX_EXTRACTORS, TextVectorizer

__all__ = [
    "ANALYZERS",
    "REGEX_EXTRACTORS",
    "NBSVMClassifier",
    "NMFTopics",
    "NaiveBayesClassifier",
    "SVDTopics",
    "TermCounts",
    "TextVectorizer",
    "exact_svd",
    "fit_streaming",
    "log_count_ratio",
    "merge_naive_bayes",
    "nmf",
    "purity_score",
    "randomized_svd",
    "reconstruction_error",
    "top_word_ids",
    "top_words",
    "topic_assignments",
    "topic_coherence",
    "topic_label_agreement",
]
