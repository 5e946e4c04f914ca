"""``textkit classify train | evaluate | predict``: text classification on your own files.

    textkit classify train --data train.csv --method nbsvm --out model/
    textkit classify evaluate model/ --data test.csv
    textkit classify predict model/ --data new.csv --out predictions.jsonl

Thin wrappers over ``textkit.recipes.classify`` and ``textkit.data.tables``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import stat
import sys
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path

from textkit.commands.data_options import add_data_arguments, table_options
from textkit.recipes.classifiers import CLASSIFIERS

PREDICT_BATCH = 2048  # rows per prediction batch: memory stays flat however long the input
# `classify train` streams (two passes over chunks, the table never in memory) when the data file,
# or a folder's files together, is larger than this; --memory-budget changes it for one run. In
# memory, training peaks near 9x the file (the table and the count matrix at once: 1.2 GB for a
# 141 MB file of 1M lines); streamed, the same model peaks at 446 MB (bench/results/classify_cli.json).
MEMORY_BUDGET = "100MB"
_SIZE_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_SIZE_UNITS.update({"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40})


def parse_memory_budget(text: str) -> int:
    """Bytes in a size such as ``512MB``, ``2GB``, ``1.5GiB`` or ``0`` (KB/MB/GB are powers of
    1000, KiB/MiB/GiB powers of 1024, a bare number is bytes)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)\s*", str(text))
    unit = match.group(2).upper() if match else ""
    if match is None or unit not in _SIZE_UNITS:
        raise argparse.ArgumentTypeError(
            f"invalid memory budget {text!r}: write a size such as 512MB, 2GB or 1.5GiB (0 always streams)"
        )
    return int(float(match.group(1)) * _SIZE_UNITS[unit])


def _megabytes(n_bytes: int) -> str:
    """``1.5 GB``, ``512.0 MB``, ``12.3 KB``, ``800 bytes``: the units ``--memory-budget`` takes."""
    for unit, size in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if n_bytes >= size:
            return f"{n_bytes / size:,.1f} {unit}"
    return f"{n_bytes:,} bytes"


