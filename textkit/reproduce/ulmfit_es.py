"""ULMFiT beyond English: which part of the Bible a Spanish verse comes from (Reina-Valera 1909).

The corpus is ``textkit.data.load("bible-rv1909")``: 31,102 verse records (18 of them empty,
dropped and counted). Each verse is labelled with one of 7 book groups (``BOOK_GROUPS``):
Law, History, Wisdom/Poetry, Prophets, Gospels+Acts, Epistles, Revelation.

1. **Split by whole chapter.** The (book, chapter) pairs of each group are permuted with the
   seed and cut 80/10/10 into train/valid/test, *stratified by group* (every group, even
   Revelation's 22 chapters, has chapters in every split; Revelation gets 18/2/2). Every verse
   of a chapter goes where its chapter goes, so no verse of a held-out chapter is ever seen,
   not even unlabelled by the language model; ``check_leak_free`` asserts it. Parallel
   passages (Kings/Chronicles, the Gospels) still give some test verses an identical twin in
   training; ``results["split"]["test_verses_with_identical_train_text"]`` counts them.
2. **Pretrain** a forward AWD-LSTM language model with a SentencePiece unigram vocabulary
   (4000 pieces; 500 in the quick run) on the Spanish text of the *training chapters only*,
   one document per chapter (its verses joined). This checkout holds no other Spanish text,
   so the "general-domain" LM of ULMFiT's stage 1 is trained on the target corpus itself: it
   demonstrates the pipeline on a non-English language and subword vocabulary, not transfer
   from a large outside corpus. Perplexity is reported on the validation chapters.
3. **Fine-tune** it (ULMFiT stage 2, ``fine_tune_language_model``) on the training verses as
   separate documents, so the LM sees what the classifier sees: one verse after ``xxbos``.
   The SentencePiece vocabulary is fixed, so there is no vocabulary transfer and no frozen
   embedding stage (``epochs_frozen`` 0).
4. **Classify** single verses (``train_classifier``: concat pooling, gradual unfreezing).
   The validation chapters are only *reported* during training, never used for choices.
5. **Baselines on the same split**, trained on the training chapters only: NBSVM-bi
   (``NBSVMClassifier``, one-vs-rest over the 7 groups, uni+bigram counts of
   ``TextVectorizer``; ``C`` and ``beta`` chosen on the validation chapters, from the grid
   ``textkit reproduce sentiment`` uses), multinomial NB on the same counts (alpha 1, as the
   English command's mnb-bi) and the majority class of the training verses.

Accuracy and macro-F1 (over the groups present in the test chapters: all 7 in the full run)
are measured on every verse of the test chapters. Writes ``OUT/results.json``,
``OUT/settings.json``, the language model in ``OUT/lm`` (a textkit LM folder) and the exported
classifier in ``OUT/classifier`` (``TextClassifier.load``), and prints a table.

Cost on one CPU thread (``torch.set_num_threads(1)``): the quick run (tiny models, 60/10/10
chapters) takes about 20-25 s. The full run was not timed end to end; it is estimated at about
22-25 minutes from the throughputs of the full settings measured on a shared 2-core machine
(one thread): data and the SentencePiece model about 25 s; NBSVM/MNB about 30 s; the LM at
about 3,400 tokens/s over about 820k training tokens (2 pretraining epochs about 8 min, 1
fine-tuning epoch about 4 min); the classifier over 24,807 training verses at about 360
verses/s with the head alone, 250 with the top LSTM and 140 with more (4 one-epoch stages,
about 9 min, plus about 30 s of validation and test prediction).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import numpy as np

CORPUS = "bible-rv1909"

# every book as the corpus spells it -> its group (Protestant canon order, 66 books)
BOOK_GROUPS: dict[str, str] = {
    # Law: Genesis-Deuteronomy
    "Genesis": "Law", "Exodus": "Law", "Leviticus": "Law", "Numbers": "Law", "Deuteronomy": "Law",
    # History: Joshua-Esther
    "Joshua": "History", "Judges": "History", "Ruth": "History", "I Samuel": "History", "II Samuel": "History",
    "I Kings": "History", "II Kings": "History", "I Chronicles": "History", "II Chronicles": "History",
    "Ezra": "History", "Nehemiah": "History", "Esther": "History",
    # Wisdom/Poetry: Job-Song of Solomon
    "Job": "Wisdom/Poetry", "Psalms": "Wisdom/Poetry", "Proverbs": "Wisdom/Poetry", "Ecclesiastes": "Wisdom/Poetry",
    "Song of Solomon": "Wisdom/Poetry",
    # Prophets: Isaiah-Malachi
    "Isaiah": "Prophets", "Jeremiah": "Prophets", "Lamentations": "Prophets", "Ezekiel": "Prophets",
    "Daniel": "Prophets", "Hosea": "Prophets", "Joel": "Prophets", "Amos": "Prophets", "Obadiah": "Prophets",
    "Jonah": "Prophets", "Micah": "Prophets", "Nahum": "Prophets", "Habakkuk": "Prophets", "Zephaniah": "Prophets",
    "Haggai": "Prophets", "Zechariah": "Prophets", "Malachi": "Prophets",
    # Gospels + Acts
    "Matthew": "Gospels+Acts", "Mark": "Gospels+Acts", "Luke": "Gospels+Acts", "John": "Gospels+Acts",
    "Acts": "Gospels+Acts",
    # Epistles: Romans-Jude
    "Romans": "Epistles", "I Corinthians": "Epistles", "II Corinthians": "Epistles", "Galatians": "Epistles",
    "Ephesians": "Epistles", "Philippians": "Epistles", "Colossians": "Epistles", "I Thessalonians": "Epistles",
    "II Thessalonians": "Epistles", "I Timothy": "Epistles", "II Timothy": "Epistles", "Titus": "Epistles",
    "Philemon": "Epistles", "Hebrews": "Epistles", "James": "Epistles", "I Peter": "Epistles", "II Peter": "Epistles",
    "I John": "Epistles", "II John": "Epistles", "III John": "Epistles", "Jude": "Epistles",
    # Revelation
    "Revelation of John": "Revelation",
}  # fmt: skip
GROUPS: tuple[str, ...] = ("Law", "History", "Wisdom/Poetry", "Prophets", "Gospels+Acts", "Epistles", "Revelation")
SPLITS: tuple[str, ...] = ("train", "valid", "test")

FULL_SETTINGS = {
    "seed": 0,
    "fractions": [0.8, 0.1, 0.1],  # of each group's chapters: train / valid / test
    "max_train_chapters": None,
    "max_valid_chapters": None,
    "max_test_chapters": None,
    # awd_lstm-small's size with a 4000-piece SentencePiece unigram vocabulary
    "pretrain": {
        "vocab_size": 4000,
        "emb_size": 128,
        "hidden_size": 512,
        "n_layers": 2,
        "drop_mult": 0.5,
        "epochs": 2,
        "lr": 0.005,
        "batch_size": 32,
        "bptt": 70,
        "wd": 0.01,
        "clip": 0.4,
    },
    "finetune": {
        "epochs_frozen": 0,
        "lr_frozen": 0.02,
        "epochs": 1,
        "lr": 0.002,
        "batch_size": 32,
        "bptt": 70,
        "drop_mult": 0.5,
        "valid_fraction": 0.1,
    },
    "classifier": {
        "batch_size": 32,
        "bptt": 70,
        "max_len": 1400,
        "drop_mult": 0.5,
        "lr_factor": 2.6,
        "moms": [0.8, 0.7, 0.8],
        "stages": [
            {"groups": 1, "epochs": 1, "lr": 0.02},
            {"groups": 2, "epochs": 1, "lr": 0.01},
            {"groups": 3, "epochs": 1, "lr": 0.005},
            {"groups": "all", "epochs": 1, "lr": 0.002},
        ],
    },
    "classical": {"nbsvm_grid": {"C": [0.1, 0.3, 1.0], "beta": [0.05, 0.1, 0.25, 0.5, 0.75, 1.0]}, "mnb_alpha": 1.0},
}
QUICK_SETTINGS = {
    "seed": 0,
    "fractions": [0.8, 0.1, 0.1],
    # whole chapters, spread round-robin over the groups so every group is in every split
    "max_train_chapters": 60,
    "max_valid_chapters": 10,
    "max_test_chapters": 10,
    "pretrain": {
        "vocab_size": 500,
        "emb_size": 32,
        "hidden_size": 64,
        "n_layers": 2,
        "drop_mult": 0.3,
        "epochs": 4,
        "lr": 0.02,
        "batch_size": 16,
        "bptt": 30,
        "wd": 0.01,
        "clip": 0.4,
    },
    "finetune": {
        "epochs_frozen": 0,
        "lr_frozen": 0.02,
        "epochs": 1,
        "lr": 0.004,
        "batch_size": 16,
        "bptt": 30,
        "drop_mult": 0.3,
        "valid_fraction": 0.1,
    },
    "classifier": {
        "batch_size": 32,
        "bptt": 30,
        "max_len": 200,
        "drop_mult": 0.3,
        "lr_factor": 2.6,
        "moms": [0.8, 0.7, 0.8],
        "stages": [{"groups": 1, "epochs": 1, "lr": 0.02}, {"groups": "all", "epochs": 3, "lr": 0.01}],
    },
    "classical": {"nbsvm_grid": {"C": [0.3, 1.0], "beta": [0.1, 0.25, 1.0]}, "mnb_alpha": 1.0},
}
METHODS = {
    "ulmfit-es": "textkit ULMFiT: SentencePiece AWD-LSTM LM on the training chapters, fine-tuned, classifier (forward)",
    "nbsvm-bi": "NBSVM one-vs-rest, uni+bigram counts (C, beta chosen on the validation chapters)",
    "mnb-bi": "multinomial NB, uni+bigram counts (alpha 1)",
    "majority": "the most frequent group of the training verses",
}


# -- data ------------------------------------------------------------------------------------


def book_group(book: str) -> str:
    """The group of a book as the corpus spells it; a book missing from ``BOOK_GROUPS`` raises."""
    try:
        return BOOK_GROUPS[book]
    except (KeyError, TypeError):
        raise ValueError(
            f"book {book!r} is not in BOOK_GROUPS (textkit.reproduce.ulmfit_es); it maps the 66 books as "
            f"bible-rv1909 spells them, e.g. {list(BOOK_GROUPS)[:3]}. Add the book to BOOK_GROUPS to use this corpus"
        ) from None


def load_verses(records: list[dict] | None = None) -> tuple[list[dict], int]:
    """The non-empty verses with their group, in corpus order, and how many empty ones were
    dropped. ``records`` defaults to ``textkit.data.load("bible-rv1909")``."""
    if records is None:
        from textkit import data

        records = data.load(CORPUS)
    verses, dropped = [], 0
    for record in records:
        group = book_group(record["book"])  # every record, even an empty one, must map
        text = record["text"]
        if not isinstance(text, str) or not text.strip():
            dropped += 1
            continue
        verses.append(
            {
                "text": text,
                "book": record["book"],
                "chapter": int(record["chapter"]),
                "verse": int(record["verse"]),
                "group": group,
            }
        )
    return verses, dropped


def chapter_split(verses: list[dict], seed: int = 0, fractions=(0.8, 0.1, 0.1)) -> dict[str, list[tuple[str, int]]]:
    """(book, chapter) pairs of each split. Stratified by group: each group's chapters (in corpus
    order) are permuted with one ``numpy`` generator seeded ``seed`` (groups taken in ``GROUPS``
    order) and cut by ``fractions``; a group with at least 3 chapters gets at least one in each
    split. Within a split, chapters are listed group by group, each group in permuted order."""
    fractions = [float(f) for f in fractions]
    if len(fractions) != 3 or any(f < 0 for f in fractions) or not np.isclose(sum(fractions), 1.0):
        raise ValueError(
            f"fractions must be three non-negative numbers summing to 1 (train, valid, test), got {fractions}"
        )
    by_group: dict[str, list[tuple[str, int]]] = {g: [] for g in GROUPS}
    seen: set[tuple[str, int]] = set()
    for v in verses:
        key = (v["book"], int(v["chapter"]))
        if key not in seen:
            seen.add(key)
            by_group[book_group(v["book"])].append(key)
    rng = np.random.default_rng(seed)
    split: dict[str, list[tuple[str, int]]] = {name: [] for name in SPLITS}
    for group in GROUPS:
        chapters = by_group[group]
        n = len(chapters)
        if n == 0:
            continue
        order = [chapters[i] for i in rng.permutation(n)]
        n_valid, n_test = int(round(n * fractions[1])), int(round(n * fractions[2]))
        if n >= 3:
            n_valid, n_test = max(n_valid, 1 if fractions[1] > 0 else 0), max(n_test, 1 if fractions[2] > 0 else 0)
        n_train = max(n - n_valid - n_test, 1 if n >= 1 else 0)
        n_valid = min(n_valid, n - n_train)
        split["train"] += order[:n_train]
        split["valid"] += order[n_train : n_train + n_valid]
        split["test"] += order[n_train + n_valid :]
    check_leak_free(split)
    return split


def slice_chapters(chapters: list[tuple[str, int]], limit: int | None) -> list[tuple[str, int]]:
    """At most ``limit`` whole chapters, taken round-robin over ``GROUPS`` (each group's in the
    order given), so a small slice still covers every group it can."""
    if limit is None or limit >= len(chapters):
        return list(chapters)
    if limit < 1:
        raise ValueError(f"a chapter limit must be a positive int or None, got {limit!r}")
    queues = {g: [c for c in chapters if book_group(c[0]) == g] for g in GROUPS}
    picked: list[tuple[str, int]] = []
    while len(picked) < limit:
        for group in GROUPS:
            if queues[group] and len(picked) < limit:
                picked.append(queues[group].pop(0))
    return picked


def check_leak_free(split: dict[str, list[tuple[str, int]]]) -> None:
    """Raise ``AssertionError`` if a (book, chapter) is in two splits (or twice in one)."""
    for name, chapters in split.items():
        if len(set(chapters)) != len(chapters):
            raise AssertionError(f"the {name} split lists a chapter twice")
    names = list(split)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            shared = set(split[a]) & set(split[b])
            if shared:
                raise AssertionError(f"chapters in both {a} and {b}: {sorted(shared)[:5]} ({len(shared)} in all)")


def prepare_data(settings: dict, records: list[dict] | None = None) -> dict:
    """The verses (texts, labels, keys) of each split after slicing, the LM documents (one per
    chapter, verses joined in order) of the train and valid chapters, and the split counts."""
    verses, dropped = load_verses(records)
    full = chapter_split(verses, settings.get("seed", 0), settings.get("fractions", (0.8, 0.1, 0.1)))
    split = {name: slice_chapters(full[name], settings.get(f"max_{name}_chapters")) for name in SPLITS}
    check_leak_free(split)
    where = {chapter: name for name in SPLITS for chapter in split[name]}
    out: dict = {name: {"texts": [], "labels": [], "keys": []} for name in SPLITS}
    chapter_verses: dict[tuple[str, int], list[str]] = {}
    for v in verses:
        chapter = (v["book"], v["chapter"])
        name = where.get(chapter)
        if name is None:
            continue
        out[name]["texts"].append(v["text"])
        out[name]["labels"].append(v["group"])
        out[name]["keys"].append((v["book"], v["chapter"], v["verse"]))
        chapter_verses.setdefault(chapter, []).append(v["text"])
    train_chapters = {k[:2] for k in out["train"]["keys"]}
    for name in ("valid", "test"):  # verse level: no verse of a held-out chapter is in training
        leaked = train_chapters & {k[:2] for k in out[name]["keys"]}
        if leaked:
            raise AssertionError(f"{len(leaked)} {name} chapters have verses in training, e.g. {sorted(leaked)[:3]}")
    for name in SPLITS:
        out[name]["chapters"] = split[name]
    out["lm_docs"] = {
        name: [" ".join(chapter_verses[c]) for c in split[name] if c in chapter_verses] for name in ("train", "valid")
    }
    train_texts = set(out["train"]["texts"])
    out["counts"] = {
        "chapters": {name: len(split[name]) for name in SPLITS},
        "verses": {name: len(out[name]["texts"]) for name in SPLITS},
        "chapters_before_slicing": {name: len(full[name]) for name in SPLITS},
        "dropped_empty_verses": dropped,
        "test_verses_with_identical_train_text": sum(t in train_texts for t in out["test"]["texts"]),
        "stratified_by": "group",
        "fractions": list(settings.get("fractions", (0.8, 0.1, 0.1))),
        "unit": "whole chapters ((book, chapter) pairs)",
    }
    return out


# -- the three ULMFiT stages -------------------------------------------------------------------


def pretrain_spanish_lm(
    train_docs: list[str], valid_docs: list[str], pre: dict, *, seed: int, device: str, out_dir: Path
):
    """Stage 1: SentencePiece unigram pipeline and a forward AWD-LSTM LM trained from scratch on
    ``train_docs`` (one-cycle schedule, AR/TAR, as ``pretrain_language_model``). Returns
    ``(model, pipeline, metrics)``; saves a textkit LM folder to ``out_dir``."""
    from textkit.data.lm import LMStream
    from textkit.nn.registry import build_language_model
    from textkit.nn.serialization import save_language_model
    from textkit.train import callbacks as cb
    from textkit.recipes.language_model import TokenizerSettings, build_pipeline
    from textkit.train.schedules import OneCycle
    from textkit.train.tasks import LanguageModelTask
    from textkit.train.trainer import Trainer, seed_everything

    started = time.perf_counter()
    pipeline = build_pipeline(
        TokenizerSettings(kind="sentencepiece", vocab_size=pre["vocab_size"], model_type="unigram"),
        train_docs,
        seed=seed,
    )
    train_ids, valid_ids = pipeline.encode_documents(train_docs), pipeline.encode_documents(valid_docs)
    seed_everything(seed)
    model = build_language_model(
        "awd_lstm",
        {
            **{k: pre[k] for k in ("emb_size", "hidden_size", "n_layers", "drop_mult")},
            "vocab_size": len(pipeline),
            "pad_index": pipeline.pad_index,
        },
    )
    train = LMStream(train_ids, pre["batch_size"], pre["bptt"], seed=seed)
    valid = LMStream(valid_ids, max(1, min(pre["batch_size"], 16)), pre["bptt"], shuffle=False, random_bptt=False)
    callbacks = [cb.ProgressBar(quiet=True), cb.GradientClipping(pre["clip"]), cb.RNNRegularizer(2.0, 1.0)]
    trainer = Trainer(
        model,
        LanguageModelTask(),
        train,
        valid,
        lr=pre["lr"],
        weight_decay=pre["wd"],
        schedule=OneCycle(pct_start=0.25),
        callbacks=callbacks,
        device=device,
        seed=seed,
    )
    trainer.fit(epochs=pre["epochs"])
    row = trainer.history[-1]
    metrics = {
        "valid_loss": row["valid_loss"],
        "valid_perplexity": row["perplexity"],
        "valid_accuracy": row["accuracy"],
        "steps": trainer.step,
        "epochs": pre["epochs"],
        "vocab_size": len(pipeline),
        "tokens": {"train": int(sum(len(d) for d in train_ids)), "valid": int(sum(len(d) for d in valid_ids))},
        "train_time_s": round(trainer.train_time, 1),
        "train_tokens_per_s": round(trainer.tokens_seen / trainer.train_time, 1) if trainer.train_time else None,
        "seconds": round(time.perf_counter() - started, 1),
        "device": str(trainer.device),
    }
    model.eval()
    save_language_model(
        model,
        pipeline,
        out_dir,
        extra={
            "data": {
                "corpus": CORPUS,
                "backwards": False,
                "documents": "whole training chapters (verses joined)",
                "train_chapters": len(train_docs),
                "valid_chapters": len(valid_docs),
            },
            "settings": pre,
            "seed": seed,
            "metrics": metrics,
        },
    )
    return model, pipeline, metrics


def _classical(train: dict, valid: dict, test: dict, settings: dict, seed: int) -> tuple[dict, dict]:
    """NBSVM-bi (tuned on the validation chapters), MNB-bi and the majority class; each trained
    on the training chapters only. Returns (metrics, predictions on the test verses)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    from textkit.classical import NaiveBayesClassifier, NBSVMClassifier, TextVectorizer

    grid = settings["nbsvm_grid"]
    vectorizer = TextVectorizer(ngram_range=(1, 2), weighting="count")  # textkit's rule splitter, lowercased
    X_train = vectorizer.fit_transform(train["texts"])
    X_valid, X_test = vectorizer.transform(valid["texts"]), vectorizer.transform(test["texts"])
    y_train, y_valid = np.asarray(train["labels"]), np.asarray(valid["labels"])
    metrics, predictions = {}, {}
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        t = time.perf_counter()
        best, best_acc, best_params = None, -1.0, {}
        for C in grid["C"]:
            fitted = NBSVMClassifier(C=C, beta=1.0, random_state=seed).fit(X_train, y_train)
            for beta in grid["beta"]:  # beta enters after the fit: one fit per C
                model = fitted.interpolate(beta)
                acc = float(np.mean(model.predict(X_valid) == y_valid))
                if acc > best_acc:
                    best, best_acc, best_params = model, acc, {"C": C, "beta": beta}
        predictions["nbsvm-bi"] = best.predict(X_test)
        metrics["nbsvm-bi"] = {
            "hyperparameters": best_params,
            "valid_accuracy": best_acc,
            "seconds": round(time.perf_counter() - t, 1),
        }
        t = time.perf_counter()
        mnb = NaiveBayesClassifier(alpha=settings.get("mnb_alpha", 1.0)).fit(X_train, y_train)
        predictions["mnb-bi"] = mnb.predict(X_test)
        metrics["mnb-bi"] = {"hyperparameters": {"alpha": mnb.alpha}, "seconds": round(time.perf_counter() - t, 1)}
    majority = Counter(train["labels"]).most_common(1)[0][0]
    predictions["majority"] = np.full(len(test["labels"]), majority, dtype=object)
    metrics["majority"] = {"hyperparameters": {"class": majority}}
    metrics["features"] = X_train.shape[1]
    return metrics, predictions


