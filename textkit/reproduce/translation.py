"""``textkit reproduce translation``: GRU, GRU + attention and Transformer on Spanish->English
Bible verses (Reina-Valera 1909 -> KJV, whole chapters held out), scored with sacreBLEU.

Every model gets the same joint SentencePiece vocabulary and the same wall-clock training
budget (``--minutes``, training steps only; the learning rate warms up and decays over that
budget). The test set is decoded greedily and with beam 5; hypotheses, references, a
``results.json`` and attention heat maps are written to ``--out``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from textkit._io import versions

MODELS = ("gru", "gru-attn", "transformer")
# corpus family -> language pair -> registry corpus
CORPORA = {
    "bible": {"es-en": "bible-es-en"},
    "giga-fren": {"fr-en": "giga-fren"},
    "libreoffice-help": {
        "es-en": "libreoffice-help-es-en",
        "fr-en": "libreoffice-help-fr-en",
        "de-en": "libreoffice-help-de-en",
    },
}
DEFAULT_CORPUS = {"es-en": "bible", "fr-en": "giga-fren", "de-en": "libreoffice-help"}
PAIRS = {pair: CORPORA[family][pair] for pair, family in DEFAULT_CORPUS.items()}


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    pair: str = "es-en"
    corpus: str | None = None  # a key of CORPORA; None: the pair's default (DEFAULT_CORPUS)
    data: str | None = None  # a TSV or "SRC_FILE,TGT_FILE" instead of the registry corpus
    data_dir: str | None = None  # for corpora you bring (giga-fren)
    models: tuple[str, ...] = MODELS
    minutes: float = 20.0  # training budget per model, CPU minutes of this process
    max_epochs: int = 100
    vocab_size: int = 8000
    max_train: int | None = None
    max_test: int | None = None
    max_tokens: int = 6000  # padded tokens per batch
    max_len: int = 160  # subword tokens; longer training pairs are dropped
    size: str = "base"  # or "tiny"
    beam: int = 5
    seed: int = 0
    device: str = "auto"
    threads: int | None = None  # torch intra-op threads (None: torch's default)
    clock: str = "cpu"  # what --minutes counts: "cpu" seconds of this process or "wall" seconds
    teacher_forcing: tuple[float, float] = (1.0, 1.0)  # RNN models: start -> end ratio
    # gru-attn: "bahdanau" (additive; lower validation loss than "luong" at 8 CPU-minutes, 4.29 vs 4.49)
    attention: str = "bahdanau"

    @classmethod
    def quick(cls, **overrides) -> ExperimentConfig:
        base = dict(
            minutes=0.25,
            max_train=3000,
            max_test=60,
            vocab_size=600,
            max_tokens=1500,
            max_len=80,
            size="tiny",
            max_epochs=20,
            threads=1,
            clock="wall",
        )
        base.update(overrides)
        return cls(**base)


def model_configs(size: str, vocab: int, max_len: int, attention: str = "bahdanau", *, pad_index: int) -> dict:
    """The three models' configs at a size; ``pad_index`` comes from the tokenizer."""
    configs = _size_configs(size, vocab, max_len, pad_index)
    configs["gru-attn"] = dataclasses.replace(configs["gru-attn"], attention=attention)
    return configs


