import pickle

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textkit.text import BOS, EOS, ESC, MAJ, REP, UP, WREP, RuleTokenizer, SpacyTokenizer, Tokenizer, decode_markers

TOK = Tokenizer()

# Text that exercises the rules: cased words, contractions, punctuation runs, repeats,
# HTML entities, special-token look-alikes, and arbitrary Unicode.
_fragments = st.sampled_from(
    [
        "Hello",
        "WORLD",
        "don't",
        "I'm",
        "Mr.",
        "U.S.",
        "!!!",
        "...",
        "--",
        "very very very",
        "&amp;",
        "&amp;lt;",
        "<br />",
        "xxmaj",
        "XXUP",
        "xxesc",
        "Xxrep",
        "iPhone",
        "I",
        "é",
        "e\u0301",
        "東京",
        "مرحبا",
        "😂😂😂",
        "\x00",
        "\u200b",
        "\t",
        "\n",
        " ",
        "3.5",
        "1,000",
        "http://x.org/a.",
    ]
)
_text = st.one_of(
    st.text(),
    st.lists(st.one_of(_fragments, st.text(max_size=5)), max_size=12).map(" ".join),
    st.lists(st.one_of(_fragments, st.text(max_size=3)), max_size=12).map("".join),
)


@given(_text)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_tokenizer_round_trip_is_normalize(text):
    assert TOK.detokenize(TOK.tokenize(text)) == TOK.normalize(text)


@given(_text)
@settings(max_examples=300, deadline=None)
def test_tokenizer_normalize_is_idempotent(text):
    once = TOK.normalize(text)
    assert TOK.normalize(once) == once


@given(_text)
@settings(max_examples=300, deadline=None)
def test_tokenizer_pieces_are_stable(text):
    # Splitting any piece again gives the piece back: the basis of the round trip.
    splitter = RuleTokenizer()
    for piece in TOK.pieces(text):
        assert splitter.tokenize(piece) == [piece]
        assert not any(c.isspace() for c in piece)


def test_tokenizer_markers_match_fastai_conventions():
    assert TOK.tokenize("Don't SHOUT!!!") == [MAJ, "do", "n't", UP, "shout", REP, "3", "!"]
    assert TOK.tokenize("very very very good") == [WREP, "3", "very", "good"]
    assert TOK.tokenize("Very Very Very") == [WREP, "3", MAJ, "very"]


def test_tokenizer_splits_like_spacy_english():
    assert RuleTokenizer().tokenize("Mr. Smith's U.S. trip isn't well-known, e.g. at 3.5% or $1,000.") == [
        "Mr",
        ".",
        "Smith",
        "'s",
        "U.S",
        ".",
        "trip",
        "is",
        "n't",
        "well",
        "-",
        "known",
        ",",
        "e.g.",
        "at",
        "3.5",
        "%",
        "or",
        "$",
        "1,000",
        ".",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "John F. Kennedy met Mr. Smith in the U.S. on Jan. 5, i.e. yesterday at 5pm.",
        "COVID-19 hit the 10-year-old; well-known e-mail!? Wait... ok.. --- -- :-) <3",
        "I can't, won't, and shouldn't've; gonna cannot o'clock O'Neil's £15.8m 1.5bn 100km.",
    ],
)
def test_tokenizer_matches_spacy_on_lowercased_text_as_fastai_does(text):
    # fastai 2.8 lowercases before spaCy, so that is the segmentation to agree with.
    import spacy

    nlp = spacy.blank("en")
    expected = [t.text for t in nlp(text.lower()) if not t.is_space]
    assert [p.lower() for p in RuleTokenizer().tokenize(text)] == expected


def test_tokenizer_keeps_urls_and_emails_whole():
    assert RuleTokenizer().tokenize("see https://example.org/a?b=1, or mail me@example.org.") == [
        "see",
        "https://example.org/a?b=1",
        ",",
        "or",
        "mail",
        "me@example.org",
        ".",
    ]


def test_tokenizer_escapes_literal_special_tokens():
    tokens = TOK.tokenize("the word xxmaj and XXUP")
    assert tokens == ["the", "word", ESC, "xxmaj", "and", ESC, "XXUP"]
    assert TOK.detokenize(tokens) == "the word xxmaj and XXUP"