def _data_bytes(path: str) -> int | None:
    """The size of a data file, or of a folder's files together; None for stdin, FIFOs and the unreadable."""
    if path == "-":
        return None
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISREG(mode):
            return os.stat(path).st_size
        if not stat.S_ISDIR(mode):
            return None
        total = 0
        for folder, _dirs, files in os.walk(path):  # links are not followed (the reader refuses them anyway)
            for name in files:
                entry = os.lstat(os.path.join(folder, name))
                total += entry.st_size if stat.S_ISREG(entry.st_mode) else 0
        return total
    except OSError:
        return None  # the reader names the problem


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="classify_action", required=True)

    train = actions.add_parser("train", help="train a classifier on a labelled file and save a model folder")
    add_data_arguments(train, data_help="labelled training data: CSV, TSV, JSON Lines, fastText lines or a folder")
    train.add_argument(
        "--method",
        choices=list(CLASSIFIERS),
        default="nbsvm",
        help="; ".join(f"{name}: {m.summary}" for name, m in CLASSIFIERS.items()) + " (default nbsvm)",
    )
    train.add_argument(
        "--out", required=True, help="model folder to write (a new folder, or with --overwrite a classifier)"
    )
    train.add_argument("--overwrite", action="store_true", help="replace an existing classifier folder in --out")
    train.add_argument("--valid", default=None, help="a labelled file to score after training (same format options)")
    train.add_argument("--tune", action="store_true", help="choose hyper-parameters by inner cross-validation")
    train.add_argument("--cv", type=int, default=5, help="folds for --tune (default 5)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--pretrained",
        default=None,
        help="transfer methods: a model name or folder to start from (default: the method's own, e.g. awd_lstm-en)",
    )
    train.add_argument(
        "--recipe",
        default=None,
        help="ulmfit: a schedule by name or JSON file (default ulmfit: models/transfer/ulmfit.json)",
    )
    train.add_argument("--epochs", type=int, default=None, help="transfer methods: classifier epochs (default: recipe)")
    train.add_argument("--batch-size", type=int, default=None, help="transfer methods: batch size (default: recipe)")
    train.add_argument("--lm-out", default=None, help="ulmfit: also keep the fine-tuned language model in this folder")
    train.add_argument("--device", default="auto", help="transfer methods: auto (default), cpu or cuda")
    train.add_argument(
        "--memory-budget",
        type=parse_memory_budget,
        default=MEMORY_BUDGET,
        help=f"nb, nbsvm, lr: a data file larger than this (default {MEMORY_BUDGET}; KB/MB/GB or KiB/MiB/GiB) is "
        "streamed: read twice in chunks, never loaded whole, into the same model",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bars or step lines")

    evaluate = actions.add_parser("evaluate", help="score a model folder on a labelled file")
    evaluate.add_argument("model_dir")
    add_data_arguments(evaluate, data_help="labelled test data")
    evaluate.add_argument(
        "--out", default=None, help="folder for metrics.json and confusion_matrix.png (default MODEL_DIR/evaluation)"
    )
    evaluate.add_argument("--device", default="cpu")

    predict = actions.add_parser("predict", help="label new texts, streaming, in input order")
    predict.add_argument("model_dir")
    add_data_arguments(predict, data_help="texts to label", stdin=True)
    predict.add_argument("--out", default="-", help="output file (default stdout); written only when complete")
    predict.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    predict.add_argument(
        "--output-format",
        choices=["jsonl", "csv"],
        default=None,
        help="default: csv for a .csv --out, JSON Lines otherwise",
    )
    predict.add_argument("--proba", action="store_true", help="add each class's probability")
    predict.add_argument(
        "--id-column",
        default=None,
        help="CSV/TSV column or JSON key holding each row's id: written first in every output row, under its own "
        "name, to join the predictions back on (a number with --no-header, written as 'id')",
    )
    predict.add_argument("--keep-text", action="store_true", help="write each row's text beside its label")
    predict.add_argument(
        "--keep-fields",
        default=None,
        metavar="A,B",
        help="CSV/TSV columns or JSON keys to pass through to the output, comma-separated (a JSON value is kept as "
        "it is; a key missing from one object is null there)",
    )
    predict.add_argument(
        "--raw-csv", action="store_true", help="CSV output: keep cells starting with = + - @ as they are (no ' added)"
    )
    predict.add_argument(
        "--on-empty",
        choices=["predict", "error"],
        default="predict",
        help="an empty text: 'predict' (default) labels it from no words (priors/intercepts; ULMFiT: the "
        "start token) and marks the row \"empty\": true; 'error' stops at the first one",
    )
    predict.add_argument("--device", default="cpu")
    predict.add_argument(
        "--dask",
        default=None,
        metavar="SCHEDULER_ADDRESS",
        help="label on a Dask cluster (e.g. tcp://host:8786; nb, nbsvm, lr models): this machine reads the data "
        "in batches, the workers label them, the output is the same, in input order (pip install 'textkit[dask]')",
    )
    predict.add_argument(
        "--dask-timeout", type=float, default=30.0, help="seconds to wait for the Dask scheduler (default 30)"
    )


def run(args: argparse.Namespace) -> int:
    action = {"train": _train, "evaluate": _evaluate, "predict": _predict}[args.classify_action]
    return action(args)


def _log(quiet: bool = False):
    """Progress lines on stderr; with --quiet only the warnings."""

    def log(message: str) -> None:
        if not quiet or message.startswith("warning:"):
            print(message, file=sys.stderr, flush=True)

    return log


def _read(path: str, args: argparse.Namespace, labels: str, quiet: bool = False):
    from textkit.data.tables import read_table

    table = read_table(path, **table_options(args, labels))
    if not quiet:
        print(f"read {len(table):,} rows from {table.source}", file=sys.stderr)
    return table


def _train(args: argparse.Namespace) -> int:
    from textkit.recipes.classify import check_training_labels, save_classifier, train_classifier

    from textkit._folders import check_output
    from textkit.data.resolver import check_model_kind, is_path

    for option in ("epochs", "batch_size"):
        value = getattr(args, option)
        if value is not None and value < 1:
            raise ValueError(f"--{option.replace('_', '-')} must be at least 1, got {value}")
    method = CLASSIFIERS[args.method]
    if args.pretrained:
        if method.pretrained_kind is None:
            raise ValueError(f"--pretrained is for transfer methods; {args.method} trains from the data alone")
        check_model_kind(args.pretrained, (method.pretrained_kind,), f"classify train --method {args.method}")
    pretrained = args.pretrained if args.pretrained and is_path(args.pretrained) else None
    check_output(
        args.out, kind="classifier", inputs=[args.data, args.valid, pretrained, args.lm_out], overwrite=args.overwrite
    )
    if args.lm_out:
        check_output(
            args.lm_out, kind="language_model", inputs=[args.data, args.valid, pretrained, args.out], flag="--lm-out"
        )
    log = _log(args.quiet)
    size = _data_bytes(args.data)
    if size is not None and size > args.memory_budget:
        over = f"{args.data} is {_megabytes(size)}, over the memory budget of {_megabytes(args.memory_budget)}"
        if args.method == "ulmfit":
            print(f"{over}; ulmfit trains in memory (streaming is for nb, nbsvm and lr)", file=sys.stderr, flush=True)
        elif args.tune:
            raise ValueError(
                f"{over}, and --tune cross-validates in memory: drop --tune to train by streaming, or raise "
                "--memory-budget to train in memory"
            )
        else:
            from textkit.classical import streaming

            print(
                f"{over} (--memory-budget): training by streaming, two passes over {streaming.CHUNK_ROWS:,}-row "
                "chunks, without loading the table",
                file=sys.stderr,
                flush=True,
            )
            return _train_streaming(args, log)
    table = _read(args.data, args, "required", args.quiet)
    check_training_labels(table.labels, table.where)
    from textkit.data.tables import training_warnings

    for warning in training_warnings(table, naive_bayes=args.method in ("nb", "nbsvm")):
        print(warning, file=sys.stderr, flush=True)  # even with --quiet: each can save a wasted run
    valid = None
    if args.valid:
        valid_table = _read(args.valid, args, "required", args.quiet)
        from textkit.recipes.classify import check_known_labels

        check_known_labels(valid_table.labels, sorted(set(table.labels)), valid_table.where)  # type: ignore[arg-type]
        valid = (valid_table.texts, valid_table.labels)
    if args.tune and args.cv < 2:
        raise ValueError(f"--cv must be at least 2, got {args.cv}")
    saved = train_classifier(
        table.texts,
        table.labels,  # type: ignore[arg-type]
        args.method,
        tune=args.tune,
        cv=args.cv,
        seed=args.seed,
        valid=valid,  # type: ignore[arg-type]
        pretrained=args.pretrained,
        recipe=args.recipe,
        device=args.device,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lm_out=args.lm_out,
        quiet=args.quiet,
        log=log,
    )
    saved.info["data"] = str(args.data)
    save_classifier(saved, args.out)
    shown = ""
    if "valid_accuracy" in saved.info:
        shown = (
            f", valid accuracy {saved.info['valid_accuracy']:.4f} "
            f"(majority class {saved.info['valid_majority_baseline']:.4f})"
        )
    print(
        f"{args.method}: {len(table):,} texts, {len(saved.classes)} classes, "
        f"{saved.info['train_seconds']:.1f} s{shown} -> {args.out}"
    )
    return 0


def _train_streaming(args: argparse.Namespace, log) -> int:
    """``_train`` for data over the memory budget: ``train_classifier_streaming`` reads it in chunks."""
    from textkit.recipes.classify import save_classifier, train_classifier_streaming

    valid = valid_where = None
    if args.valid:
        valid_table = _read(args.valid, args, "required", args.quiet)
        valid, valid_where = (valid_table.texts, valid_table.labels), valid_table.where
    saved = train_classifier_streaming(
        args.data,
        args.method,
        table_options=table_options(args, "required"),
        seed=args.seed,
        valid=valid,  # type: ignore[arg-type]
        valid_where=valid_where,
        log=log,
    )
    saved.info["data"] = str(args.data)
    save_classifier(saved, args.out)
    shown = f", valid accuracy {saved.info['valid_accuracy']:.4f}" if "valid_accuracy" in saved.info else ""
    print(
        f"{args.method}: {saved.info['train_rows']:,} texts (streamed), {len(saved.classes)} classes, "
        f"{saved.info['train_seconds']:.1f} s{shown} -> {args.out}"
    )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from textkit._io import atomic_write_json, versions
    from textkit.classical.plots import plot_confusion_matrix
    from textkit.recipes.classify import check_known_labels, classification_metrics, load_classifier

    saved = load_classifier(args.model_dir, device=args.device)
    table = _read(args.data, args, "required")
    check_known_labels(table.labels, saved.classes, table.where)
    predicted = saved.predict(table.texts)
    metrics = classification_metrics(table.labels, predicted, saved.classes)  # type: ignore[arg-type]
    metrics.update(
        {"model": str(args.model_dir), "method": saved.method, "data": str(args.data), "versions": versions()}
    )
    out = Path(args.out) if args.out else Path(args.model_dir) / "evaluation"
    atomic_write_json(out / "metrics.json", metrics)
    plot_confusion_matrix(
        metrics["confusion_matrix"],
        saved.classes,
        out / "confusion_matrix.png",
        title=f"{saved.method} on {Path(args.data).name}",
    )
    print(_format_metrics(metrics))
    print(f"\nwrote {out / 'metrics.json'} and {out / 'confusion_matrix.png'}")
    return 0


def _format_metrics(metrics: dict) -> str:
    lines = [
        f"accuracy {metrics['accuracy']:.4f}   macro-F1 {metrics['macro_f1']:.4f}   ({metrics['rows']:,} rows)",
        "",
    ]
    width = max(8, *(len(c) for c in metrics["classes"]))
    lines.append(f"{'class':{width}s}  precision  recall     f1  support")
    for name, row in metrics["per_class"].items():
        lines.append(
            f"{name:{width}s}  {row['precision']:9.4f}  {row['recall']:6.4f}  {row['f1']:.4f}  {row['support']:7,d}"
        )
    return "\n".join(lines)


def _batches(rows: Iterator, size: int) -> Iterator[list]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _passed_through(args: argparse.Namespace, classes: list[str], fmt: str) -> list[tuple[str, str]]:
    """(input column, output name) for ``--id-column`` (first) and ``--keep-fields``. A name the
    output already uses (line, label, empty, proba, text, p_CLASS) or one asked for twice is refused."""
    wanted = [args.id_column] if args.id_column is not None else []
    if args.keep_fields is not None:
        fields = [f.strip() for f in args.keep_fields.split(",")]
        if not all(fields):
            raise ValueError(f"--keep-fields takes column names separated by commas, got {args.keep_fields!r}")
        wanted += fields
    no_header = getattr(args, "no_header", False)
    passed = []
    for at, column in enumerate(wanted):
        name = column if not no_header else ("id" if at == 0 and args.id_column is not None else f"column_{column}")
        passed.append((column, name))
    own = {"line", "label", "empty"} | ({"text"} if args.keep_text else set())
    own |= {f"p_{c}" for c in classes} if fmt == "csv" else ({"proba"} if classes else set())
    seen: set[str] = set()
    for column, name in passed:
        if name in own:
            raise ValueError(
                f"the column {column!r} would be written as {name!r}, which the output already uses for its own "
                f"{'column' if fmt == 'csv' else 'key'}; to score predictions against a label column use "
                "`textkit classify evaluate`"
                if name == "label"
                else f"the column {column!r} would be written as {name!r}, which the output already uses; "
                "pass it through once, under another name in the input"
            )
        if name in seen:
            raise ValueError(f"the column {column!r} is asked for twice (--id-column, --keep-fields); name it once")
        seen.add(name)
    return passed


def _csv_value(value: object) -> str:
    """A passed-through value as one CSV cell: text as it is, a JSON number, object or list as JSON, null empty."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _predict(args: argparse.Namespace) -> int:
    from textkit._io import atomic_open
    from textkit.data.tables import DataFileError, iter_table, neutralize_csv_cell
    from textkit.recipes.classify import load_classifier

    from textkit._folders import check_output

    if args.out != "-":
        check_output(args.out, kind=None, inputs=[args.data, args.model_dir], overwrite=args.overwrite)
    saved = load_classifier(args.model_dir, device=args.device)
    fmt = args.output_format or ("csv" if str(args.out).lower().endswith(".csv") else "jsonl")
    cell = str if args.raw_csv else neutralize_csv_cell  # labels like =HYPERLINK(...) must not run in a spreadsheet
    passed = _passed_through(args, saved.classes if args.proba else [], fmt)
    rows = iter_table(args.data, **table_options(args, "optional"), keep=tuple(column for column, _ in passed))
    id_column = args.id_column
    # a file is written under a temporary name and renamed when complete; stdout streams
    target = nullcontext(sys.stdout) if args.out == "-" else atomic_open(args.out, "w", encoding="utf-8")
    n_rows = n_empty = 0
    with target as handle:
        if fmt == "csv":
            csv.writer(handle, lineterminator="\n").writerow(
                [cell(name) for _, name in passed[:1] if id_column is not None]
                + ["line", "label", "empty"]
                + ([cell(f"p_{c}") for c in saved.classes] if args.proba else [])
                + (["text"] if args.keep_text else [])
                + [cell(name) for _, name in passed[1 if id_column is not None else 0 :]]
            )
        for batch, (labels, proba) in _labelled(args, saved, rows):
            texts = [row.text for row in batch]
            empty = [not t.strip() for t in texts]
            if args.on_empty == "error" and any(empty):
                first = batch[empty.index(True)]
                raise DataFileError(f"{first.where}: the text is empty (--on-empty error); remove the row")
            buffer = io.StringIO()
            table_writer = csv.writer(buffer, lineterminator="\n")
            for i, row in enumerate(batch):
                kept = [(name, (row.fields or {}).get(column)) for column, name in passed]
                if id_column is not None and kept[0][1] is None:
                    raise DataFileError(
                        f"{row.where}: the row has no {id_column!r} (--id-column); every row needs an id to join on"
                    )
                ident, fields = (kept[:1], kept[1:]) if id_column is not None else ([], kept)
                if fmt == "csv":
                    extra = [f"{p:.6f}" for p in proba[i]] if args.proba else []
                    table_writer.writerow(
                        [cell(_csv_value(value)) for _, value in ident]
                        + [row.line, cell(labels[i]), int(empty[i]), *extra]
                        + ([cell(row.text)] if args.keep_text else [])
                        + [cell(_csv_value(value)) for _, value in fields]
                    )
                else:
                    record: dict = dict(ident)
                    record.update({"line": row.line, "label": labels[i]})
                    if args.proba:
                        record["proba"] = {c: round(float(p), 6) for c, p in zip(saved.classes, proba[i], strict=True)}
                    if empty[i]:
                        record["empty"] = True
                    if args.keep_text:
                        record["text"] = row.text
                    record.update(fields)
                    buffer.write(json.dumps(record, ensure_ascii=False) + "\n")
            handle.write(buffer.getvalue())
            handle.flush()
            n_rows += len(batch)
            n_empty += sum(empty)
        if n_rows == 0:
            raise DataFileError(f"{args.data} holds no texts to label")
    note = f" ({n_empty:,} empty, labelled from no words)" if n_empty else ""
    where = "stdout" if args.out == "-" else args.out
    print(f"labelled {n_rows:,} rows{note} -> {where}", file=sys.stderr)
    return 0


DASK_BATCH = 10_000  # rows per task of `predict --dask`: milliseconds of scheduling against seconds of work


class _Labeller:
    """One batch's ``(labels, probabilities or None)``: run here, or on a Dask worker (``--dask``)."""

    def __init__(self, saved, proba: bool) -> None:
        self.saved = saved
        self.proba = proba

    def __call__(self, texts: list[str]):
        if self.proba:
            proba = self.saved.predict_proba(texts)
            return [self.saved.classes[i] for i in proba.argmax(1)], proba
        return [str(label) for label in self.saved.predict(texts)], None


def _labelled(args: argparse.Namespace, saved, rows: Iterator) -> Iterator[tuple[list, tuple]]:
    """``(batch of rows, (labels, proba))`` in input order. With ``--dask`` the batches are read
    here and labelled on the cluster's workers by the same ``_Labeller`` (the model travels once
    per worker; workers need neither the model folder nor the data file); a reader's error (file
    and line) or a worker's stops the run before the output is renamed into place."""
    label = _Labeller(saved, args.proba)
    if not getattr(args, "dask", None):
        for batch in _batches(rows, PREDICT_BATCH):
            yield batch, label([row.text for row in batch])
        return
    from textkit.classical.dask import connect, map_in_order

    if saved.family != "classical":
        raise ValueError(
            f"--dask labels with classical models (nb, nbsvm, lr); {args.model_dir} holds a {saved.method} model, "
            "which needs torch on every worker: label it without --dask"
        )
    with connect(args.dask, timeout=args.dask_timeout) as client:
        yield from map_in_order(client, label, _batches(rows, DASK_BATCH), project=_texts_of_rows)


def _texts_of_rows(batch: list) -> list[str]:
    return [row.text for row in batch]
