from textkit.text import (
    collapse_whitespace,
    compose,
    escape_specials,
    fix_html,
    normalize_unicode,
    replace_case,
    replace_rep,
    replace_wrep,
)


def test_rules_fix_html_entities_and_line_breaks():
    assert fix_html("a&amp;b<br />c<BR>d &quot;q&quot;") == 'a&b\nc\nd "q"'


def test_rules_fix_html_is_idempotent_on_double_escapes():
    once = fix_html("&amp;amp;lt;")
    assert once == "<"
    assert fix_html(once) == once


def test_rules_normalize_unicode_composes():
    assert normalize_unicode("e\u0301") == "\u00e9"


def test_rules_collapse_whitespace():
    assert collapse_whitespace("  a \t\n b\u00a0 c ") == "a b c"


def test_rules_replace_rep_only_whole_pieces_of_punctuation():
    assert replace_rep("wow !!!! and sooooo ..") == "wow xxrep 4 ! and sooooo .."


def test_rules_replace_wrep_needs_three_whole_pieces():
    assert replace_wrep("so so so good") == "xxwrep 3 so good"
    assert replace_wrep("the the theory") == "the the theory"


def test_rules_replace_wrep_never_groups_special_tokens():
    assert replace_wrep("xxesc xxesc xxesc") == "xxesc xxesc xxesc"


def test_rules_replace_case_marks_caps_and_capitalized_only():
    assert replace_case("Hello WORLD I iPhone ok") == "xxmaj hello xxup world I iPhone ok"


def test_rules_replace_case_skips_the_piece_after_xxesc():
    assert replace_case("xxesc XXMAJ Big") == "xxesc XXMAJ xxmaj big"


def test_rules_escape_specials_any_case():
    assert escape_specials("a xxbos XXMAJ b") == "a xxesc xxbos xxesc XXMAJ b"


def test_rules_compose_chains_left_to_right():
    rule = compose(replace_rep, replace_case)
    assert rule("WOW !!!") == "xxup wow xxrep 3 !"
    assert rule.__name__ == "replace_rep+replace_case"
