"""Training a translation Transformer for hours: exact resume, best weights kept, warm starts."""

from __future__ import annotations

import csv
import dataclasses

import pytest
import torch

from textkit.recipes.translation_training import (
    InverseSqrt,
    TranslationTrainingConfig,
    file_spec,
    load_pairs,
    train_translation,
)

SPANISH = ["el perro come pan", "la casa es roja", "el gato duerme", "mi hermano lee un libro", "hace frío hoy"]
ENGLISH = ["the dog eats bread", "the house is red", "the cat sleeps", "my brother reads a book", "it is cold today"]


def write_pairs(path, n=300):
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(["es", "en"])
        for i in range(n):  # numbered so that sources differ and hash into every split
            writer.writerow([f"{SPANISH[i % 5]} {i}", f"{ENGLISH[i % 5]} {i}"])
    return path


def tiny_config(data, **overrides) -> TranslationTrainingConfig:
    base = dict(
        data=(data,),
        vocab_size=320,
        d_model=16,
        n_heads=2,
        n_encoder_layers=1,
        n_decoder_layers=1,
        d_ff=32,
        max_len=20,
        max_tokens=200,
        warmup_steps=4,
        max_steps=12,
        epochs=3,
        eval_every=4,
        checkpoint_every=3,
        lr=3e-3,
    )
    base.update(overrides)
    return TranslationTrainingConfig(**base)


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory):
    return write_pairs(tmp_path_factory.mktemp("data") / "pairs.tsv")


def _weights(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def test_translation_training_resume_is_bit_identical(tmp_path, pairs_file):
    torch.set_num_threads(1)
    config = tiny_config(file_spec(str(pairs_file), "es", "en"))
    whole = train_translation(config, tmp_path / "whole", log=lambda _m: None)
    train_translation(config, tmp_path / "split", stop_at=7, log=lambda _m: None)
    resumed = train_translation(config, tmp_path / "split", resume=True, log=lambda _m: None)
    assert whole["steps"] == resumed["steps"] == 12
    assert whole["best_valid_loss"] == resumed["best_valid_loss"]
    a, b = _weights(tmp_path / "whole" / "best"), _weights(tmp_path / "split" / "best")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_translation_training_keeps_the_best_folder_and_it_translates(tmp_path, pairs_file):
    from textkit.recipes.translation import translate

    summary = train_translation(tiny_config(file_spec(str(pairs_file), "es", "en")), tmp_path / "run", log=print)
    best = tmp_path / "run" / "best"
    facts = __import__("json").loads((best / "training.json").read_text())
    assert facts["step"] == summary["best_step"] and facts["valid_loss"] == pytest.approx(summary["best_valid_loss"])
    out = translate(["el perro come pan 3", ""], f"./{best}" if not best.is_absolute() else str(best), beam_size=2)
    assert len(out) == 2 and out[1] == ""


def test_translation_training_resume_refuses_another_config(tmp_path, pairs_file):
    config = tiny_config(file_spec(str(pairs_file), "es", "en"))
    train_translation(config, tmp_path / "run", stop_at=3, log=lambda _m: None)
    with pytest.raises(ValueError, match="another configuration"):
        train_translation(dataclasses.replace(config, lr=1e-2), tmp_path / "run", resume=True, log=lambda _m: None)


def test_translation_training_warm_start_begins_from_the_given_weights(tmp_path, pairs_file):
    spec = file_spec(str(pairs_file), "es", "en")
    first = train_translation(tiny_config(spec), tmp_path / "first", log=lambda _m: None)
    warm = train_translation(
        tiny_config(spec, max_steps=4), tmp_path / "warm", init_from=tmp_path / "first" / "best", log=lambda _m: None
    )
    cold = train_translation(tiny_config(spec, max_steps=4), tmp_path / "cold", log=lambda _m: None)
    assert warm["best_valid_loss"] < cold["best_valid_loss"]
    assert warm["best_valid_loss"] <= first["best_valid_loss"] + 0.5


def test_translation_training_inverse_sqrt_schedule():
    schedule = InverseSqrt(warmup_steps=10)
    assert schedule(0, 1)[0] == pytest.approx(0.1)
    assert schedule(9, 1)[0] == pytest.approx(1.0)
    assert schedule(39, 1)[0] == pytest.approx(0.5)  # sqrt(10 / 40)
    assert schedule(39, 1)[0] == schedule(39, 10**9)[0]  # no planned end


def test_translation_training_file_rows_name_their_line(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("es\ten\nhola\thello\n\tnothing\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.tsv, line 3"):
        for split in ("train", "valid", "test"):
            load_pairs(file_spec(str(bad), "es", "en"), split)