def _size_configs(size: str, vocab: int, max_len: int, pad_index: int) -> dict:
    from textkit.nn.seq2seq import Seq2SeqAttentionConfig, Seq2SeqGRUConfig
    from textkit.nn.transformer import TransformerConfig

    common = dict(src_vocab_size=vocab, tgt_vocab_size=vocab, pad_index=pad_index, max_len=max_len + 2)
    if size == "tiny":
        return {
            "gru": Seq2SeqGRUConfig(emb_size=32, hidden_size=64, dropout=0.1, **common),
            "gru-attn": Seq2SeqAttentionConfig(emb_size=32, hidden_size=48, dropout=0.1, attention="luong", **common),
            "transformer": TransformerConfig(
                d_model=64,
                n_heads=4,
                n_encoder_layers=2,
                n_decoder_layers=2,
                d_ff=128,
                dropout=0.1,
                share_embeddings=True,
                tie_embeddings=True,
                **common,
            ),
        }
    if size == "small":  # sized for a few minutes per model on one CPU thread
        return {
            "gru": Seq2SeqGRUConfig(emb_size=128, hidden_size=256, dropout=0.1, **common),
            "gru-attn": Seq2SeqAttentionConfig(emb_size=128, hidden_size=192, dropout=0.1, attention="luong", **common),
            "transformer": TransformerConfig(
                d_model=128,
                n_heads=4,
                n_encoder_layers=3,
                n_decoder_layers=3,
                d_ff=512,
                dropout=0.1,
                share_embeddings=True,
                tie_embeddings=True,
                **common,
            ),
        }
    if size == "base":
        return {
            "gru": Seq2SeqGRUConfig(emb_size=256, hidden_size=512, dropout=0.2, **common),
            "gru-attn": Seq2SeqAttentionConfig(emb_size=256, hidden_size=256, dropout=0.2, attention="luong", **common),
            "transformer": TransformerConfig(
                d_model=256,
                n_heads=4,
                n_encoder_layers=3,
                n_decoder_layers=3,
                d_ff=1024,
                dropout=0.1,
                share_embeddings=True,
                tie_embeddings=True,
                **common,
            ),
        }
    raise ValueError(f"size must be 'tiny', 'small' or 'base', got {size!r}")


LEARNING_RATES = {
    "tiny": {"gru": 1e-2, "gru-attn": 1e-2, "transformer": 3e-3},
    "small": {"gru": 3e-3, "gru-attn": 3e-3, "transformer": 2e-3},
    "base": {"gru": 2e-3, "gru-attn": 2e-3, "transformer": 1e-3},
}


def _time_budget_callback(seconds: float, clock: str = "cpu", warmup: float = 0.05):
    """Budget in CPU seconds of this process (``clock="cpu"``, all threads), so that "the same
    budget" means the same compute on a machine shared with other jobs; or in wall seconds
    (``clock="wall"``, what ``--quick`` uses to bound its running time)."""
    if clock not in ("cpu", "wall"):
        raise ValueError(f"clock must be 'cpu' or 'wall', got {clock!r}")
    now = time.process_time if clock == "cpu" else time.perf_counter
    from textkit.train import Callback

    class TimeBudget(Callback):
        """Learning rate by the share of the budget spent: linear warm-up over the first
        ``warmup``, then linear decay to 10%; stop when the budget is used up."""

        order = -10

        def __init__(self) -> None:
            self.start = None
            self.used = 0.0

        def before_fit(self, trainer) -> None:
            self.start = now()

        def before_batch(self, trainer) -> None:
            self.used = now() - self.start
            frac = min(1.0, self.used / seconds)
            scale = frac / warmup if frac < warmup else 1.0 - 0.9 * (frac - warmup) / (1 - warmup)
            for group in trainer.opt.param_groups:
                group["lr"] = group["max_lr"] * max(scale, 0.01)

        def after_batch(self, trainer) -> None:
            self.used = now() - self.start
            if self.used >= seconds:
                trainer.request_stop(f"CPU budget of {seconds:.0f} s reached")

    return TimeBudget()


def corpus_for(pair: str, corpus: str | None = None) -> str:
    """The registry corpus for a language pair and corpus family (``--pair`` / ``--corpus``)."""
    family = corpus or DEFAULT_CORPUS.get(pair)
    if family not in CORPORA:
        raise ValueError(f"unknown corpus {corpus!r}; choose one of {sorted(CORPORA)} or pass --data FILE.tsv")
    if pair not in CORPORA[family]:
        raise ValueError(f"the {family} corpus has no {pair!r} pair; it has {sorted(CORPORA[family])}")
    return CORPORA[family][pair]


