"""``textkit reproduce translation --quick`` end to end on a small synthetic parallel TSV."""

from __future__ import annotations

import argparse
import json
import random

import pytest

from textkit.reproduce import translation

LEXICON = {
    "la": "the",
    "casa": "house",
    "roja": "red",
    "grande": "big",
    "perro": "dog",
    "come": "eats",
    "pan": "bread",
    "el": "the",
    "gato": "cat",
    "ve": "sees",
    "agua": "water",
    "bebe": "drinks",
    "verde": "green",
    "libro": "book",
}


def synthetic_tsv(path, n=900, seed=0):
    rng = random.Random(seed)
    nouns, adjs, verbs = (
        ["casa", "perro", "pan", "gato", "agua", "libro"],
        ["roja", "grande", "verde"],
        ["come", "ve", "bebe"],
    )
    lines = []
    for _ in range(n):
        n1, a1, v, n2 = rng.choice(nouns), rng.choice(adjs), rng.choice(verbs), rng.choice(nouns)
        src = f"el {n1} {a1} {v} el {n2}"
        tgt = f"the {LEXICON[a1]} {LEXICON[n1]} {LEXICON[v]} the {LEXICON[n2]}"  # adjective moves before the noun
        lines.append(f"{src}\t{tgt}\n")
    lines.append("\tthis target has an empty source\n")
    path.write_text("".join(lines), encoding="utf-8")
    return path


def parse(argv):
    parser = argparse.ArgumentParser()
    translation.add_arguments(parser)
    return parser.parse_args(argv)


@pytest.mark.slow
def test_reproduce_translation_quick_writes_consistent_outputs(tmp_path):
    import sacrebleu

    data = synthetic_tsv(tmp_path / "toy.tsv")
    out = tmp_path / "run"
    args = parse(
        [
            "--quick",
            "--data",
            str(data),
            "--out",
            str(out),
            "--minutes",
            "0.1",
            "--clock",
            "cpu",
            "--max-test",
            "25",
            "--vocab-size",
            "320",
        ]
    )
    assert translation.run(args) == 0
    results = json.loads((out / "results.json").read_text())
    assert set(results) >= {"metrics", "seed", "versions", "config"}
    assert set(results["metrics"]) == {"gru", "gru-attn", "transformer"}
    assert (
        results["data"]["train_dropped_empty"]
        + results["data"]["valid_dropped_empty"]
        + results["data"]["test_dropped_empty"]
        == 1
    )
    references = (out / "references.txt").read_text(encoding="utf-8").split("\n")[:-1]
    assert len(references) == results["data"]["test_used"] > 0
    for name, metrics in results["metrics"].items():
        for suffix, file in (("", "hypotheses.txt"), ("_beam5", "hypotheses.beam5.txt")):
            hyps = (out / name / file).read_text(encoding="utf-8").split("\n")[:-1]
            assert len(hyps) == len(references)
            assert metrics[f"bleu{suffix}"] == pytest.approx(round(sacrebleu.corpus_bleu(hyps, [references]).score, 2))
            assert metrics[f"chrf{suffix}"] == pytest.approx(round(sacrebleu.corpus_chrf(hyps, [references]).score, 2))
        assert metrics["params"] > 0 and metrics["steps"] > 0 and metrics["decode_tokens_per_s_beam5"] > 0
    assert (out / "gru-attn" / "attention_0.png").stat().st_size > 0
    assert (out / "transformer" / "attention_0.png").stat().st_size > 0
    # every model learned something in 6 CPU seconds: far below the uniform perplexity (~vocabulary size)
    vocab = results["config"]["vocab"]
    for metrics in results["metrics"].values():
        assert metrics["valid_perplexity"] < vocab / 5

    # saved models load back and translate the same; a foreign tokenizer is refused
    from textkit.nn.serialization import load_translation_model
    from textkit.recipes.translation import translate_ids

    model, source, target = load_translation_model(out / "transformer" / "model")
    ids = source.encode("el perro rojo come el pan")
    assert isinstance(translate_ids(model, [ids], bos_id=1, eos_id=2, pad_id=3), list)
    from textkit.text import SubwordTokenizer

    other = SubwordTokenizer.train(["completely different text here"] * 20, vocab_size=290)
    other.save(out / "transformer" / "model" / "source_tokenizer")
    with pytest.raises(ValueError, match="not trained together"):
        load_translation_model(out / "transformer" / "model")


def test_reproduce_translation_rejects_bad_options(tmp_path):
    data = synthetic_tsv(tmp_path / "toy.tsv", n=50)
    with pytest.raises(ValueError, match="unknown model"):
        translation.run(parse(["--quick", "--data", str(data), "--out", str(tmp_path / "o"), "--models", "gru,lstm"]))
    with pytest.raises(ValueError, match="beam"):
        translation.run(parse(["--quick", "--data", str(data), "--out", str(tmp_path / "o"), "--beam", "1"]))
    config = translation.config_from_args(parse(["--quick", "--out", "x", "--teacher-forcing", "1.0:0.7"]))
    assert config.teacher_forcing == (1.0, 0.7) and config.size == "tiny" and config.threads == 1


def test_attention_option_picks_the_gru_attention_model():
    parser = argparse.ArgumentParser()
    translation.add_arguments(parser)
    config = translation.config_from_args(parser.parse_args(["--out", "x", "--attention", "luong", "--quick"]))
    assert config.attention == "luong"
    assert (
        translation.model_configs(config.size, 100, 20, config.attention, pad_index=3)["gru-attn"].attention == "luong"
    )
    assert translation.model_configs("small", 100, 20, pad_index=3)["gru-attn"].attention == "bahdanau"
    assert translation.config_from_args(parser.parse_args(["--out", "x"])).attention == "bahdanau"
    with pytest.raises(SystemExit):
        parser.parse_args(["--out", "x", "--attention", "dot"])


def test_reproduce_translation_corpus_choice_names_the_registry_corpus():
    assert translation.corpus_for("es-en") == "bible-es-en"
    assert translation.corpus_for("fr-en") == "giga-fren"
    assert translation.corpus_for("fr-en", "libreoffice-help") == "libreoffice-help-fr-en"
    assert translation.corpus_for("de-en") == "libreoffice-help-de-en"
    with pytest.raises(ValueError, match="the bible corpus has no 'fr-en' pair"):
        translation.corpus_for("fr-en", "bible")
    config = translation.config_from_args(
        parse(["--pair", "fr-en", "--corpus", "libreoffice-help", "--out", "x", "--quick"])
    )
    assert (config.pair, config.corpus) == ("fr-en", "libreoffice-help")


@pytest.mark.slow
def test_reproduce_translation_fr_en_on_libreoffice_help_quick(tmp_path):
    """The course's pair on real parallel data from the registries (issue 13, section 5)."""
    out = tmp_path / "run"
    args = parse(
        [
            "--pair",
            "fr-en",
            "--corpus",
            "libreoffice-help",
            "--quick",
            "--models",
            "transformer",
            "--out",
            str(out),
            "--minutes",
            "0.05",
            "--clock",
            "cpu",
            "--max-train",
            "1500",
            "--max-test",
            "20",
            "--vocab-size",
            "400",
        ]
    )
    assert translation.run(args) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["data"]["corpus"] == "libreoffice-help-fr-en"
    assert results["data"]["test_used"] == 20 and results["metrics"]["transformer"]["steps"] > 0
