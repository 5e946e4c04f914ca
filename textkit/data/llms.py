"""Pretrained LLMs by name: fetched like a corpus, converted once, cached under $TEXTKIT_HOME.

A model is a corpus manifest (``corpora/<name>.toml``) whose ``[options]`` name it::

    [options]
    model = "smollm2-135m"                          # the name textkit loads it by
    gguf = "SmolLM2-135M-Instruct.Q4_1.gguf"        # the manifest file that holds it

so its source, licence, citation and sha256 live in one manifest, and fetching, verifying and
caching are the corpora's (``textkit corpora get smollm2-135m-gguf`` fetches it too).
:func:`pretrained_llm_folder` converts the verified GGUF once into
``$TEXTKIT_HOME/models/<name>/`` (safetensors + tokenizer JSON, see
:func:`textkit.data.gguf.convert_gguf`); a folder converted from another file or by an older
converter is rebuilt. ``textkit.nn.load_language_model(name)`` loads it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from textkit._io import read_json, textkit_home
from textkit.data.cache import ChecksumError, fetch, file_lock
from textkit.data.registry import Manifest, list_manifests

__all__ = ["find_llm", "generation_precision", "list_llms", "llm_manifest", "pretrained_llm_folder"]


def list_llms() -> dict[str, Manifest]:
    """Model names -> the manifests that fetch them (a GGUF each; encoders: textkit.data.encoders)."""
    return {
        str(m.options["model"]): m for m in list_manifests().values() if "model" in m.options and "gguf" in m.options
    }


def find_llm(name: str) -> Manifest | None:
    """The manifest of pretrained model ``name``, or None when no manifest names it."""
    return list_llms().get(name)


def llm_manifest(name: str) -> Manifest:
    models = list_llms()
    if name not in models:
        known = ", ".join(sorted(models)) or "(none found)"
        raise KeyError(f"unknown pretrained model {name!r}. Known pretrained LLMs: {known}")
    return models[name]


def generation_precision(name: str) -> str | None:
    """The precision CPU generation uses for pretrained LLM ``name`` when none is given: its
    manifest's ``generate_precision`` option (the fastest that keeps perplexity within 1% of
    fp32's; ``"q4"`` for smollm2-135m), ``"fp32"`` when the manifest names none, None when
    ``name`` is not a pretrained LLM (a folder, a textkit model)."""
    manifest = find_llm(name)
    if manifest is None:
        return None
    return str(manifest.options.get("generate_precision", "fp32"))


CONVERTED_RECORD = "converted.json"  # the sha256 of every converted file, written right after conversion


class ConvertedChecksumError(ChecksumError):
    """A converted LLM file no longer matches the sha256 recorded when it was converted."""


def _current(folder: Path, digest: str) -> bool:
    from textkit.data.gguf import CONVERSION_VERSION

    config_path = folder / "config.json"
    if not config_path.is_file() or not (folder / "model.safetensors").is_file():
        return False
    if not (folder / CONVERTED_RECORD).is_file():  # converted before the record existed: convert again once
        return False
    config = read_json(config_path, "converted model config")
    return config.get("source", {}).get("sha256") == digest and config.get("conversion_version") == CONVERSION_VERSION


def pretrained_llm_folder(name: str | Manifest, force: bool = False, verbose: bool = False) -> Path:
    """The converted folder of pretrained model ``name`` (or of the model a manifest names):
    fetch and verify its GGUF (once), convert it (once), and return
    ``$TEXTKIT_HOME/models/<name>/``. An unknown name raises a KeyError listing the known ones."""
    from textkit.data.gguf import convert_gguf

    manifest = name if isinstance(name, Manifest) else llm_manifest(name)
    name = str(manifest.options["model"])
    member = str(manifest.options["gguf"])
    digest = manifest.files.get(member, "")
    folder = textkit_home() / "models" / name
    if not force and digest and _current(folder, digest):
        return folder
    source = fetch(manifest, force=force, verbose=verbose) / member
    with file_lock(folder.parent / f".{name}.lock"):
        if not force and _current(folder, digest or _sha(source)):
            return folder
        if verbose:
            print(f"converting {source.name} to {folder} (once)", file=sys.stderr)
        converted = convert_gguf(source, folder, expected_sha256=digest or None, name=name)
        record_converted(converted)
        return converted


def record_converted(folder: Path) -> dict[str, str]:
    """Write the sha256 of every file of a converted folder (``converted.json``)."""
    from textkit._io import atomic_write_json, sha256_file

    files = {p.name: sha256_file(p) for p in sorted(folder.iterdir()) if p.is_file() and p.name != CONVERTED_RECORD}
    atomic_write_json(folder / CONVERTED_RECORD, {"files": files})
    return files


def verify_converted(folder: Path, name: str) -> int:
    """Check a converted LLM folder against the sha256 recorded at conversion; returns the number
    of files checked. A changed, truncated or missing file raises ``ConvertedChecksumError``
    naming it, both hashes and the fix (``--force``)."""
    from textkit._io import sha256_file

    fix = f"Run `textkit models get {name} --force` to convert it again."
    record = folder / CONVERTED_RECORD
    raw = read_json(record, "converted-files record") if record.is_file() else None
    if not isinstance(raw, dict) or not isinstance(raw.get("files"), dict):
        raise ConvertedChecksumError(f"{record} is missing or damaged: the converted files cannot be checked. {fix}")
    for rel, digest in raw["files"].items():
        path = folder / str(rel)
        if "/" in str(rel) or not path.is_file():
            raise ConvertedChecksumError(f"converted folder {folder} lacks {rel}. {fix}")
        actual = sha256_file(path)
        if actual != digest:
            raise ConvertedChecksumError(
                f"converted file {path} has sha256 {actual}, but {digest} was recorded when it was converted "
                f"({path.stat().st_size:,} bytes now: truncated or changed). {fix}"
            )
    return len(raw["files"])


def _sha(path: Path) -> str:
    from textkit._io import sha256_file

    return sha256_file(path)
