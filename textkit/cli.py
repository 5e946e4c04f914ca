"""The ``textkit`` command: a thin layer over library functions.

Each ``reproduce`` experiment and ``audit`` lives in its own module exposing
``add_arguments(parser)`` and ``run(args) -> int``; this file only wires them up.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys

# name -> (module path, one-line help). Modules are imported only when their command runs,
# so `textkit corpora list` does not pay for torch or scikit-learn.
REPRODUCE_COMMANDS: dict[str, tuple[str, str]] = {
    "sentiment": ("textkit.reproduce.sentiment", "NB, LR and NBSVM sentiment (Wang & Manning 2012)"),
    "topics": ("textkit.reproduce.topics", "SVD and NMF topic models on BBC News"),
    "weat": ("textkit.reproduce.weat", "Caliskan et al.'s 10 WEAT tests on word2vec"),
    "debias": ("textkit.reproduce.debias", "hard debiasing on word2vec: before/after bias, costs, recoverability"),
    "occupations": ("textkit.reproduce.occupations", "gender association vs share of women in occupations"),
    "embeddings-over-time": (
        "textkit.reproduce.embeddings_over_time",
        "bias in embeddings trained on 1769, 1961 and 2015 English",
    ),
    "translation": (
        "textkit.reproduce.translation",
        "GRU, GRU+attention and Transformer es->en on the Bible, BLEU/chrF",
    ),
    "decoding": (
        "textkit.reproduce.decoding",
        "Holtzman et al.'s decoding comparison on SmolLM2-135M: greedy, beam, sampling, top-k, nucleus",
    ),
    "ulmfit": ("textkit.reproduce.ulmfit", "ULMFiT (Brown LM -> rotten-tomatoes classifier) beside NBSVM and fastai"),
}
TOP_LEVEL_COMMANDS: dict[str, tuple[str, str]] = {
    "audit": (
        "textkit.commands.audit",
        "audit word embeddings (WEAT and friends) or a language model (SEAT) for bias, with a report",
    ),
    "lm": ("textkit.commands.lm", "language models: pretrain, generate, evaluate"),
    "models": ("textkit.commands.models", "models by name: list, info (source, licence, sha256), get (fetch + verify)"),
    "classify": ("textkit.commands.classify", "classify your own texts: train, evaluate, predict from files"),
    "embed": ("textkit.commands.embed", "sentence embeddings of your texts with a pretrained encoder (minilm-l6)"),
    "topics": ("textkit.commands.topics", "topic models (NMF or SVD) of your own documents"),
    "translate": (
        "textkit.commands.translate",
        "translate a file with a shipped model (transformer-es-en) or a model folder; `translate train` trains one",
    ),
}
# `textkit translate train ...` has its own options: (command, first word) -> module
SUBCOMMAND_MODULES: dict[tuple[str, str], str] = {("translate", "train"): "textkit.commands.translate_train"}


def _add_module_command(subparsers, name: str, module_path: str, help_text: str, selected: bool) -> None:
    """Register a command; import its module (and add its options) only when it is the one
    being run, so other commands never pay for its imports."""
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(_module=module_path)
    if not selected:
        return
    try:
        module = importlib.import_module(module_path)
    except ModuleNotFoundError as exc:
        if not exc.name or not module_path.startswith(exc.name):
            raise
        parser.set_defaults(_missing=f"`{name}` is not available in this build of textkit")
        return
    module.add_arguments(parser)


# A full stop after one of these (or after a lone initial such as "C.") does not end a sentence.
_ABBREVIATIONS = frozenset(
    {"e.g.", "i.e.", "etc.", "vs.", "cf.", "al.", "approx.", "ca.", "no.", "mr.", "mrs.", "dr.", "st."}
)
_SENTENCE_END = re.compile(r"[.!?](?=\s+[\"'(\[A-Z0-9])")


def _first_sentence(text: str) -> str:
    """The first sentence of a description, on one line: a full stop ends it only when it is
    followed by a capital (or a digit, quote or bracket), is outside brackets, and does not
    close an initial ("C. H. Spurgeon") or an abbreviation ("e.g.")."""
    text = " ".join(text.split())
    for match in _SENTENCE_END.finditer(text):
        before = text[: match.end()]
        last_word = before.rsplit(" ", 1)[-1].lower()
        if last_word in _ABBREVIATIONS or re.fullmatch(r"\W*\w\.", last_word):
            continue
        if before.count("(") != before.count(")") or before.count("[") != before.count("]"):
            continue
        return before
    return text


def _fit(text: str, width: int) -> str:
    """``text`` cut at a word boundary to at most ``width`` characters, marked with "…"."""
    if len(text) <= width:
        return text
    cut = text[: width - 1].rsplit(" ", 1)[0] if " " in text[: width - 1] else text[: width - 1]
    return cut.rstrip(" ,;:-(") + "…"


def _corpora_command(args: argparse.Namespace) -> int:
    from textkit import data

    if args.corpora_action == "list":
        import json
        import shutil

        rows = []
        for name in data.list_corpora():
            manifest = data.info(name)
            rows.append(
                {
                    "name": name,
                    "kind": manifest.kind,
                    "cached": data.corpus_dir(name).exists(),
                    "summary": _first_sentence(manifest.description),
                    "description": " ".join(manifest.description.split()),
                    "licence": manifest.licence,
                    "splits": list(manifest.splits),
                    "sources": [source.describe() for source in manifest.sources],
                }
            )
        if args.json:
            print(json.dumps(rows, indent=2, ensure_ascii=False))
            return 0
        table = [("NAME", "KIND", "LOCAL")] + [(r["name"], r["kind"], "cached" if r["cached"] else "-") for r in rows]
        widths = [max(len(row[i]) for row in table) for i in range(3)]
        indent = sum(widths) + 2 * len(widths)
        room = max(30, shutil.get_terminal_size((120, 24)).columns - indent)
        for row, summary in zip(table, ["DESCRIPTION"] + [r["summary"] for r in rows], strict=True):
            cells = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            print(f"{cells}  {_fit(summary, room)}")
        return 0
    manifest = data.info(args.name)
    if args.corpora_action == "info":
        print(f"name:        {manifest.name}")
        print(f"kind:        {manifest.kind}")
        print(f"splits:      {', '.join(manifest.splits) or '-'}")
        print(f"licence:     {manifest.licence}")
        print(
            f"files:       {len(manifest.files)} (sha256 {'pinned' if manifest.pinned else 'recorded at first fetch'})"
        )
        print("sources:     " + "\n             ".join(s.describe() for s in manifest.sources))
        print(f"cache:       {data.corpus_dir(manifest.name)}")
        print(f"\n{manifest.description}\n\nCitation: {manifest.citation}")
        return 0
    folder = data.fetch(args.name, force=args.force, verbose=True)
    records = data.load(args.name)
    print(f"{args.name}: {len(records)} records in {folder}")
    return 0


def _summary_command(args: argparse.Namespace) -> int:
    from textkit.commands.summary import corpus_summary

    corpus_summary(args.corpus, top=args.top)
    return 0


class _OneLinePerCommand(argparse.HelpFormatter):
    """``textkit --help``: one line per command, however long its help (never wrapped)."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=30, width=100_000)

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        if isinstance(action, argparse._SubParsersAction):
            # argparse measures the command names one indent short: without this, names as long as
            # "reproduce" push their help onto a second line
            self._action_max_length += self._indent_increment


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    from textkit import __version__

    words = [a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")]
    parser = argparse.ArgumentParser(
        prog="textkit",
        description="textkit: NLP from raw text to audited models",
        epilog="`textkit COMMAND --help` gives a command's options.",
        formatter_class=_OneLinePerCommand,
    )
    parser.add_argument("--version", action="version", version=f"textkit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, title="commands", metavar="COMMAND")

    corpora = commands.add_parser("corpora", help="list, describe and fetch corpora")
    actions = corpora.add_subparsers(dest="corpora_action", required=True)
    listing = actions.add_parser("list", help="every corpus with a manifest: kind, whether cached, first sentence")
    listing.add_argument("--json", action="store_true", help="print every corpus as JSON (full descriptions)")
    info = actions.add_parser("info", help="a corpus's manifest: sources, licence, citation")
    info.add_argument("name")
    get = actions.add_parser("get", help="fetch a corpus into the cache and verify it")
    get.add_argument("name")
    get.add_argument("--force", action="store_true", help="fetch again even when cached")
    corpora.set_defaults(_handler=_corpora_command)

    summary = commands.add_parser("summary", help="tokenize a corpus and print counts, vocab size and top tokens")
    summary.add_argument("corpus", nargs="?", default="rotten-tomatoes")
    summary.add_argument("--top", type=int, default=20)
    summary.set_defaults(_handler=_summary_command)

    reproduce = commands.add_parser(
        "reproduce", help="rerun a classic result on real data", formatter_class=_OneLinePerCommand
    )
    experiments = reproduce.add_subparsers(dest="experiment", required=True, title="experiments", metavar="EXPERIMENT")
    for name, (module_path, help_text) in REPRODUCE_COMMANDS.items():
        _add_module_command(experiments, name, module_path, help_text, selected=words[:2] == ["reproduce", name])
    for name, (module_path, help_text) in TOP_LEVEL_COMMANDS.items():
        module_path = SUBCOMMAND_MODULES.get((name, words[1] if len(words) > 1 else ""), module_path)
        _add_module_command(commands, name, module_path, help_text, selected=words[:1] == [name])
    return parser


# Failures textkit knows how to explain: their message is the whole story.
KNOWN_ERRORS = (ValueError, FileNotFoundError, RuntimeError, OSError, LookupError)


def _is_explained(exc: BaseException) -> bool:
    if isinstance(exc, KeyError):  # a message names the problem; a bare key ('lang') is a bug
        return bool(exc.args) and isinstance(exc.args[0], str) and " " in exc.args[0]
    return isinstance(exc, KNOWN_ERRORS) and bool(str(exc).strip())


def _log_internal_error(exc: BaseException) -> str:
    """Write the traceback to a log file under $TEXTKIT_HOME/logs; return its path."""
    import time
    import traceback

    from textkit._io import atomic_write_text, textkit_home

    path = textkit_home() / "logs" / f"error-{time.strftime('%Y%m%d-%H%M%S')}-{id(exc) % 10000:04d}.log"
    try:
        atomic_write_text(path, "textkit " + " ".join(sys.argv[1:]) + "\n\n" + traceback.format_exc())
    except OSError:
        return "(the log could not be written)"
    return str(path)


def main(argv: list[str] | None = None) -> int:
    args = build_parser(argv).parse_args(argv)
    if getattr(args, "_missing", None):
        print(f"textkit: {args._missing}", file=sys.stderr)
        return 2
    try:
        if hasattr(args, "_handler"):
            return args._handler(args)
        return importlib.import_module(args._module).run(args)
    except KeyboardInterrupt:
        print("textkit: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place every failure is turned into a message
        if _is_explained(exc):
            message = exc.args[0] if isinstance(exc, KeyError) else exc
            print(f"textkit: error: {message}", file=sys.stderr)
            return 1
        log = _log_internal_error(exc)
        print(
            f"textkit: internal error: {type(exc).__name__}: {exc}. This is a bug in textkit, not in your input; "
            f"the traceback is in {log}. Please report it with that file.",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
