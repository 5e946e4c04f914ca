"""Foreign embedding files whose declared sizes lie (issue 28): a word2vec or fastText header
``"N D"``, an ``.npy`` header or an array in a ``.kv`` pickle that promises more than the file
holds is refused with a message naming the file and the declared sizes, before allocation.

Each case loads in a forked child under ``RLIMIT_AS`` (its size plus 512 MB) and reports the
exception and the growth of its peak RSS. Before this fix a word2vec header ``N D`` was trusted
("Unable to allocate 1.07 PiB"), a header of "1000000 300" on a tiny file allocated 1.1 GiB
before reporting truncation, and the restricted unpickler let ``numpy.ndarray((10**5, 10**5))``
try to allocate 74.5 GiB.
"""

from __future__ import annotations

import gzip
import io
import json
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from textkit.bias.embeddings import EmbeddingsFormatError, RestrictedUnpickler, load_embeddings

from .conftest import write_word2vec_binary
from .test_embeddings import _fake_gensim_pickle

_RUNNER = textwrap.dedent(
    """
    import json, os, resource, sys
    import numpy as np
    from textkit.bias.embeddings import load_embeddings

    def vm_size():
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize"))

    def run(case):
        limit = vm_size() + case["memory_mb"] * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            emb = load_embeddings(case["path"], **case["options"])
            outcome = {"shape": [len(emb), emb.dim]}
        except Exception as exc:
            outcome = {"error": type(exc).__name__, "message": str(exc)}
        outcome["grew_mb"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        return outcome

    reports = {}
    for case in json.load(sys.stdin):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            try:
                report = run(case)
            except BaseException as exc:
                report = {"error": type(exc).__name__, "message": str(exc)[:500], "grew_mb": -1}
            os.write(write, json.dumps(report).encode())
            os._exit(0)
        os.close(write)
        with os.fdopen(read, "rb") as pipe:
            data = pipe.read()
        _, waited = os.waitpid(pid, 0)
        reports[case["id"]] = json.loads(data) if data else {"error": f"killed (wait status {waited})"}
    print(json.dumps(reports))
    """
)


def load_limited(cases: list[dict]) -> dict[str, dict]:
    """``load_embeddings(path, **options)`` for each case in a forked, memory-limited child."""
    command = [sys.executable, "-c", _RUNNER]
    done = subprocess.run(command, input=json.dumps(cases), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- file builders: each writes the file and returns (path, load options) ----------------------


def _w2v_bin(folder, header: bytes, rows: int = 1, dim: int = 4, gz: bool = False, **options):
    path = folder / ("v.bin.gz" if gz else "v.bin")
    body = header + b"".join(b"w%d " % i + np.arange(dim, dtype="<f4").tobytes() + b"\n" for i in range(rows))
    if gz:
        with gzip.open(path, "wb") as handle:
            handle.write(body)
    else:
        path.write_bytes(body)
    return path, {"format": "word2vec-binary", **options}


def _w2v_text(folder, header: str, rows: int = 1, dim: int = 4, gz: bool = False, **options):
    path = folder / ("v.txt.gz" if gz else "v.txt")
    body = header + "".join(f"w{i} " + " ".join(["0.5"] * dim) + "\n" for i in range(rows))
    if gz:
        with gzip.open(path, "wt") as handle:
            handle.write(body)
    else:
        path.write_text(body)
    return path, {"format": "text", **options}


def _glove(folder, widths: list[int]):
    path = folder / "g.txt"
    path.write_text("".join(f"w{i} " + " ".join(["1"] * width) + "\n" for i, width in enumerate(widths)))
    return path, {"format": "glove"}


def _npy(folder, shape: tuple, keep_bytes: int | None = None, dtype: str = "<f4"):
    """An .npy whose header declares ``shape`` but whose data is cut to ``keep_bytes``."""
    path = folder / "m.npy"
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, header)
        handle.write(b"\0" * (keep_bytes if keep_bytes is not None else 64))
    (folder / "m.vocab").write_text("".join(f"w{i}\n" for i in range(shape[0] if shape[0] < 100 else 3)))
    return path, {"format": "npy"}


