"""Parallel text: readers, cleaning, hash splits, batches."""

import numpy as np
import pytest

from textkit.data.parallel_text import (
    ParallelBatches,
    clean_pairs,
    encode_pairs,
    load_parallel,
    read_parallel_files,
    read_tsv,
    split_records,
)


def test_parallel_text_tsv_and_two_files(tmp_path):
    (tmp_path / "p.tsv").write_text("hola\thello\n\nadiós\tgoodbye\n", encoding="utf-8")
    assert [(r["source"], r["target"]) for r in read_tsv(tmp_path / "p.tsv")] == [
        ("hola", "hello"),
        ("adiós", "goodbye"),
    ]
    (tmp_path / "h.tsv").write_text("en\tfr\nhello\tbonjour\n", encoding="utf-8")
    assert read_tsv(tmp_path / "h.tsv", source_column="fr", target_column="en", header=True)[0]["source"] == "bonjour"
    (tmp_path / "bad.tsv").write_text("only one column\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 1 has 1 column"):
        read_tsv(tmp_path / "bad.tsv")
    (tmp_path / "a.es").write_text("uno\ndos\n", encoding="utf-8")
    (tmp_path / "a.en").write_text("one\ntwo\n", encoding="utf-8")
    (tmp_path / "b.en").write_text("one\n", encoding="utf-8")
    assert [r["target"] for r in read_parallel_files(tmp_path / "a.es", tmp_path / "a.en")] == ["one", "two"]
    with pytest.raises(ValueError, match="line-aligned"):
        read_parallel_files(tmp_path / "a.es", tmp_path / "b.en")


def test_parallel_text_clean_reports_dropped_pairs():
    records = [
        {"source": "a", "target": "b"},
        {"source": " ", "target": "b"},
        {"source": "a", "target": ""},
        {"source": "a " * 9, "target": "b"},
    ]
    kept, report = clean_pairs(records, max_words=5)
    assert len(kept) == 1 and (report.kept, report.dropped_empty, report.dropped_long) == (1, 2, 1)


def test_parallel_text_hash_split_is_deterministic_and_keeps_duplicates_together(tmp_path):
    records = [{"source": f"sentence {i % 500}", "target": f"t {i}"} for i in range(2000)]
    a, b = split_records(records), split_records(list(reversed(records)))
    assert {k: len(v) for k, v in a.items()} == {k: len(v) for k, v in b.items()}
    seen = {}
    for name, part in a.items():
        for r in part:
            assert seen.setdefault(r["source"], name) == name
    assert 0 < len(a["test"]) < 200 and len(a["train"]) > 1700
    path = tmp_path / "c.tsv"
    path.write_text("".join(f"{r['source']}\t{r['target']}\n" for r in records), encoding="utf-8")
    assert len(load_parallel(str(path), "test")) == len(a["test"])


def test_parallel_text_batches_cover_every_pair_once_within_budget():
    rng = np.random.default_rng(0)
    pairs = [
        (list(rng.integers(4, 20, rng.integers(0, 12))), list(rng.integers(4, 20, rng.integers(0, 15))))
        for _ in range(300)
    ]
    encoded = encode_pairs(pairs, bos_id=1, eos_id=2)
    assert encoded[0][0][-1] == 2 and encoded[0][1][0] == 1 and encoded[0][1][-1] == 2
    data = ParallelBatches(encoded, pad_id=3, max_tokens=64, seed=0)
    for epoch in (0, 1):
        batches = list(data.batches(epoch))
        assert len(batches) == data.n_batches(epoch)
        seen = np.concatenate([b.index for b in batches])
        assert sorted(seen.tolist()) == list(range(300))
        for b in batches:
            assert b.src.size <= 64 and b.tgt_in.shape == b.tgt_out.shape
            for row, i in enumerate(b.index):
                s, t = encoded[i]
                assert b.src[row, : len(s)].tolist() == s.tolist() and (b.src[row, len(s) :] == 3).all()
                assert b.tgt_in[row, : len(t) - 1].tolist() == t[:-1].tolist()
                assert b.tgt_out[row, : len(t) - 1].tolist() == t[1:].tolist()
            assert b.n_tokens == int((b.tgt_out != 3).sum())
    first = [b.index.tolist() for b in data.batches(1)]
    assert first == [b.index.tolist() for b in ParallelBatches(encoded, pad_id=3, max_tokens=64, seed=0).batches(1)]
    assert first[1:] == [b.index.tolist() for b in data.batches(1, start=1)]
    assert first != [b.index.tolist() for b in data.batches(2)]
    with pytest.raises(ValueError, match="max_tokens"):
        ParallelBatches(encoded, pad_id=3, max_tokens=4)