def load_records(config: ExperimentConfig) -> tuple[dict[str, list[dict]], dict]:
    from textkit.data.parallel_text import clean_pairs, load_parallel

    spec = config.data or corpus_for(config.pair, config.corpus)
    splits, report = {}, {"corpus": spec}
    for split in ("train", "valid", "test"):
        records, cleaned = clean_pairs(load_parallel(spec, split, data_dir=config.data_dir))
        report[f"{split}_pairs"] = cleaned.kept
        report[f"{split}_dropped_empty"] = cleaned.dropped_empty
        splits[split] = records
    if config.max_train is not None:
        splits["train"] = splits["train"][: config.max_train]
        splits["valid"] = splits["valid"][: max(50, config.max_train // 20)]
    if config.max_test is not None:
        splits["test"] = splits["test"][: config.max_test]
    report["train_used"], report["test_used"] = len(splits["train"]), len(splits["test"])
    return splits, report


def plot_attention(weights, source_pieces, target_pieces, path=None, ax=None, title: str | None = None):
    """Heat map of attention weights (T, S): rows are target pieces, columns source pieces."""
    import matplotlib

    if ax is None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    own = ax is None
    if own:
        fig, ax = plt.subplots(
            figsize=(min(16, max(4, 0.35 * len(source_pieces))), min(12, max(3, 0.3 * len(target_pieces))))
        )
    ax.imshow(weights, cmap="viridis", aspect="auto", vmin=0)
    ax.set_xticks(range(len(source_pieces)), source_pieces, rotation=90, fontsize=7)
    ax.set_yticks(range(len(target_pieces)), target_pieces, fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    if own:
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=110)
        plt.close(fig)
    return ax


def attention_for(model, tokenizer, source_ids: list[int], hypothesis_ids: list[int]):
    """Attention (T, S) of a model over its own hypothesis, with the pieces for labels."""
    import torch

    limit = model.config.max_len - 1
    source_ids, hypothesis_ids = list(source_ids)[:limit], list(hypothesis_ids)[:limit]
    specials = tokenizer.special_ids
    src = torch.tensor([source_ids + [specials["eos"]]])
    tgt = torch.tensor([[specials["bos"]] + hypothesis_ids])
    model.eval()
    with torch.no_grad():
        _, weights = model(
            src.to(next(model.parameters()).device), tgt.to(next(model.parameters()).device), return_attention=True
        )
    src_pieces = [tokenizer.id_to_piece(i) for i in source_ids] + ["</s>"]
    tgt_pieces = [tokenizer.id_to_piece(i) for i in hypothesis_ids] + ["</s>"]
    tgt_pieces = tgt_pieces[: weights.size(1)]
    return weights[0].cpu().numpy(), src_pieces, tgt_pieces


def train_model(
    name: str, model_config, tokenizer_size: int, train, valid, config: ExperimentConfig, device, quiet: bool = True
) -> dict:
    """Train one model for the time budget; returns the model and training facts."""
    import torch

    from textkit.nn.seq2seq import Seq2SeqAttention, Seq2SeqGRU, count_parameters
    from textkit.train.tasks import Seq2SeqTask
    from textkit.nn.transformer import TransformerSeq2Seq
    from textkit.train import GradientClipping, Trainer

    cls = {"gru": Seq2SeqGRU, "gru-attn": Seq2SeqAttention, "transformer": TransformerSeq2Seq}[name]
    torch.manual_seed(config.seed)
    model = cls(model_config)
    smoothing = 0.1 if name == "transformer" else 0.0
    tf = (1.0, 1.0) if name == "transformer" else tuple(config.teacher_forcing)
    task = Seq2SeqTask(
        model.config.pad_index,
        label_smoothing=smoothing,
        teacher_forcing=tf if tf[0] != tf[1] else tf[0],
        seed=config.seed,
    )
    seconds = config.minutes * 60
    budget = _time_budget_callback(seconds, config.clock)
    trainer = Trainer(
        model,
        task,
        train,
        valid,
        lr=LEARNING_RATES[config.size][name],
        weight_decay=0.01,
        betas=(0.9, 0.98),
        callbacks=[GradientClipping(1.0), budget],
        device=device,
        seed=config.seed,
        precision="auto",
    )
    started = time.perf_counter()
    trainer.fit(epochs=config.max_epochs)
    wall = time.perf_counter() - started
    metrics = trainer.validate()
    return {
        "model": model,
        "params": count_parameters(model),
        "train_seconds": round(trainer.train_time, 1),
        "train_budget_used_seconds": round(budget.used, 1),
        "budget_clock": config.clock,
        "train_wall_seconds": round(wall, 1),
        "steps": trainer.step,
        "epochs": round(trainer.step / max(1, train.n_batches(0)), 2),
        "train_tokens_per_s": round(trainer.tokens_seen / max(trainer.train_time, 1e-9)),
        "valid_loss": round(metrics["valid_loss"], 4),
        "valid_perplexity": round(metrics["perplexity"], 2),
    }


def run_experiment(config: ExperimentConfig, out: str | Path, *, log=print) -> dict:
    """Train, decode, score and write everything; returns the results dict."""
    import torch

    from textkit._io import atomic_write_json, atomic_write_text
    from textkit.data.parallel_text import ParallelBatches, encode_pairs
    from textkit.evaluate import corpus_bleu, corpus_chrf, read_lines
    from textkit.nn.serialization import save_translation_model
    from textkit.recipes.translation import translate_ids
    from textkit.text import SubwordTokenizer
    from textkit.train import resolve_device, seed_everything

    unknown = [m for m in config.models if m not in MODELS]
    if unknown or not config.models:
        raise ValueError(f"unknown model(s) {unknown}; choose from {', '.join(MODELS)}")
    if config.beam < 2:
        raise ValueError(f"--beam must be >= 2 (greedy is always decoded), got {config.beam}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(config.device)
    if config.threads is not None:
        # On a busy machine several intra-op threads can be 50x slower than one (spin waits).
        torch.set_num_threads(config.threads)
    seed_everything(config.seed)
    splits, data_report = load_records(config)
    log(
        f"data {data_report['corpus']}: {data_report['train_used']} train / {len(splits['valid'])} valid / "
        f"{data_report['test_used']} test pairs (empty pairs dropped: "
        f"{sum(data_report[f'{s}_dropped_empty'] for s in ('train', 'valid', 'test'))})"
    )

    started = time.perf_counter()
    texts = [r["source"] for r in splits["train"]] + [r["target"] for r in splits["train"]]
    tokenizer = SubwordTokenizer.train(texts, vocab_size=config.vocab_size, model_type="unigram", seed=config.seed)
    vocab = len(tokenizer)
    log(f"joint SentencePiece unigram vocabulary: {vocab} pieces ({time.perf_counter() - started:.1f} s)")

    def encode(records):
        src = tokenizer.encode_batch([r["source"] for r in records])
        tgt = tokenizer.encode_batch([r["target"] for r in records])
        return list(zip(src, tgt, strict=True))

    train_ids = [p for p in encode(splits["train"]) if max(len(p[0]), len(p[1])) <= config.max_len]
    data_report["train_dropped_long"] = data_report["train_used"] - len(train_ids)
    valid_ids = [p for p in encode(splits["valid"]) if max(len(p[0]), len(p[1])) <= config.max_len]
    specials = tokenizer.special_ids
    bos_id, eos_id, pad_id = specials["bos"], specials["eos"], specials["pad"]
    train = ParallelBatches(
        encode_pairs(train_ids, bos_id=bos_id, eos_id=eos_id),
        pad_id=pad_id,
        max_tokens=config.max_tokens,
        seed=config.seed,
    )
    valid = ParallelBatches(
        encode_pairs(valid_ids, bos_id=bos_id, eos_id=eos_id),
        pad_id=pad_id,
        max_tokens=config.max_tokens,
        shuffle=False,
    )
    test_sources = tokenizer.encode_batch([r["source"] for r in splits["test"]])
    references = [" ".join(r["target"].split()) for r in splits["test"]]
    atomic_write_text(out / "references.txt", "".join(r + "\n" for r in references))
    references = read_lines(out / "references.txt")

    configs = model_configs(config.size, vocab, config.max_len, config.attention, pad_index=pad_id)
    results: dict = {"metrics": {}, "signatures": {}}
    for name in config.models:
        log(f"[{name}] training for {config.minutes:g} {config.clock} min on {device.type} ...")
        facts = train_model(name, configs[name], vocab, train, valid, config, device)
        model = facts.pop("model")
        folder = out / name
        save_translation_model(model, folder / "model", source_tokenizer=tokenizer)
        row = dict(facts)
        for label, beam in (("", 1), (f"_beam{config.beam}", config.beam)):
            t0 = time.perf_counter()
            hyp_ids = translate_ids(
                model, test_sources, bos_id=bos_id, eos_id=eos_id, pad_id=pad_id, beam_size=beam, batch_size=64
            )
            seconds = time.perf_counter() - t0
            hyps = [" ".join(tokenizer.decode(h).split()) for h in hyp_ids]
            path = folder / f"hypotheses{'.beam' + str(beam) if beam > 1 else ''}.txt"
            atomic_write_text(path, "".join(h + "\n" for h in hyps))
            hyps = read_lines(path)  # score exactly what was written
            bleu, chrf = corpus_bleu(hyps, references), corpus_chrf(hyps, references)
            n_tokens = sum(len(h) + 1 for h in hyp_ids)
            row[f"bleu{label}"] = round(bleu.score, 2)
            row[f"chrf{label}"] = round(chrf.score, 2)
            row[f"decode_tokens_per_s{label or '_greedy'}"] = round(n_tokens / seconds, 1)
            row[f"decode_seconds{label or '_greedy'}"] = round(seconds, 2)
            results["signatures"] = {"bleu": bleu.signature, "chrf": chrf.signature}
            if beam == 1 and name != "gru":
                for k in range(min(3, len(test_sources))):
                    weights, sp, tp = attention_for(model, tokenizer, test_sources[k][:40], hyp_ids[k][:40])
                    plot_attention(weights, sp, tp, folder / f"attention_{k}.png", title=f"{name}: test pair {k}")
        results["metrics"][name] = row
        log(
            f"[{name}] BLEU {row['bleu']:.2f} greedy / {row[f'bleu_beam{config.beam}']:.2f} beam {config.beam}; "
            f"chrF {row['chrf']:.2f}; {row['params']:,} params; {row['steps']} steps ({row['epochs']} epochs), "
            f"{row['train_budget_used_seconds']} {config.clock} s budget used, {row['train_seconds']} s in training "
            "steps"
        )
        del model
    results.update(
        {
            "seed": config.seed,
            "versions": versions(("sacrebleu",), git=True),
            "config": {
                **dataclasses.asdict(config),
                "device": device.type,
                "threads": torch.get_num_threads(),
                "vocab": vocab,
                "models": {n: dataclasses.asdict(configs[n]) for n in config.models},
                "learning_rates": LEARNING_RATES[config.size],
            },
            "data": data_report,
            "command": "textkit " + " ".join(sys.argv[1:]) if sys.argv[1:3] == ["reproduce", "translation"] else None,
        }
    )
    atomic_write_json(out / "results.json", results)
    log(format_table(results, config.beam))
    return results


def format_table(results: dict, beam: int = 5) -> str:
    head = (
        f"| model | BLEU greedy | BLEU beam{beam} | chrF greedy | chrF beam{beam} | params | train s | steps "
        f"| decode tok/s greedy | decode tok/s beam{beam} |"
    )
    lines = [head, "|" + "|".join("---" for _ in range(head.count("|") - 1)) + "|"]
    for name, m in results["metrics"].items():
        lines.append(
            f"| {name} | {m['bleu']:.2f} | {m[f'bleu_beam{beam}']:.2f} | {m['chrf']:.2f} | "
            f"{m[f'chrf_beam{beam}']:.2f} | "
            f"{m['params']:,} | {m['train_seconds']:.0f} | {m['steps']} | {m['decode_tokens_per_s_greedy']:.0f} | "
            f"{m[f'decode_tokens_per_s_beam{beam}']:.0f} |"
        )
    lines.append(f"\nBLEU: {results['signatures'].get('bleu', '')}\nchrF: {results['signatures'].get('chrf', '')}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pair",
        default="es-en",
        choices=sorted(DEFAULT_CORPUS),
        help="es-en (default corpus: Bible RV1909 -> KJV), fr-en (Giga-fren questions, needs --data-dir), de-en",
    )
    parser.add_argument(
        "--corpus",
        default=None,
        choices=sorted(CORPORA),
        help="bible, giga-fren or libreoffice-help (LibreOffice help paragraphs, es/fr/de -> en); default: the pair's",
    )
    parser.add_argument(
        "--data", default=None, help="a TSV file (source<TAB>target) or SRC_FILE,TGT_FILE instead of --pair"
    )
    parser.add_argument("--data-dir", default=None, help="folder with a corpus you bring (giga-fren)")
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated subset of {','.join(MODELS)}")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="training budget per model in CPU minutes of this process (default 20; --quick 0.25)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny models on a 3,000-pair slice: under 3 minutes in all"
    )
    parser.add_argument("--max-train", type=int, default=None)
    parser.add_argument("--max-test", type=int, default=None)
    parser.add_argument("--vocab-size", type=int, default=None)
    parser.add_argument("--size", choices=["tiny", "small", "base"], default=None)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument(
        "--teacher-forcing", default=None, help="RNN teacher-forcing ratio START[:END], e.g. 1.0:0.7 (default 1.0)"
    )
    parser.add_argument(
        "--attention",
        choices=["luong", "bahdanau"],
        default=None,
        help="gru-attn's attention: bahdanau (additive, step by step; default) or luong (multiplicative)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--pretrained",
        default=None,
        help="score a shipped model (transformer-es-en) or a model folder on the held-out LibreOffice pages and "
        "Bible chapters beside Apertium and the copy baseline, instead of training",
    )
    parser.add_argument("--max-sentences", type=int, default=None, help="--pretrained: first N test sentences per set")
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--clock", choices=["cpu", "wall"], default=None, help="what --minutes counts (default cpu; --quick: wall)"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's; --quick: 1)")


def config_from_args(args: argparse.Namespace) -> ExperimentConfig:
    overrides: dict = {
        "pair": args.pair,
        "corpus": args.corpus,
        "data": args.data,
        "data_dir": args.data_dir,
        "beam": args.beam,
        "seed": args.seed,
        "device": args.device,
        "models": tuple(m.strip() for m in args.models.split(",") if m.strip()),
    }
    for key in ("minutes", "max_train", "max_test", "vocab_size", "size", "threads", "clock", "attention"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    if args.teacher_forcing:
        parts = [float(x) for x in args.teacher_forcing.split(":")]
        overrides["teacher_forcing"] = (parts[0], parts[-1])
    return ExperimentConfig.quick(**overrides) if args.quick else ExperimentConfig(**overrides)


def run(args: argparse.Namespace) -> int:
    if args.pretrained:
        from textkit.reproduce.translation_pretrained import run_comparison

        run_comparison(args.pretrained, args.out, max_sentences=args.max_sentences, beam=args.beam)
        return 0
    config = config_from_args(args)
    run_experiment(config, args.out)
    return 0
