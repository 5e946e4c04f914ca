import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from textkit.text import SubwordTokenizer


@pytest.fixture(scope="module")
def corpus():
    from textkit import data

    return [r["text"] for r in data.load("rotten-tomatoes")[:3000]]


@pytest.fixture(scope="module")
def unigram(corpus):
    return SubwordTokenizer.train(corpus, vocab_size=1000, model_type="unigram", seed=0)


@pytest.mark.parametrize("model_type", ["unigram", "bpe"])
def test_subword_trains_encodes_and_decodes(corpus, model_type):
    sp = SubwordTokenizer.train(corpus, vocab_size=800, model_type=model_type, seed=0)
    text = "A charming, funny film."
    pieces = sp.tokenize(text)
    assert 1 < len(pieces) < len(text)
    assert sp.decode(sp.encode(text)) == text
    assert sp.decode(pieces) == text


def test_subword_training_is_deterministic(corpus):
    a = SubwordTokenizer.train(corpus, vocab_size=600, model_type="unigram", seed=0)
    b = SubwordTokenizer.train(corpus, vocab_size=600, model_type="unigram", seed=0)
    assert a.model_proto == b.model_proto


@given(st.text(max_size=60))
@settings(max_examples=200, deadline=None)
def test_subword_round_trip_any_unicode(unigram, text):
    # Byte fallback: even characters never seen in training come back.
    assert unigram.decode(unigram.encode(text)) == unigram.normalize(text)


def test_subword_save_and_load_in_a_fresh_process(unigram, tmp_path):
    unigram.save(tmp_path)
    text = "Un film encantador 東京"
    expected = unigram.encode(text)
    code = (
        "import sys, json; from textkit.text import SubwordTokenizer; "
        f"print(json.dumps(SubwordTokenizer.load({str(tmp_path)!r}).encode({text!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == expected


def test_subword_rejects_empty_training_data():
    with pytest.raises(ValueError, match="no text"):
        SubwordTokenizer.train(["", "   "], vocab_size=100)


def test_subword_truncated_model_is_a_clear_error(unigram, tmp_path):
    unigram.save(tmp_path)
    model = tmp_path / "spm.model"
    model.write_bytes(model.read_bytes()[:100])
    with pytest.raises(ValueError, match="not a valid SentencePiece model"):
        SubwordTokenizer.load(tmp_path)
