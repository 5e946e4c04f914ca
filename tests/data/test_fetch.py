"""Fetching against a local HTTP server on 127.0.0.1 (this machine has no internet)."""

import hashlib
import http.server
import io
import tarfile
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from textkit import data
from textkit.data import cache as fetch_module
from textkit.data.registry import Manifest, Source, parse_manifest


class _Handler(http.server.SimpleHTTPRequestHandler):
    hits: list = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        _Handler.hits.append(self.path)
        if self.path == "/truncated.csv":
            # Promise 1000 bytes, send 10, hang up: an interrupted download.
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"text,label")
            self.wfile.flush()
            self.connection.close()
            return
        super().do_GET()


@pytest.fixture
def http_root(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = lambda *a, **k: _Handler(*a, directory=str(root), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _sha(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def _manifest(name, sources, files, tmp_path, reader="files", kind="files", splits=("all",)):
    return Manifest(
        name=name,
        description="test",
        licence="test",
        citation="test",
        kind=kind,
        reader=reader,
        splits=tuple(splits),
        sources=tuple(sources),
        files=files,
        path=tmp_path / f"{name}.toml",
    )


def test_fetch_url_plain_file_verifies_and_caches(http_root, isolated_home, tmp_path):
    root, base = http_root
    payload = "text,label\nhello,pos\n".encode()
    (root / "tiny.csv").write_bytes(payload)
    manifest = _manifest(
        "tiny", [Source(type="url", url=f"{base}/tiny.csv", path="tiny.csv")], {"tiny.csv": _sha(payload)}, tmp_path
    )
    folder = fetch_module.fetch(manifest)
    assert (folder / "tiny.csv").read_bytes() == payload
    assert folder == isolated_home / "corpora" / "tiny"


def test_fetch_once_cached_works_offline(http_root, isolated_home, tmp_path):
    root, base = http_root
    payload = b"cached"
    (root / "c.txt").write_bytes(payload)
    manifest = _manifest(
        "offline", [Source(type="url", url=f"{base}/c.txt", path="c.txt")], {"c.txt": _sha(payload)}, tmp_path
    )
    fetch_module.fetch(manifest)
    (root / "c.txt").unlink()  # the "internet" is gone
    assert (fetch_module.fetch(manifest) / "c.txt").read_bytes() == payload


def test_fetch_wrong_checksum_names_file_and_both_hashes(http_root, isolated_home, tmp_path):
    root, base = http_root
    (root / "x.txt").write_bytes(b"actual content")
    wrong = "0" * 64
    manifest = _manifest("bad-sum", [Source(type="url", url=f"{base}/x.txt", path="x.txt")], {"x.txt": wrong}, tmp_path)
    with pytest.raises(data.FetchError) as info:
        fetch_module.fetch(manifest)
    message = str(info.value)
    assert "bad-sum/x.txt" in message and wrong in message and _sha(b"actual content") in message
    assert not (isolated_home / "corpora" / "bad-sum").exists()


def test_fetch_interrupted_download_leaves_nothing_behind(http_root, isolated_home, tmp_path):
    _, base = http_root
    manifest = _manifest(
        "cut", [Source(type="url", url=f"{base}/truncated.csv", path="t.csv")], {"t.csv": "a" * 64}, tmp_path
    )
    with pytest.raises(data.FetchError, match="interrupted|failed"):
        fetch_module.fetch(manifest)
    corpora = isolated_home / "corpora"
    assert not (corpora / "cut").exists()
    assert not any(corpora.rglob("*.csv"))


def test_fetch_concurrent_callers_fetch_once_and_all_succeed(http_root, isolated_home, tmp_path):
    root, base = http_root
    payload = b"x" * 200_000
    (root / "big.txt").write_bytes(payload)
    manifest = _manifest(
        "shared", [Source(type="url", url=f"{base}/big.txt", path="big.txt")], {"big.txt": _sha(payload)}, tmp_path
    )
    _Handler.hits.clear()
    with ThreadPoolExecutor(4) as pool:
        folders = list(pool.map(lambda _: fetch_module.fetch(manifest), range(4)))
    assert len(set(folders)) == 1 and (folders[0] / "big.txt").read_bytes() == payload
    assert _Handler.hits.count("/big.txt") == 1


def test_fetch_falls_back_to_the_next_source(http_root, isolated_home, tmp_path):
    root, base = http_root
    payload = b"from the mirror"
    (root / "m.txt").write_bytes(payload)
    sources = [
        Source(type="url", url=f"{base}/missing.txt", path="m.txt"),
        Source(type="url", url=f"{base}/m.txt", path="m.txt"),
    ]
    folder = fetch_module.fetch(_manifest("mirror", sources, {"m.txt": _sha(payload)}, tmp_path))
    assert (folder / "m.txt").read_bytes() == payload


def test_fetch_zip_and_tar_members_under_a_root(http_root, isolated_home, tmp_path):
    root, base = http_root
    files = {"a/1.txt": b"one", "a/2.txt": b"two"}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for rel, payload in files.items():
            archive.writestr(f"pkg/data/{rel}", payload)
        archive.writestr("pkg/other.py", b"ignored")
    (root / "pkg.zip").write_bytes(buffer.getvalue())
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for rel, payload in files.items():
            info = tarfile.TarInfo(f"package/{rel}")
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    (root / "pkg.tgz").write_bytes(buffer.getvalue())
    sums = {rel: _sha(p) for rel, p in files.items()}
    for name, source in [
        ("zipped", Source(type="url", url=f"{base}/pkg.zip", archive="zip", members_root="pkg/data/")),
        ("tarred", Source(type="url", url=f"{base}/pkg.tgz", archive="tar", members_root="package/")),
    ]:
        folder = fetch_module.fetch(_manifest(name, [source], sums, tmp_path))
        assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.txt")) == ["a/1.txt", "a/2.txt"]
        assert not (folder / "other.py").exists()


def test_fetch_never_writes_outside_the_corpus_folder(http_root, isolated_home, tmp_path):
    root, base = http_root
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data/../../evil.txt", b"x")
        archive.writestr("data/ok.txt", b"ok")
    (root / "evil.zip").write_bytes(buffer.getvalue())
    manifest = _manifest(
        "unpinned", [Source(type="url", url=f"{base}/evil.zip", archive="zip", members_root="data/")], {}, tmp_path
    )
    folder = fetch_module.fetch(manifest)
    assert [p.name for p in folder.rglob("*.txt")] == ["ok.txt"]
    assert not (isolated_home / "evil.txt").exists()


def test_fetch_unpinned_records_hashes_and_detects_later_corruption(http_root, isolated_home, tmp_path):
    root, base = http_root
    (root / "u.txt").write_bytes(b"unpinned")
    manifest = _manifest("tofu", [Source(type="url", url=f"{base}/u.txt", path="u.txt")], {}, tmp_path)
    folder = fetch_module.fetch(manifest)
    (folder / "u.txt").write_bytes(b"tampered")
    with pytest.raises(data.ChecksumError, match="corrupted"):
        fetch_module.fetch(manifest)


def test_fetch_corrupted_cached_file_is_a_clear_error(http_root, isolated_home, tmp_path):
    root, base = http_root
    (root / "k.txt").write_bytes(b"good bytes")
    manifest = _manifest(
        "corrupt", [Source(type="url", url=f"{base}/k.txt", path="k.txt")], {"k.txt": _sha(b"good bytes")}, tmp_path
    )
    folder = fetch_module.fetch(manifest)
    (folder / "k.txt").write_bytes(b"good byt")  # truncated on disk
    with pytest.raises(data.ChecksumError) as info:
        fetch_module.fetch(manifest)
    assert _sha(b"good bytes") in str(info.value) and "--force" in str(info.value)
    assert (fetch_module.fetch(manifest, force=True) / "k.txt").read_bytes() == b"good bytes"


def test_fetch_apt_stale_list_message_for_non_root(monkeypatch, tmp_path):
    class Done:
        returncode = 100
        stderr = "E: Unable to locate package sword-text-kjv"

    monkeypatch.setattr(fetch_module, "_run", lambda *a, **k: Done())
    monkeypatch.setattr(fetch_module.os, "geteuid", lambda: 1000)
    with pytest.raises(data.FetchError, match="apt-get update"):
        fetch_module._fetch_debian(Source(type="debian", package="sword-text-kjv"), tmp_path)


def test_manifest_with_malformed_checksum_is_rejected(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text(
        'name = "broken"\nkind = "plain"\nreader = "files"\ndescription = "d"\nlicence = "l"\ncitation = "c"\n'
        '[[sources]]\ntype = "url"\nurl = "http://127.0.0.1/x"\n[files]\n"x" = "not-a-hash"\n'
    )
    with pytest.raises(ValueError, match="64 lowercase hex"):
        parse_manifest(path)


def test_manifest_with_unknown_source_type_is_rejected(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text(
        'name = "broken"\nkind = "plain"\nreader = "files"\ndescription = "d"\nlicence = "l"\ncitation = "c"\n'
        '[[sources]]\ntype = "ftp"\n'
    )
    with pytest.raises(ValueError, match="type 'ftp'"):
        parse_manifest(path)


def test_unknown_corpus_lists_the_known_ones():
    with pytest.raises(KeyError, match="rotten-tomatoes"):
        data.load("rotten-potatoes")


def test_every_shipped_manifest_parses_and_pins_or_says_why():
    manifests = {name: data.info(name) for name in data.list_corpora()}
    assert {"rotten-tomatoes", "bbc-news", "brown", "bible-kjv", "bible-web", "bible-rv1909", "bible-es-en"} <= set(
        manifests
    )
    for name, manifest in manifests.items():
        if manifest.composite:  # a mix of other corpora: each part is pinned by its own manifest
            assert not manifest.sources and not manifest.files, name
            assert all(part["corpus"] in manifests for part in manifest.options["parts"]), name
            continue
        assert manifest.sources, name
        if manifest.files:
            assert manifest.pinned, f"{name} lists files without sha256"
        else:
            assert "recorded at first fetch" in manifest.description, name
    assert Path(manifests["brown"].path).parent.name == "corpora"
