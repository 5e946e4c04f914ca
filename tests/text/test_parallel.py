import os
from pathlib import Path
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from textkit.text import (
    Tokenizer,
    Vocab,
    WorkerStartError,
    iter_tokenized,
    numericalize_corpus,
    resolve_start_method,
)
from textkit.text.parallel import _Tokenize

TEXTS = [f"Document {i}: {'GOOD ' * (i % 4)}movie, isn't it?!!!" for i in range(300)] + ["", "last one"]
LINUX = sys.platform.startswith("linux")
# The start methods a test can ask for here; None is the automatic choice.
START_METHODS = [None, "spawn"] + (["fork"] if LINUX else [])


def run_python(*args: str, stdin: str | None = None, cwd=None) -> subprocess.CompletedProcess:
    """Run this interpreter in a fresh process, as a user would: no thread settings, so numpy's
    OpenBLAS starts its thread pool on import (fork stays safe: the automatic choice on Linux)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    return subprocess.run(
        [sys.executable, *args], input=stdin, capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


def test_parallel_tokenization_keeps_input_order_and_matches_serial():
    tok = Tokenizer()
    serial = [tok.tokenize(t) for t in TEXTS]
    assert list(iter_tokenized(TEXTS, tok, n_workers=2, batch_size=7)) == serial


@pytest.mark.parametrize("start_method", START_METHODS)
def test_parallel_outputs_identical_across_1_and_2_workers(tmp_path, start_method):
    tok = Tokenizer(add_bos=True)
    one = tok.tokenize_many(TEXTS, n_workers=1, batch_size=16)
    two = tok.tokenize_many(TEXTS, n_workers=2, batch_size=16, start_method=start_method)
    assert two == one
    vocab = Vocab.build(one)
    a = numericalize_corpus(TEXTS, tok, vocab, cache_dir=tmp_path / "one", n_workers=1, batch_size=16)
    b = numericalize_corpus(
        TEXTS, tok, vocab, cache_dir=tmp_path / "two", n_workers=2, batch_size=16, start_method=start_method
    )
    assert np.array_equal(a.ids, b.ids) and np.array_equal(a.offsets, b.offsets)
    assert a.folder.name == b.folder.name  # the cache key does not depend on the worker count


def test_parallel_worker_transport_round_trips_any_tokens():
    class Fixed:
        def __init__(self, outputs):
            self.outputs = iter(outputs)

        def tokenize(self, text):
            return next(self.outputs)

    outputs = [[], [""], ["", ""], ["a b", "c"], ["x", " ", "y"], ["plain", "tokens"]]
    packed = _Tokenize(Fixed(outputs))(["t"] * len(outputs))
    assert _Tokenize.unpack(packed) == outputs


def test_parallel_tokenization_streams_a_generator():
    tok = Tokenizer()
    generated = (t for t in TEXTS)
    assert sum(1 for _ in iter_tokenized(generated, tok, n_workers=2, batch_size=16)) == len(TEXTS)


def test_parallel_tokenization_reports_none_with_its_index():
    with pytest.raises(TypeError, match=r"texts\[2\] is None"):
        list(iter_tokenized(["a", "b", None], Tokenizer(), n_workers=1))
    with pytest.raises(TypeError, match=r"texts\[2\] is None"):
        list(iter_tokenized(["a", "b", None], Tokenizer(), n_workers=2))


def test_parallel_resolve_start_method_one_worker_and_bad_names():
    assert resolve_start_method(1) is None
    with pytest.raises(ValueError, match="start_method='frok'"):
        resolve_start_method(1, start_method="frok")
    with pytest.raises(ValueError, match="batch_size"):
        Tokenizer().tokenize_many(["a"], n_workers=2, batch_size=0)


@pytest.mark.skipif(not LINUX, reason="fork is chosen on Linux only")
def test_parallel_forks_only_while_no_other_thread_runs():
    code = textwrap.dedent(
        """
        import threading
        from textkit.text import resolve_start_method
        print(resolve_start_method(2))
        stop = threading.Event()
        thread = threading.Thread(target=stop.wait)
        thread.start()
        print(resolve_start_method(2))
        stop.set()
        thread.join()
        print(resolve_start_method(2))
        """
    )
    done = run_python("-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["fork", "spawn", "fork"]


class _Unpicklable:
    def tokenize(self, text):
        return text.split()

    def __reduce__(self):
        raise TypeError("this tokenizer holds an open handle")


def test_parallel_unpicklable_tokenizer_with_spawn_fails_before_any_work():
    read = []

    def texts():
        for t in TEXTS:
            read.append(t)
            yield t

    with pytest.raises(WorkerStartError, match="must be pickled.*__getstate__.*n_workers=1"):
        iter_tokenized(texts(), _Unpicklable(), n_workers=2, start_method="spawn")
    assert read == []


class _PidTokenizer(Tokenizer):
    """Tags each document with the pid of the process that tokenized it."""

    def tokenize(self, text):
        time.sleep(0.0005)  # slow enough that the caller finds results not ready
        return [*super().tokenize(text), f"pid{os.getpid()}"]


@pytest.mark.skipif(not LINUX, reason="the test's tokenizer class reaches the workers by fork")
def test_parallel_caller_tokenizes_part_and_starts_n_workers_minus_one_processes():
    texts = [f"text {i}" for i in range(2000)]
    out = _PidTokenizer().tokenize_many(texts, n_workers=3, batch_size=25, start_method="fork")
    assert [doc[:-1] for doc in out] == [Tokenizer().tokenize(t) for t in texts]
    pids = {doc[-1] for doc in out}
    assert f"pid{os.getpid()}" in pids  # the caller took batches instead of waiting
    assert len(pids) == 3  # the caller and 2 worker processes


@pytest.mark.skipif(not LINUX, reason="pipe sizes are a Linux feature")
def test_parallel_results_pipe_holds_a_whole_batch_result():
    import fcntl

    from textkit.text.parallel import _Tokenize, _WorkerPool

    with _WorkerPool(_Tokenize(Tokenizer()), 2, "fork") as pool:
        (worker,) = pool.workers  # n_workers=2: the caller and one worker process
        size = fcntl.fcntl(worker.outbox.fileno(), getattr(fcntl, "F_GETPIPE_SZ", 1032))
    limit = int(Path("/proc/sys/fs/pipe-max-size").read_text())
    assert size >= min(limit, 1 << 20) > 64 * 1024


def test_parallel_serial_call_leaves_no_thread_so_later_calls_still_fork(tmp_path):
    # regression: tqdm started its monitor thread with the first (even disabled) progress bar,
    # so every parallel call after a serial one spawned its workers instead of forking them
    code = textwrap.dedent(
        """
        import threading
        from textkit.text import Tokenizer
        from textkit.text.parallel import resolve_start_method
        tok = Tokenizer()
        tok.tokenize_many(["a b", "c"] * 50, n_workers=1)
        tok.tokenize_many(["a b", "c"] * 50, n_workers=1, progress=True)
        print(threading.active_count(), resolve_start_method(2))
        """
    )
    done = run_python("-", stdin=code, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "fork" if LINUX else "spawn"]


# --- callers of tokenize_many(n_workers=2): scripts without a main guard, standard input -----

SNIPPET = """\
from textkit.text import Tokenizer

