"""The ``textkit`` command: a thin layer over library functions.

Each ``reproduce`` experiment and ``audit`` lives in its own module exposing
``add_arguments(parser)`` and ``run(args) -> int``; this file only wires them up.
"""

from __future__ import annotations

import argparse
import importlib
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
    "topics": ("textkit.commands.topics", "topic models (NMF or SVD) of your own documents"),
    "translate": ("textkit.commands.translate", "translate a file with a trained translation model folder"),
}


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


def _corpora_command(args: argparse.Namespace) -> int:
    from textkit import data

    if args.corpora_action == "list":
        for name in data.list_corpora():
            manifest = data.info(name)
            cached = "cached" if data.corpus_dir(name).exists() else "-"
            first_line = manifest.description.split(". ")[0].replace("\n", " ")
            print(f"{name:18s} {manifest.kind:9s} {cached:7s} {first_line[:70]}")
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


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    words = [a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")]
    parser = argparse.ArgumentParser(prog="textkit", description="textkit: NLP from raw text to audited models")
    commands = parser.add_subparsers(dest="command", required=True)

    corpora = commands.add_parser("corpora", help="list, describe and fetch corpora")
    actions = corpora.add_subparsers(dest="corpora_action", required=True)
    actions.add_parser("list", help="every corpus with a manifest")
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

    reproduce = commands.add_parser("reproduce", help="rerun a classic result on real data")
    experiments = reproduce.add_subparsers(dest="experiment", required=True)
    for name, (module_path, help_text) in REPRODUCE_COMMANDS.items():
        _add_module_command(experiments, name, module_path, help_text, selected=words[:2] == ["reproduce", name])
    for name, (module_path, help_text) in TOP_LEVEL_COMMANDS.items():
        _add_module_command(commands, name, module_path, help_text, selected=words[:1] == [name])
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser(argv).parse_args(argv)
    if getattr(args, "_missing", None):
        print(f"textkit: {args._missing}", file=sys.stderr)
        return 2
    try:
        if hasattr(args, "_handler"):
            return args._handler(args)
        return importlib.import_module(args._module).run(args)
    except (KeyError, ValueError, FileNotFoundError, RuntimeError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"textkit: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
