import json
import subprocess
import sys

import pytest

from textkit.text import SubwordTokenizer, TextPipeline, Tokenizer, Vocab, load_pipeline


def _fresh_process_encode(folder, text):
    code = (
        "import json; from textkit.text import load_pipeline; "
        f"e = load_pipeline({str(folder)!r}).encode({text!r}); print(json.dumps([e.ids, e.tokens]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def test_pipeline_word_saves_as_json_and_loads_in_a_fresh_process(tmp_path, tiny_corpus):
    tok = Tokenizer(add_bos=True)
    pipeline = TextPipeline(tok, Vocab.build([tok.tokenize(t) for t in tiny_corpus]))
    pipeline.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tokenizer.json", "vocab.json"]
    text = "The movie was GREAT, unseenword!"
    encoded = pipeline.encode(text)
    assert _fresh_process_encode(tmp_path, text) == [encoded.ids, encoded.tokens]
    assert pipeline.decode(encoded.ids) == "The movie was GREAT , xxunk !"


def test_pipeline_subword_saves_model_file_and_loads_identically(tmp_path, tiny_corpus):
    sp = SubwordTokenizer.train(tiny_corpus * 20, vocab_size=300, model_type="bpe")
    pipeline = TextPipeline(sp)
    pipeline.save(tmp_path)
    assert (tmp_path / "spm.model").exists()
    text = "a charming film"
    assert _fresh_process_encode(tmp_path, text) == [pipeline.encode(text).ids, pipeline.encode(text).tokens]
    assert load_pipeline(tmp_path).decode(pipeline.encode(text).ids) == text


def test_pipeline_itos_lists_every_token_in_id_order(tiny_corpus):
    tok = Tokenizer(add_bos=True)
    vocab = Vocab.build([tok.tokenize(t) for t in tiny_corpus])
    assert TextPipeline(tok, vocab).itos == vocab.itos
    sp = TextPipeline(SubwordTokenizer.train(tiny_corpus * 20, vocab_size=300, model_type="bpe"))
    assert len(sp.itos) == len(sp) and [sp.token_to_id(piece) for piece in sp.itos[:50]] == list(range(50))
    from tests.transfer.tiny_llama import tiny_tokenizer  # a byte-level BPE pipeline (a Llama's)

    bpe = tiny_tokenizer()
    assert len(bpe.itos) == len(bpe) and [bpe.token_to_id(token) for token in bpe.itos] == list(range(len(bpe)))


def test_pipeline_word_needs_a_vocab():
    with pytest.raises(ValueError, match="needs a Vocab"):
        TextPipeline(Tokenizer())


def test_pipeline_unknown_type_is_rejected(tmp_path):
    (tmp_path / "tokenizer.json").write_text('{"type": "pickle"}')
    with pytest.raises(ValueError, match="unknown type"):
        load_pipeline(tmp_path)


def test_pipeline_decode_text_reads_as_written_text(tiny_corpus):
    """``decode`` keeps the tokenizer's spacing (lossless); ``decode_text`` is for people."""
    tok = Tokenizer(add_bos=True)
    pipeline = TextPipeline(tok, Vocab.build([tok.tokenize(t) for t in tiny_corpus], min_freq=1))
    text = "Mr. Smith's U.S. debut: well-known, well-made."
    ids = pipeline.encode(text).ids
    assert pipeline.decode(ids) == "Mr . Smith 's U.S . debut : well - known , well - made ."
    assert pipeline.decode_text(ids) == text
    assert pipeline.decode_text(pipeline.encode("Don't waste your time... it's boring!!!").ids) == (
        "Don't waste your time... it's boring!!!"
    )


@pytest.mark.parametrize(
    ("pieces", "text"),
    [
        ('He said : " yes " , then ( quietly ) left .', 'He said: "yes", then (quietly) left.'),
        ("it costs $ 5 , or 10 % less", "it costs $5, or 10% less"),
        ("I ca n't , we 'll , they 're gon na", "I can't, we'll, they're gonna"),
        ("the students ' books and ' quotes '", "the students' books and 'quotes'"),
        ("and / or , e - mail , 3 - 2", "and/or, e-mail, 3-2"),
        ("¿ Qué ? « oui »", "¿Qué? «oui»"),
        ("", ""),
    ],
)
def test_pipeline_join_words(pieces, text):
    from textkit.text.pipeline import join_words

    assert join_words(pieces.split(" ")) == text
