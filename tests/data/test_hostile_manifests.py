"""Hostile corpus manifests (issue 28): a manifest on $TEXTKIT_CORPORA_PATH is untrusted.

Each case asserts the error names the culprit, and that nothing outside the intended folder
changed: a corpus name is one folder name, every file a manifest names stays inside the
corpus folder, `--force` removes only the cache's own entry, and a manifest or checksum list
is read only from a small regular file.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from textkit import data
from textkit.data import cache as fetch_module
from textkit.data.readers import READERS
from textkit.data.registry import (
    Manifest,
    Source,
    check_corpus_name,
    check_relative_path,
    get_manifest,
    parse_manifest,
)

TEXTKIT = Path(sys.executable).with_name("textkit")
PAYLOAD = b"hello corpus\n"
SHA = hashlib.sha256(PAYLOAD).hexdigest()


def snapshot(root: Path) -> dict[str, object]:
    """Every entry under ``root``: a link's target, a file's sha256, or 'dir'."""
    seen: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in dirnames + filenames:
            path = Path(dirpath) / entry
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                seen[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                seen[rel] = "dir"
            elif path.is_file():
                seen[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                seen[rel] = "special"
    return seen


def manifest_text(
    *,
    name: str = '"tiny"',
    source: str = 'type = "url"\nurl = "{url}"\npath = "x.txt"',
    files: str = '"x.txt" = "{sha}"',
    top: str = "",
    reader: str = '"files"',
    options: str = "",
) -> str:
    return (
        f'name = {name}\nkind = "files"\nreader = {reader}\ndescription = "d"\nlicence = "l"\ncitation = "c"\n'
        f'splits = ["all"]\n{top}\n[[sources]]\n{source}\n[files]\n{files}\n'
        + (f"[options]\n{options}\n" if options else "")
    )


@pytest.fixture
def served(tmp_path) -> str:
    """A file:// URL of PAYLOAD: fetching runs offline, as from a real URL."""
    path = tmp_path / "served" / "x.txt"
    path.parent.mkdir()
    path.write_bytes(PAYLOAD)
    return path.as_uri()


@pytest.fixture
def victim(tmp_path) -> Path:
    """A folder outside the cache that a hostile manifest aims at."""
    folder = tmp_path / "victim"
    folder.mkdir()
    (folder / "precious.txt").write_text("keep me")
    return folder


# --- corpus names --------------------------------------------------------------------------------

BAD_NAMES = [
    ('"../../victim"', "'../../victim' is not a usable corpus name"),
    ('"/tmp/abs"', "'/tmp/abs' is not a usable corpus name"),
    ('"a/b"', "'a/b' is not a usable corpus name"),
    ('"a\\\\b"', r"'a\\\\b' is not a usable corpus name"),
    ('".hidden"', "'.hidden' is not a usable corpus name"),
    ('".."', r"'\.\.' is not a usable corpus name"),
    ('""', "'' is not a usable corpus name"),
    ('"nul\\u0000name"', "is not a usable corpus name"),
    ('"tab\\tname"', "is not a usable corpus name"),
    ("5", "name is a int; write it as a string"),
]


@pytest.mark.parametrize(("name", "message"), BAD_NAMES, ids=[n for n, _ in BAD_NAMES])
def test_hostile_manifest_name_is_refused(tmp_path, served, victim, name, message):
    path = tmp_path / "m" / "bad.toml"
    path.parent.mkdir()
    path.write_text(manifest_text(name=name).format(url=served, sha=SHA), encoding="utf-8")
    before = snapshot(tmp_path)
    with pytest.raises(ValueError, match=message) as info:
        parse_manifest(path)
    assert str(path) in str(info.value)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("name", ["../../victim", "/etc", "a/b", "..", "", ".x", "a\x00b", "a\\b"])
def test_hostile_name_asked_for_is_refused_before_any_lookup(name, isolated_home):
    with pytest.raises(ValueError, match="not a usable corpus name"):
        get_manifest(name)
    with pytest.raises(ValueError, match="not a usable corpus name"):
        fetch_module.corpus_dir(name)
    assert not isolated_home.exists()


