"""Language-model pretraining, evaluation and generation as library functions (the
``textkit lm`` commands are thin wrappers over these).

A recipe (``models/*.json``) names the architecture, the model config, the tokenizer, the
data split and the training settings; ``pretrain_language_model`` turns it into a
self-contained model folder (see ``textkit.nn.serialization``) plus a model card.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from textkit._io import atomic_write_text, read_json, sha256_file
from textkit.data.tables import DEFAULT_MAX_LINE_BYTES
from textkit.nn.config import config_from_dict, config_to_dict


@dataclass(frozen=True)
class TokenizerSettings:
    kind: str = "word"  # "word" (textkit rule tokenizer + Vocab) or "sentencepiece"
    min_freq: int = 2  # word: keep tokens seen this often in the training split
    max_vocab: int = 30000  # word: vocabulary size bound (specials included)
    vocab_size: int = 8000  # sentencepiece: pieces
    model_type: str = "unigram"  # sentencepiece: "unigram" or "bpe"


@dataclass(frozen=True)
class DataSettings:
    corpus: str = "brown"
    split_seed: int = 0  # documents (Brown: files) are permuted with this seed...
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)  # ...then cut into train/valid/test
    max_docs: int | None = None  # keep only the first N documents of each split (smoke tests)
    backwards: bool = False  # read every document right to left (ULMFiT's backward LM)
    # Your own data instead of a corpus (`textkit lm pretrain --data`): files (or folders) read with
    # ``textkit.data.read_table``; each line (row, or file of a folder) is a document.
    files: tuple[str, ...] = ()
    file_format: str | None = None  # None: from the suffix (.txt: one document per line)
    text_column: str | None = None  # CSV/TSV column or JSON key of the text
    encoding: str = "utf-8"
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES


@dataclass(frozen=True)
class TrainSettings:
    batch_size: int = 32  # global: split across processes under torchrun
    bptt: int = 70
    epochs: int = 1
    max_steps: int | None = None
    lr: float = 3e-3
    optimizer: str = "adamw"
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.99)
    schedule: dict = field(default_factory=lambda: {"name": "one_cycle", "pct_start": 0.25})
    clip: float | None = 0.4
    alpha: float = 2.0  # AR
    beta: float = 1.0  # TAR
    seed: int = 0
    eval_every: int | None = None
    checkpoint_every: int | None = 500
    device: str = "auto"
    precision: str = "auto"


@dataclass(frozen=True)
class LMRecipe:
    name: str
    arch: str
    model: dict
    tokenizer: TokenizerSettings = TokenizerSettings()
    data: DataSettings = DataSettings()
    train: TrainSettings = TrainSettings()
    description: str = ""

    @classmethod
    def from_dict(cls, raw: dict, where: str = "recipe") -> LMRecipe:
        if not isinstance(raw, dict):
            raise ValueError(f"{where} must be a JSON object")
        raw = dict(raw)
        parts = {
            "tokenizer": TokenizerSettings,
            "data": DataSettings,
            "train": TrainSettings,
        }
        for key, cls_ in parts.items():
            if key in raw:
                raw[key] = config_from_dict(cls_, raw[key], where=f"{where}: {key!r}")
        recipe = config_from_dict(cls, raw, where=where)
        from textkit.nn.registry import TRAINABLE_LANGUAGE_MODELS

        if recipe.arch not in TRAINABLE_LANGUAGE_MODELS:
            raise ValueError(
                f"{where}: arch {recipe.arch!r} cannot be pretrained by a recipe; choose one of "
                f"{list(TRAINABLE_LANGUAGE_MODELS)} (pretrained decoders such as 'llama' load by name: "
                "textkit.nn.load_language_model('smollm2-135m'))"
            )
        if "vocab_size" in recipe.model or "pad_index" in recipe.model:
            raise ValueError(f"{where}: 'vocab_size' and 'pad_index' come from the tokenizer; remove them from 'model'")
        if recipe.tokenizer.kind not in ("word", "sentencepiece"):
            raise ValueError(
                f"{where}: tokenizer kind must be 'word' or 'sentencepiece', got {recipe.tokenizer.kind!r}"
            )
        return recipe

    @classmethod
    def load(cls, path: str | Path) -> LMRecipe:
        return cls.from_dict(read_json(path, "recipe"), where=str(path))

    def to_dict(self) -> dict:
        return config_to_dict(self)


# -- data ------------------------------------------------------------------------------------


def corpus_splits(data: DataSettings) -> dict[str, list[str]]:
    """Texts of the train/valid/test splits, split by document. A corpus that defines its
    own train/valid/test splits (``en-mix``) keeps them; any other is grouped by its records'
    ``file`` and cut with ``split_documents`` (Brown: by file). ``data.files`` (the user's own
    files) take the place of the corpus: see ``file_splits``."""
    from textkit import data as corpora
    from textkit.data.lm import split_documents

    if data.files:
        return file_splits(data)
    manifest = corpora.info(data.corpus)
    if set(manifest.splits) == {"train", "valid", "test"}:
        out: dict[str, list] = {}
        for name in ("train", "valid", "test"):
            records = corpora.load(data.corpus, split=name)
            if data.max_docs is not None:
                records = records[: data.max_docs]
            out[name] = [r["text"] for r in records]
            out[f"{name}_keys"] = [str(r.get("doc", r.get("file", i))) for i, r in enumerate(records)]
        if not out["train"]:
            raise ValueError(f"corpus {data.corpus!r} has an empty train split: no text to train a language model on")
        return out
    records = corpora.load(data.corpus)
    if isinstance(records, dict):  # a corpus with its own splits
        raise ValueError(
            f"corpus {data.corpus!r} has predefined splits; textkit lm pretrain supports document corpora such as "
            "'brown'"
        )
    texts = {}
    for index, record in enumerate(records):
        key = str(record.get("file", index)) if isinstance(record, dict) else str(index)
        text = record["text"] if isinstance(record, dict) else record
        texts[key] = texts.get(key, "") + ("\n" if key in texts else "") + text
    if not texts or not any(t.strip() for t in texts.values()):
        raise ValueError(f"corpus {data.corpus!r} is empty: no text to train a language model on")
    parts = split_documents(list(texts), list(data.fractions), seed=data.split_seed)
    if data.max_docs is not None:
        parts = [keys[: data.max_docs] for keys in parts]
    return {name: [texts[k] for k in keys] for name, keys in zip(("train", "valid", "test"), parts, strict=True)} | {
        f"{name}_keys": keys for name, keys in zip(("train", "valid", "test"), parts, strict=True)
    }


def read_documents(data: DataSettings, files: tuple[str, ...] | None = None) -> dict[str, str]:
    """Every non-empty document of ``data.files`` (or ``files``), keyed ``"<file>:<line>"``
    (a folder's files: ``"<file>:0"``), in file order. A file without any text is an error."""
    from textkit.data.tables import iter_table

    files = data.files if files is None else files
    repeated = sorted({f for f in files if list(files).count(f) > 1})
    if repeated:
        raise ValueError(f"{repeated[0]} is given twice; name each data file once")
    texts: dict[str, str] = {}
    for path in files:
        before = len(texts)
        rows = iter_table(
            path,
            format=data.file_format,
            text_column=data.text_column,
            labels="ignore",
            encoding=data.encoding,
            max_line_bytes=data.max_line_bytes,
        )
        for row in rows:
            if row.text.strip():
                texts[f"{row.source}:{row.line}"] = row.text
        if len(texts) == before:
            raise ValueError(f"{path} holds no text (an empty file, or only blank lines): nothing to train on")
    return texts


def file_splits(data: DataSettings) -> dict[str, list[str]]:
    """Train/valid/test texts of the user's own files, split by document: the document keys
    (``"<file>:<line>"``) are sorted, permuted with ``data.split_seed`` and cut into
    ``data.fractions`` (``textkit.data.lm.split_documents``), so the same files, seed and
    fractions always give the same split."""
    from textkit.data.lm import split_documents

    texts = read_documents(data)
    if len(texts) < len(data.fractions):
        raise ValueError(
            f"{', '.join(data.files)}: {len(texts)} non-empty document(s), but splitting into train/valid/test needs "
            f"at least {len(data.fractions)}; plain text is one document per line, so add lines of text"
        )
    parts = split_documents(list(texts), list(data.fractions), seed=data.split_seed)
    if data.max_docs is not None:
        parts = [keys[: data.max_docs] for keys in parts]
    names = ("train", "valid", "test")
    return {name: [texts[k] for k in keys] for name, keys in zip(names, parts, strict=True)} | {
        f"{name}_keys": keys for name, keys in zip(names, parts, strict=True)
    }


def data_digest(path: str | Path) -> str:
    """sha256 of a data file; of a folder, sha256 of its sorted ``relative path<TAB>sha256``
    lines (the files ``read_table`` reads: hidden ones are skipped)."""
    import hashlib

    path = Path(path)
    if not path.is_dir():
        return sha256_file(path)
    lines = [
        f"{f.relative_to(path).as_posix()}\t{sha256_file(f)}\n"
        for f in sorted(path.rglob("*"))
        if f.is_file() and not any(part.startswith(".") for part in f.relative_to(path).parts)
    ]
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def data_name(data: DataSettings) -> str:
    """How reports name the data: the corpus, or the user's file names."""
    return ", ".join(Path(f).name for f in data.files) if data.files else data.corpus


def build_pipeline(settings: TokenizerSettings, train_texts: list[str], seed: int = 0, n_workers: int = 1):
    """Fit the tokenizer/vocabulary on the training texts only."""
    from textkit.text import SubwordTokenizer, TextPipeline, Tokenizer, Vocab

    if not any(t.strip() for t in train_texts):
        raise ValueError("the training split is empty: no text to build a vocabulary from")
    if settings.kind == "word":
        tokenizer = Tokenizer(add_bos=True)
        tokens = tokenizer.tokenize_many(train_texts, n_workers=n_workers)
        vocab = Vocab.build(tokens, min_freq=settings.min_freq, max_size=settings.max_vocab)
        return TextPipeline(tokenizer, vocab)
    tokenizer = SubwordTokenizer.train(
        train_texts, vocab_size=settings.vocab_size, model_type=settings.model_type, seed=seed
    )
    return TextPipeline(tokenizer)


def encode_documents(pipeline, texts: list[str]) -> list[np.ndarray]:
    """Alias of ``pipeline.encode_documents(texts)`` (kept for callers of the old name)."""
    return pipeline.encode_documents(texts)


def pad_index_of(pipeline) -> int:
    """Alias of ``pipeline.pad_index`` (kept for callers of the old name)."""
    return pipeline.pad_index


# -- pretrain ----------------------------------------------------------------------------------


def pretrain_language_model(
    recipe: LMRecipe,
    out_dir: str | Path,
    *,
    epochs: int | None = None,
    max_steps: int | None = None,
    resume: bool = False,
    quiet: bool = False,
    command: str | None = None,
    n_workers: int = 1,
    pipeline=None,
    init_from: str | Path | None = None,
) -> dict:
    """Tokenize, build the vocab, train, evaluate and save a model folder. Returns the metrics.

    ``pipeline``: reuse this tokenizer + vocabulary instead of fitting one (a backward LM
    shares its forward twin's vocabulary, so one classifier vocabulary serves both).
    ``init_from``: a trained LM folder of the same architecture, direction and vocabulary to
    start from (a warm restart: its weights, a fresh optimizer and schedule); its vocabulary is
    the pipeline unless ``pipeline`` is given. The folder's training record is kept in
    ``config.json`` under ``init_from``, so the chain of runs stays traceable."""
    from textkit.data.lm import LMStream
    from textkit.nn.registry import build_language_model
    from textkit.nn.serialization import save_language_model
    from textkit.train import callbacks as cb
    from textkit.train.distributed import init_distributed
    from textkit.train.schedules import schedule_from_dict
    from textkit.train.tasks import LanguageModelTask
    from textkit.train.trainer import Trainer, seed_everything

    out_dir = Path(out_dir)
    settings = recipe.train
    if epochs is not None:
        settings = dataclasses.replace(settings, epochs=epochs)
    if max_steps is not None:
        settings = dataclasses.replace(settings, max_steps=max_steps)
    dist = init_distributed()
    if settings.batch_size % dist.world_size:
        raise ValueError(f"batch_size {settings.batch_size} must divide evenly across {dist.world_size} processes")
    per_process = settings.batch_size // dist.world_size
    started = time.time()
    digests = {path: data_digest(path) for path in recipe.data.files}  # before reading: what was read
    splits = corpus_splits(recipe.data)
    start = _load_start(init_from, recipe, pipeline) if init_from is not None else None
    if start is not None and pipeline is None:
        pipeline = start.pipeline
    if pipeline is None:
        pipeline = build_pipeline(recipe.tokenizer, splits["train"], seed=settings.seed, n_workers=n_workers)
    docs = {name: pipeline.encode_documents(splits[name]) for name in ("train", "valid", "test")}
    n_tokens = {name: int(sum(len(d) for d in docs[name])) for name in docs}
    seed_everything(settings.seed)
    model = build_language_model(
        recipe.arch, {**recipe.model, "vocab_size": len(pipeline), "pad_index": pipeline.pad_index}
    )
    if start is not None:
        model.load_state_dict(start.model.state_dict())
    shard = {"rank": dist.rank, "world_size": dist.world_size}
    shard = {**shard, "backwards": recipe.data.backwards}
    train = LMStream(docs["train"], per_process, settings.bptt, seed=settings.seed, **shard)
    eval_bs = max(1, min(per_process, 16))
    valid = LMStream(docs["valid"], eval_bs, settings.bptt, shuffle=False, random_bptt=False, **shard)
    test = LMStream(docs["test"], eval_bs, settings.bptt, shuffle=False, random_bptt=False, **shard)
    callbacks: list = [cb.ProgressBar(quiet=quiet), cb.HistoryWriter(out_dir)]
    if settings.clip:
        callbacks.append(cb.GradientClipping(settings.clip))
    if settings.alpha or settings.beta:
        callbacks.append(cb.RNNRegularizer(settings.alpha, settings.beta))
    if settings.checkpoint_every:
        callbacks.append(cb.CheckpointEvery(out_dir / "checkpoints", every_steps=settings.checkpoint_every))
    trainer = Trainer(
        model,
        LanguageModelTask(),
        train,
        valid,
        lr=settings.lr,
        optimizer=settings.optimizer,
        weight_decay=settings.weight_decay,
        betas=settings.betas,
        schedule=schedule_from_dict(settings.schedule),
        callbacks=callbacks,
        device=settings.device,
        precision=settings.precision,
        seed=settings.seed,
        eval_every=settings.eval_every,
    )
    resume_from = out_dir / "checkpoints" if resume else None
    if resume and not (out_dir / "checkpoints" / "latest.json").exists():
        raise FileNotFoundError(
            f"--resume: no checkpoint in {out_dir / 'checkpoints'}; run without --resume to start fresh"
        )
    trainer.fit(epochs=settings.epochs, max_steps=settings.max_steps, resume=resume_from)
    valid_metrics = trainer.history[-1] if trainer.history else trainer.validate()
    test_metrics = trainer.evaluate(test)
    metrics = {
        "valid_loss": valid_metrics["valid_loss"],
        "valid_perplexity": valid_metrics["perplexity"],
        "valid_accuracy": valid_metrics["accuracy"],
        "test_loss": test_metrics["valid_loss"],
        "test_perplexity": test_metrics["perplexity"],
        "test_accuracy": test_metrics["accuracy"],
        "steps": trainer.step,
        "epochs": round(trainer.history[-1]["epoch"], 3) if trainer.history else 0,
        "train_tokens_per_s": round(trainer.tokens_seen * dist.world_size / trainer.train_time, 1)
        if trainer.train_time
        else None,
        "train_time_s": round(trainer.train_time, 1),
        "wall_time_s": round(time.time() - started, 1),
        "vocab_size": len(pipeline),
        "tokens": n_tokens,
        "processes": dist.world_size,
        "device": str(trainer.device),
        "precision": trainer.precision,
    }
    if dist.is_main:
        if recipe.data.files:
            # the split is reproducible from the files (checked by sha256), seed and fractions;
            # per-line keys of a large file would bloat config.json, so only counts are kept
            data_record = {
                **config_to_dict(recipe.data),
                "files_sha256": digests,
                "documents": {name: len(splits[name]) for name in ("train", "valid", "test")},
            }
        else:
            data_record = {
                **config_to_dict(recipe.data),
                "valid_keys": splits["valid_keys"],
                "test_keys": splits["test_keys"],
            }
        extra = {
            "recipe": recipe.to_dict(),
            "effective_train": config_to_dict(settings),
            "data": data_record,
            "metrics": metrics,
        }
        if start is not None:
            extra["init_from"] = _start_record(Path(init_from), start.config)
        save_language_model(model, pipeline, out_dir, extra=extra)
        write_model_card(out_dir, recipe, settings, metrics, command, data_record, extra.get("init_from"))
    return metrics


def _load_start(folder: str | Path, recipe: LMRecipe, pipeline):
    """The LM folder a warm restart starts from, checked against the recipe and pipeline."""
    from textkit.nn.serialization import load_language_model

    start = load_language_model(folder)
    config = start.config
    if config["arch"] != recipe.arch:
        raise ValueError(f"--init-from {folder} is a {config['arch']!r} model but the recipe trains {recipe.arch!r}")
    saved = {k: v for k, v in config["model"].items() if k not in ("vocab_size", "pad_index")}
    wanted = {k: v for k, v in recipe.model.items() if k in saved}
    differ = {k: (saved[k], v) for k, v in wanted.items() if saved[k] != v}
    if differ:
        raise ValueError(
            f"--init-from {folder} was built with other settings than the recipe (saved, recipe): {differ}; "
            "use the recipe it was trained with"
        )
    backwards = bool(config.get("data", {}).get("backwards", False))
    if backwards != recipe.data.backwards:
        direction = "backward" if backwards else "forward"
        raise ValueError(f"--init-from {folder} is a {direction} LM; pass --backwards to match it (or drop it)")
    if pipeline is not None and pipeline.itos != start.pipeline.itos:
        raise ValueError(
            f"--init-from {folder} has another vocabulary than --pipeline; drop --pipeline to use the folder's"
        )
    return start


def _start_record(folder: Path, config: dict) -> dict:
    """What a warm restart keeps of the run it started from (chained through its own ``init_from``)."""
    from textkit._io import sha256_file
    from textkit.nn.serialization import WEIGHTS_FILE

    record = {
        "folder": str(folder),
        "weights_sha256": sha256_file(folder / WEIGHTS_FILE),
        "metrics": config.get("metrics"),
        "effective_train": config.get("effective_train"),
    }
    if "init_from" in config:
        record["init_from"] = config["init_from"]
    return record


def training_chain(config: dict) -> list[dict]:
    """Every run behind a model folder's weights, first run first: ``metrics`` and
    ``effective_train`` of each (one entry unless it was warm-started with ``init_from``)."""
    chain = []
    record: dict | None = config
    while record is not None:
        chain.append({"metrics": record.get("metrics") or {}, "effective_train": record.get("effective_train") or {}})
        record = record.get("init_from")
    return chain[::-1]


def write_model_card(
    folder: Path,
    recipe: LMRecipe,
    settings: TrainSettings,
    metrics: dict,
    command: str | None,
    data_record: dict | None = None,
    init_from: dict | None = None,
) -> None:
    tok = config_to_dict(recipe.tokenizer)
    keep = (
        ("kind", "min_freq", "max_vocab") if recipe.tokenizer.kind == "word" else ("kind", "vocab_size", "model_type")
    )
    tok = {k: tok[k] for k in keep}
    hardware = (
        f"{metrics['processes']} process(es) on {metrics['device']} ({metrics['precision']}); "
        f"{platform.processor() or platform.machine()}, Python {sys.version.split()[0]}, torch {torch.__version__}"
    )
    card = f"""# {recipe.name}

{recipe.description}

- **Architecture:** `{recipe.arch}` with `{json.dumps(recipe.model)}`
- **Tokenizer:** {recipe.tokenizer.kind} ({json.dumps(tok)}); vocabulary {metrics["vocab_size"]} entries
- **Data:** {_card_data(recipe.data, data_record or {})} with seed {recipe.data.split_seed} into
  train/valid/test fractions {list(recipe.data.fractions)}; tokens: {json.dumps(metrics["tokens"])}
- **Training:** {json.dumps(config_to_dict(settings))}
- **Seed:** {settings.seed}
- **Hardware:** {hardware}{_card_start(init_from)}

## Metrics

| split | loss (nats/token) | perplexity | next-token accuracy |
|---|---|---|---|
| valid | {metrics["valid_loss"]:.4f} | {metrics["valid_perplexity"]:.2f} | {metrics["valid_accuracy"]:.4f} |
| test | {metrics["test_loss"]:.4f} | {metrics["test_perplexity"]:.2f} | {metrics["test_accuracy"]:.4f} |

{metrics["steps"]} steps ({metrics["epochs"]} epochs), {metrics["train_time_s"]} s of training
({metrics["train_tokens_per_s"]} tokens/s), {metrics["wall_time_s"]} s wall time in all.

Perplexity is per token of this tokenizer (textkit word tokens include case markers such as
`xxmaj`), so it is not comparable with word-level perplexities on other tokenizations.

## Reproduce

```
{command or "(command not recorded)"}
```

## Files

`config.json` (architecture, config, recipe, split, metrics), `model.safetensors`, `vocab.json`,
`tokenizer.json`, `history.csv`/`history.json`/`loss.png`. Load with
`textkit.nn.load_language_model(folder)`.
"""
    atomic_write_text(folder / "README.md", card)


def _card_start(init_from: dict | None) -> str:
    if not init_from:
        return ""
    before = training_chain(init_from)
    steps = sum(run["metrics"].get("steps", 0) for run in before)
    return (
        f"\n- **Started from:** `{init_from['folder']}` (weights sha256 `{init_from['weights_sha256']}`; "
        f"{steps} steps in {len(before)} run(s) before this one, recorded under `init_from` in config.json)"
    )


def _card_data(data: DataSettings, record: dict) -> str:
    if not data.files:
        return f"`{data.corpus}`, documents split by file"
    digests = record.get("files_sha256", {})
    files = "; ".join(f"`{f}` (sha256 `{digests.get(f, '?')}`)" for f in data.files)
    folders = data.file_format == "folder" or any(Path(f).is_dir() for f in data.files)
    unit = "line (row), or file of a folder" if folders else "line (row)"
    counts = json.dumps(record.get("documents", {}))
    return f"your own files {files}, one document per {unit}; documents {counts}, split"


# -- evaluate and generate --------------------------------------------------------------------


def evaluate_language_model(
    folder: str | Path,
    corpus: str | None = None,
    split: str = "test",
    batch_size: int = 16,
    bptt: int = 70,
    device: str = "auto",
    *,
    files: tuple[str, ...] | None = None,
    file_options: dict | None = None,
    precision: str | None = None,
) -> dict:
    """Perplexity of a saved LM on a split of a corpus (the split recorded at training time).

    A model trained on the user's own files is evaluated on the same split of the same files
    (their sha256 must match the recorded one). ``files`` evaluates on every document of other
    files instead (``split`` is then ``"all"``); ``file_options`` are ``DataSettings``'s
    ``file_format``, ``text_column``, ``encoding`` and ``max_line_bytes`` for them."""
    from textkit.data.lm import LMStream
    from textkit.nn.serialization import load_language_model
    from textkit.train.tasks import LanguageModelTask, evaluate
    from textkit.train.trainer import resolve_device

    if corpus and files:
        raise ValueError("give a corpus or files to evaluate on, not both")
    bundle = load_language_model(folder, device=resolve_device(device), precision=precision)
    saved = bundle.config.get("data", {})
    saved_files = () if corpus else tuple(saved.get("files", ()))
    data = DataSettings(
        corpus=corpus or saved.get("corpus", "brown"),
        split_seed=saved.get("split_seed", 0),
        fractions=tuple(saved.get("fractions", (0.8, 0.1, 0.1))),
        max_docs=saved.get("max_docs"),
        backwards=saved.get("backwards", False),
        **({key: saved[key] for key in _FILE_OPTIONS if key in saved} if saved_files else {}),
        files=saved_files,
    )
    if files:
        data = dataclasses.replace(data, files=tuple(files), **(file_options or {}))
        texts = list(read_documents(data).values())
        split = "all"
    else:
        if split not in ("train", "valid", "test"):
            raise ValueError(f"split must be 'train', 'valid' or 'test', got {split!r}")
        if data.files:
            _check_unchanged(folder, data.files, saved.get("files_sha256", {}))
        texts = corpus_splits(data)[split]
    from textkit.nn.llama import LlamaLanguageModel

    if isinstance(bundle.model, LlamaLanguageModel):  # a pretrained decoder: each text scored on its own
        from textkit.recipes.pretrained_llm import llm_perplexity

        scored = llm_perplexity(bundle, [t for t in texts if t.strip()])
        return {
            "corpus": data_name(data),
            "split": split,
            "tokens": scored["tokens"],
            "loss": scored["loss"],
            "perplexity": scored["perplexity"],
            "accuracy": scored["accuracy"],
        }
    docs = bundle.pipeline.encode_documents(texts)
    fitted = fit_batch_size(batch_size, int(sum(len(d) for d in docs)), bptt, data_name(data))
    stream = LMStream(docs, fitted, bptt, shuffle=False, random_bptt=False, backwards=data.backwards)

    metrics = evaluate(bundle.model, LanguageModelTask(), stream, next(bundle.model.parameters()).device)
    return {
        "corpus": data_name(data),
        "split": split,
        "tokens": stream.tokens_per_epoch,
        "loss": metrics["valid_loss"],
        "perplexity": metrics["perplexity"],
        "accuracy": metrics["accuracy"],
        "batch_size": fitted,
        "batch_size_requested": batch_size,
    }


def fit_batch_size(batch_size: int, n_tokens: int, bptt: int = 70, name: str = "the text") -> int:
    """The batch size an evaluation of ``n_tokens`` tokens can use. ``batch_size`` when every
    row of the batch gets at least two tokens (one read, one predicted); for a shorter text,
    as many rows as hold a whole sequence of ``bptt`` tokens, at least one, so no token is lost
    to short rows (``evaluate_language_model`` reports the size it used). Refuses a batch size
    below 1 and a text of fewer than two tokens."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"the batch size (--batch-size) must be a positive whole number, got {batch_size!r}")
    if n_tokens < 2:
        raise ValueError(
            f"{name} has {n_tokens} token(s): too short to evaluate even with --batch-size 1 (a row needs 2 tokens, "
            "one read and one predicted); add text"
        )
    if n_tokens // batch_size >= 2:
        return batch_size
    return max(1, min(batch_size, n_tokens // (bptt + 1)))


_FILE_OPTIONS = ("file_format", "text_column", "encoding", "max_line_bytes")


def _check_unchanged(folder: str | Path, files: tuple[str, ...], recorded: dict) -> None:
    """The files a model was trained on must be the ones recorded, or its split means nothing."""
    for path in files:
        if not Path(path).exists():
            raise FileNotFoundError(
                f"{path}, which {folder} was trained on, does not exist any more; evaluate on other text with "
                "`textkit lm evaluate MODEL --data FILE`"
            )
        digest = data_digest(path)
        if recorded.get(path) not in (None, digest):
            raise ValueError(
                f"{path} has changed since {folder} was trained on it (sha256 {digest[:12]}..., recorded "
                f"{recorded[path][:12]}...), so its recorded train/valid/test split no longer applies; restore the "
                "file, or evaluate on all of a held-out file with `textkit lm evaluate MODEL --data FILE`"
            )


def generate_text(
    folder: str | Path,
    prompt: str,
    max_new_tokens: int = 50,
    *,
    temperature: float = 1.0,
    seed: int = 0,
    top_k: int | None = None,
    top_p: float | None = None,
    min_p: float | None = None,
    repetition_penalty: float | None = None,
    no_repeat_ngram: int | None = None,
    beam: int | None = None,
    chat: bool = False,
    precision: str | None = None,
) -> str:
    """Continue ``prompt`` with a saved LM, or a pretrained LLM by name (``"smollm2-135m"``),
    through ``textkit.decode``: seeded sampling, greedy (``temperature=0``) or beam search
    (``beam=N``). Padding, unknown and BOS ids are never generated. ``chat=True`` (pretrained
    LLMs only) wraps the prompt in the model's chat template and returns only the answer."""
    from textkit import decode
    from textkit.nn.llama import LlamaLanguageModel
    from textkit.nn.serialization import load_language_model

    if precision is None:  # a pretrained LLM by name: its manifest's CPU generation precision (q4 for SmolLM2)
        from textkit.data.llms import generation_precision
        from textkit.nn.quantize import int4_kernel_missing

        precision = generation_precision(str(folder))
        if precision == "q4" and int4_kernel_missing():  # a torch without the int4 kernel: the exact weights
            precision = "fp32"
    bundle = load_language_model(folder, precision=precision)
    model, pipeline = bundle
    if isinstance(model, LlamaLanguageModel):
        from textkit.recipes.pretrained_llm import generate_llm

        llm_strategy: decode.Strategy
        if beam is not None:
            llm_strategy = decode.Beam(beam)
        elif temperature == 0:
            llm_strategy = decode.Greedy()
        else:
            llm_strategy = decode.Sample(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p, seed=seed)
        answer = generate_llm(
            bundle,
            prompt,
            llm_strategy,
            max_new_tokens,
            chat=chat,
            processors=decode.build_processors(
                repetition_penalty=repetition_penalty, no_repeat_ngram_size=no_repeat_ngram
            ),
        )
        return answer if chat else prompt + answer
    if chat:
        raise ValueError(f"{folder} has no chat template; --chat is for pretrained chat models such as smollm2-135m")
    ids = [int(i) for i in pipeline.encode_documents([prompt])[0]]
    specials = pipeline.special_ids
    banned = [specials[name] for name in ("pad", "unk", "bos") if name in specials]
    if len(ids) <= (1 if "bos" in specials else 0):
        raise ValueError("the prompt encodes to no tokens; give a non-empty prompt")
    processors = decode.build_processors(
        banned_ids=banned, repetition_penalty=repetition_penalty, no_repeat_ngram_size=no_repeat_ngram
    )
    strategy: decode.Strategy
    if beam is not None:
        strategy = decode.Beam(beam)
    elif temperature == 0:
        strategy = decode.Greedy()
    else:
        strategy = decode.Sample(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p, seed=seed)
    new = decode.generate(
        model.step, [ids], strategy, max_new_tokens, processors=processors, reorder=decode.reorder_dim1
    ).to_lists()[0]
    # text as it is written ("said, "), not the tokenizer's spacing ("said , "); the prompt is
    # kept as the user wrote it (words outside the vocabulary included) where it reads back the same
    text, prompt_text = pipeline.decode_text(ids + new), pipeline.decode_text(ids)
    if text.startswith(prompt_text):
        return prompt.rstrip() + text[len(prompt_text) :]
    return text


__all__ = [
    "DataSettings",
    "LMRecipe",
    "TokenizerSettings",
    "TrainSettings",
    "corpus_splits",
    "data_digest",
    "evaluate_language_model",
    "file_splits",
    "fit_batch_size",
    "generate_text",
    "pretrain_language_model",
]
