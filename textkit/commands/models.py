"""``textkit models list | info | get``: thin wrappers over ``textkit.data.catalog``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from textkit.data.catalog import ModelEntry, get_model, list_models, model_info


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="models_action", required=True)
    listing = actions.add_parser("list", help="every model loadable by name: shipped weights, pretrained LLMs, recipes")
    listing.add_argument("--json", action="store_true", help="print the entries as JSON")
    info = actions.add_parser("info", help="one model: source, licence, citation, files and sha256, cache, how to load")
    info.add_argument("name")
    info.add_argument("--json", action="store_true", help="print the entry as JSON")
    get = actions.add_parser(
        "get", help="fetch, verify and convert a pretrained LLM; verify shipped weights against their sha256"
    )
    get.add_argument("name")
    get.add_argument("--force", action="store_true", help="an LLM: fetch and convert again even when converted")
    get.add_argument("--json", action="store_true", help="print the entry afterwards as JSON")


def human_bytes(n: int | None) -> str:
    if n is None:
        return "?"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _size(entry: ModelEntry) -> str:
    if entry.kind == "recipe":
        return "-"
    return human_bytes(entry.size_bytes) + (" download" if entry.kind in ("llm", "encoder") else "")


def _status(entry: ModelEntry) -> str:
    if entry.kind == "pretrained":
        directions = entry.details["directions"]
        return f"{entry.status} ({', '.join(directions)})" if directions else entry.status
    if entry.kind in ("llm", "encoder"):
        here = sum(f.bytes or 0 for f in entry.files if f.present) + entry.details.get("converted_bytes", 0)
        return entry.status + (f" ({human_bytes(here)} here)" if here else "")
    return entry.status


def _print_list(entries: list[ModelEntry]) -> None:
    rows = [("NAME", "KIND", "ARCH", "SIZE", "LOCAL", "LICENCE")]
    rows += [(e.name, e.kind, e.arch or "-", _size(e), _status(e), e.licence or "-") for e in entries]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row[:5], widths, strict=True)) + "  " + row[5])


def _no_licence(entry: ModelEntry) -> str:
    corpora = sorted({str(v["corpus"]) for v in entry.details.values() if isinstance(v, dict) and v.get("corpus")})
    data = (
        "; " + ", ".join(f"`textkit corpora info {c}`" for c in corpora) + " gives the data's licence"
        if corpora
        else ""
    )
    if entry.kind == "recipe":
        return f"- (a recipe: no weights of its own{data})"
    return f"not stated in the manifest{data}" + ("; see the card" if entry.card else "")


def _print_info(entry: ModelEntry) -> None:
    def line(label: str, value: object) -> None:
        print(f"{label + ':':19s} {value}")

    line("name", entry.name)
    line("kind", entry.kind)
    line("arch", entry.arch or "-")
    line("source", entry.source)
    line("licence", entry.licence or _no_licence(entry))
    line("size", _size(entry))
    line(
        "status",
        _status(entry) + ("" if entry.ready or entry.kind == "recipe" else f"; `textkit models get {entry.name}`"),
    )
    line("location", entry.location)
    if entry.card is not None:
        line("card", entry.card)
    if entry.recipe is not None and entry.kind != "recipe":
        line("recipe", entry.recipe)
    for what, folder in entry.cache.items():
        line(f"cache ({what})", folder)
    if entry.kind in ("llm", "encoder") and entry.details.get("converted_files"):
        converted = ", ".join(f"{name} ({human_bytes(n)})" for name, n in entry.details["converted_files"].items())
        line("converted", converted)
    print("files:")
    for f in entry.files:
        here = "" if f.present else "  (not here)"
        print(f"  {f.path:28s} {human_bytes(f.bytes):>9s}  sha256 {f.sha256}{here}")
    for key, value in entry.details.items():
        if key in ("converted_files", "converted_bytes", "directions"):
            continue
        line(key, value if isinstance(value, (str, Path)) else json.dumps(value, default=str))
    print("use:")
    for text in entry.load:
        print(f"  {text}")
    if entry.description:
        print(f"\n{entry.description}")
    if entry.citation:
        print(f"\nCitation: {entry.citation}")


def run(args: argparse.Namespace) -> int:
    if args.models_action == "list":
        entries = list_models()
        if args.json:
            print(json.dumps([e.to_dict() for e in entries], indent=2))
        else:
            _print_list(entries)
        return 0
    if args.models_action == "info":
        entry = model_info(args.name)
        if args.json:
            print(json.dumps(entry.to_dict(), indent=2))
        else:
            _print_info(entry)
        return 0
    result = get_model(args.name, force=args.force, verbose=not args.json)
    entry = result.entry
    if args.json:
        print(json.dumps(entry.to_dict() | {"already_present": result.already_present}, indent=2))
    elif entry.kind == "pretrained":
        print(
            f"{entry.name}: already there (shipped with textkit); all {result.verified_files} files match "
            f"their recorded sha256 in {entry.location}"
        )
    elif entry.kind in ("llm", "encoder"):
        if result.already_present:
            state = "already there"
        elif result.previous_status == "fetched" and not args.force:
            state = "converted from the cached download"
        else:
            state = "fetched and converted"
        checked = f"; {entry.files[0].path} matches its sha256" if result.verified_files else ""
        print(f"{entry.name}: {state} in {entry.location}{checked}")
    else:
        print(
            f"{entry.name}: a recipe, no weights to fetch ({entry.location}); train it with "
            f"`textkit lm pretrain --config {entry.name} --out runs/{entry.name}`"
        )
    return 0
