"""Corpus manifests: one TOML file per corpus in the repository's ``corpora/`` folder.

A manifest is data, not code. It names the corpus, its licence and citation, its splits,
the sources to fetch it from (in order of preference), the sha256 of every file that is
extracted, and the reader (a key into ``textkit.data.readers.READERS``) that turns those
files into records.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SOURCE_TYPES = ("url", "pypi", "npm", "debian")
CORPUS_KINDS = ("labelled", "plain", "parallel", "files")


def manifest_dirs() -> list[Path]:
    """Folders searched for manifests: ``$TEXTKIT_CORPORA_PATH`` entries, then the shipped ones
    (the repository's ``corpora/``; package data in an installed wheel)."""
    from textkit.data.package_data import shipped_dir

    dirs = [Path(p) for p in os.environ.get("TEXTKIT_CORPORA_PATH", "").split(os.pathsep) if p]
    shipped = shipped_dir("corpora")
    if shipped is not None:
        dirs.append(shipped)
    return dirs


@dataclass(frozen=True)
class Source:
    """Where the files can come from. ``members_root`` is the folder inside the fetched
    artifact (wheel, npm tarball, .deb, archive) that maps onto the corpus cache folder."""

    type: str
    url: str = ""
    package: str = ""
    version: str = ""
    archive: str = ""  # for url sources: "" (a plain file), "zip", "tar" or "deb"
    members_root: str = ""
    python_version: str = ""  # for pypi wheels that only declare older Pythons
    path: str = ""  # for a url source that is a single file: which corpus file it is

    def describe(self) -> str:
        if self.type == "url":
            return f"url {self.url}"
        if self.type == "pypi":
            return f"PyPI {self.package}=={self.version}"
        if self.type == "npm":
            return f"npm {self.package}@{self.version}"
        return f"Debian package {self.package}" + (f" ({self.version})" if self.version else "")


@dataclass(frozen=True)
class Manifest:
    name: str
    description: str
    licence: str
    citation: str
    kind: str
    reader: str
    splits: tuple[str, ...]
    sources: tuple[Source, ...]
    # relative path in the cache folder -> sha256; empty string means "not pinned" (user-brought data)
    files: dict[str, str]
    options: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def composite(self) -> bool:
        """A mix of other corpora: no files of its own."""
        return self.reader == "composite"

    @property
    def pinned(self) -> bool:
        return bool(self.files) and all(self.files.values())


def _read_checksum_list(path: Path) -> dict[str, str]:
    """Parse a ``sha256sum``-style sidecar: ``<hex>  <relative path>`` per line."""
    out: dict[str, str] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        digest, sep, rel = line.partition("  ")
        if not sep or len(digest) != 64:
            raise ValueError(f"{path}:{lineno}: expected '<sha256>  <path>', got {line!r}")
        out[rel] = digest
    return out


def parse_manifest(path: Path) -> Manifest:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"corpus manifest {path} is not valid TOML: {exc}") from exc
    missing = [k for k in ("name", "description", "licence", "citation", "kind", "reader") if k not in raw]
    if missing:
        raise ValueError(f"corpus manifest {path} lacks required keys: {', '.join(missing)}")
    if raw["kind"] not in CORPUS_KINDS:
        raise ValueError(f"corpus manifest {path}: kind must be one of {CORPUS_KINDS}, got {raw['kind']!r}")
    sources = []
    for i, src in enumerate(raw.get("sources", [])):
        if src.get("type") not in SOURCE_TYPES:
            raise ValueError(
                f"corpus manifest {path}: source {i} has type {src.get('type')!r}; use one of {SOURCE_TYPES}"
            )
        sources.append(Source(**src))
    files = dict(raw.get("files", {}))
    if "checksums_file" in raw:
        files.update(_read_checksum_list(path.parent / raw["checksums_file"]))
    for rel, digest in files.items():
        if digest and (len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest)):
            raise ValueError(f"corpus manifest {path}: sha256 for {rel!r} is not 64 lowercase hex digits")
    return Manifest(
        name=raw["name"],
        description=raw["description"].strip(),
        licence=raw["licence"],
        citation=raw["citation"].strip(),
        kind=raw["kind"],
        reader=raw["reader"],
        splits=tuple(raw.get("splits", [])),
        sources=tuple(sources),
        files=files,
        options=dict(raw.get("options", {})),
        path=path,
    )


def list_manifests() -> dict[str, Manifest]:
    found: dict[str, Manifest] = {}
    for folder in manifest_dirs():
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            manifest = parse_manifest(path)
            found.setdefault(manifest.name, manifest)
    return found


def get_manifest(name: str) -> Manifest:
    manifests = list_manifests()
    if name not in manifests:
        known = ", ".join(sorted(manifests)) or "(none found)"
        raise KeyError(
            f"unknown corpus {name!r}. Known corpora: {known}. "
            "Run `textkit corpora list`, or add a manifest to corpora/ or $TEXTKIT_CORPORA_PATH."
        )
    return manifests[name]