def test_tokenizer_keeps_mixed_case_and_single_capitals():
    # Lowercasing these would lose information no marker restores.
    assert TOK.tokenize("I own an iPhone") == ["I", "own", "an", "iPhone"]


def test_tokenizer_fixes_html_to_a_fixed_point():
    assert TOK.normalize("a &amp;lt; b<br />c") == "a < b c"


def test_tokenizer_empty_and_whitespace_only_give_no_tokens():
    assert TOK.tokenize("") == []
    assert TOK.tokenize(" \t\n\u00a0 ") == []
    assert TOK.detokenize([]) == ""


def test_tokenizer_bos_eos_are_added_and_dropped_on_decode():
    tok = Tokenizer(add_bos=True, add_eos=True)
    tokens = tok.tokenize("Hi there")
    assert tokens[0] == BOS and tokens[-1] == EOS
    assert tok.detokenize(tokens) == "Hi there"


def test_tokenizer_control_characters_are_kept_as_tokens():
    # Documented behaviour: non-whitespace control characters survive as their own tokens.
    tokens = TOK.tokenize("a\x00b\x07")
    assert tokens == ["a", "\x00", "b", "\x07"]
    assert TOK.detokenize(tokens) == "a \x00 b \x07"


@pytest.mark.parametrize(
    "text",
    ["😂😂😂 👍🏽 family 👨‍👩‍👧", "東京タワーに行った。", "مرحبا بالعالم", "שלום עולם", "Ελληνικά ΚΕΦΑΛΑΙΑ"],
)
def test_tokenizer_handles_emoji_cjk_and_rtl(text):
    tokens = TOK.tokenize(text)
    assert tokens
    assert TOK.detokenize(tokens) == TOK.normalize(text)


def test_tokenizer_rejects_bytes_with_a_hint():
    with pytest.raises(TypeError, match="decode"):
        TOK.tokenize(b"caf\xe9")


def test_tokenizer_rejects_none_in_a_batch_naming_the_index():
    with pytest.raises(TypeError, match=r"texts\[1\] is None"):
        TOK.tokenize_many(["ok", None, "fine"])


@pytest.mark.slow
def test_tokenizer_handles_a_10mb_document():
    text = ("Der Film war GUT, aber... really?! " * 300_000)[: 10 * 1024 * 1024]
    tokens = TOK.tokenize(text)
    assert len(tokens) > 2_000_000
    assert TOK.detokenize(tokens) == TOK.normalize(text)


def test_tokenizer_malformed_markers_decode_without_crashing():
    assert decode_markers([REP, "x", "!", MAJ]) == "x !"
    # A repeat inside xxwrep is malformed (the encoder never nests them, and nesting would
    # multiply: three nested "xxwrep 10000" ask for 10**12 copies): its xxwrep is skipped.
    assert decode_markers([WREP, "2", REP, "3", "."]) == "2 ..."


def test_tokenizer_saves_and_loads_config(tmp_path):
    tok = Tokenizer("en", rules=("replace_case",), add_bos=True)
    tok.save(tmp_path)
    assert Tokenizer.load(tmp_path) == tok
    assert pickle.loads(pickle.dumps(tok)).tokenize("Hello WORLD") == tok.tokenize("Hello WORLD")


def test_tokenizer_rejects_unknown_rules_and_splitters():
    with pytest.raises(ValueError, match="unknown rules"):
        Tokenizer(rules=("lowercase_everything",))
    with pytest.raises(ValueError, match="unknown splitter"):
        Tokenizer(splitter="nltk")


def test_tokenizer_spacy_splitter_for_spanish():
    tok = Tokenizer("es", splitter="spacy")
    tokens = tok.tokenize("EN el principio crió Dios los cielos y la tierra.")
    assert tokens[:3] == [UP, "en", "el"]
    assert tokens[-1] == "."
    assert tok.detokenize(tokens) == "EN el principio crió Dios los cielos y la tierra ."


def test_tokenizer_spacy_unknown_language_is_a_clear_error():
    with pytest.raises(ValueError, match="spaCy has no language"):
        SpacyTokenizer("zz-not-a-language")
