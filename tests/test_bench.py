"""Smoke tests of ``bench/``: every benchmark runs at its ``--quick`` size and writes valid JSON.

Each script runs as a subprocess with this interpreter (textkit's own venv, ``.venv``) from the
repository root, writing to ``tmp_path`` (``--out``), never to the committed ``bench/results/``.
Only that the run finishes and that its JSON holds real results is checked: no timing is asserted.

Peers (fastai, fastText, Hugging Face transformers, WEFE) live only in the benchmark venvs
(``.venv-bench*``), never in ``.venv``. Where a peer is missing, a benchmark still runs its textkit
side and records ``{"available": false, "reason": ...}`` for the peer, which is what these tests
see on a clean machine. Peers found by path rather than by import (``bench/ulmfit.py``'s
``--fastai-python``, ``bench/bias.py``'s ``--peer-python``) are pointed at this interpreter, so a
checkout that has the benchmark venvs runs the same as a clean machine. (spaCy and HF
``tokenizers`` are textkit dependencies, so ``bench/tokenization.py`` always runs them too.)

Corpora (rotten-tomatoes, bbc-news, brown, ...) and SmolLM2's weights come from ``$TEXTKIT_HOME``,
the cache the rest of the suite fills; it is passed on unchanged.

Left out: ``bench/gpu_check.py``, the prepared GPU run. It needs a CUDA device (there is no CPU
size of it to smoke-test); ``tests/train/test_gpu.py`` holds the GPU tests, skipped without one.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# one BLAS/OpenMP thread per benchmark process: pytest -n 2 runs two of them on two cores
THREAD_ENV = dict.fromkeys(("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"), "1")


def run_bench(script: str, args: list[str], timeout: int) -> None:
    done = subprocess.run(
        [sys.executable, f"bench/{script}.py", "--quick", *args],
        cwd=ROOT,
        env={**os.environ, **THREAD_ENV},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"bench/{script}.py --quick failed ({done.returncode}):\n{done.stderr[-4000:]}"


def check_peer(peer: dict, name: str) -> None:
    """``{"available": bool, "reason": why not}``, with the peer's ``name`` where the JSON has one."""
    assert isinstance(peer["available"], bool), peer
    assert peer.get("name", name).lower() == name, peer
    if not peer["available"]:
        assert isinstance(peer["reason"], str) and peer["reason"], peer


