"""The shipped es->en Transformer: loads by name, sha256-verified, and translates held-out
sentences of both domains above a chrF floor set from its measured score with a margin."""

from __future__ import annotations

import shutil

import pytest

from textkit.data.pretrained import PretrainedChecksumError, list_pretrained, pretrained_manifest

NAME = "transformer-es-en"
# chrF (beam 5) of the first 40 held-out pairs of each test set, measured on the shipped weights
# (see models/transformer-es-en.md), less a margin for thread-count and platform differences
CHRF_FLOOR = {"libreoffice-help-es-en": 53.0, "bible-es-en": 55.0}  # measured 58.2 and 61.0


@pytest.fixture(scope="module")
def bundle():
    import torch

    from textkit.recipes.translation import load_translator

    torch.set_num_threads(1)
    return load_translator(NAME)


@pytest.mark.slow
@pytest.mark.parametrize("corpus", sorted(CHRF_FLOOR))
def test_translation_shipped_model_translates_held_out_sentences(bundle, corpus):
    from textkit.data.parallel_text import clean_pairs, load_parallel
    from textkit.evaluate import corpus_chrf
    from textkit.recipes.translation import translate

    records = clean_pairs(load_parallel(corpus, "test"))[0][:40]
    hypotheses = translate([r["source"] for r in records], bundle, beam_size=5)
    assert len(hypotheses) == len(records) and all(isinstance(h, str) for h in hypotheses)
    chrf = corpus_chrf(hypotheses, [" ".join(r["target"].split()) for r in records]).score
    assert chrf >= CHRF_FLOOR[corpus], f"chrF {chrf:.1f} on the first 40 {corpus} test pairs"


def test_translation_shipped_model_is_listed_with_every_file_hashed():
    manifest = pretrained_manifest(NAME)
    assert manifest["kind"] == "translation" and manifest["format_version"] == 1
    folder = list_pretrained()[NAME]
    on_disk = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != "manifest.json")
    assert sorted(manifest["files"]) == on_disk
    assert sum(manifest["sizes"].values()) <= 20_000_000  # the budget for the whole model
    assert all(size <= 16 * 2**20 for size in manifest["sizes"].values())


def test_translation_shipped_model_refuses_a_changed_file(tmp_path, monkeypatch):
    from textkit.data import pretrained
    from textkit.nn.serialization import load_translation_model

    copy = shutil.copytree(list_pretrained()[NAME], tmp_path / NAME)
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # one bit pattern of one weight
    weights.write_bytes(bytes(data))
    monkeypatch.setattr(pretrained, "list_pretrained", lambda: {NAME: copy})
    with pytest.raises(PretrainedChecksumError, match="does not match the shipped model"):
        load_translation_model(NAME)


def test_translation_shipped_model_by_name_on_the_command_line(tmp_path, capsys):
    from textkit.cli import main

    source = tmp_path / "es.txt"
    source.write_text("Haga clic en Aceptar.\n\nEn el principio creó Dios los cielos y la tierra.\n", encoding="utf-8")
    out = tmp_path / "en.txt"
    assert main(["translate", NAME, "--data", str(source), "--out", str(out), "--beam", "1"]) == 0
    lines = out.read_text(encoding="utf-8").split("\n")
    assert len(lines) == 4 and lines[1] == "" and lines[0] and lines[2]