def scores(y_true, y_pred) -> dict:
    """Accuracy and macro-F1 over the groups present in ``y_true`` (every group in a full run)."""
    from sklearn.metrics import f1_score

    y_true, y_pred = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    labels = [g for g in GROUPS if g in set(y_true)] + sorted(set(y_true) - set(GROUPS))
    return {
        "accuracy": float(np.mean(y_true == y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
    }


def run_ulmfit_spanish(
    out: str | Path, *, quick: bool = False, settings: dict | None = None, device: str = "auto", log=print
) -> dict:
    """Run the whole demonstration (see the module docstring) and return the results dict that
    is also written to ``OUT/results.json``. ``settings`` replaces ``QUICK_SETTINGS`` /
    ``FULL_SETTINGS`` as a whole (same keys)."""
    from textkit._io import atomic_write_json
    from textkit.reproduce.experiments import versions
    from textkit.train.trainer import resolve_device
    from textkit.transfer import fine_tune_language_model, train_classifier
    from textkit.transfer.training import settings_from_dict

    started = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    settings = json.loads(json.dumps(settings or (QUICK_SETTINGS if quick else FULL_SETTINGS)))
    missing = [k for k in ("seed", "pretrain", "finetune", "classifier", "classical") if k not in settings]
    if missing:
        raise ValueError(
            f"settings lack {missing}; start from textkit.reproduce.ulmfit_es.FULL_SETTINGS or QUICK_SETTINGS"
        )
    seed = settings["seed"]
    device = str(resolve_device(device))
    finetune_settings, classifier_settings = settings_from_dict(settings)
    atomic_write_json(out / "settings.json", settings)
    timings: dict[str, float] = {}

    t = time.perf_counter()
    data = prepare_data(settings)
    train, valid, test = data["train"], data["valid"], data["test"]
    counts = data["counts"]
    timings["data"] = time.perf_counter() - t
    log(
        f"{CORPUS}: {counts['dropped_empty_verses']} empty verses dropped; chapters train/valid/test "
        f"{counts['chapters']['train']}/{counts['chapters']['valid']}/{counts['chapters']['test']}, verses "
        f"{counts['verses']['train']}/{counts['verses']['valid']}/{counts['verses']['test']} (seed {seed}); "
        f"device {device}"
    )

    # classical baselines on the same split
    t = time.perf_counter()
    classical, predictions = _classical(train, valid, test, settings["classical"], seed)
    timings["classical"] = time.perf_counter() - t

    # 1. pretrain on the training chapters
    t = time.perf_counter()
    lm, pipeline, pretrain_metrics = pretrain_spanish_lm(
        data["lm_docs"]["train"],
        data["lm_docs"]["valid"],
        settings["pretrain"],
        seed=seed,
        device=device,
        out_dir=out / "lm",
    )
    timings["pretrain"] = time.perf_counter() - t
    log(
        f"pretrained the Spanish LM ({pretrain_metrics['vocab_size']} SentencePiece pieces, "
        f"{pretrain_metrics['tokens']['train']} "
        f"training tokens): valid perplexity {pretrain_metrics['valid_perplexity']:.1f}, {timings['pretrain']:.0f} s"
    )

    # 2. fine-tune on the training verses, one document each
    t = time.perf_counter()
    if finetune_settings.epochs_frozen + finetune_settings.epochs > 0:
        lm, finetune_metrics = fine_tune_language_model(
            lm, pipeline, train["texts"], finetune_settings, seed=seed, device=device, log=log
        )
    else:
        finetune_metrics = {"skipped": "finetune epochs are 0"}
    timings["finetune"] = time.perf_counter() - t

    # 3. the classifier
    t = time.perf_counter()
    clf, clf_metrics = train_classifier(
        lm,
        pipeline,
        train["texts"],
        train["labels"],
        classifier_settings,
        valid=(valid["texts"], valid["labels"]),
        seed=seed,
        device=device,
        log=log,
    )
    predictions["ulmfit-es"] = clf.predict(test["texts"])
    timings["classifier"] = time.perf_counter() - t
    clf.info.update(
        {
            "corpus": CORPUS,
            "task": "book group of a single verse",
            "groups": list(GROUPS),
            "seed": seed,
            "split": "whole chapters, stratified by group, " + "/".join(str(f) for f in counts["fractions"]),
        }
    )
    clf.save(out / "classifier")

    metrics = {}
    for key in METHODS:
        metrics[key] = {**scores(test["labels"], predictions[key]), "description": METHODS[key]}
        if key in classical:
            metrics[key].update({k: v for k, v in classical[key].items()})
    test_counts = Counter(test["labels"])
    step = max(1, len(test["texts"]) // 8)
    examples = [
        {
            "text": test["texts"][i],
            "reference": "{} {}:{}".format(*test["keys"][i]),
            "group": test["labels"][i],
            **{key: str(predictions[key][i]) for key in ("ulmfit-es", "nbsvm-bi")},
        }
        for i in range(0, len(test["texts"]), step)
    ][:8]
    results = {
        "metrics": metrics,
        "split": {**counts, "test_chapters": [list(c) for c in test["chapters"]]},
        "groups": {g: int(test_counts[g]) for g in GROUPS},
        "examples": examples,
        "details": {
            "pretrain": pretrain_metrics,
            "finetune": finetune_metrics,
            "classifier": clf_metrics,
            "classical": {"features": classical["features"]},
        },
        "config": {
            "command": "textkit reproduce ulmfit --lang es" + (" --quick" if quick else ""),
            "corpus": CORPUS,
            "task": "predict the book group of a single verse",
            "device": device,
            "quick": quick,
            "lm_text": "Spanish text of the training chapters only (no other Spanish text is available)",
        },
        "settings": settings,
        "seed": seed,
        "versions": versions(),
        "timings_s": {**{k: round(v, 1) for k, v in timings.items()}, "total": round(time.perf_counter() - started, 1)},
    }
    atomic_write_json(out / "results.json", results)
    log(format_table(results))
    log(f"wrote {out / 'results.json'}, the language model {out / 'lm'} and the classifier {out / 'classifier'}")
    return results


def format_table(results: dict) -> str:
    lines = [f"{'method':10s} {'accuracy %':>10s} {'macro-F1':>9s}  what"]
    for key, m in results["metrics"].items():
        acc = "-" if m.get("accuracy") is None else f"{100 * m['accuracy']:.2f}"
        f1 = "-" if m.get("macro_f1") is None else f"{m['macro_f1']:.4f}"
        lines.append(f"{key:10s} {acc:>10s} {f1:>9s}  {m.get('description', '')}")
    split = results.get("split", {})
    if split:
        c, v = split["chapters"], split["verses"]
        lines.append(
            f"test: {v['test']} verses of {c['test']} chapters (train {v['train']} verses / {c['train']} chapters); "
            f"{split['dropped_empty_verses']} empty verses dropped"
        )
    if results.get("groups"):
        lines.append("test verses per group: " + ", ".join(f"{g} {n}" for g, n in results["groups"].items()))
    return "\n".join(lines)


__all__ = [
    "BOOK_GROUPS",
    "FULL_SETTINGS",
    "GROUPS",
    "METHODS",
    "QUICK_SETTINGS",
    "book_group",
    "chapter_split",
    "check_leak_free",
    "format_table",
    "load_verses",
    "prepare_data",
    "run_ulmfit_spanish",
    "slice_chapters",
]