def _kv_with_side(folder, shape: tuple):
    """A gensim-4-style pickle whose vectors live in ``m.kv.vectors.npy`` with a lying header."""
    path = folder / "m.kv"
    path.write_bytes(_fake_gensim_pickle(["a", "b", "c"], None, 4, side_file=True))
    with open(folder / "m.kv.vectors.npy", "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {"descr": "<f4", "fortran_order": False, "shape": shape})
        handle.write(b"\0" * 48)
    return path, {"format": "kv"}


class _Reduce:
    """Pickles as ``func(*args)`` (optionally followed by ``__setstate__(state)``)."""

    def __init__(self, func, args, state=None):
        self.func, self.args, self.state = func, args, state

    def __reduce__(self):
        return (self.func, self.args) if self.state is None else (self.func, self.args, self.state)


def _kv_payload(folder, obj, protocol: int = 4):
    path = folder / "evil.kv"
    path.write_bytes(pickle.dumps({"vectors": obj, "index_to_key": ["a"]}, protocol=protocol))
    return path, {"format": "kv"}


def _reconstruct():
    from numpy._core.multiarray import _reconstruct

    return _reconstruct


_BIG_ITEM = np.dtype(("<f8", (100_000, 1000)))  # one item is 763 MiB

# (id, builder, error type name, words the message must contain)
FORMAT, PICKLE = "EmbeddingsFormatError", "UnpicklingError"
CASES = [
    # word2vec binary headers
    ("bin-petabyte-header", lambda d: _w2v_bin(d, b"3000000000 300\n"), FORMAT, ["'3000000000 300'"]),
    ("bin-1M-rows-tiny-file", lambda d: _w2v_bin(d, b"1000000 300\n"), FORMAT, ["'1000000 300'"]),
    ("bin-huge-dim", lambda d: _w2v_bin(d, b"100 1000000000\n"), FORMAT, ["'100 1000000000'"]),
    ("bin-20-digit-count", lambda d: _w2v_bin(d, b"99999999999999999999 300\n"), FORMAT, ["300"]),
    ("bin-negative-count", lambda d: _w2v_bin(d, b"-5 300\n"), FORMAT, ["'-5 300'", "N >= 0"]),
    ("bin-zero-dim", lambda d: _w2v_bin(d, b"5 0\n"), FORMAT, ["'5 0'", "D >= 1"]),
    ("bin-negative-dim", lambda d: _w2v_bin(d, b"5 -3\n"), FORMAT, ["'5 -3'"]),
    ("bin-one-row-short", lambda d: _w2v_bin(d, b"3 4\n", rows=2), FORMAT, ["'3 4'", "truncated"]),
    ("bin-gz-lying-header", lambda d: _w2v_bin(d, b"3000000 300\n", gz=True), FORMAT, ["compressed"]),
    ("bin-not-a-header", lambda d: _w2v_bin(d, b"\x89PNG\r\n"), FORMAT, ["word2vec binary header"]),
    # word2vec / fastText text headers
    ("text-petabyte-header", lambda d: _w2v_text(d, "3000000000 300\n"), FORMAT, ["'3000000000 300'"]),
    ("text-1M-rows-tiny-file", lambda d: _w2v_text(d, "1000000 300\n"), FORMAT, ["'1000000 300'"]),
    ("text-huge-dim", lambda d: _w2v_text(d, "100 100000000\n"), FORMAT, ["'100 100000000'"]),
    ("text-gz-lying-header", lambda d: _w2v_text(d, "3000000 300\n", gz=True), FORMAT, ["gz"]),
    # numpy arrays and their headers
    ("npy-112-GiB-header", lambda d: _npy(d, (100_000_000, 300)), FORMAT, ["(100000000, 300)"]),
    ("npy-truncated-rows", lambda d: _npy(d, (10, 4), keep_bytes=48), FORMAT, ["(10, 4)", "truncated"]),
    ("npy-object-dtype", lambda d: _npy(d, (3, 4), dtype="|O"), FORMAT, ["Python objects"]),
    ("kv-side-file-lying", lambda d: _kv_with_side(d, (50_000_000, 300)), FORMAT, ["m.kv.vectors.npy"]),
    # arrays built by the restricted unpickler
    ("kv-ndarray-74GiB", lambda d: _kv_payload(d, _Reduce(np.ndarray, ((100_000, 100_000),))), PICKLE, []),
    (
        "kv-ndarray-float-shape",
        lambda d: _kv_payload(d, _Reduce(np.ndarray, ((1e5, 1e5),))),
        PICKLE,
        ["not a tuple of ints"],
    ),
    (
        "kv-ndarray-negative-shape",
        lambda d: _kv_payload(d, _Reduce(np.ndarray, ((-1, 5),))),
        PICKLE,
        ["negative"],
    ),
    (
        "kv-reconstruct-huge-shape",
        lambda d: _kv_payload(d, _Reduce(_reconstruct(), (np.ndarray, (100_000, 100_000), b"b"))),
        PICKLE,
        ["(100000, 100000)"],
    ),
    (
        "kv-reconstruct-huge-item",
        lambda d: _kv_payload(d, _Reduce(_reconstruct(), (np.ndarray, (3,), _BIG_ITEM))),
        PICKLE,
        ["(3,)", "2.24 GiB"],
    ),
    (
        "kv-ndarray-huge-item",
        lambda d: _kv_payload(d, _Reduce(np.ndarray, ((3,), _BIG_ITEM))),
        PICKLE,
        ["2.24 GiB"],
    ),
    (
        "kv-scalar-huge-item",
        lambda d: _kv_payload(d, _Reduce(np._core.multiarray.scalar, (_BIG_ITEM, b"\0" * 8))),
        PICKLE,
        ["763 MiB"],
    ),
    (
        "kv-frombuffer-huge-shape",
        lambda d: _kv_payload(
            d, _Reduce(np._core.numeric._frombuffer, (b"\0" * 16, np.dtype("f8"), (100_000, 100_000), "C"))
        ),
        PICKLE,
        ["74.5 GiB"],
    ),
    (
        "kv-setstate-shape-beyond-data",
        lambda d: _kv_payload(
            d, _Reduce(_reconstruct(), (np.ndarray, (0,), b"b"), (1, (10**5, 10**5), np.dtype("f8"), False, b"\0" * 16))
        ),
        FORMAT,
        ["buffer size does not match"],
    ),
    (
        "kv-codecs-other-than-latin1",
        lambda d: _kv_payload(d, _Reduce(__import__("_codecs").encode, ("x" * 10, "zlib_codec"))),
        PICKLE,
        ["zlib_codec"],
    ),
]

# legitimate files that take the new paths: they still load
LOADS = [
    ("bin-with-limit-on-partial-file", lambda d: _w2v_bin(d, b"1000 4\n", rows=3, limit=2), [2, 4]),
    ("bin-gz-grows-its-array", lambda d: _w2v_bin(d, b"5000 4\n", rows=5000, gz=True), [5000, 4]),
    ("text-gz-grows-its-array", lambda d: _w2v_text(d, "3000 4\n", rows=3000, gz=True), [3000, 4]),
    ("glove-one-million-wide-line", lambda d: _glove(d, [1_000_000]), [1, 1_000_000]),
    ("glove-two-wide-lines", lambda d: _glove(d, [200_000, 200_000]), [2, 200_000]),
    ("text-with-limit-on-partial-file", lambda d: _w2v_text(d, "1000 4\n", rows=3, limit=2), [2, 4]),
]


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, dict]:
    cases = []
    for case_id, build, *_ in CASES + LOADS:
        path, options = build(tmp_path_factory.mktemp(case_id))
        cases.append({"id": case_id, "path": str(path), "options": options, "memory_mb": 512})
    return load_limited(cases)