START_METHOD = {start_method!r}
print("top level ran")
texts = [f"Text {{i}}: {{'WOW' * (i % 3)}} isn't it?!!" for i in range(200)]
tok = Tokenizer()
out = tok.tokenize_many(texts, n_workers=2, batch_size=16, start_method=START_METHOD)
assert out == [tok.tokenize(t) for t in texts], "parallel output differs from serial"
print("tokenized", len(out))
"""


@pytest.mark.parametrize("how", ["script", "stdin"])
def test_parallel_tokenize_many_works_without_main_guard_and_from_stdin(tmp_path, how):
    code = SNIPPET.format(start_method=None)
    if how == "script":
        script = tmp_path / "unguarded.py"
        script.write_text(code)
        done = run_python(str(script), cwd=tmp_path)
    else:
        done = run_python("-", stdin=code, cwd=tmp_path)
    if LINUX:  # the caller's process runs one thread: workers fork, nothing re-runs the script
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines() == ["top level ran", "tokenized 200"]
        assert "Traceback" not in done.stderr
    else:  # spawn is needed and cannot serve this caller: a clear error before any work
        assert done.returncode != 0
        assert "WorkerStartError" in done.stderr and "__main__" in done.stderr


def test_parallel_spawn_from_stdin_fails_at_once_saying_what_to_do(tmp_path):
    done = run_python("-", stdin=SNIPPET.format(start_method="spawn"), cwd=tmp_path)
    assert done.returncode != 0
    assert done.stdout.splitlines() == ["top level ran"]  # nothing tokenized, no worker re-ran it
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith("textkit.text.parallel.WorkerStartError:")
    assert "<stdin>" in message and 'if __name__ == "__main__":' in message and "n_workers=1" in message
    assert "BrokenProcessPool" not in done.stderr and "bootstrapping" not in done.stderr


def test_parallel_spawn_from_unguarded_script_fails_at_once_naming_the_line(tmp_path):
    script = tmp_path / "unguarded.py"
    script.write_text(SNIPPET.format(start_method="spawn"))
    done = run_python(str(script), cwd=tmp_path)
    assert done.returncode != 0
    assert done.stdout.splitlines() == ["top level ran"]
    message = done.stderr.strip().splitlines()[-1]
    assert f"line 7 of {script}" in message and 'if __name__ == "__main__":' in message
    assert "bootstrapping" not in done.stderr


def test_parallel_spawn_from_guarded_script_works(tmp_path):
    body = SNIPPET.format(start_method="spawn").replace('print("top level ran")\n', "")
    script = tmp_path / "guarded.py"
    script.write_text('if __name__ == "__main__":\n' + textwrap.indent(body, "    "))
    done = run_python(str(script), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["tokenized 200"]


# --- a worker that dies ------------------------------------------------------------------------

POISON_SCRIPT = """\
import os
from pathlib import Path
import signal
import sys

