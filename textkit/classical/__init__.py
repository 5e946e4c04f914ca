"""Classical NLP: n-gram features, naive Bayes, NBSVM, SVD and NMF topic models.

All estimators are scikit-learn estimators (clone, pickle, ``Pipeline``, ``GridSearchCV``).
SVD and NMF run in torch (CPU or CUDA); torch is imported only when they run, so
``import textkit.classical`` stays light.

>>> from sklearn.pipeline import Pipeline
>>> from textkit.classical import NBSVMClassifier, TextVectorizer
>>> model = Pipeline([("vec", TextVectorizer(ngram_range=(1, 2))), ("clf", NBSVMClassifier())])
"""

from textkit.classical.naive_bayes import NaiveBayesClassifier, log_count_ratio
from textkit.classical.nbsvm import NBSVMClassifier
from textkit.classical.nmf import NMFTopics, nmf, reconstruction_error
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
    "TextVectorizer",
    "exact_svd",
    "log_count_ratio",
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