def test_hostile_name_checks_accept_ordinary_names():
    for name in ("rotten-tomatoes", "bible_kjv", "glove-6b-50d", "en.mix", "x"):
        assert check_corpus_name(name) == name
    for rel in ("a.txt", "pkg/data/a.txt", "./a.txt", ".hidden/a"):
        assert check_relative_path(rel, "t") == rel


# --- files a manifest names ----------------------------------------------------------------------

BAD_FILES = [
    ('"../../../../tmp/x" = "{sha}"', "'../../../../tmp/x' would leave its folder"),
    ('"/etc/passwd" = "{sha}"', "'/etc/passwd' would leave its folder"),
    ('"a/../../b" = "{sha}"', "'a/../../b' would leave its folder"),
    ('"a\\\\..\\\\b" = "{sha}"', "would leave its folder"),
    ('"a//b" = "{sha}"', "'a//b' would leave its folder"),
    ('"" = "{sha}"', "'' is not a file path"),
    ('".textkit-verified.json" = "{sha}"', "textkit's own record of a fetch"),
    ('"x.txt" = 5', "the sha256 for 'x.txt' is a int"),
]


@pytest.mark.parametrize(("files", "message"), BAD_FILES, ids=[f.split(" = ")[0] for f, _ in BAD_FILES])
def test_hostile_manifest_files_stay_inside_the_corpus_folder(tmp_path, served, files, message):
    path = tmp_path / "m" / "bad.toml"
    path.parent.mkdir()
    path.write_text(manifest_text(files=files).format(url=served, sha=SHA), encoding="utf-8")
    before = snapshot(tmp_path)
    with pytest.raises(ValueError, match=message):
        parse_manifest(path)
    assert snapshot(tmp_path) == before


BAD_SOURCES = [
    ('type = "url"\nurl = "{url}"\npath = "../../../../tmp/x"', "source 0: path: the path '../../../../tmp/x'"),
    ('type = "url"\nurl = "{url}"\npath = "/tmp/x"', "source 0: path: the path '/tmp/x'"),
    ('type = "url"\nurl = "{url}"\nfoo = "1"', r"source 0 has unknown keys \['foo'\]"),
    ('type = "url"\nurl = 5', "source 0: url is a int; write it as a string"),
    ('type = "url"\nurl = "{url}"\narchive = "rar"', "archive must be one of"),
    ('type = "ftp"\nurl = "{url}"', "type 'ftp'"),
]


@pytest.mark.parametrize(("source", "message"), BAD_SOURCES, ids=[s.split("\n")[-1] for s, _ in BAD_SOURCES])
def test_hostile_manifest_sources_are_checked(tmp_path, served, source, message):
    path = tmp_path / "m" / "bad.toml"
    path.parent.mkdir()
    path.write_text(manifest_text(source=source).format(url=served, sha=SHA), encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        parse_manifest(path)


BAD_FIELDS = [
    ({"top": "checksums_file = 5"}, "checksums_file: 5 is not a file path"),
    ({"reader": '"composite"'}, "a composite corpus needs options.parts"),
    ({"reader": '"composite"', "options": 'parts = [{{ corpus = "../x", document = "file" }}]'}, "parts.0..corpus"),
    ({"reader": '"composite"', "options": "parts = [{{ weight = 1 }}]"}, r"parts\[0\] needs corpus and document"),
    ({"top": 'checksums_file = "/etc/passwd"'}, "checksums_file: the path '/etc/passwd' would leave its folder"),
    ({"top": 'checksums_file = "../outside.sha256"'}, "the path '../outside.sha256' would leave its folder"),
]


@pytest.mark.parametrize(("fields", "message"), BAD_FIELDS, ids=[m[:30] for _, m in BAD_FIELDS])
def test_hostile_manifest_fields_are_checked(tmp_path, served, fields, message):
    (tmp_path / "outside.sha256").write_text(f"{SHA}  x.txt\n")
    path = tmp_path / "m" / "bad.toml"
    path.parent.mkdir()
    path.write_text(manifest_text(**fields).format(url=served, sha=SHA), encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        parse_manifest(path)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('splits = "all"', "splits must be a list of strings"),
        ('sources = ["x"]', "source 0 is a str; write each source as a"),
        ("files = 5", "files must be a table"),
        ("description = 5", "description is a int"),
    ],
)
def test_hostile_manifest_types_are_errors_not_tracebacks(tmp_path, raw, message):
    path = tmp_path / "bad.toml"
    required = {"name": '"t"', "kind": '"files"', "reader": '"files"', "description": '"d"', "licence": '"l"'}
    required["citation"] = '"c"'
    key = raw.split(" = ")[0]
    lines = [f"{k} = {v}" for k, v in required.items() if k != key] + [raw]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=message):
        parse_manifest(path)