@pytest.mark.parametrize("case_id, build, error, words", CASES, ids=[c[0] for c in CASES])
def test_hostile_embeddings_lying_sizes_are_refused_before_allocation(reports, case_id, build, error, words):
    report = reports[case_id]
    assert report.get("error") == error, report
    message = report["message"]
    assert case_id in message or "v.bin" in message or "v.txt" in message or ".npy" in message or ".kv" in message
    for word in words:
        assert word in message, message
    assert report["grew_mb"] < 64, report  # nothing of the declared size was allocated


@pytest.mark.parametrize("case_id, build, shape", LOADS, ids=[c[0] for c in LOADS])
def test_hostile_embeddings_honest_files_on_the_new_paths_still_load(reports, case_id, build, shape):
    report = reports[case_id]
    assert "error" not in report, report
    assert report["shape"] == shape


def test_hostile_embeddings_gz_binary_equals_plain(tmp_path):
    vectors = np.arange(40 * 3, dtype=np.float32).reshape(40, 3)
    words = [f"w{i}" for i in range(40)]
    write_word2vec_binary(tmp_path / "v.bin", words, vectors)
    with open(tmp_path / "v.bin", "rb") as src, gzip.open(tmp_path / "v.bin.gz", "wb") as dst:
        dst.write(src.read())
    plain, packed = load_embeddings(tmp_path / "v.bin"), load_embeddings(tmp_path / "v.bin.gz")
    assert plain.words == packed.words == words
    np.testing.assert_array_equal(plain.vectors, packed.vectors)


def test_hostile_embeddings_header_message_names_file_and_values(tmp_path):
    path, _ = _w2v_bin(tmp_path, b"3000000000 300\n")
    with pytest.raises(EmbeddingsFormatError) as info:
        load_embeddings(path)
    message = str(info.value)
    assert str(path) in message and "'3000000000 300'" in message and "3,000,000,000" in message
    assert "TiB" in message  # the size it would have allocated, in words


def test_hostile_embeddings_unpickler_names_the_file_and_budget(tmp_path):
    path, _ = _kv_payload(tmp_path, _Reduce(np.ndarray, ((100_000, 100_000),)))
    with pytest.raises(pickle.UnpicklingError) as info:
        load_embeddings(path)
    message = str(info.value)
    assert str(path) in message and "(100000, 100000)" in message and "74.5 GiB" in message
    # the budget is the pickle's size: a stream of known size works, an explicit one overrides
    data = path.read_bytes()
    with pytest.raises(pickle.UnpicklingError, match="holds only"):
        RestrictedUnpickler(io.BytesIO(data)).load()
    arr = np.arange(6, dtype=np.float32)
    small = pickle.dumps(arr, protocol=5)  # _frombuffer((6,) float32): 24 bytes
    with pytest.raises(pickle.UnpicklingError, match="holds only 8 bytes"):
        RestrictedUnpickler(io.BytesIO(small), max_bytes=8).load()
    np.testing.assert_array_equal(RestrictedUnpickler(io.BytesIO(small)).load(), arr)
