"""Corpus downloads show their progress: a tqdm bar on a terminal, one line per stage (which
source, the download, the sha256 check) when stderr is piped. Served from 127.0.0.1."""

from __future__ import annotations

import hashlib
import http.server
import io
import sys
import threading

import pytest

from textkit._progress import Stage
from textkit.data import cache as fetch_module
from textkit.data.registry import Manifest, Source


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def served(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    payload = b"text,label\n" + b"a fine film,pos\n" * 100_000
    (root / "reviews.csv").write_bytes(payload)
    handler = lambda *a, **k: _Quiet(*a, directory=str(root), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    manifest = Manifest(
        name="progress-test",
        description="test",
        licence="test",
        citation="test",
        kind="files",
        reader="files",
        splits=("all",),
        sources=(Source(type="url", url=f"http://127.0.0.1:{server.server_address[1]}/reviews.csv"),),
        files={"reviews.csv": hashlib.sha256(payload).hexdigest()},
        path=tmp_path / "progress-test.toml",
    )
    yield manifest, len(payload)
    server.shutdown()
    server.server_close()


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_fetch_progress_piped_is_one_line_per_stage(served, isolated_home, capsys):
    manifest, size = served
    fetch_module.fetch(manifest)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3, lines
    assert lines[0] == f"fetching corpus progress-test from {manifest.sources[0].describe()}"
    assert lines[1].startswith(f"progress-test: download: reviews.csv, {size / 1e6:.1f} MB (")
    assert lines[2].startswith("progress-test: verify: 1 files, ") and "sha256 checked (" in lines[2]
    assert "\r" not in capsys.readouterr().err
    fetch_module.fetch(manifest)  # cached: nothing to show
    assert capsys.readouterr().err == ""


def test_fetch_progress_on_a_terminal_is_a_bar(served, isolated_home, monkeypatch):
    manifest, _ = served
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    fetch_module.fetch(manifest)
    shown = terminal.getvalue()
    assert "\r" in shown and "progress-test: download" in shown and "B/s" in shown  # tqdm's byte rate


def test_download_command_moves_the_bar_while_it_runs(tmp_path, monkeypatch):
    """pip, npm and apt-get write into their folder as they go: the bar follows its size."""
    monkeypatch.setattr(sys, "stderr", _Terminal())
    with Stage("download", unit="B", unit_scale=True) as stage:
        command = ["sh", "-c", "head -c 300000 /dev/zero > part; sleep 0.8; head -c 200000 /dev/zero >> part"]
        done = fetch_module._run(command, tmp_path, "test download", stage)
        assert done.returncode == 0
        assert stage.bar.n >= 300_000