def test_hostile_unknown_reader_is_named(tmp_path, monkeypatch, served):
    _write_manifest(tmp_path, monkeypatch, manifest_text(reader='"no_such_reader"').format(url=served, sha=SHA))
    with pytest.raises(ValueError, match="unknown corpus reader 'no_such_reader' in a manifest; a reader is one of"):
        data.load("tiny", data_dir=tmp_path)


def test_hostile_checksum_list_link_out_of_the_manifest_folder(tmp_path, served):
    (tmp_path / "secret.txt").write_text("not a checksum list: a secret\n")
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "sums.sha256").symlink_to(tmp_path / "secret.txt")
    path = folder / "bad.toml"
    path.write_text(manifest_text(top='checksums_file = "sums.sha256"').format(url=served, sha=SHA))
    with pytest.raises(ValueError, match="leads outside") as info:
        parse_manifest(path)
    assert "a secret" not in str(info.value)  # its lines never reach a message


def test_hostile_checksum_list_entry_leaving_the_folder(tmp_path, served):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "sums.sha256").write_text(f"{SHA}  x.txt\n{SHA}  ../../escape.txt\n")
    path = folder / "bad.toml"
    path.write_text(manifest_text(top='checksums_file = "sums.sha256"').format(url=served, sha=SHA))
    with pytest.raises(ValueError, match=r"sums.sha256:2: the path '../../escape.txt' would leave its folder"):
        parse_manifest(path)


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "huge", "not-utf8", "folder"])
def test_hostile_manifest_file_itself(tmp_path, kind):
    """A manifest or checksum list that is a FIFO, a device, a huge or binary file is refused at
    once, without blocking or reading it whole."""
    folder = tmp_path / "m"
    folder.mkdir()
    path = folder / "bad.toml"
    if kind == "fifo":
        os.mkfifo(path)  # no writer: opening it blocking would hang the test
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "huge":
        path.write_bytes(b"# " + b"x" * (2 << 20) + b"\n")
    elif kind == "not-utf8":
        path.write_bytes(b'name = "caf\xe9"\n')
    else:
        path.mkdir()
    message = {"huge": "is over 1,048,576 bytes", "not-utf8": "byte offset 11 is not valid UTF-8"}.get(
        kind, "is not a regular file|cannot be read"
    )
    with pytest.raises(ValueError, match=message) as info:
        parse_manifest(path)
    assert str(path) in str(info.value)


def test_hostile_checksum_list_fifo_is_refused_without_blocking(tmp_path, served):
    folder = tmp_path / "m"
    folder.mkdir()
    os.mkfifo(folder / "sums.sha256")
    path = folder / "bad.toml"
    path.write_text(manifest_text(top='checksums_file = "sums.sha256"').format(url=served, sha=SHA))
    with pytest.raises(ValueError, match="checksum list .*sums.sha256 is not a regular file"):
        parse_manifest(path)


# --- fetching: nothing written or deleted outside the cache ------------------------------------


def _write_manifest(tmp_path: Path, monkeypatch, text: str) -> Path:
    folder = tmp_path / "manifests"
    folder.mkdir(exist_ok=True)
    path = folder / "hostile.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("TEXTKIT_CORPORA_PATH", str(folder))
    return path