from textkit.text import Tokenizer, Vocab, WorkerDiedError, numericalize_corpus

FLAG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "poison.flag")


class PoisonTokenizer(Tokenizer):
    # Kills the worker process that meets the text "POISON" while the flag file exists (once).
    def tokenize(self, text):
        if text == "POISON" and os.path.exists(FLAG):
            os.unlink(FLAG)
            {action}
        return super().tokenize(text)


if __name__ == "__main__":
    mode, start_method = sys.argv[1], (None if sys.argv[2] == "auto" else sys.argv[2])
    texts = [f"Text {{i}}, GOOD!!!" for i in range(400)]
    texts[60] = "POISON"  # batch 1: the first two batches always go to the worker process
    expected = [Tokenizer().tokenize(t) for t in texts]
    tok = PoisonTokenizer()
    open(FLAG, "w").close()
    if mode == "tokenize":
        try:
            tok.tokenize_many(texts, n_workers=2, batch_size=50, start_method=start_method)
        except {error} as exc:
            print("error:", type(exc).__name__, exc)
            print("attributes:", getattr(exc, "batch", None), getattr(exc, "docs", None), getattr(exc, "worker", None))
            notes = " ".join(getattr(exc, "__notes__", [])).splitlines()[0] if hasattr(exc, "__notes__") else None
            print("notes:", notes)
        else:
            sys.exit("no error raised")
        assert tok.tokenize_many(texts, n_workers=2, batch_size=50, start_method=start_method) == expected
        print("retry ok")
    else:
        cache = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cache")
        vocab = Vocab.build(expected)
        try:
            numericalize_corpus(
                texts, tok, vocab, cache_dir=cache, n_workers=2, batch_size=50, start_method=start_method
            )
        except {error} as exc:
            print("error:", type(exc).__name__, exc)
        else:
            sys.exit("no error raised")
        print("cache after failure:", sorted(os.listdir(cache)) if os.path.exists(cache) else [])
        corpus = numericalize_corpus(
            texts, tok, vocab, cache_dir=cache, n_workers=2, batch_size=50, start_method=start_method
        )
        assert [vocab.decode(corpus[i]) for i in range(len(texts))] == expected
        print("cache after retry:", len(os.listdir(cache)))
