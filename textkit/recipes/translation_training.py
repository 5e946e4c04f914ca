"""Training a translation Transformer on your own parallel data or on registry corpora, for
hours if need be: a joint SentencePiece vocabulary, token-budget batches, an inverse square
root schedule that needs no planned end, exact-resume checkpoints and the best weights by
validation loss kept as a model folder.

A run folder holds::

    run_config.json      what was asked for (checked on --resume)
    tokenizer/           the joint SentencePiece model, trained once
    checkpoints/         exact-resume state (model, optimizer, data order, random states)
    best/                the model folder with the lowest validation loss so far
    history.json         validation rows

``init_from`` warm-starts from a translation model folder (its weights and vocabulary, a
fresh optimizer and schedule), the way ``lm pretrain --init-from`` does for language models.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from textkit._io import atomic_folder, atomic_write_json, read_json, versions

RUN_CONFIG = "run_config.json"


@dataclasses.dataclass(frozen=True)
class TranslationTrainingConfig:
    """Everything a run depends on. ``data`` names registry corpora (``bible-es-en``) or files
    (TSV/CSV/JSONL, or ``SRC,TGT`` line-aligned files); their train splits are concatenated."""

    data: tuple[str, ...]
    vocab_size: int = 8000
    d_model: int = 256
    n_heads: int = 4
    n_encoder_layers: int = 3
    n_decoder_layers: int = 3
    d_ff: int = 1024
    dropout: float = 0.1
    label_smoothing: float = 0.1
    max_len: int = 160  # subword tokens per side; longer training pairs are dropped
    max_tokens: int = 6000  # padded tokens per batch
    lr: float = 1e-3
    warmup_steps: int = 800
    weight_decay: float = 0.01
    max_steps: int = 200_000
    epochs: int = 60
    eval_every: int = 500
    checkpoint_every: int = 250
    precision: str = "auto"  # "bf16" autocast is fast on CPUs with AMX
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.data:
            raise ValueError("data: name at least one corpus or file")
        for name in ("vocab_size", "max_len", "max_tokens", "max_steps", "epochs", "eval_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_tokens < self.max_len + 2:
            raise ValueError(f"max_tokens ({self.max_tokens}) must be at least max_len + 2 ({self.max_len + 2})")

    def as_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["data"] = list(self.data)
        return out


@dataclasses.dataclass(frozen=True)
class InverseSqrt:
    """Linear warm-up to the peak, then ``sqrt(warmup / step)`` (Vaswani et al. 2017): the rate
    at any step does not depend on the planned end, so a run can be stopped or extended."""

    warmup_steps: int = 800

    def __call__(self, step: int, total_steps: int) -> tuple[float, None]:
        step = step + 1
        if step < self.warmup_steps:
            return step / self.warmup_steps, None
        return math.sqrt(self.warmup_steps / step), None


FILE_SPEC_SEPARATOR = "::"  # "pairs.tsv::es::en": a data file and its source and target columns


def file_spec(path: str, source_column: str, target_column: str) -> str:
    return FILE_SPEC_SEPARATOR.join((path, source_column, target_column))


def load_pairs(spec: str, split: str) -> list[dict]:
    """The pairs of one split of a registry corpus, or of a data file given as
    ``file_spec(path, source_column, target_column)``: read with the rules of ``classify train``
    (``textkit.data.tables``: errors name the file and line), split 94/3/3 by a hash of the
    source so a repeated sentence never straddles splits."""
    from textkit.data.parallel_text import clean_pairs, hash_split, load_parallel

    if FILE_SPEC_SEPARATOR not in spec:
        records, _ = clean_pairs(load_parallel(spec, split))
        return records
    from textkit.data.tables import iter_table

    path, source_column, target_column = spec.split(FILE_SPEC_SEPARATOR)
    rows = iter_table(path, text_column=source_column, label_column=target_column, labels="required")
    records = []
    for row in rows:
        if not row.text.strip() or not (row.label or "").strip():
            raise ValueError(f"{row.where}: the source or the target is empty; remove the row or fill it in")
        record = {"source": row.text, "target": row.label or "", "line": row.line}
        if hash_split(record) == split:
            records.append(record)
    return records


def _keep_best_callback(folder: Path, tokenizer, log: Callable[[str], None]):
    from textkit.nn.serialization import save_translation_model
    from textkit.train import Callback

    class KeepBest(Callback):
        """Save the model folder whenever the validation loss improves; the best loss is part
        of the checkpoint, so a resumed run keeps comparing against it."""

        order = 30

        def __init__(self) -> None:
            self.best = float("inf")
            self.best_step = -1

        def after_validate(self, trainer) -> None:
            loss = trainer.metrics.get("valid_loss", float("inf"))
            if loss < self.best:
                self.best, self.best_step = loss, trainer.step
                with atomic_folder(folder) as staging:  # a reader of best/ never sees half a save
                    save_translation_model(trainer.unwrapped_model, staging, source_tokenizer=tokenizer)
                    atomic_write_json(
                        staging / "training.json",
                        {
                            "step": trainer.step,
                            "valid_loss": loss,
                            "tokens_seen": trainer.tokens_seen,
                            "train_seconds": round(trainer.train_time, 1),
                        },
                    )
            log(
                f"step {trainer.step}: valid loss {loss:.4f} (best {self.best:.4f} at {self.best_step}), "
                f"{trainer.tokens_seen / max(trainer.train_time, 1e-9):.0f} tok/s, {trainer.train_time / 60:.1f} min"
            )

        def state_dict(self) -> dict:
            return {"best": self.best, "best_step": self.best_step}

        def load_state_dict(self, state: dict) -> None:
            self.best, self.best_step = state["best"], state["best_step"]

    return KeepBest()


def train_translation(
    config: TranslationTrainingConfig,
    out: str | Path,
    *,
    resume: bool = False,
    init_from: str | Path | None = None,
    stop_at: int | None = None,
    threads: int | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """Train (or, with ``resume``, continue exactly) a Transformer into the run folder ``out``;
    returns a summary. ``stop_at`` pauses after that many steps (resumable)."""
    from textkit.data.parallel_text import ParallelBatches, encode_pairs
    from textkit.nn.config import config_to_dict
    from textkit.nn.serialization import load_translation_model
    from textkit.nn.transformer import TransformerConfig, TransformerSeq2Seq
    from textkit.text import SubwordTokenizer
    from textkit.train import CheckpointEvery, GradientClipping, Trainer
    from textkit.train.tasks import Seq2SeqTask

    out = Path(out)
    if threads is not None:
        torch.set_num_threads(threads)
    if resume:
        if not (out / RUN_CONFIG).is_file():
            raise FileNotFoundError(f"--resume: {out} holds no translation run ({RUN_CONFIG}); start without --resume")
        saved = read_json(out / RUN_CONFIG, "translation run config")
        if saved.get("config") != config.as_dict():
            raise ValueError(
                f"{out / RUN_CONFIG} was written for another configuration; resume with the same settings "
                f"(saved: {saved.get('config')})"
            )
        init_from = saved.get("init_from")
    out.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    splits = {s: [r for spec in config.data for r in load_pairs(spec, s)] for s in ("train", "valid")}
    log(f"data {', '.join(config.data)}: {len(splits['train'])} train / {len(splits['valid'])} valid pairs")

    if init_from is not None:
        bundle = load_translation_model(init_from)
        model, tokenizer = bundle.model.train(), bundle.source_tokenizer
        if bundle.target_tokenizer is not tokenizer:
            raise ValueError(f"{init_from}: warm restarts need a joint vocabulary")
    elif resume:
        tokenizer = SubwordTokenizer.load(out / "tokenizer")
    else:
        texts = [r["source"] for r in splits["train"]] + [r["target"] for r in splits["train"]]
        tokenizer = SubwordTokenizer.train(texts, vocab_size=config.vocab_size, model_type="unigram", seed=config.seed)
    if not resume:
        tokenizer.save(out / "tokenizer")
    specials = tokenizer.special_ids
    if init_from is None:
        torch.manual_seed(config.seed)
        model = TransformerSeq2Seq(
            TransformerConfig(
                src_vocab_size=len(tokenizer),
                tgt_vocab_size=len(tokenizer),
                pad_index=specials["pad"],
                d_model=config.d_model,
                n_heads=config.n_heads,
                n_encoder_layers=config.n_encoder_layers,
                n_decoder_layers=config.n_decoder_layers,
                d_ff=config.d_ff,
                dropout=config.dropout,
                max_len=config.max_len + 2,
                share_embeddings=True,
                tie_embeddings=True,
            )
        )
    atomic_write_json(
        out / RUN_CONFIG,
        {
            "config": config.as_dict(),
            "init_from": str(init_from) if init_from is not None else None,
            "model": {"arch": "transformer", **config_to_dict(model.config)},
            "versions": versions(("sentencepiece",), git=True),
        },
    )

    def encode(records: Sequence[dict]):
        src = tokenizer.encode_batch([r["source"] for r in records])
        tgt = tokenizer.encode_batch([r["target"] for r in records])
        pairs = [(s, t) for s, t in zip(src, tgt, strict=True) if max(len(s), len(t)) <= config.max_len]
        return encode_pairs(pairs, bos_id=specials["bos"], eos_id=specials["eos"])

    train = ParallelBatches(
        encode(splits["train"]), pad_id=specials["pad"], max_tokens=config.max_tokens, seed=config.seed
    )
    valid = ParallelBatches(
        encode(splits["valid"]), pad_id=specials["pad"], max_tokens=config.max_tokens, shuffle=False
    )
    log(f"{len(train)} training pairs of <= {config.max_len} pieces, {train.n_batches(0)} batches an epoch")
    log(f"vocabulary {len(tokenizer)} pieces; data ready in {time.perf_counter() - started:.0f} s")

    keep_best = _keep_best_callback(out / "best", tokenizer, log)
    trainer = Trainer(
        model,
        Seq2SeqTask(specials["pad"], label_smoothing=config.label_smoothing, seed=config.seed),
        train,
        valid,
        lr=config.lr,
        weight_decay=config.weight_decay,
        betas=(0.9, 0.98),
        schedule=InverseSqrt(config.warmup_steps),
        callbacks=[GradientClipping(1.0), keep_best, CheckpointEvery(out / "checkpoints", config.checkpoint_every)],
        device="cpu" if not torch.cuda.is_available() else "auto",
        precision=config.precision,
        seed=config.seed,
        eval_every=config.eval_every,
    )
    trainer.fit(
        epochs=config.epochs,
        max_steps=config.max_steps,
        resume=out / "checkpoints" if resume else None,
        stop_at=stop_at,
    )
    atomic_write_json(out / "history.json", trainer.history)
    return {
        "steps": trainer.step,
        "tokens_seen": trainer.tokens_seen,
        "train_seconds": round(trainer.train_time, 1),
        "best_valid_loss": keep_best.best,
        "best_step": keep_best.best_step,
        "stop_reason": trainer.stop_reason,
    }


__all__ = ["InverseSqrt", "TranslationTrainingConfig", "train_translation"]
