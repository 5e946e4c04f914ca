"""Every model textkit can load by name, in one catalogue: what it is, where it comes from,
what it weighs, whether it is here.

Three kinds of name, each described by data that already exists:

- ``pretrained``: weights shipped in ``models/<name>/`` (``manifest.json`` records the sha256
  and size of every file; ``textkit.transfer.load_pretrained(name)`` loads them);
- ``llm``: a pretrained LLM fetched by name (a corpus manifest whose ``[options]`` name it;
  ``textkit.nn.load_language_model(name)`` fetches, verifies and converts it once);
- ``encoder``: a pretrained bidirectional encoder fetched by name the same way
  (``textkit.data.encoders``; ``textkit.nn.encode(texts, model=name)`` embeds sentences);
- ``recipe``: a trainable configuration ``models/<name>.json``, no weights
  (``textkit lm pretrain --config name``).

``list_models()`` reads only manifests and file sizes (no hashing, no network);
``get_model(name)`` verifies shipped weights against their sha256 or fetches, verifies and
converts an LLM. Nothing here imports torch.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textkit._io import read_json, sha256_file, textkit_home
from textkit.data.cache import corpus_dir, verify_cached
from textkit.data.encoders import is_current, list_encoders, pretrained_encoder_folder, verify_converted
from textkit.data.llms import list_llms, pretrained_llm_folder
from textkit.data.llms import verify_converted as verify_llm_converted
from textkit.data.models import list_recipes
from textkit.data.pretrained import MANIFEST, list_pretrained, pretrained_folder, pretrained_manifest
from textkit.data.registry import Manifest

__all__ = ["KINDS", "GetResult", "ModelEntry", "ModelFile", "get_model", "list_models", "model_info"]

# the kinds of name, in the order ``list_models`` gives them
KINDS = ("pretrained", "llm", "encoder", "recipe")


@dataclass(frozen=True)
class ModelFile:
    """One file of a model: its path relative to the model's folder (``forward/model.safetensors``),
    the sha256 its manifest records, its size in bytes (None when unknown until fetched) and
    whether it is on this machine."""

    path: str
    sha256: str
    bytes: int | None
    present: bool


@dataclass(frozen=True)
class ModelEntry:
    """What textkit knows about one model name (JSON-able through :meth:`to_dict`).

    ``size_bytes`` is the weights' size: on disk for shipped weights, the download for an LLM
    (None until its file has been seen), None for a recipe. ``status`` says what is here:
    ``shipped`` / ``incomplete`` (pretrained), ``converted`` / ``fetched`` / ``not fetched`` (llm),
    ``no weights`` (recipe); ``ready`` is True when the model loads without a download.
    """

    name: str
    kind: str
    arch: str
    description: str
    source: str
    licence: str | None
    citation: str | None
    files: tuple[ModelFile, ...]
    size_bytes: int | None
    status: str
    ready: bool
    location: Path | None  # the shipped folder, the converted LLM folder, or the recipe file
    card: Path | None = None
    recipe: Path | None = None
    cache: dict[str, Path] = field(default_factory=dict)  # llm: "download" and "converted" folders
    load: tuple[str, ...] = ()  # how to use it: Python lines and commands
    details: dict[str, Any] = field(default_factory=dict)  # directions, metrics, model sizes, corpus

    def to_dict(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, Path):
                return str(value)
            if isinstance(value, dict):
                return {str(k): plain(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [plain(v) for v in value]
            if isinstance(value, ModelFile):
                return {"path": value.path, "sha256": value.sha256, "bytes": value.bytes, "present": value.present}
            return value

        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


@dataclass(frozen=True)
class GetResult:
    """What :func:`get_model` did: the entry afterwards, its status before (``not fetched``,
    ``fetched``, ...), whether the weights were already ready to load, and how many files were
    checked against their sha256."""

    entry: ModelEntry
    previous_status: str
    already_present: bool
    verified_files: int


# ---------------------------------------------------------------------------------------------
# The three kinds


def _size(path: Path) -> int | None:
    return path.stat().st_size if path.is_file() else None


def _pretrained_entry(name: str, folder: Path, recipes: dict[str, Path]) -> ModelEntry:
    manifest = pretrained_manifest(name)
    if "files" in manifest:  # a single-folder model (a translation model)
        return _single_folder_entry(name, folder, manifest)
    directions = manifest.get("directions", {})
    files = []
    for direction, facts in directions.items():
        sizes = facts.get("sizes", {})
        for rel, digest in facts.get("files", {}).items():
            path = folder / direction / rel
            files.append(ModelFile(f"{direction}/{rel}", digest, sizes.get(rel, _size(path)), path.is_file()))
    missing = sum(not f.present for f in files)
    card = folder.parent / manifest["card"] if manifest.get("card") else None
    recipe = recipes.get(name)
    description = ""
    if recipe is not None:
        description = str(read_json(recipe, f"recipe {name!r}").get("description", ""))
    details: dict[str, Any] = {"directions": list(directions)}
    for direction, facts in directions.items():
        details[direction] = {key: facts[key] for key in ("stored_dtype", "perplexity", "tokens") if key in facts} | {
            "corpus": (facts.get("recipe") or {}).get("data", {}).get("corpus")
        }
    return ModelEntry(
        name=name,
        kind="pretrained",
        arch=str(manifest.get("arch", "")),
        description=description,
        source=f"shipped with textkit: {folder} ({MANIFEST} records every file's sha256)",
        licence=manifest.get("licence"),
        citation=manifest.get("citation"),
        files=tuple(files),
        size_bytes=sum(f.bytes or 0 for f in files),
        status="shipped" if not missing else f"incomplete ({missing} of {len(files)} files missing)",
        ready=not missing,
        location=folder,
        card=card if card is not None and card.is_file() else None,
        recipe=recipe,
        load=(
            "from textkit.transfer import load_pretrained",
            *(f'load_pretrained("{name}", direction="{d}")' for d in directions),
            f"textkit reproduce ulmfit --pretrained {name} --out runs/ulmfit",
        ),
        details=details,
    )


def _single_folder_entry(name: str, folder: Path, manifest: dict) -> ModelEntry:
    sizes = manifest.get("sizes", {})
    files = tuple(
        ModelFile(rel, digest, sizes.get(rel, _size(folder / rel)), (folder / rel).is_file())
        for rel, digest in manifest["files"].items()
    )
    missing = sum(not f.present for f in files)
    card = folder.parent / manifest["card"] if manifest.get("card") else None
    return ModelEntry(
        name=name,
        kind="pretrained",
        arch=str(manifest.get("arch", "")),
        description=str(manifest.get("description", "")),
        source=f"shipped with textkit: {folder} ({MANIFEST} records every file's sha256)",
        licence=manifest.get("licence"),
        citation=manifest.get("citation"),
        files=files,
        size_bytes=sum(f.bytes or 0 for f in files),
        status="shipped" if not missing else f"incomplete ({missing} of {len(files)} files missing)",
        ready=not missing,
        location=folder,
        card=card if card is not None and card.is_file() else None,
        recipe=None,
        load=tuple(manifest.get("load", ())),
        details={"directions": [], "task": manifest.get("task"), "metrics": manifest.get("metrics", {})},
    )


def _converted(folder: Path, digest: str) -> dict[str, Any] | None:
    """The converted LLM folder's config when ``pretrained_llm_folder`` would reuse the folder
    (complete, converted from ``digest`` by the current converter), else None."""
    from textkit.data.llms import _current  # the one definition of "converted", shared with the loader

    if not _current(folder, digest):
        return None
    return dict(read_json(folder / "config.json", "converted model config"))


def _llm_entry(name: str, manifest: Manifest) -> ModelEntry:
    member = str(manifest.options["gguf"])
    digest = manifest.files.get(member, "")
    download = corpus_dir(manifest.name)
    converted_folder = textkit_home() / "models" / name
    gguf = download / member
    config = _converted(converted_folder, digest)
    size = _size(gguf)
    if size is None and config is not None:
        size = config.get("source", {}).get("bytes")
    if config is not None:
        status = "converted"
    elif gguf.is_file():
        status = "fetched"
    else:
        status = "not fetched"
    sources = [
        source.describe() + (f", member {source.members_root}{member}" if source.type != "url" else "")
        for source in manifest.sources
    ]
    converted_files = {}
    if converted_folder.is_dir():
        converted_files = {p.name: p.stat().st_size for p in sorted(converted_folder.iterdir()) if p.is_file()}
    return ModelEntry(
        name=name,
        kind="llm",
        # convert_gguf converts only Llama-architecture GGUF files
        arch=str(config.get("arch", "llama")) if config else str(manifest.options.get("arch", "llama")),
        description=manifest.description,
        source="; or ".join(sources),
        licence=manifest.licence,
        citation=manifest.citation,
        files=(ModelFile(member, digest, size, gguf.is_file()),),
        size_bytes=size,
        status=status,
        ready=config is not None,
        location=converted_folder,
        cache={"download": download, "converted": converted_folder},
        load=(
            "from textkit.nn import load_language_model",
            f'load_language_model("{name}")',
            f'load_language_model("{name}", precision="{manifest.options.get("generate_precision", "fp32")}")',
            f'textkit lm generate {name} --prompt "What is the capital of France?" --chat --temperature 0',
        ),
        details={
            "default precision": str(manifest.options.get("generate_precision", "fp32"))
            + " for CPU generation (`textkit lm generate --precision` overrides it)",
            "corpus_manifest": manifest.name,
            "manifest": manifest.path,
            "converted_files": converted_files,
            "converted_bytes": sum(converted_files.values()),
        },
    )


def _encoder_entry(name: str, manifest: Manifest) -> ModelEntry:
    """A pretrained encoder: every manifest file (weights first) and the converted folder."""
    download = corpus_dir(manifest.name)
    converted_folder = textkit_home() / "models" / name
    weights = str(manifest.options["weights"])
    order = sorted(manifest.files, key=lambda rel: rel != weights)
    files = tuple(
        ModelFile(rel, manifest.files[rel], _size(download / rel), (download / rel).is_file()) for rel in order
    )
    config = (
        read_json(converted_folder / "config.json", "converted encoder config")
        if is_current(converted_folder, manifest)
        else None
    )
    size: int | None = sum(f.bytes or 0 for f in files) if all(f.present for f in files) else None
    if size is None and config is not None:
        size = config.get("source", {}).get("bytes")
    status = "converted" if config is not None else "fetched" if all(f.present for f in files) else "not fetched"
    converted_files = {}
    if converted_folder.is_dir():
        converted_files = {p.name: p.stat().st_size for p in sorted(converted_folder.iterdir()) if p.is_file()}
    sources = [
        source.describe() + (f", members {source.members_root}{{{', '.join(order)}}}" if source.type != "url" else "")
        for source in manifest.sources
    ]
    return ModelEntry(
        name=name,
        kind="encoder",
        arch=str(manifest.options.get("arch", "bert")),
        description=manifest.description,
        source="; or ".join(sources),
        licence=manifest.licence,
        citation=manifest.citation,
        files=files,
        size_bytes=size,
        status=status,
        ready=config is not None,
        location=converted_folder,
        cache={"download": download, "converted": converted_folder},
        load=(
            "from textkit.nn import encode",
            f'encode(["A sentence to embed."], model="{name}")  # (1, dim) float32, L2-normalized',
            f"textkit embed --data texts.txt --model {name} --out embeddings.npy",
        ),
        details={
            "default precision": str(manifest.options.get("generate_precision", "fp32"))
            + " for CPU generation (`textkit lm generate --precision` overrides it)",
            "corpus_manifest": manifest.name,
            "manifest": manifest.path,
            "converted_files": converted_files,
            "converted_bytes": sum(converted_files.values()),
            **({"model": config.get("model"), "pooling": config.get("pooling")} if config else {}),
        },
    )


def _recipe_entry(name: str, path: Path) -> ModelEntry:
    raw = read_json(path, f"recipe {name!r}")
    card = path.with_suffix(".md")
    return ModelEntry(
        name=name,
        kind="recipe",
        arch=str(raw.get("arch", "")),
        description=str(raw.get("description", "")),
        source=f"recipe {path} (a trainable configuration; no weights ship with it)",
        licence=None,
        citation=None,
        files=(ModelFile(path.name, sha256_file(path), path.stat().st_size, True),),
        size_bytes=None,
        status="no weights",
        ready=False,
        location=path,
        card=card if card.is_file() else None,
        recipe=path,
        load=(
            f"textkit lm pretrain --config {name} --out runs/{name}",
            "from textkit.data.models import find_recipe",
            "from textkit.recipes.language_model import LMRecipe, pretrain_language_model",
            f'pretrain_language_model(LMRecipe.load(find_recipe("{name}")), "runs/{name}")',
        ),
        details={key: raw[key] for key in ("model", "tokenizer", "data") if key in raw},
    )


# ---------------------------------------------------------------------------------------------
# The catalogue


def _names() -> dict[str, tuple[str, Any]]:
    """name -> (kind, what describes it): shipped weights first, then LLMs, then the recipes that
    are not the recipe of a shipped model (``awd_lstm-en.json`` is part of ``awd_lstm-en``)."""
    names: dict[str, tuple[str, Any]] = {}
    for name, folder in list_pretrained().items():
        names[name] = ("pretrained", folder)
    for name, manifest in sorted(list_llms().items()):
        names.setdefault(name, ("llm", manifest))
    for name, manifest in sorted(list_encoders().items()):
        names.setdefault(name, ("encoder", manifest))
    for name, path in list_recipes().items():
        names.setdefault(name, ("recipe", path))
    return names


def _entry(name: str, kind: str, what: Any) -> ModelEntry:
    if kind == "pretrained":
        return _pretrained_entry(name, what, list_recipes())
    if kind == "llm":
        return _llm_entry(name, what)
    if kind == "encoder":
        return _encoder_entry(name, what)
    return _recipe_entry(name, what)


def list_models() -> list[ModelEntry]:
    """One entry per model name: shipped pretrained weights, pretrained LLMs, encoders, then recipes."""
    entries = [_entry(name, kind, what) for name, (kind, what) in _names().items()]
    return sorted(entries, key=lambda e: KINDS.index(e.kind))


def model_info(name: str) -> ModelEntry:
    """Everything known about one model name. An unknown name raises a KeyError that lists the
    known names and suggests the closest one."""
    names = _names()
    if name not in names:
        close = difflib.get_close_matches(name, list(names), n=1, cutoff=0.6)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        known = ", ".join(names) or "(none found)"
        raise KeyError(f"unknown model {name!r}.{hint} Known models: {known}. Run `textkit models list`.")
    return _entry(name, *names[name])


def get_model(name: str, force: bool = False, verbose: bool = False) -> GetResult:
    """Make ``name`` ready to load and check it.

    Shipped weights: every file of every direction is checked against its recorded sha256 (a
    mismatch raises :class:`~textkit.data.pretrained.PretrainedChecksumError` naming the file and
    both hashes). An LLM: fetched, verified and converted once (``pretrained_llm_folder``); a
    second call finds it converted and only checks the cached download against its sha256
    (:class:`~textkit.data.cache.ChecksumError` on a mismatch; ``force`` fetches and converts
    again). An encoder: the same, and a second call also checks the converted files against the
    sha256 recorded at conversion (:class:`~textkit.data.encoders.ConvertedChecksumError`, which
    says to use ``--force``). A recipe has no weights: nothing is fetched.
    """
    entry = model_info(name)
    if entry.kind == "pretrained":
        for direction in entry.details["directions"] or [None]:
            pretrained_folder(name, direction, verify=True)
        return GetResult(model_info(name), entry.status, already_present=True, verified_files=len(entry.files))
    if entry.kind == "encoder":
        already = entry.ready and not force
        folder = pretrained_encoder_folder(name, force=force, verbose=verbose)  # fetches and verifies the download
        if already:  # converted before: check the download while it is still cached
            manifest = list_encoders()[name]
            if all(f.present for f in entry.files):
                verify_cached(manifest, corpus_dir(manifest.name))
        verify_converted(folder)
        after = model_info(name)
        return GetResult(
            after, entry.status, already_present=already, verified_files=sum(f.present for f in after.files)
        )
    if entry.kind == "llm":
        already = entry.ready and not force
        if not already:
            pretrained_llm_folder(name, force=force, verbose=verbose)  # the fetch verifies the download
        else:  # converted before: check the download it was converted from, while it is still cached
            manifest = list_llms()[name]
            if all(f.present for f in entry.files):
                verify_cached(manifest, corpus_dir(manifest.name))
        converted = verify_llm_converted(textkit_home() / "models" / name, name)  # the weights the loader reads
        after = model_info(name)
        return GetResult(
            after,
            entry.status,
            already_present=already,
            verified_files=sum(f.present for f in after.files) + converted,
        )
    return GetResult(entry, entry.status, already_present=True, verified_files=0)
