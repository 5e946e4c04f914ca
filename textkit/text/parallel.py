"""Tokenize and numericalize large corpora in worker processes: streaming, bounded memory,
input order kept, and an on-disk cache of the numericalized corpus.

How workers start (``start_method=None``, the default, decided once per call)
-------------------------------------------------------------------------------
* ``"fork"`` on Linux when no thread of the calling process could hold a lock at the fork:
  no other Python thread, and no native thread besides OpenBLAS's pool (numpy starts it at
  import; OpenBLAS quiesces it around fork), counted in ``/proc/self/task`` with
  ``threadpoolctl``. Forking is fast and needs nothing from the caller: no main guard, no
  importable script, no pickling of the tokenizer. torch starts its intra-op threads on its
  first parallel operation, not on import: a process that imported torch, or runs it with
  ``OMP_NUM_THREADS=1``, still forks; one that has run parallel torch ops, initialized CUDA,
  or runs Jupyter or other threads gets spawn.
* ``"spawn"`` otherwise (threaded Linux processes, macOS, Windows). A spawned worker is a fresh
  Python that re-imports the caller's main script. Where that cannot work, ``resolve_start_method``
  raises ``WorkerStartError`` at once, before anything is read or tokenized, with what to do:
  main read from standard input (``python - <<EOF``), a call at the top level of a script
  without ``if __name__ == "__main__":``, a tokenizer that does not pickle or whose class lives
  in a main module the workers cannot import.
* ``start_method="fork" | "spawn" | "forkserver"`` overrides the choice (the same checks apply
  to spawn and forkserver).

Workers
-------
``n_workers`` counts the processes that tokenize, the caller's included: ``n_workers - 1``
worker processes start, each kept two batches ahead, and whenever the next result is not ready
the caller tokenizes the next batch itself instead of waiting. The caller's batches need no
pickling or unpacking, and the split balances itself: on two cores both stay busy (a caller that
only waits and unpacks leaves most of a core idle, and a third process would compete for it).

Each worker has its own pipes, so the caller knows which worker holds which batch: a worker
that dies (killed, out of memory) raises ``WorkerDiedError`` naming the worker, its pid, the
batch and its document range, and how it ended; every other worker is stopped and nothing is
kept, so the same call can simply be retried. An exception inside a worker is re-raised in the
caller with the worker's traceback attached as a note. At most ``2 * n_workers`` batches are in
flight (sent but not yet yielded), so memory stays bounded for any input length.

Numericalized cache
-------------------
``numericalize_corpus`` tokenizes and maps tokens to ids inside the workers (ids travel back as
int32 arrays, far cheaper than token strings), streams them to disk and stores them as
``ids.npy`` (int32) plus ``offsets.npy`` (int64, one more than the number of documents),
memory-mapped on load, in a folder keyed by the texts and the tokenizer/vocab config under
``cache_dir`` (default ``textkit_home()/numericalized``). The folder is built under a temporary
name and renamed into place only when complete, so a failed run caches nothing.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import multiprocessing
import multiprocessing.connection
import os
import pickle
import queue
import signal
import sys
import threading
import time
import traceback
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Protocol

import numpy as np

from textkit._io import atomic_folder, atomic_write_json, read_json, textkit_home
from textkit.text.checks import check_text

START_METHODS = ("fork", "spawn", "forkserver")
_GUARD = 'if __name__ == "__main__":'


class WorkerStartError(RuntimeError):
    """Worker processes cannot be started from this caller. Raised before any work is done."""


class WorkerDiedError(RuntimeError):
    """A worker process ended while the call still needed it (killed, out of memory, crashed).

    Attributes name what was lost: ``worker`` (1-based), ``pid``, ``exitcode`` (negative: the
    signal number), ``batch`` (its index, or None if the worker was between batches) and
    ``docs`` (the ``(start, stop)`` range of document indices in that batch).
    """

    def __init__(
        self,
        message: str,
        *,
        worker: int,
        pid: int | None,
        exitcode: int | None,
        batch: int | None,
        docs: tuple[int, int] | None,
    ) -> None:
        super().__init__(message)
        self.worker = worker
        self.pid = pid
        self.exitcode = exitcode
        self.batch = batch
        self.docs = docs


# ---------------------------------------------------------------------------------------------
# Choosing and checking the start method


def _thread_count() -> int:
    """OS threads of this process (native ones too: torch/OpenMP, BLAS, ZeroMQ), where known."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def _blas_pool_threads() -> int:
    """Threads that OpenBLAS started when it was loaded (numpy's starts cores - 1 at import).

    OpenBLAS quiesces them around fork (pthread_atfork), so they do not make forking unsafe.
    """
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return 0
    libs = threadpool_info()
    return sum(max(0, int(lib.get("num_threads") or 1) - 1) for lib in libs if lib.get("internal_api") == "openblas")