def test_hostile_issue_case_path_escape_writes_nothing(tmp_path, monkeypatch, isolated_home, served):
    """The issue's case: ``path = "../../../../tmp/x"`` in a url source on $TEXTKIT_CORPORA_PATH."""
    escape = "../../../escaped.txt"  # from $TEXTKIT_HOME/corpora/tiny/ to tmp_path/
    text = manifest_text(
        source=f'type = "url"\nurl = "{{url}}"\npath = "{escape}"', files=f'"{escape}" = "{{sha}}"'
    ).format(url=served, sha=SHA)
    _write_manifest(tmp_path, monkeypatch, text)
    before = snapshot(tmp_path)
    with pytest.raises(ValueError, match="would leave its folder"):
        data.fetch("tiny")
    assert snapshot(tmp_path) == before
    assert not (tmp_path / "escaped.txt").exists()


def test_hostile_force_never_deletes_outside_the_cache(tmp_path, monkeypatch, isolated_home, served, victim):
    """The issue's case: ``name = "../../victim"`` with ``corpora get ../../victim --force``."""
    _write_manifest(tmp_path, monkeypatch, manifest_text(name='"../../victim"').format(url=served, sha=SHA))
    before = snapshot(victim)
    with pytest.raises(ValueError, match="not a usable corpus name"):
        data.fetch("../../victim", force=True)
    assert snapshot(victim) == before


def test_hostile_force_on_a_cache_entry_that_links_outside(tmp_path, monkeypatch, isolated_home, served, victim):
    """A cache entry that is a link to a folder elsewhere: --force unlinks it, never empties
    what it points at."""
    _write_manifest(tmp_path, monkeypatch, manifest_text().format(url=served, sha=SHA))
    (isolated_home / "corpora").mkdir(parents=True)
    (isolated_home / "corpora" / "tiny").symlink_to(victim, target_is_directory=True)
    before = snapshot(victim)
    folder = data.fetch("tiny", force=True)
    assert snapshot(victim) == before
    assert not folder.is_symlink() and (folder / "x.txt").read_bytes() == PAYLOAD


def test_hostile_cached_file_swapped_for_a_link_outside(tmp_path, monkeypatch, isolated_home, served):
    """A cached file replaced by a link to a file outside (same bytes, so the sha256 matches):
    refused, so a reader never reads outside the corpus folder."""
    _write_manifest(tmp_path, monkeypatch, manifest_text().format(url=served, sha=SHA))
    folder = data.fetch("tiny")
    outside = tmp_path / "outside.txt"
    outside.write_bytes(PAYLOAD)
    (folder / "x.txt").unlink()
    (folder / "x.txt").symlink_to(outside)
    with pytest.raises(data.ChecksumError, match="leads outside"):
        data.fetch("tiny")


@pytest.mark.parametrize("recorded", ['{"../../outside.txt": "%s"}' % SHA, "not json", '["x"]', '{"x.txt": 5}'])
def test_hostile_damaged_fetch_record(tmp_path, monkeypatch, isolated_home, served, recorded):
    """An unpinned corpus's record of its fetch, tampered with: a clear ChecksumError, and no
    file outside the folder is read."""
    _write_manifest(tmp_path, monkeypatch, manifest_text(files="").format(url=served, sha=SHA))
    folder = data.fetch("tiny")
    (tmp_path / "outside.txt").write_bytes(PAYLOAD)
    (folder / ".textkit-verified.json").write_text(recorded)
    with pytest.raises(data.ChecksumError, match="would leave its folder|is damaged"):
        data.fetch("tiny")


