"""Converted LLM weights are verified too: the sha256 of every converted file is recorded at
conversion and `models get` checks it, so a truncated model.safetensors is not "already there"."""

from __future__ import annotations

import pytest

from textkit.data.llms import CONVERTED_RECORD, ConvertedChecksumError, _current, record_converted, verify_converted


@pytest.fixture
def converted(tmp_path):
    folder = tmp_path / "tiny-llm"
    folder.mkdir()
    (folder / "config.json").write_text('{"source": {"sha256": "abc"}, "conversion_version": 0}')
    (folder / "model.safetensors").write_bytes(b"\x00" * 4096)
    (folder / "tokenizer.json").write_text("{}")
    return folder


def test_llm_converted_record_then_verify(converted):
    files = record_converted(converted)
    assert sorted(files) == ["config.json", "model.safetensors", "tokenizer.json"]
    assert verify_converted(converted, "tiny-llm") == 3


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / "model.safetensors").write_bytes(b"\x00" * 100), "4096|truncated or changed"),
        (lambda f: (f / "tokenizer.json").unlink(), "lacks tokenizer.json"),
        (lambda f: (f / CONVERTED_RECORD).unlink(), "missing or damaged"),
        (lambda f: (f / CONVERTED_RECORD).write_text("[1, 2]"), "missing or damaged"),
    ],
)
def test_llm_converted_damage_is_refused_with_the_fix(converted, damage, message):
    record_converted(converted)
    damage(converted)
    with pytest.raises(ConvertedChecksumError, match=message) as caught:
        verify_converted(converted, "tiny-llm")
    assert "textkit models get tiny-llm --force" in str(caught.value)


def test_llm_converted_folder_without_a_record_is_converted_again(converted):
    assert not _current(converted, "abc")  # no converted.json: not reused, so the record gets written