def _fork_hazard() -> str | None:
    """Why forking this process now could deadlock its workers, or None when it is safe.

    Unsafe: another Python thread (it runs arbitrary code and may hold a lock at the fork), or
    native threads beyond OpenBLAS's pool: torch's intra-op pool after its first parallel
    operation, CUDA, ZeroMQ (Jupyter) and the like.
    """
    python_threads = threading.active_count()
    if python_threads > 1:
        return f"this process runs {python_threads - 1} other Python thread(s)"
    threads = _thread_count()
    for _ in range(20):  # a thread that was just joined leaves /proc/self/task a moment later
        if threads == 1:
            return None
        time.sleep(0.001)
        threads = _thread_count()
    native = threads - 1 - _blas_pool_threads()
    if native > 0:
        return (
            f"this process runs {native} native thread(s) besides BLAS's "
            "(torch after its first parallel operation, CUDA, Jupyter or another library)"
        )
    return None


def _choose_start_method(start_method: str | None) -> tuple[str, str]:
    """(method, why) for this process now."""
    available = multiprocessing.get_all_start_methods()
    if start_method is not None:
        if start_method not in START_METHODS or start_method not in available:
            raise ValueError(
                f"start_method={start_method!r} is not available here; use None (automatic) or one of {available}"
            )
        return start_method, f"start_method={start_method!r} was asked for"
    if not sys.platform.startswith("linux") or "fork" not in available:
        return "spawn", f"fork is not safe or not available on {sys.platform}"
    hazard = _fork_hazard()
    if hazard is not None:
        return "spawn", f"{hazard}, and forking a threaded process can deadlock the workers"
    return "fork", "Linux, and no thread here could hold a lock at the fork"


def _is_main_test(test: ast.expr) -> bool:
    """``__name__ == "__main__"``, either way round."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    return any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides) and any(
        isinstance(s, ast.Constant) and s.value == "__main__" for s in sides
    )


def _unguarded_main_line(main: Any, path: str) -> int | None:
    """The line of the main script's top level that is running now, if it is outside every
    ``if __name__ == "__main__":`` block; None when guarded or when it cannot be told."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and not (frame.f_globals is vars(main) and frame.f_code.co_name == "<module>"):
        frame = frame.f_back
    if frame is None:  # the main script's top level is not on the stack (a thread, atexit, ...)
        return None
    line = frame.f_lineno
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"), path)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.If)
            and _is_main_test(node.test)
            and any(stmt.lineno <= line <= (stmt.end_lineno or stmt.lineno) for stmt in node.body)
        ):
            return None
    return line