def test_hostile_archive_members_never_land_outside(tmp_path, isolated_home):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member in ("/abs.txt", "../../up.txt", "ok/../../../x.txt", "ok.txt"):
            info = tarfile.TarInfo(member)
            info.size = len(PAYLOAD)
            archive.addfile(info, io.BytesIO(PAYLOAD))
    served = tmp_path / "pkg.tgz"
    served.write_bytes(buffer.getvalue())
    manifest = Manifest(
        name="tarred",
        description="d",
        licence="l",
        citation="c",
        kind="files",
        reader="files",
        splits=("all",),
        sources=(Source(type="url", url=served.as_uri(), archive="tar"),),
        files={},
        path=tmp_path / "tarred.toml",
    )
    before = snapshot(tmp_path)
    folder = fetch_module.fetch(manifest)
    assert sorted(p.name for p in folder.iterdir()) == [".textkit-verified.json", "ok.txt"]
    after = snapshot(tmp_path)
    assert {k for k in after if k not in before and not k.startswith("textkit-home")} == set()


@pytest.mark.parametrize(
    ("reader", "options", "message"),
    [
        ("news_articles", {"archive": "../outside.zip", "member": "a.csv"}, "options.archive: the path"),
        ("news_articles", {"archive": "/etc/passwd", "member": "a.csv"}, "options.archive: the path '/etc/passwd'"),
        ("news_articles", {"archive": "link.zip", "member": "a.csv"}, "options.archive: .* leads outside"),
        ("sword_commentary", {"module_dir": "/etc"}, "options.module_dir: the path '/etc'"),
        ("gcide", {"dictionary": "../../x"}, "options.dictionary: the path '../../x.index'"),
        ("wordnet_glosses", {"dictionary": "/tmp/x"}, "options.dictionary: the path '/tmp/x.index'"),
        ("wiki_summaries", {"files": {"en": "../../secret.json"}}, "options.files: the path '../../secret.json'"),
        ("help_parallel", {"source_language": "../..", "target_language": "en"}, "options.source_language"),
        ("bible", {}, "reader 'bible' needs options.module; add it under"),
        ("news_articles", {"member": "a.csv"}, "needs options.archive"),
        ("composite", {"parts": [{"weight": 1}]}, "options.parts must be a list of tables with corpus"),
    ],
)
def test_hostile_reader_options_stay_inside_the_corpus_folder(tmp_path, reader, options, message):
    root = tmp_path / "corpus"
    root.mkdir()
    (tmp_path / "outside.zip").write_bytes(b"PK")
    (root / "link.zip").symlink_to(tmp_path / "outside.zip")
    manifest = Manifest(
        name="hostile",
        description="d",
        licence="l",
        citation="c",
        kind="plain",
        reader=reader,
        splits=("train", "valid", "test"),
        sources=(),
        files={},
        options=options,
        path=tmp_path / "hostile.toml",
    )
    with pytest.raises(ValueError, match=message):
        READERS[reader](root, manifest, None)


# --- the command line: exit 1, one message, no traceback ---------------------------------------


def _textkit(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(TEXTKIT), *args], capture_output=True, text=True, env={**os.environ, **env}, cwd=cwd, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "manifest", "message"),
    [
        (["corpora", "get", "../../victim", "--force"], {"name": '"../../victim"'}, "not a usable corpus name"),
        (["corpora", "list"], {"name": '"../../victim"'}, "hostile.toml: name: '../../victim' is not a usable"),
        (["corpora", "get", "tiny"], {"files": '"../../../victim/precious.txt" = "{sha}"'}, "would leave its folder"),
        (["corpora", "info", "tiny"], {"source": 'type = "url"\nurl = "{url}"\nbogus = "1"'}, "unknown keys"),
        (["corpora", "get", "../victim"], {}, "'../victim' is not a usable corpus name"),
        (["corpora", "get", "tiny"], {"reader": '"no_such_reader"'}, "unknown corpus reader 'no_such_reader'"),
    ],
)
def test_hostile_manifest_on_the_command_line(tmp_path, served, victim, args, manifest, message):
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "hostile.toml").write_text(manifest_text(**manifest).format(url=served, sha=SHA))
    work = tmp_path / "work"
    work.mkdir()
    env = {"TEXTKIT_HOME": str(tmp_path / "home"), "TEXTKIT_CORPORA_PATH": str(folder)}
    before = snapshot(victim)
    proc = _textkit(args, env, work)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and message in proc.stderr
    assert snapshot(victim) == before
