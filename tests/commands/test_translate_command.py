"""`textkit translate`: a translation model folder applied to a file or stdin, streamed in
chunks, in input order, identical to `textkit.recipes.translation.translate`."""

from __future__ import annotations

import io
import json
import sys

import pytest

from textkit.cli import main

SPANISH = [
    "el perro come pan",
    "la casa es roja",
    "el gato duerme en la casa",
    "los niños juegan en el parque",
    "mi hermano lee un libro",
    "hace frío en invierno",
    "la mesa es de madera",
    "el sol brilla mucho hoy",
]
ENGLISH = [
    "the dog eats bread",
    "the house is red",
    "the cat sleeps in the house",
    "the children play in the park",
    "my brother reads a book",
    "it is cold in winter",
    "the table is made of wood",
    "the sun shines a lot today",
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A Transformer with random weights and a joint SentencePiece vocabulary, saved as
    `textkit reproduce translation` saves its models."""
    import torch

    from textkit.nn import save_translation_model
    from textkit.nn.transformer import TransformerConfig, TransformerSeq2Seq
    from textkit.text import SubwordTokenizer

    torch.set_num_threads(1)
    tokenizer = SubwordTokenizer.train((SPANISH + ENGLISH) * 4, vocab_size=320, model_type="unigram", seed=0)
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
        dropout=0.0,
        max_len=24,
    )
    folder = tmp_path_factory.mktemp("translation") / "model"
    save_translation_model(TransformerSeq2Seq(config).eval(), folder, source_tokenizer=tokenizer)
    return folder


def direct(model_dir, texts: list[str], **options) -> list[str]:
    """What the recipe gives for the same sentences, decoded to text as the command does."""
    from textkit.nn import load_translation_model
    from textkit.recipes.translation import translate_ids

    model, source, target = load_translation_model(model_dir)
    specials = target.special_ids
    ids = source.encode_batch(texts)
    hyps = translate_ids(model, ids, bos_id=specials["bos"], eos_id=specials["eos"], pad_id=specials["pad"], **options)
    return [" ".join(target.decode(h).split()) for h in hyps]


def test_translate_command_writes_one_line_per_input_equal_to_the_recipe(model_dir, tmp_path, capsys):
    # a sentence that starts with "{" or "__label__" is still a sentence in a .txt file
    sources = [*SPANISH, "{ el perro }", "__label__ la casa", "un" + " perro" * 40]  # the last is truncated
    data = tmp_path / "sources.txt"
    data.write_text("\n".join(sources) + "\n", encoding="utf-8")
    out = tmp_path / "hyps.txt"
    argv = ["translate", str(model_dir), "--data", str(data), "--out", str(out), "--beam", "3"]
    assert main([*argv, "--max-new-tokens", "8", "--device", "cpu"]) == 0
    lines = out.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "" and len(lines[:-1]) == len(sources)
    with pytest.warns(UserWarning, match="were truncated"):  # the recipe warns; the command counts (below)
        expected = direct(model_dir, sources, beam_size=3, max_new_tokens=8, batch_size=64)
    assert lines[:-1] == expected
    assert len(set(lines[:-1])) > 1  # the outputs depend on the input (so the order check below means something)
    err = capsys.readouterr().err
    assert f"translated {len(sources)} line(s) with beam 3" in err and "1 source(s) longer than" in err

    # reversed input, reversed output: order is the input's, not the decoder's batching order
    back = tmp_path / "reversed.txt"
    back.write_text("\n".join(sources[::-1]) + "\n", encoding="utf-8")
    one_by_one = tmp_path / "one_by_one.txt"
    args = ["--beam", "3", "--max-new-tokens", "8", "--batch-size", "1", "--device", "cpu"]
    assert main(["translate", str(model_dir), "--data", str(data), "--out", str(one_by_one), *args]) == 0
    assert main(["translate", str(model_dir), "--data", str(back), "--out", str(back) + ".out", *args]) == 0
    forward = one_by_one.read_text(encoding="utf-8").splitlines()
    assert (tmp_path / "reversed.txt.out").read_text(encoding="utf-8").splitlines() == forward[::-1]


def test_translate_command_streams_stdin_in_chunks_and_keeps_blank_lines(model_dir, monkeypatch, capsys):
    from textkit.commands import translate as command
    from textkit.recipes import translation

    monkeypatch.setattr(command, "CHUNK_LINES", 3)  # 9 lines: three chunks
    seen = []
    real = translation.translate_texts

    def spy(bundle, texts, **options):
        seen.append(len(texts))
        return real(bundle, texts, **options)

    monkeypatch.setattr(translation, "translate_texts", spy)
    sources = SPANISH[:4] + ["", "  "] + SPANISH[4:7]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(("\n".join(sources) + "\n").encode("utf-8"))))
    argv = ["translate", str(model_dir), "--data", "-", "--beam", "1", "--max-new-tokens", "6", "--device", "cpu"]
    assert main([*argv, "--batch-size", "1"]) == 0
    captured = capsys.readouterr()
    assert seen == [3, 3, 3]
    lines = captured.out.split("\n")
    assert lines[-1] == "" and len(lines[:-1]) == len(sources)
    assert lines[4] == "" and lines[5] == ""  # a blank source gives a blank line, in place
    non_blank = [s for s in sources if s.strip()]
    expected = direct(model_dir, non_blank, beam_size=1, max_new_tokens=6, batch_size=1)
    assert [line for i, line in enumerate(lines[:-1]) if sources[i].strip()] == expected
    assert "translated 9 line(s)" in captured.err and "2 empty line(s) left empty" in captured.err


def test_translate_command_reads_a_jsonl_column(model_dir, tmp_path, capsys):
    data = tmp_path / "sources.jsonl"
    rows = [{"id": i, "src": s, "note": "x"} for i, s in enumerate(SPANISH[:5])]
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    argv = ["translate", str(model_dir), "--data", str(data), "--text-column", "src", "--beam", "2"]
    assert main([*argv, "--max-new-tokens", "6", "--device", "cpu"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == direct(model_dir, SPANISH[:5], beam_size=2, max_new_tokens=6, batch_size=64)
    capsys.readouterr()
    assert main(["translate", str(model_dir), "--data", str(data), "--device", "cpu"]) == 1  # three columns
    assert "cannot tell which column holds the text" in capsys.readouterr().err


def test_translate_command_bad_input_mid_file_writes_no_output(model_dir, tmp_path, monkeypatch, capsys):
    from textkit.commands import translate as command

    monkeypatch.setattr(command, "CHUNK_LINES", 2)
    data = tmp_path / "sources.jsonl"
    good = [json.dumps({"text": s}) for s in SPANISH[:4]]
    data.write_text("\n".join([*good, '{"text": "el perro'] + good) + "\n", encoding="utf-8")
    out = tmp_path / "hyps.txt"
    argv = ["translate", str(model_dir), "--data", str(data), "--out", str(out), "--beam", "1", "--device", "cpu"]
    assert main([*argv, "--max-new-tokens", "4"]) == 1
    assert "sources.jsonl, line 5: not valid JSON" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".hyps.txt.*"))  # no partial output, no temp file


def test_translate_command_refuses_folders_that_are_not_translation_models(model_dir, tmp_path, capsys):
    data = tmp_path / "s.txt"
    data.write_text("el perro\n", encoding="utf-8")

    def error(folder) -> str:
        assert main(["translate", str(folder), "--data", str(data), "--device", "cpu"]) == 1
        return capsys.readouterr().err

    classifier = tmp_path / "classifier"
    classifier.mkdir()
    (classifier / "classifier.json").write_text(json.dumps({"format": "textkit-classical-classifier"}))
    assert "classifier is a classifier, not a translation model" in error(classifier)

    lm = tmp_path / "lm"
    lm.mkdir()
    (lm / "config.json").write_text(json.dumps({"arch": "awd_lstm", "model": {"vocab_size": 10}}))
    (lm / "vocab.json").write_text(json.dumps({"itos": ["a"]}))
    assert "lm is a language model, not a translation model; `textkit translate` needs" in error(lm)

    topics = tmp_path / "topics"
    topics.mkdir()
    (topics / "topics.json").write_text("{}")
    assert "topics is a topic-model report, not a translation model" in error(topics)

    parent = model_dir.parent  # the reproduce layout: OUT/<model>/model
    assert f"did you mean {model_dir}?" in error(parent)

    empty = tmp_path / "empty"
    empty.mkdir()
    assert "is not a textkit translation model folder (no config.json)" in error(empty)
    assert "does not exist" in error(tmp_path / "missing")

    newer = tmp_path / "newer"
    newer.mkdir()
    (newer / "config.json").write_text(json.dumps({"arch": "mamba", "model": {}, "joint_vocabulary": True}))
    assert "unknown translation architecture 'mamba'" in error(newer)


@pytest.mark.parametrize(("option", "value"), [("--beam", "0"), ("--batch-size", "0"), ("--max-new-tokens", "-1")])
def test_translate_command_rejects_bad_numbers(model_dir, tmp_path, capsys, option, value):
    data = tmp_path / "s.txt"
    data.write_text("el perro\n", encoding="utf-8")
    assert main(["translate", str(model_dir), "--data", str(data), option, value]) == 1
    assert f"{option} must be at least 1, got {value}" in capsys.readouterr().err


def test_translate_command_empty_input_is_an_error_and_writes_nothing(model_dir, tmp_path, capsys):
    data = tmp_path / "none.txt"
    data.write_text("", encoding="utf-8")
    out = tmp_path / "hyps.txt"
    assert main(["translate", str(model_dir), "--data", str(data), "--out", str(out), "--device", "cpu"]) == 1
    assert "none.txt holds no lines: nothing to translate" in capsys.readouterr().err
    assert not out.exists()


def test_translate_command_reads_no_labels(model_dir, tmp_path, capsys):
    data = tmp_path / "s.txt"
    data.write_text("el perro\n", encoding="utf-8")
    with pytest.raises(SystemExit):
        main(["translate", str(model_dir), "--data", str(data), "--label-column", "y"])
    assert "unrecognized arguments: --label-column" in capsys.readouterr().err