def _check_spawn_caller(method: str, why: str, n_workers: int, payload: Sequence[object]) -> None:
    """Raise WorkerStartError if workers started with ``method`` cannot work for this caller."""
    main = sys.modules.get("__main__")
    spec_name = getattr(getattr(main, "__spec__", None), "name", None)
    main_path = getattr(main, "__file__", None)
    if spec_name is not None and (spec_name == "__main__" or spec_name.endswith(".__main__")):
        main_path = None  # `python -m package`: multiprocessing does not re-run package/__main__.py
    head = (
        f"n_workers={n_workers} starts worker processes with {method!r} here ({why}); "
        "such a worker is a fresh Python that re-imports your main script"
    )
    fork_hint = (
        ", or pass start_method='fork' if you know the other threads hold no lock"
        if method == "spawn" and "thread" in why
        else ""
    )
    if main_path is not None:
        if not os.path.isfile(main_path):
            raise WorkerStartError(
                f"{head}, but this one was read from {main_path}, not from a file the workers can import. "
                f"Nothing was done. Save the code to a .py file and put the call under `{_GUARD}`, "
                f"or pass n_workers=1{fork_hint}."
            )
        line = _unguarded_main_line(main, main_path)
        if line is not None:
            raise WorkerStartError(
                f"{head}, and this call comes from line {line} of {main_path}, which is not under `{_GUARD}`: "
                "every worker would run the script's top level again (reloading its data and starting workers "
                f"of its own). Nothing was done. Put the script's top-level work under `{_GUARD}` (or in a "
                f"main() called from there), or pass n_workers=1{fork_hint}."
            )
    for obj in payload:
        if type(obj).__module__ == "__main__" and main_path is None:
            raise WorkerStartError(
                f"{head}, but {type(obj).__name__} is defined in __main__ (an interactive session, -c or standard "
                "input), which the workers cannot import. Nothing was done. Define the class in a module you "
                f"import, or pass n_workers=1{fork_hint}."
            )
        try:
            pickle.dumps(obj)
        except Exception as exc:  # any pickling failure: the object cannot reach the workers
            raise WorkerStartError(
                f"{head}, and the {type(obj).__name__} must be pickled to reach them, which failed "
                f"({type(exc).__name__}: {exc}). Nothing was done. Give it __getstate__/__setstate__ (as "
                f"textkit.text.Tokenizer does), or pass n_workers=1{fork_hint}."
            ) from exc


def resolve_start_method(n_workers: int, payload: Sequence[object] = (), start_method: str | None = None) -> str | None:
    """The start method for ``n_workers`` worker processes that receive ``payload`` (the objects
    they need: tokenizer, vocab), or None when ``n_workers <= 1`` (work in this process).

    Chooses fork or spawn as the module docstring says and, for spawn/forkserver, raises
    ``WorkerStartError`` now, before any work, if the caller cannot be made to work. Anything in
    textkit that starts worker processes goes through this.
    """
    if start_method is not None:
        _choose_start_method(start_method)  # a misspelled value fails even with one worker
    if n_workers <= 1:
        return None
    method, why = _choose_start_method(start_method)
    if method != "fork":
        _check_spawn_caller(method, why, n_workers, payload)
    return method


# ---------------------------------------------------------------------------------------------
# Jobs: what a worker does to one batch (also run in-process when n_workers <= 1)


class _Tokenizes(Protocol):
    """What the jobs need of a tokenizer (``Tokenizer``, ``SubwordTokenizer``, a splitter)."""

    def tokenize(self, text: str) -> list[str]: ...


class _Encodes(Protocol):
    """What the jobs need of a vocabulary (``Vocab``)."""

    def encode(self, tokens: Sequence[str]) -> list[int]: ...


class _CachedTokenizer(_Tokenizes, Protocol):
    """A tokenizer whose config keys the numericalized-corpus cache."""

    def config(self) -> dict: ...


class _CachedVocab(_Encodes, Protocol):
    """A vocabulary whose fingerprint keys the numericalized-corpus cache."""

    def fingerprint(self) -> str: ...


class _Tokenize:
    def __init__(self, tokenizer: _Tokenizes) -> None:
        self.tokenizer = tokenizer

    def __call__(self, batch: list[str]) -> list[str | list[str]]:
        # One joined string per document is ~4x cheaper to pickle than a list of 100s of small
        # strings; a document whose tokens contain the separator goes back as a list.
        out: list[str | list[str]] = []
        for text in batch:
            tokens = self.tokenizer.tokenize(text)
            joined = " ".join(tokens)
            out.append(joined if tokens and joined.count(" ") == len(tokens) - 1 else tokens)
        return out

    def tokenize_batch(self, batch: list[str]) -> list[list[str]]:
        """The caller's share: tokens as they are, nothing to pack."""
        return [self.tokenizer.tokenize(text) for text in batch]

    @staticmethod
    def unpack(result: list[str | list[str]]) -> list[list[str]]:
        return [item.split(" ") if isinstance(item, str) else item for item in result]


class _Numericalize:
    def __init__(self, tokenizer: _Tokenizes, vocab: _Encodes) -> None:
        self.tokenizer = tokenizer
        self.vocab = vocab

    def __call__(self, batch: list[str]) -> tuple[np.ndarray, np.ndarray]:
        lengths = np.empty(len(batch), dtype=np.int64)  # (docs,)
        ids: list[int] = []
        for i, text in enumerate(batch):
            doc = self.vocab.encode(self.tokenizer.tokenize(text))
            lengths[i] = len(doc)
            ids.extend(doc)
        return np.asarray(ids, dtype=np.int32), lengths  # (tokens,), (docs,)


