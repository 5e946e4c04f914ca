"""Small file helpers shared across textkit: atomic writes and hashing.

Every artifact textkit writes goes through these, so an interrupted process never
leaves a half-written file that a later run could mistake for a good one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

_HASH_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """Open a temporary sibling of ``path`` for writing; rename it into place on success.

    On any exception the temporary file is removed and ``path`` is untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; a saved file gets the user's usual mode
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def to_jsonable(obj: Any) -> Any:
    """Plain JSON values from nested dicts/lists holding numpy scalars or arrays; NaN and
    infinities become None (JSON has no spelling for them)."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):  # numpy scalars and arrays
        return to_jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> None:
    atomic_write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False, sort_keys=False) + "\n")


def read_json(path: str | os.PathLike, what: str = "JSON file") -> Any:
    """Read JSON with an error that names the file when it is truncated or malformed."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{what} {path} is not valid JSON ({exc.msg} at line {exc.lineno}); "
            "it may be truncated or corrupted: delete it and recreate it."
        ) from exc


def textkit_home() -> Path:
    """The root of textkit's caches: ``$TEXTKIT_HOME``, else ``~/.cache/textkit``.

    Defined here, the lowest layer, so that ``text`` (the numericalized-corpus cache) and
    ``data`` (corpora) resolve the same folder without ``text`` importing ``data``.
    """
    return Path(os.environ.get("TEXTKIT_HOME", Path.home() / ".cache" / "textkit")).expanduser()


def _umask() -> int:
    try:  # Linux reports it without changing it (os.umask would, for every thread at once)
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_RENAME_EXCHANGE = 2  # linux/fs.h


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False
    where the system or file system cannot."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in (38, 22, 95):  # ENOSYS, EINVAL, EOPNOTSUPP: no exchange here
        return False
    raise OSError(err, os.strerror(err), str(b))


@contextlib.contextmanager
def folder_lock(target: str | os.PathLike, *, shared: bool) -> Iterator[None]:
    """A lock on a folder path, kept under ``$TEXTKIT_HOME/locks`` (nothing is written beside
    the user's folder): readers hold it shared while they load, a writer exclusively while it
    swaps a new folder in, so no load ever spans two saves. Where no lock can be had (a
    read-only home), it is skipped and readers fall back on checking the folder's identity."""
    import fcntl

    key = hashlib.sha256(os.fsencode(Path(target).resolve())).hexdigest()[:32]
    path = textkit_home() / "locks" / f"{key}.lock"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+b")  # noqa: SIM115 - held for the whole block
    except OSError:
        yield
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        handle.close()  # releases the lock


def replace_folder(staging: str | os.PathLike, target: str | os.PathLike) -> None:
    """Move the complete folder ``staging`` to ``target``, replacing any folder there so that
    a reader always finds the old folder or the new one, never neither: the two are exchanged
    atomically, then the old one is removed. Two writers racing both finish, and ``target``
    is one writer's whole folder."""
    staging, target = Path(staging), Path(target)
    with folder_lock(target, shared=False):
        _replace_folder_unlocked(staging, target)


def _replace_folder_unlocked(staging: Path, target: Path) -> None:
    for _ in range(20):
        try:
            os.rename(staging, target)  # the common case: nothing there yet
            return
        except OSError as exc:
            if exc.errno not in (17, 39) and not isinstance(exc, (FileExistsError, IsADirectoryError)):
                raise  # 17 EEXIST, 39 ENOTEMPTY: a folder is there; exchange with it
        if _exchange(staging, target):
            shutil.rmtree(staging, ignore_errors=True)  # now the old folder
            return
        if not target.exists():
            continue
        # no exchange on this system: the fallback leaves a short window with no folder
        old = target.with_name(f".{target.name}.{os.getpid()}.old")
        os.rename(target, old)
        os.rename(staging, target)
        shutil.rmtree(old, ignore_errors=True)
        return
    raise OSError(f"could not move {staging} to {target}: another process keeps replacing it")


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Build a folder under a temporary sibling name; move it to ``path`` on success.

    On any exception (including KeyboardInterrupt) the partial folder is removed and ``path``
    is untouched, so a cache keyed by folder name never holds the output of a failed run. An
    existing ``path`` is replaced atomically (``replace_folder``) once the new folder is complete.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        os.chmod(staging, 0o777 & ~_umask())
        yield staging
        replace_folder(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


_PROVENANCE_PACKAGES = ("textkit", "numpy", "scipy", "scikit-learn", "torch")


def versions(packages: tuple[str, ...] = (), *, git: bool = False) -> dict[str, Any]:
    """The one provenance record written beside results and artifacts: Python and package
    versions read from installed metadata (nothing is imported), plus ``packages``.
    ``git=True`` (every results JSON) adds ``"commit"``, the checkout's full commit, and
    ``"dirty"``, whether code or models differed from it (``git status`` of ``textkit/``,
    ``models/`` and ``bench/``); saving a model never shells out to git."""
    import platform
    from importlib import metadata

    out: dict[str, Any] = {"python": platform.python_version()}
    for package in (*_PROVENANCE_PACKAGES, *packages):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    if git:
        out.update(git_state())
    return out


def git_state() -> dict[str, Any]:
    """``{"commit": sha or "unknown", "dirty": bool or None}`` of the checkout textkit runs from."""
    import subprocess

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=Path(__file__).resolve().parent, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--", "../textkit", "../models", "../bench") if commit else None
    return {"commit": commit or "unknown", "dirty": None if status is None else bool(status)}