"""


def _poison_script(tmp_path, action="os.kill(os.getpid(), signal.SIGKILL)", error="WorkerDiedError"):
    script = tmp_path / "poison.py"
    script.write_text(POISON_SCRIPT.format(action=action, error=error))
    return script


@pytest.mark.skipif(not hasattr(os, "kill") or sys.platform == "win32", reason="needs SIGKILL")
@pytest.mark.parametrize("start_method", ["auto", "spawn"])
def test_parallel_killed_worker_names_batch_and_worker_and_retry_succeeds(tmp_path, start_method):
    done = run_python(str(_poison_script(tmp_path)), "tokenize", start_method, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    error = lines[0]
    assert error.startswith("error: WorkerDiedError worker ")
    assert "batch 1 (texts[50:100])" in error and "SIGKILL" in error and "retry" in error
    assert lines[1].startswith("attributes: 1 (50, 100) ")
    assert lines[-1] == "retry ok"


def test_parallel_worker_exception_is_reraised_with_batch_and_worker(tmp_path):
    script = _poison_script(tmp_path, action='raise ValueError("bad text")', error="ValueError")
    done = run_python(str(script), "tokenize", "auto", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "error: ValueError bad text"
    assert lines[2].startswith("notes: raised in worker ") and "on batch 1 (texts[50:100])" in lines[2]
    assert lines[-1] == "retry ok"


@pytest.mark.skipif(not hasattr(os, "kill") or sys.platform == "win32", reason="needs SIGKILL")
def test_parallel_numericalize_corpus_caches_nothing_from_a_failed_run(tmp_path):
    done = run_python(str(_poison_script(tmp_path)), "numericalize", "auto", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("error: WorkerDiedError") and "batch 1 (texts[50:100])" in lines[0]
    assert lines[1] == "cache after failure: []"
    assert lines[2] == "cache after retry: 1"


# --- numericalize_corpus -----------------------------------------------------------------------


def test_numericalize_corpus_round_trips_and_caches(tmp_path):
    tok = Tokenizer()
    vocab = Vocab.build([tok.tokenize(t) for t in TEXTS])
    corpus = numericalize_corpus(TEXTS, tok, vocab, cache_dir=tmp_path, n_workers=2, batch_size=50)
    assert len(corpus) == len(TEXTS)
    assert isinstance(corpus.ids, np.memmap)
    for i in (0, 17, len(TEXTS) - 2, len(TEXTS) - 1):
        assert vocab.decode(corpus[i]) == tok.tokenize(TEXTS[i])
    again = numericalize_corpus(lambda: iter(TEXTS), tok, vocab, cache_dir=tmp_path)
    assert again.folder == corpus.folder
    assert len(list(tmp_path.iterdir())) == 1


def test_numericalize_corpus_default_cache_is_under_textkit_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTKIT_HOME", str(tmp_path))
    tok = Tokenizer()
    vocab = Vocab.build([tok.tokenize(t) for t in TEXTS])
    corpus = numericalize_corpus(TEXTS[:20], tok, vocab)
    assert corpus.folder.parent == tmp_path / "numericalized"


def test_numericalize_corpus_key_changes_with_tokenizer_config(tmp_path):
    vocab = Vocab.build([Tokenizer().tokenize(t) for t in TEXTS])
    a = numericalize_corpus(TEXTS, Tokenizer(), vocab, cache_dir=tmp_path)
    b = numericalize_corpus(TEXTS, Tokenizer(add_bos=True), vocab, cache_dir=tmp_path)
    assert a.folder != b.folder
    assert b.n_tokens == a.n_tokens + len(TEXTS)


def test_numericalize_corpus_refuses_one_shot_iterators(tmp_path):
    vocab = Vocab.build([["a"]])
    with pytest.raises(TypeError, match="one-shot iterator"):
        numericalize_corpus(iter(TEXTS), Tokenizer(), vocab, cache_dir=tmp_path)


def test_numericalize_corpus_damaged_cache_is_a_clear_error(tmp_path):
    tok = Tokenizer()
    vocab = Vocab.build([tok.tokenize(t) for t in TEXTS])
    corpus = numericalize_corpus(TEXTS, tok, vocab, cache_dir=tmp_path)
    ids_file = corpus.folder / "ids.npy"
    ids_file.write_bytes(ids_file.read_bytes()[:200])
    with pytest.raises(ValueError, match="delete the folder"):
        numericalize_corpus(TEXTS, tok, vocab, cache_dir=tmp_path)
