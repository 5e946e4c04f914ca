"""sacrebleu BLEU/chrF wrappers."""

import pytest

from textkit.evaluate import corpus_bleu, corpus_chrf, read_lines, score_files


def test_evaluate_bleu_perfect_zero_and_signature():
    refs = ["the cat sat on the mat .", "and God said , Let there be light"]
    perfect = corpus_bleu(refs, refs)
    assert perfect.score == pytest.approx(100.0)
    assert "nrefs:1" in perfect.signature and "tok:13a" in perfect.signature
    assert corpus_bleu(["xyz qqq", "www vvv"], refs).score < 1.0
    assert 0 < corpus_chrf(["the cat sat on a mat .", "and God said"], refs).score < 100


def test_evaluate_bleu_matches_sacrebleu_directly():
    import sacrebleu

    hyps = ["the cat is on the mat", "there is a cat here"]
    refs = ["the cat sat on the mat", "a cat is here"]
    assert corpus_bleu(hyps, refs).score == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert corpus_chrf(hyps, refs).score == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score)


def test_evaluate_rejects_token_ids_and_misaligned_inputs():
    with pytest.raises(TypeError, match="token ids"):
        corpus_bleu([[1, 2, 3]], ["a b c"])
    with pytest.raises(ValueError, match="align"):
        corpus_bleu(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="newline"):
        corpus_bleu(["a\nb"], ["a"])


def test_evaluate_score_files_keeps_empty_lines(tmp_path):
    (tmp_path / "h.txt").write_text("a b c d e\n\nd e f g h\n", encoding="utf-8")
    (tmp_path / "r.txt").write_text("a b c d e\nx\nd e f g h\n", encoding="utf-8")
    assert read_lines(tmp_path / "h.txt") == ["a b c d e", "", "d e f g h"]
    scores = score_files(tmp_path / "h.txt", tmp_path / "r.txt")
    assert 0 < scores["bleu"].score < 100 and scores["chrf"].name == "chrF"
