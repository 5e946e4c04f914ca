import math

import numpy as np
import pytest

from textkit._io import atomic_open, atomic_write_json, read_json, to_jsonable


def test_io_atomic_open_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "a.json"
    atomic_write_json(path, {"v": 1})
    with pytest.raises(RuntimeError), atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write('{"v": 2')
        raise RuntimeError("interrupted")
    assert read_json(path) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]  # no temporary file left


def test_io_to_jsonable_numpy_and_non_finite():
    out = to_jsonable({1: np.float64(0.5), "a": np.arange(3), "t": (math.nan, np.float32(math.inf)), "s": "x"})
    assert out == {"1": 0.5, "a": [0, 1, 2], "t": [None, None], "s": "x"}


def test_versions_with_git_records_the_commit_and_whether_the_tree_was_dirty():
    from textkit._io import versions

    record = versions(git=True)
    assert set(record) >= {"python", "textkit", "torch", "commit", "dirty"}
    assert record["commit"] == "unknown" or len(record["commit"]) == 40
    assert record["dirty"] in (True, False, None)
    assert "commit" not in versions()  # saving a model never shells out to git