# ---------------------------------------------------------------------------------------------
# The worker pool


def _worker_main(inbox: Any, outbox: Any, job: Callable[[list[str]], object]) -> None:
    """A worker: run ``job`` on each ``(index, batch)`` received, send ``(index, result, error)``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops us
    tasks: queue.SimpleQueue = queue.SimpleQueue()

    def read() -> None:
        # Always drain the inbox, so the parent's send never blocks on a worker that is itself
        # blocked sending a large result back (the classic two-pipe deadlock).
        while True:
            try:
                task = inbox.recv()
            except (EOFError, OSError):
                task = None
            tasks.put(task)
            if task is None:
                return

    threading.Thread(target=read, name="textkit-worker-inbox", daemon=True).start()
    while (task := tasks.get()) is not None:
        index, batch = task
        message: tuple[int, object, tuple[BaseException, str] | None]
        try:
            message = (index, job(batch), None)
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which re-raises it
            tb = traceback.format_exc()
            try:
                pickle.loads(pickle.dumps(exc))
            except Exception:  # noqa: BLE001 - whatever makes it unpicklable, send a plain copy
                exc = RuntimeError(f"{type(exc).__name__}: {exc}")
            message = (index, None, (exc, tb))
        try:
            outbox.send(message)
        except OSError:  # the parent is gone
            return


@dataclass
class _Worker:
    number: int  # 1-based, as reported to users
    process: Any
    inbox: Any  # parent -> worker
    outbox: Any  # worker -> parent
    inflight: deque = field(default_factory=deque)  # (batch index, first doc, end doc), oldest first


def _describe_exit(exitcode: int | None, method: str) -> str:
    if exitcode is None:
        return "it closed its pipe but has not exited"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if -exitcode == getattr(signal, "SIGKILL", 9):
            return (
                f"it was killed by {name}, which usually means the system ran out of memory (the kernel's "
                "OOM killer) or another process killed it"
            )
        return f"it was killed by {name}"
    text = f"it exited with code {exitcode}"
    if method != "fork":
        text += " (a spawned worker re-imports your main script: an error printed above from doing so ends it)"
    return text


def _widen_pipe(connection: Any) -> None:
    """Let a worker's results pipe hold a whole result (Linux: up to ``pipe-max-size``, 1 MiB by
    default, instead of 64 KiB), so a worker hands a batch over and goes on with the next one
    while the caller is busy tokenizing a batch of its own, instead of waiting for it to read."""
    if not sys.platform.startswith("linux"):
        return
    import fcntl

    try:
        limit = int(Path("/proc/sys/fs/pipe-max-size").read_text())
        fcntl.fcntl(connection.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), min(limit, 1 << 20))
    except (OSError, ValueError):  # a smaller pipe is only slower
        pass


class _WorkerPool:
    """``n_workers - 1`` processes running ``job``, and the caller; ``imap`` yields results in
    input order."""

    def __init__(self, job: Callable[[list[str]], object], n_workers: int, method: str) -> None:
        self.job = job
        self.n_workers = n_workers
        self.n_processes = n_workers - 1
        self.method = method
        self.workers: list[_Worker] = []

    def __enter__(self) -> _WorkerPool:
        context = multiprocessing.get_context(self.method)
        try:
            for number in range(1, self.n_processes + 1):
                in_r, in_w = context.Pipe(duplex=False)
                out_r, out_w = context.Pipe(duplex=False)
                _widen_pipe(out_w)
                # typeshed gives get_context(str) the abstract BaseContext; every real context has Process
                process = context.Process(  # type: ignore[attr-defined]
                    target=_worker_main, args=(in_r, out_w, self.job), name=f"textkit-worker-{number}", daemon=True
                )
                process.start()
                # Close our copies of the worker's ends now, before the next fork, so that only
                # that worker holds them and its death shows as end-of-file here.
                in_r.close()
                out_w.close()
                self.workers.append(_Worker(number, process, in_w, out_r))
        except BaseException:
            self.close(graceful=False)
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close(graceful=exc_type is None)

    def close(self, graceful: bool) -> None:
        for worker in self.workers:
            if graceful:
                try:
                    worker.inbox.send(None)
                except OSError:
                    pass
            elif worker.process.is_alive():
                worker.process.terminate()
        for worker in self.workers:
            worker.process.join(timeout=5 if graceful else 2)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.inbox.close()
            worker.outbox.close()
        self.workers = []

    def _died(self, worker: _Worker) -> WorkerDiedError:
        worker.process.join(timeout=5)
        exitcode = worker.process.exitcode
        if worker.inflight:
            batch, start, stop = worker.inflight[0]
            where = f"while working on batch {batch} (texts[{start}:{stop}])"
            docs: tuple[int, int] | None = (start, stop)
        else:
            batch, docs, where = None, None, "between batches"
        advice = "Nothing was kept from this call: retry it as is"
        if exitcode is not None and exitcode < 0 and -exitcode == getattr(signal, "SIGKILL", 9):
            advice += ", or with fewer n_workers or a smaller batch_size if memory is short"
        message = (
            f"worker process {worker.number} of {self.n_processes} (pid {worker.process.pid}, started with "
            f"{self.method!r}) "
            f"died {where}: {_describe_exit(exitcode, self.method)}. {advice}."
        )
        return WorkerDiedError(
            message, worker=worker.number, pid=worker.process.pid, exitcode=exitcode, batch=batch, docs=docs
        )

    def _send(self, worker: _Worker, index: int, start: int, batch: list[str]) -> None:
        worker.inflight.append((index, start, start + len(batch)))
        try:
            worker.inbox.send((index, batch))
        except OSError:
            raise self._died(worker) from None

    def _receive(self, done: dict[int, Any], unpack: Callable[[Any], Any], timeout: float | None = None) -> None:
        """Wait for at least one result (``unpack``-ed into ``done``) or a worker's death (raised);
        with a ``timeout``, return when nothing arrives in that time."""
        by_pipe = {worker.outbox: worker for worker in self.workers}
        by_sentinel = {worker.process.sentinel: worker for worker in self.workers}
        for ready in multiprocessing.connection.wait([*by_pipe, *by_sentinel], timeout):
            if ready in by_pipe:
                worker = by_pipe[ready]
                try:
                    index, result, error = worker.outbox.recv()
                except (EOFError, OSError):
                    raise self._died(worker) from None
                batch, start, stop = worker.inflight.popleft()
                if error is not None:
                    exc, worker_tb = error
                    exc.add_note(
                        f"raised in worker process {worker.number} of {self.n_processes} (pid {worker.process.pid}) "
                        f"on batch {batch} (texts[{start}:{stop}]); the worker's traceback:\n{worker_tb}"
                    )
                    raise exc
                done[index] = unpack(result)
            else:
                worker = by_sentinel[ready]
                if not worker.outbox.poll():  # exited with nothing left to read
                    raise self._died(worker)

    def imap(
        self,
        batches: Iterator[list[str]],
        local: Callable[[list[str]], Any],
        unpack: Callable[[Any], Any],
    ) -> Iterator[Any]:
        """Results in input order: ``unpack(job(batch))`` for the batches the workers do, and
        ``local(batch)`` for those the caller takes: whenever the next result is not ready and
        the workers hold all they may, the caller does the next batch itself instead of waiting."""
        done: dict[int, Any] = {}
        sent = yielded = start = 0  # sent: batches taken from the input, by workers or by us
        exhausted = False
        window = 2 * self.n_workers  # batches taken but not yet yielded

        def take() -> list[str] | None:
            nonlocal exhausted
            batch = None if exhausted else next(batches, None)
            exhausted = batch is None
            return batch

        while True:
            while sent - yielded < window:
                idle = min(self.workers, key=lambda w: len(w.inflight))
                if len(idle.inflight) >= 2 or (batch := take()) is None:
                    break
                self._send(idle, sent, start, batch)
                sent, start = sent + 1, start + len(batch)
            if yielded in done:
                yield done.pop(yielded)
                yielded += 1
                continue
            if exhausted and yielded == sent:
                return
            self._receive(done, unpack, timeout=0)
            if yielded in done:
                continue
            if sent - yielded < window and (batch := take()) is not None:
                done[sent] = self._run_here(local, sent, start, batch)
                sent, start = sent + 1, start + len(batch)
            else:
                self._receive(done, unpack)

    @staticmethod
    def _run_here(local: Callable[[list[str]], Any], index: int, start: int, batch: list[str]) -> Any:
        try:
            return local(batch)
        except Exception as exc:
            exc.add_note(f"raised in the calling process on batch {index} (texts[{start}:{start + len(batch)}])")
            raise


# ---------------------------------------------------------------------------------------------
# Public entry points


def _unchanged(result: Any) -> Any:
    return result


def _batches(texts: Iterable[str], batch_size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for index, text in enumerate(texts):
        batch.append(check_text(text, f"texts[{index}]"))
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def _progress_bar(total: int | None, progress: bool, desc: str) -> Any:  # a tqdm bar
    from tqdm.auto import tqdm

    class Bar(tqdm):
        # tqdm starts a monitor thread with its first bar (even a disabled one) and keeps it;
        # that thread would make every later call spawn its workers instead of forking them.
        monitor_interval = 0

    return Bar(total=total, unit="doc", disable=not progress, desc=desc)


def _check_sizes(n_workers: int, batch_size: int) -> None:
    if not isinstance(n_workers, int) or isinstance(n_workers, bool):
        raise TypeError(f"n_workers must be an int, got {type(n_workers).__name__}")
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")


def iter_tokenized(
    texts: Iterable[str],
    tokenizer: _Tokenizes,
    n_workers: int = 1,
    batch_size: int = 512,
    progress: bool = False,
    total: int | None = None,
    *,
    start_method: str | None = None,
) -> Iterator[list[str]]:
    """Yield ``tokenizer.tokenize(text)`` for each text, in input order.

    With ``n_workers > 1`` batches of ``batch_size`` texts go to ``n_workers - 1`` worker processes,
    and the caller takes a batch whenever it would otherwise wait; the workers start as the
    module docstring says (``start_method`` overrides the choice). A caller that spawned workers
    cannot serve raises ``WorkerStartError`` here, at the call, before any text is read. At most
    ``2 * n_workers`` batches are pending at any time, so memory stays bounded for any input.
    """
    _check_sizes(n_workers, batch_size)
    if total is None and hasattr(texts, "__len__"):
        total = len(texts)  # type: ignore[arg-type]
    job = _Tokenize(tokenizer)
    method = resolve_start_method(n_workers, (job,), start_method)
    if method is None:
        return _iter_serial(texts, tokenizer, batch_size, progress, total)
    return _iter_parallel(texts, job, n_workers, batch_size, method, progress, total)


def _iter_serial(
    texts: Iterable[str], tokenizer: _Tokenizes, batch_size: int, progress: bool, total: int | None
) -> Iterator[list[str]]:
    with _progress_bar(total, progress, "tokenize") as bar:
        for batch in _batches(texts, batch_size):
            for text in batch:
                yield tokenizer.tokenize(text)
            bar.update(len(batch))


def _iter_parallel(
    texts: Iterable[str],
    job: _Tokenize,
    n_workers: int,
    batch_size: int,
    method: str,
    progress: bool,
    total: int | None,
) -> Iterator[list[str]]:
    # Workers start before the progress bar: tqdm's monitor thread must not exist at a fork.
    with _WorkerPool(job, n_workers, method) as pool, _progress_bar(total, progress, "tokenize") as bar:
        for docs in pool.imap(_batches(texts, batch_size), job.tokenize_batch, _Tokenize.unpack):
            bar.update(len(docs))
            yield from docs


@dataclass
class NumericalizedCorpus:
    """Token ids of many documents in one flat memory-mapped array."""

    ids: np.ndarray  # (total_tokens,) int32
    offsets: np.ndarray  # (n_docs + 1,) int64; document i is ids[offsets[i]:offsets[i + 1]]
    folder: Path

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index: int) -> np.ndarray:
        if not -len(self) <= index < len(self):
            raise IndexError(f"document {index} out of range ({len(self)} documents)")
        index %= len(self)
        return self.ids[self.offsets[index] : self.offsets[index + 1]]

    @property
    def n_tokens(self) -> int:
        return int(self.offsets[-1])


def _texts_fingerprint(texts: Iterable[str]) -> tuple[str, int]:
    digest = hashlib.sha256()
    count = 0
    for index, text in enumerate(texts):
        encoded = check_text(text, f"texts[{index}]").encode("utf-8", "surrogatepass")
        digest.update(len(encoded).to_bytes(8, "little"))
        digest.update(encoded)
        count += 1
    return digest.hexdigest(), count


def numericalize_corpus(
    texts: Sequence[str] | Callable[[], Iterable[str]],
    tokenizer: _CachedTokenizer,
    vocab: _CachedVocab,
    cache_dir: str | Path | None = None,
    n_workers: int = 1,
    batch_size: int = 512,
    progress: bool = False,
    *,
    start_method: str | None = None,
) -> NumericalizedCorpus:
    """Tokenize and numericalize ``texts`` once; later calls with the same texts, tokenizer
    config and vocabulary load the memory-mapped result from the cache.

    ``texts`` is read twice (once to fingerprint it, once to tokenize it), so pass a sequence
    or a function that returns a fresh iterator, not a one-shot generator. ``cache_dir``
    defaults to ``textkit_home()/numericalized``. Workers start as in ``iter_tokenized``; a
    caller they cannot serve gets ``WorkerStartError`` before the texts are read, and a failed
    run (a worker killed, an exception, Ctrl-C) leaves nothing in the cache.
    """
    if isinstance(texts, Iterator):
        raise TypeError("texts is a one-shot iterator; pass a list or a function returning a fresh iterator")
    _check_sizes(n_workers, batch_size)
    job = _Numericalize(tokenizer, vocab)
    method = resolve_start_method(n_workers, (job,), start_method)
    open_texts = texts if callable(texts) else (lambda: texts)
    text_hash, n_docs = _texts_fingerprint(open_texts())
    config = {"tokenizer": tokenizer.config(), "vocab": vocab.fingerprint(), "texts": text_hash, "n_docs": n_docs}
    key = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:24]
    folder = Path(cache_dir if cache_dir is not None else textkit_home() / "numericalized") / key
    if (folder / "meta.json").exists():
        return _load_numericalized(folder)

    with atomic_folder(folder) as staging:
        offsets = array("q", [0])
        workers = _WorkerPool(job, n_workers, method) if method is not None else contextlib.nullcontext()
        with open(staging / "ids.bin", "wb") as out, workers as pool:
            batches = _batches(open_texts(), batch_size)
            results = pool.imap(batches, job, _unchanged) if pool is not None else map(job, batches)
            with _progress_bar(n_docs, progress, "numericalize") as bar:
                for ids, lengths in results:
                    out.write(ids.tobytes())
                    offsets.extend((np.cumsum(lengths) + offsets[-1]).tolist())
                    bar.update(len(lengths))
        n_tokens = offsets[-1]
        if len(offsets) - 1 != n_docs:
            raise RuntimeError(
                f"texts changed while being read: fingerprinted {n_docs} documents, tokenized {len(offsets) - 1}"
            )
        ids_mm = np.lib.format.open_memmap(staging / "ids.npy", mode="w+", dtype=np.int32, shape=(n_tokens,))
        raw = (
            np.memmap(staging / "ids.bin", dtype=np.int32, mode="r", shape=(n_tokens,))
            if n_tokens
            else np.zeros(0, np.int32)
        )
        ids_mm[:] = raw
        ids_mm.flush()
        del ids_mm, raw
        os.unlink(staging / "ids.bin")
        np.save(staging / "offsets.npy", np.frombuffer(offsets, dtype=np.int64))
        atomic_write_json(staging / "meta.json", {**config, "n_tokens": n_tokens})
    return _load_numericalized(folder)


def _load_numericalized(folder: Path) -> NumericalizedCorpus:
    meta = read_json(folder / "meta.json", "numericalized corpus metadata")
    try:
        ids = np.load(folder / "ids.npy", mmap_mode="r")
        offsets = np.load(folder / "offsets.npy")
    except (ValueError, OSError) as exc:
        raise ValueError(
            f"numericalized corpus cache {folder} is damaged ({exc}); delete the folder to rebuild it"
        ) from exc
    if len(ids) != meta["n_tokens"] or len(offsets) != meta["n_docs"] + 1 or (len(offsets) and offsets[-1] != len(ids)):
        raise ValueError(
            f"numericalized corpus cache {folder} is inconsistent with its meta.json; delete the folder to rebuild it"
        )
    return NumericalizedCorpus(ids=ids, offsets=offsets, folder=folder)
