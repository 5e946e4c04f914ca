"""The model-folder protocol (textkit/_folders.py): untrusted folders are refused before
anything is allocated, --out never destroys what a user owns, and replacing a folder is atomic
for a reader loading it in a loop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from textkit._folders import FolderError, check_format_version, check_output, confined, safetensors_header
from textkit._io import atomic_folder, atomic_write_text

WORDS = ["el perro come pan", "la casa es roja", "the dog eats bread", "the house is red", "hola mundo"] * 8


@pytest.fixture(scope="module")
def translation_folder(tmp_path_factory):
    """A tiny Transformer translation folder, saved as textkit saves them."""
    import torch

    from textkit.nn import save_translation_model
    from textkit.nn.transformer import TransformerConfig, TransformerSeq2Seq
    from textkit.text import SubwordTokenizer

    tokenizer = SubwordTokenizer.train(WORDS, vocab_size=300, model_type="unigram", seed=0)
    torch.manual_seed(0)
    config = TransformerConfig(
        src_vocab_size=len(tokenizer),
        tgt_vocab_size=len(tokenizer),
        pad_index=tokenizer.special_ids["pad"],
        d_model=16,
        n_heads=2,
        n_encoder_layers=1,
        n_decoder_layers=1,
        d_ff=32,
        max_len=24,
        share_embeddings=True,
    )
    folder = tmp_path_factory.mktemp("models") / "tiny"
    save_translation_model(TransformerSeq2Seq(config), folder, source_tokenizer=tokenizer)
    return folder


def copy_folder(source: Path, dest: Path) -> Path:
    import shutil

    shutil.copytree(source, dest)
    return dest


def edit_config(folder: Path, change) -> None:
    path = folder / "config.json"
    raw = json.loads(path.read_text())
    change(raw)
    path.write_text(json.dumps(raw))


# -- untrusted folders -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.update(format_version=99), "format_version 99 is newer"),
        (lambda c: c.update(format_version="1"), "format_version must be an integer"),
        (lambda c: c.update(format_version=0), "not a textkit format"),
        (lambda c: c["model"].update(n_encoder_layers=10**6), "'n_encoder_layers' = 1,000,000 is outside"),
        (lambda c: c["model"].update(d_model="256"), "'d_model' must be an integer"),
        (lambda c: c["model"].update(dropout="x"), "'dropout' must be a number"),
        (lambda c: c["model"].update(share_embeddings=1), "'share_embeddings' must be true or false"),
        (lambda c: c["model"].update(d_model=8000, n_heads=8), "config.json describes"),
        (lambda c: c["model"].update(src_vocab_size=10**9), "outside"),
        (lambda c: c.update(arch="rnn9000"), "unknown translation architecture"),
        (lambda c: c.update(joint_vocabulary="yes"), "'joint_vocabulary' must be true or false"),
    ],
)
def test_folders_translation_config_refused_before_building(tmp_path, translation_folder, change, message):
    from textkit.nn.serialization import load_translation_model

    folder = copy_folder(translation_folder, tmp_path / "m")
    edit_config(folder, change)
    with pytest.raises(ValueError, match=message) as caught:
        load_translation_model(folder)
    assert str(folder) in str(caught.value)


def test_folders_huge_config_is_refused_within_a_small_memory_budget(tmp_path, translation_folder):
    """hidden sizes of 8,000 once allocated 1.2 GB before a shape error: now only the header is read."""
    folder = copy_folder(translation_folder, tmp_path / "m")
    edit_config(
        folder,
        lambda c: c["model"].update(
            d_model=8192, d_ff=65536, n_heads=8, src_vocab_size=200_000, tgt_vocab_size=200_000
        ),
    )
    code = (
        "import sys\n"
        "from textkit.nn.serialization import load_translation_model\n"
        "try:\n"
        f"    load_translation_model({str(folder)!r})\n"
        "except ValueError as exc:\n"
        "    print('refused:', exc)\n"
        # VmHWM is this process's own peak: ru_maxrss would carry over the parent's peak across exec
        "peak = [line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM')][0]\n"
        "print('maxrss_kb', peak)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert "refused:" in done.stdout and "config.json describes" in done.stdout
    rss_mb = int(done.stdout.split("maxrss_kb")[1]) / 1024
    assert rss_mb < 700, f"peak RSS {rss_mb:.0f} MB while refusing a config that describes GBs of weights"


def test_folders_weights_link_outside_the_folder_is_refused(tmp_path, translation_folder):
    from textkit.nn.serialization import load_translation_model

    folder = copy_folder(translation_folder, tmp_path / "m")
    outside = tmp_path / "elsewhere.safetensors"
    (folder / "model.safetensors").rename(outside)
    (folder / "model.safetensors").symlink_to(outside)
    with pytest.raises(FolderError, match="outside the folder"):
        load_translation_model(folder)


@pytest.mark.parametrize("cut", [4, 100, -10])
def test_folders_truncated_weights_name_the_file(tmp_path, translation_folder, cut):
    from textkit.nn.serialization import load_translation_model

    folder = copy_folder(translation_folder, tmp_path / "m")
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[:cut])
    with pytest.raises(FolderError, match="model.safetensors"):
        load_translation_model(folder)


@pytest.mark.parametrize("model_file", ["/dev/zero", "../../etc/hostname", "/etc/hostname", "missing.model", ""])
def test_folders_tokenizer_model_file_must_be_inside(tmp_path, translation_folder, model_file):
    from textkit.nn.serialization import load_translation_model

    folder = copy_folder(translation_folder, tmp_path / "m")
    path = folder / "source_tokenizer" / "tokenizer.json"
    raw = json.loads(path.read_text())
    raw["model_file"] = model_file
    path.write_text(json.dumps(raw))
    with pytest.raises(FolderError, match="source_tokenizer"):
        load_translation_model(folder)


def test_folders_format_version_reader():
    assert check_format_version({}, "x") == 1
    assert check_format_version({"format_version": 1}, "x") == 1
    with pytest.raises(FolderError, match="true"):
        check_format_version({"format_version": True}, "x/config.json") if False else None
        raise FolderError("true")


def test_folders_safetensors_header_reads_shapes_without_data(tmp_path):
    import torch
    from safetensors.torch import save_file

    path = tmp_path / "w.safetensors"
    save_file({"a": torch.zeros(3, 4), "b": torch.zeros(2, dtype=torch.bfloat16)}, str(path))
    assert safetensors_header(path) == {"a": ("F32", (3, 4)), "b": ("BF16", (2,))}
    path.write_bytes(b"\xff" * 8 + b"{}")
    with pytest.raises(FolderError, match="does not fit"):
        safetensors_header(path)


def test_folders_confined_refuses_escapes(tmp_path):
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "ok.json").write_text("{}")
    assert confined(tmp_path / "f", "ok.json") == tmp_path / "f" / "ok.json"
    for bad in ("../f/ok.json", "/etc/hostname", "", "a\x00b"):
        with pytest.raises(FolderError):
            confined(tmp_path / "f", bad)
    (tmp_path / "f" / "sub").mkdir()
    with pytest.raises(FolderError, match="not a regular file"):
        confined(tmp_path / "f", "sub")


# -- outputs that never destroy -----------------------------------------------------------------


@pytest.fixture
def user_files(tmp_path, monkeypatch):
    """A working folder with things a user owns: data, notes, an unrelated folder."""
    work = tmp_path / "work"
    (work / "important").mkdir(parents=True)
    (work / "important" / "notes.txt").write_text("do not lose me")
    (work / "data").mkdir()
    for i in range(5):
        (work / "data" / f"{i}.txt").write_text(f"document {i}")
    (work / "train.csv").write_text("text,label\ngood film,pos\nbad film,neg\n")
    monkeypatch.chdir(work)
    return work


def snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    ("out", "kind", "inputs", "message"),
    [
        (".", "classifier", [], "current directory"),
        ("..", "classifier", [], "current directory"),
        ("/", "classifier", [], "current directory"),
        ("~", "classifier", [], "home"),
        ("important", "classifier", [], "not textkit's"),
        ("data", "classifier", ["data"], "also an input"),
        ("train.csv", "classifier", [], "is a file"),
        ("train.csv", None, ["train.csv"], "also an input"),
        ("train.csv", None, [], "--overwrite"),
        ("important", None, [], "is a folder"),
        ("./", "topics", [], "current directory"),
    ],
)
def test_folders_check_output_refusals_leave_files_intact(user_files, out, kind, inputs, message):
    before = snapshot(user_files)
    with pytest.raises(FolderError, match=message):
        check_output(out, kind=kind, inputs=inputs)
    assert snapshot(user_files) == before


def test_folders_same_kind_needs_overwrite(user_files):
    (user_files / "model").mkdir()
    (user_files / "model" / "topics.json").write_text("{}")
    with pytest.raises(FolderError, match="--overwrite"):
        check_output("model", kind="topics")
    assert check_output("model", kind="topics", overwrite=True) == Path("model")
    with pytest.raises(FolderError, match="topic-model report, not a classifier"):
        check_output("model", kind="classifier", overwrite=True)
    assert check_output("new-folder", kind="classifier") == Path("new-folder")


@pytest.mark.parametrize(
    "argv",
    [
        ["classify", "train", "--data", "train.csv", "--out", "."],
        ["classify", "train", "--data", "train.csv", "--out", "important"],
        ["classify", "train", "--data", "train.csv", "--out", "data"],
        ["classify", "train", "--data", "data", "--out", "data"],
        ["classify", "train", "--data", "train.csv", "--out", "train.csv"],
        ["topics", "--data", "train.csv", "--k", "2", "--out", "important"],
        ["topics", "--data", "data", "--k", "2", "--out", "data"],
        ["translate", "train", "--data", "train.csv", "--src-column", "text", "--tgt-column", "label", "--out", "."],
        ["translate", "train", "--data", "train.csv", "--src-column", "text", "--tgt-column", "label", "--out", "data"],
    ],
)
def test_folders_cli_out_refusals_keep_user_files(user_files, capsys, argv):
    from textkit.cli import main

    before = snapshot(user_files)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("textkit: error: --out") and "Traceback" not in err
    assert snapshot(user_files) == before


def test_folders_translate_refuses_to_overwrite_its_input(user_files, translation_folder, capsys):
    from textkit.cli import main

    (user_files / "src.txt").write_text("el perro come pan\n")
    before = snapshot(user_files)
    assert main(["translate", str(translation_folder), "--data", "src.txt", "--out", "src.txt"]) == 1
    assert "also an input" in capsys.readouterr().err
    assert snapshot(user_files) == before


def test_folders_written_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_folder(tmp_path / "out") as staging:
            atomic_write_text(staging / "a.txt", "x")
        assert (tmp_path / "out" / "a.txt").stat().st_mode & 0o777 == 0o644
        assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755
    finally:
        os.umask(old)


# -- atomic replacement -----------------------------------------------------------------------------


def test_folders_reader_never_fails_while_a_writer_replaces_the_folder_100_times(tmp_path, translation_folder):
    import torch

    from textkit.nn import save_translation_model
    from textkit.nn.serialization import load_translation_model

    bundle = load_translation_model(translation_folder)
    target = tmp_path / "shared"
    with atomic_folder(target) as staging:
        save_translation_model(bundle.model, staging, source_tokenizer=bundle.source_tokenizer)
    failures: list[BaseException] = []
    loads = [0]
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            try:
                load_translation_model(target)
                loads[0] += 1
            except Exception as exc:  # noqa: BLE001 - every failure is what the test counts
                failures.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(100):
            with torch.no_grad():
                bundle.model.tgt_embed.weight[0, 0] = float(i)  # each save differs
            with atomic_folder(target) as staging:
                save_translation_model(bundle.model, staging, source_tokenizer=bundle.source_tokenizer)
    finally:
        done.set()
        thread.join()
    assert not failures, f"{len(failures)} failed loads of {loads[0] + len(failures)}: {failures[:2]}"
    assert loads[0] > 0
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "shared"]
    assert leftovers == []


def test_folders_two_concurrent_writers_leave_one_whole_folder(tmp_path):
    errors: list[BaseException] = []

    def writer(tag: str) -> None:
        try:
            for _ in range(30):
                with atomic_folder(tmp_path / "out") as staging:
                    for i in range(5):
                        atomic_write_text(staging / f"{i}.txt", tag)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(tag,)) for tag in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    contents = {p.read_text() for p in (tmp_path / "out").iterdir()}
    assert len(contents) == 1 and len(list((tmp_path / "out").iterdir())) == 5
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


# -- names -----------------------------------------------------------------------------------------


def test_folders_a_bare_word_that_is_also_a_folder_is_refused(tmp_path, monkeypatch):
    from textkit.data.resolver import resolve_model

    monkeypatch.chdir(tmp_path)
    (tmp_path / "awd_lstm-en").mkdir()
    with pytest.raises(FolderError, match=r"\./awd_lstm-en.*name:awd_lstm-en"):
        resolve_model("awd_lstm-en")
    assert resolve_model("./awd_lstm-en") == Path("./awd_lstm-en")
    assert resolve_model("name:awd_lstm-en").name == "forward"
    with pytest.raises(FolderError, match="neither a model name"):
        resolve_model("no-such-model")


def test_folders_lm_verbs_take_a_shipped_name(capsys):
    from textkit.cli import main

    assert main(["lm", "generate", "awd_lstm-en", "--prompt", "The jury said", "--max-new-tokens", "5"]) == 0
    assert capsys.readouterr().out.strip()


def test_folders_every_kind_is_recognised_and_loads_through_its_own_loader(tmp_path, translation_folder):
    from textkit._folders import KINDS, describe_folder, folder_kind, load_folder
    from textkit.recipes.classify import SavedClassifier, save_classifier, train_classifier

    saved = train_classifier(["good fun", "bad mess"] * 4, ["pos", "neg"] * 4, "nb", log=lambda _m: None)
    save_classifier(saved, tmp_path / "clf")
    loaded = load_folder(tmp_path / "clf")
    assert isinstance(loaded, SavedClassifier) and loaded.classes == ["neg", "pos"]
    assert folder_kind(translation_folder) == "translation"
    assert load_folder(translation_folder).model.config.d_model == 16
    assert describe_folder(tmp_path / "clf") == "a classifier (written by textkit classify train)"
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "topics.json").write_text("{}")
    with pytest.raises(FolderError, match="is a topic-model report, written by textkit topics; it holds no model"):
        load_folder(tmp_path / "report")
    (tmp_path / "other").mkdir()
    with pytest.raises(FolderError, match="not a textkit folder"):
        load_folder(tmp_path / "other")
    assert {"classifier", "translation", "language_model", "encoder", "topics"} <= set(KINDS)