def finite_positive(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def find(obj, key: str) -> list:
    """Every value stored under ``key`` anywhere in a JSON document."""
    if isinstance(obj, dict):
        return [v for k, v in obj.items() if k == key] + [x for v in obj.values() for x in find(v, key)]
    if isinstance(obj, list):
        return [x for v in obj for x in find(v, key)]
    return []


# -- one check per benchmark: keys that show the textkit side did real work ------------------------


def check_decode(report: dict) -> None:
    assert {"results", "warpers", "peer", "seed", "config", "versions"} <= set(report)
    assert report["config"]["quick"] is True
    check_peer(report["peer"], "transformers")
    assert set(report["results"]) == {"greedy", "top_p_0.9", f"beam_{report['config']['beam']}"}
    for row in report["results"].values():
        assert finite_positive(row["textkit_tokens_per_s"])
        assert ("speedup" in row) == report["peer"]["available"]


def check_lm(report: dict) -> None:
    assert {"models", "peer", "ratios", "baselines", "setup"} <= set(report)
    assert report["setup"]["quick"] is True
    check_peer(report["peer"], "fastai")
    assert ("fastai" in report["models"]) == report["peer"]["available"]
    for kind in ("textkit", "plain"):
        model = report["models"][kind]
        assert model["train_tokens"] > 0 and finite_positive(model["tokens_per_s"])
        assert finite_positive(model["valid_perplexity"]) and model["valid_perplexity"] > 1
        assert finite_positive(model["peak_rss_mib"])
    assert report["baselines"]["unigram_valid_ppl"] > 1


def check_classify_cli(report: dict) -> None:
    assert {"data", "results", "peers", "seed", "versions"} <= set(report)
    assert report["quick"] is True
    for name, peer in report["peers"].items():
        check_peer(peer, name)
    assert report["peers"]["sklearn"]["available"]  # a textkit dependency
    for corpus, chance in (("rotten-tomatoes", 0.5), ("bbc-sentences", 0.2)):
        ran = {"textkit", *(p for p, status in report["peers"].items() if status["available"])}
        ran |= {"textkit-streaming"} if corpus == "bbc-sentences" else set()  # the same model, streamed
        assert set(report["results"][corpus]) == ran
        assert chance < report["results"][corpus]["textkit"]["accuracy"] <= 1  # better than chance: it learned
    assert report["results"]["bbc-sentences"]["textkit"]["predict_scaling"]
    streamed = report["results"]["bbc-sentences"]["textkit-streaming"]
    assert streamed["accuracy"] == report["results"]["bbc-sentences"]["textkit"]["accuracy"]


def check_tokenization(report: dict) -> None:
    assert {"seed", "versions", "config", "results", "scaling", "peers"} <= set(report)
    assert report["config"]["quick"] is True
    assert set(report["peers"]) == {"fastai", "spacy", "hf"}
    for name, peer in report["peers"].items():
        check_peer(peer, name)
    for run in ("textkit", "textkit@1"):
        assert finite_positive(report["results"][run]["mb_per_s"]) and report["results"][run]["tokens"] > 0
    assert report["scaling"]["textkit"]["identical_output"] is True


def check_llm_exactness(report: dict) -> None:
    assert {"model", "peer", "logits", "greedy", "tokens", "perplexity", "seed", "versions"} <= set(report)
    assert report["quick"] is True
    check_peer(report["peer"], "transformers")
    assert 1 < report["perplexity"]["textkit"] < 1000  # SmolLM2 on news text: about 24
    assert all(row["textkit_ids"] for row in report["greedy"]["rows"])
    assert all(finite_positive(row["textkit_max_abs_logit"]) for row in report["logits"]["texts"])
    assert (report["perplexity"]["hf"] is None) == (not report["peer"]["available"])


def check_encoder_exactness(report: dict) -> None:
    assert {"model", "peer", "seed", "config", "versions", "int8_cosine_to_fp32", "speed"} <= set(report)
    assert report["quick"] is True
    check_peer(report["peer"], "sentence-transformers")
    assert 0.5 < report["int8_cosine_to_fp32"]["int8_per_channel (textkit precision='int8')"]["mean"] <= 1.0 + 1e-6
    assert all(finite_positive(s["sentences_per_s_median"]) for s in report["speed"].values())
    peer = report["peer"]["available"]
    assert (report["embeddings_vs_sentence_transformers_encode"] is None) == (not peer)
    if peer:
        assert report["tokens_and_hidden_states_vs_transformers_BertModel"]["max_abs_diff_real_positions"] <= 1e-5


def check_encoder_finetune(report: dict) -> None:
    assert {"peer", "settings", "seed", "command", "versions", "speed"} <= set(report)
    assert report["quick"] is True and report["settings"]["threads"] == 1
    check_peer(report["peer"], "transformers")
    assert finite_positive(report["speed"]["textkit_median"])
    peer = report["peer"]["available"]
    assert (report["speed"]["peer_median"] is None) == (not peer) and ("peer_accuracy" in report) == peer


def check_generate(report: dict) -> None:
    assert {"seed", "versions", "config", "peer", "cells", "load", "bandwidth"} <= set(report)
    assert report["config"]["quick"] is True
    check_peer(report["peer"], "transformers")
    sides = {"textkit", "hf"} if report["peer"]["available"] else {"textkit"}
    assert {(c["strategy"], c["batch"]) for c in report["cells"]} == {
        (s, b) for s in ("greedy", "top_p", "beam5") for b in (1, 2)
    }
    for cell in report["cells"]:
        assert set(cell["tokens_per_s"]) == sides and all(finite_positive(v) for v in cell["tokens_per_s"].values())
    assert set(report["load"]) == sides and finite_positive(report["load"]["textkit"]["peak_rss_mb"])
    assert finite_positive(report["bandwidth"]["batch1_bound_tokens_per_s"])


def check_ulmfit(report: dict) -> None:
    assert {"textkit", "fastai", "peer", "ratios", "settings", "seed", "versions"} <= set(report)
    assert report["settings"]["quick"] is True
    check_peer(report["peer"], "fastai")
    assert (report["fastai"] is not None) == report["peer"]["available"]
    textkit = report["textkit"]
    assert finite_positive(textkit["inference_docs_per_s"]) and finite_positive(textkit["classifier_train_docs_per_s"])
    assert 0 <= textkit["held_out_accuracy"] <= 1


def check_ulmfit_fastai(report: dict) -> None:
    assert {"peer", "settings", "seed", "quick"} <= set(report)
    assert report["quick"] is True
    check_peer(report["peer"], "fastai")
    if report["peer"]["available"]:
        assert 0 <= report["accuracy"] <= 1 and finite_positive(report["inference_docs_per_s"])
    else:  # the generated input passed the script's own checks
        assert report["input"]["task_docs"] == {"train": 96, "test": 32}


def check_classical(report: dict) -> None:
    assert {"seed", "versions", "config", "results"} <= set(report)
    assert report["config"]["quick"] is True
    accuracies = find(report["results"], "accuracy")
    assert accuracies and all(0 <= a <= 1 for a in accuracies)
    assert any(finite_positive(s) for s in find(report["results"], "cpu_seconds"))


def check_bias(report: dict) -> None:
    assert {"quick", "config", "versions", "tests", "peer"} <= set(report)
    assert report["quick"] is True
    check_peer(report["peer"], "wefe")
    assert report["tests"] and all(math.isfinite(t["textkit_effect_size"]) for t in report["tests"])


def check_lm_brown(report: dict) -> None:
    assert {"runs", "baselines", "seed", "versions", "complete"} <= set(report)
    assert {"commit", "dirty"} <= set(report["versions"])  # the one provenance record
    assert report["quick"] is True and report["complete"] is True
    assert set(report["runs"]) == {"awd_lstm-small:1", "gru-small:1", "awd_lstm-small:2"}
    for run in report["runs"].values():  # copied from the config.json / history.json of textkit lm pretrain
        metrics = run["metrics"]
        assert metrics["steps"] == 3 and run["history"] and run["parameters"] > 0
        assert finite_positive(metrics["valid_perplexity"]) and finite_positive(metrics["test_perplexity"])
        assert metrics["tokens"] == report["baselines"]["tokens"]  # the baselines score the same streams
    assert 1 < report["baselines"]["bigram_valid_ppl"] < report["baselines"]["unigram_valid_ppl"]


def check_ulmfit_classifier_search(report: dict) -> None:
    assert report["quick"] is True and report["data"]["n_valid"] == 100
    assert {run["candidate"] for run in report["runs"]} == {"two_epochs", "drop_0.7", "head_first"}
    for run in report["runs"]:  # without --finetuned the quick run trains random encoders
        assert run["encoder"] == "scratch" and 0 <= run["inner_valid_accuracy"] <= 1 and run["stages"]


def check_translation(report: dict) -> None:
    assert {"metrics", "signatures", "peer", "versions", "config", "sentences"} <= set(report)
    assert report["config"]["quick"] is True and report["threads"] == 1
    check_peer(report["peer"], "apertium")
    for name, rows in report["metrics"].items():
        assert report["sentences"][name] == 8
        systems = {"textkit greedy", "textkit beam 5", "copy source"}
        systems |= {"apertium spa-eng"} if report["peer"]["available"] else set()
        assert set(rows) == systems
        for row in rows.values():
            assert 0 <= row["bleu"] <= 100 and 0 <= row["chrf"] <= 100
        assert finite_positive(rows["textkit greedy"]["sentences_per_s"])


def check_generate_llamacpp(report: dict) -> None:
    assert {"seed", "versions", "config", "peers", "rows", "perplexity", "goals"} <= set(report)
    for name in ("hf", "llama.cpp"):
        assert isinstance(report["peers"][name]["available"], bool)
    textkit = [row for row in report["rows"] if row["system"].startswith("textkit")]
    assert {row["precision"] for row in textkit} >= {"q4", "fp32"}
    for row in report["rows"]:
        assert finite_positive(row["tokens_per_s"]["median"]) and row["threads"] in (1, 2)


def check_tokenize_scaling_model(report: dict) -> None:
    assert report["quick"] is True and len(report["results"]) == 1
    for result in report["results"].values():
        assert result["passes"] == 1 and result["batches"] >= 1
        assert all(0 < v <= 2.0 for v in result["modelled_speedup_2_processes"].values())


def check_ulmfit_cli(report: dict) -> None:
    assert {"command", "accuracy", "majority_baseline", "reference", "goal_met", "settings", "versions"} <= set(report)
    assert report["quick"] is True and report["recipe"] == "ulmfit-quick" and "--method ulmfit" in report["command"]
    assert 0.0 <= report["accuracy"] <= 1.0 and report["reference"]["ulmfit_fwd_mean_3_seeds"] > 0.79
    assert len(report["settings"]["classifier"]["stages"]) == 1  # --epochs 1 applied


def check_generate_quantized(report: dict) -> None:
    assert {"seed", "versions", "config", "peer", "results", "bandwidth_gb_per_s"} <= set(report)
    assert report["config"]["quick"] is True and report["config"]["threads"] == 1
    check_peer(report["peer"], "llama-cpp-python")
    assert set(report["results"]) == {"fp32", "bf16", "int8", "q4"}
    for result in report["results"].values():
        assert finite_positive(result["tokens_per_s"]["median"]) and finite_positive(result["perplexity"])
        assert finite_positive(result["batch1_bound_tokens_per_s"])
    # q4 runs the file's own weights: its perplexity stays within a few percent of fp32's
    assert abs(report["results"]["q4"]["perplexity_vs_fp32"]) < 0.05


SLOW = pytest.mark.slow  # over ~10 s
# script -> (extra arguments, check, seconds allowed, marks); "{tmp}" is the test's tmp_path
BENCHES: dict[str, tuple[list[str], Callable[[dict], None], int, list]] = {
    "decode": (["--threads", "1"], check_decode, 120, []),
    "lm": (["--threads", "1"], check_lm, 300, [SLOW]),
    "lm_brown": (["--threads", "1"], check_lm_brown, 300, [SLOW]),
    "classify_cli": (["--work", "{tmp}/work"], check_classify_cli, 300, [SLOW]),
    "tokenization": ([], check_tokenization, 300, [SLOW]),
    "llm_exactness": (["--threads", "1"], check_llm_exactness, 300, [SLOW]),
    "generate": (["--threads", "1"], check_generate, 300, [SLOW]),
    "encoder_exactness": (["--threads", "1"], check_encoder_exactness, 300, [SLOW]),
    "encoder_finetune": (["--threads", "1"], check_encoder_finetune, 300, [SLOW]),
    "ulmfit": (["--fastai-python", sys.executable], check_ulmfit, 120, []),
    "ulmfit_fastai": (["--work", "{tmp}/work"], check_ulmfit_fastai, 120, []),
    "ulmfit_classifier_search": (["--only", "two_epochs,drop_0.7,head_first"], check_ulmfit_classifier_search, 120, []),
    "classical": ([], check_classical, 300, [SLOW]),
    "bias": (["--peer-python", sys.executable], check_bias, 120, []),
    "translation": ([], check_translation, 300, [SLOW]),
    "generate_quantized": (["--threads", "1"], check_generate_quantized, 300, [SLOW]),
    "generate_llamacpp": (["--threads", "1", "--no-compile"], check_generate_llamacpp, 300, [SLOW]),
    "tokenize_scaling_model": ([], check_tokenize_scaling_model, 300, [SLOW]),
    "ulmfit_cli": (["--work", "{tmp}/work", "--threads", "1"], check_ulmfit_cli, 300, [SLOW]),
}


@pytest.mark.parametrize("script", [pytest.param(name, marks=spec[3]) for name, spec in BENCHES.items()])
def test_bench_quick(script: str, tmp_path: Path) -> None:
    extra, check, timeout, _ = BENCHES[script]
    out = tmp_path / f"{script}.json"
    run_bench(script, ["--out", str(out), *(a.replace("{tmp}", str(tmp_path)) for a in extra)], timeout)
    check(json.loads(out.read_text(encoding="utf-8")))


@SLOW
def test_bench_generate_load_from_remeasures_only_the_load(tmp_path: Path) -> None:
    out = tmp_path / "generate.json"
    run_bench("generate", ["--threads", "1", "--out", str(out)], 300)
    before = json.loads(out.read_text(encoding="utf-8"))
    done = subprocess.run(
        [sys.executable, "bench/generate.py", "--load-from", str(out)],
        cwd=ROOT,
        env={**os.environ, **THREAD_ENV},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    after = json.loads(out.read_text(encoding="utf-8"))
    assert after["cells"] == before["cells"] and after["load_measurement"]["previous"] == before["load"]
    assert finite_positive(after["load"]["textkit"]["load_s"])


def test_every_benchmark_is_smoke_tested() -> None:
    scripts = {p.stem for p in (ROOT / "bench").glob("*.py")}
    assert scripts - {"gpu_check"} == set(BENCHES), "a new bench/ script needs a --quick smoke test here"


def test_ulmfit_fastai_takes_a_textkit_forward_lm(tmp_path: Path) -> None:
    """`--pretrained-lm`: every textkit AWD-LSTM weight has fastai names, and the folder is
    checked before anything runs (a backward LM is refused with exit status 2)."""
    import importlib.util

    import torch

    from textkit.cli import main
    from textkit.nn.registry import build_language_model

    spec = importlib.util.spec_from_file_location("ulmfit_fastai", ROOT / "bench" / "ulmfit_fastai.py")
    assert spec is not None and spec.loader is not None
    peer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peer)
    model = build_language_model(
        "awd_lstm", {"vocab_size": 50, "pad_index": 1, "emb_size": 8, "hidden_size": 16, "n_layers": 2}
    )
    names = sorted(n for k in model.state_dict() for n in peer.fastai_names(k))
    assert names == sorted(
        ["0.encoder.weight", "0.encoder_dp.emb.weight", "1.decoder.weight", "1.decoder.bias"]
        + [f"0.rnns.{i}.{p}" for i in (0, 1) for p in ("weight_hh_l0_raw", "module.weight_ih_l0")]
        + [f"0.rnns.{i}.module.{p}" for i in (0, 1) for p in ("bias_ih_l0", "bias_hh_l0")]
    )

    torch.set_num_threads(1)
    recipe = ROOT / "models" / "tiny-test.json"
    for name, extra in (("fwd", []), ("bwd", ["--backwards"])):
        args = ["lm", "pretrain", "--config", str(recipe), "--out", str(tmp_path / name), "--quiet"]
        assert main([*args, "--max-steps", "1", *extra]) == 0
    script = [sys.executable, "bench/ulmfit_fastai.py", "--quick", "--work", str(tmp_path / "work")]
    for name, code in (("fwd", 0), ("bwd", 2)):
        out = tmp_path / f"{name}.json"
        done = subprocess.run(
            [*script, "--out", str(out), "--pretrained-lm", str(tmp_path / name)],
            cwd=ROOT,
            env={**os.environ, **THREAD_ENV},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == code, done.stderr[-2000:]
    assert "backward LM" in done.stderr
    check_ulmfit_fastai(json.loads((tmp_path / "fwd.json").read_text()))
