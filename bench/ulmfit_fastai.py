"""fastai 2.8 peer for `textkit reproduce ulmfit`: the ULMFiT recipe with fastai's own code.

Three stages, all with fastai's `AWD_LSTM` (`pretrained=False`, sizes from the settings):

1. pretrain a language model on the Brown documents (`DATA/pretrain.json`), build the vocabulary
   there, save the weights and vocabulary;
2. fine-tune a new language model on the task's training texts (no test texts, no labels), its
   vocabulary built from those texts and the Brown weights moved onto it by fastai's
   `load_pretrained` (`match_embeds`); frozen first, then unfrozen; save the encoder;
3. train a classifier on that encoder with gradual unfreezing and discriminative learning rates,
   then score the test texts.

It also times each stage, classifier training and inference throughput, `load_learner` of an
exported classifier and peak RSS, and writes one JSON file (see `main`). textkit runs it as a
subprocess with the benchmark venv, which is the only place fastai is installed:

    .venv-bench/bin/python bench/ulmfit_fastai.py --data DATA_DIR --settings SETTINGS.json \
        --out RESULT.json [--threads 1] [--work WORK_DIR] [--limit N]

`--pretrained-lm DIR` starts from a textkit AWD-LSTM folder (forward; e.g. the shipped
`models/awd_lstm-en/forward`) instead of stage 1: its weights are renamed into fastai's
`AWD_LSTM` layout (the names map one to one; the embedding also fills fastai's dropout copy and
the tied decoder), its vocabulary becomes the pretraining vocabulary that `match_embeds` maps
from, and its sizes replace the settings' `pretrain` sizes; `pretrain.json` is then not read.

`--limit N` keeps the first N documents of every list (smoke tests). Progress goes to stderr.
Bad input (missing or ill-formed data files or settings keys) exits with status 2.

`--quick --out RESULT.json` is a smoke run on generated data: it writes tiny seeded data files and
settings (under `--work`, or a temp dir), checks them as it checks real input, and runs the three
stages when fastai is importable; without fastai (textkit's own venv) it writes the checked input
and `"peer": {"available": false, "reason": ...}` instead of failing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

EXIT_BAD_INPUT = 2

# Every settings key the recipe reads, with the type it must have.
SETTINGS_SPEC = {
    "seed": int,
    "pretrain": {
        "emb_size": int,
        "hidden_size": int,
        "n_layers": int,
        "drop_mult": float,
        "epochs": int,
        "lr": float,
        "batch_size": int,
        "bptt": int,
        "max_vocab": int,
        "min_freq": int,
        "wd": float,
        "clip": float,
    },
    "finetune": {
        "epochs_frozen": int,
        "lr_frozen": float,
        "epochs": int,
        "lr": float,
        "batch_size": int,
        "bptt": int,
        "drop_mult": float,
        "valid_fraction": float,
    },
    "classifier": {
        "batch_size": int,
        "bptt": int,
        "max_len": int,
        "drop_mult": float,
        "lr_factor": float,
        "moms": list,
        "stages": list,
    },
}


class BadInput(Exception):
    """Input data or settings that the recipe cannot run on; the message names the file and key."""


def note(msg: str) -> None:
    print(f"[ulmfit-fastai] {msg}", file=sys.stderr, flush=True)


def peak_rss_kib() -> float:
    """This process's own peak resident set (``VmHWM``, KiB), as ``bench/classify_cli.py`` reads it
    (not imported: this script may run from a copy, see ``--fastai-script``). ``ru_maxrss`` would
    not do: Linux keeps the parent's peak in it across fork and exec, so this script, started by
    textkit's process, would report the larger of its own peak and its parent's."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: the best there is


# -- input -----------------------------------------------------------------------------------------


def read_json(path: Path):
    if not path.is_file():
        raise BadInput(f"{path}: file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadInput(f"{path}: not valid JSON ({e})") from e


def _check_type(value, kind, where: str):
    if kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind) and not isinstance(value, bool)
    if not ok:
        raise BadInput(f"{where}: expected {kind.__name__}, got {value!r}")


def load_settings(path: Path) -> dict:
    settings = read_json(path)
    if not isinstance(settings, dict):
        raise BadInput(f"{path}: expected a JSON object")
    for key, spec in SETTINGS_SPEC.items():
        if key not in settings:
            raise BadInput(f"{path}: missing key '{key}'")
        if isinstance(spec, dict):
            section = settings[key]
            if not isinstance(section, dict):
                raise BadInput(f"{path}: '{key}' must be an object")
            for sub, kind in spec.items():
                if sub not in section:
                    raise BadInput(f"{path}: missing key '{key}.{sub}'")
                _check_type(section[sub], kind, f"{path}: '{key}.{sub}'")
        else:
            _check_type(settings[key], spec, f"{path}: '{key}'")
    frac = settings["finetune"]["valid_fraction"]
    if not 0 < frac < 1:
        raise BadInput(f"{path}: 'finetune.valid_fraction' must be in (0, 1), got {frac}")
    moms = settings["classifier"]["moms"]
    if len(moms) != 3 or not all(isinstance(m, (int, float)) for m in moms):
        raise BadInput(f"{path}: 'classifier.moms' must be three numbers, got {moms!r}")
    stages = settings["classifier"]["stages"]
    if not stages:
        raise BadInput(f"{path}: 'classifier.stages' is empty")
    for i, stage in enumerate(stages):
        where = f"{path}: 'classifier.stages[{i}]"
        if not isinstance(stage, dict):
            raise BadInput(f"{where}' must be an object")
        for sub, kind in (("groups", None), ("epochs", int), ("lr", float)):
            if sub not in stage:
                raise BadInput(f"{where}.{sub}' missing")
            if kind is not None:
                _check_type(stage[sub], kind, f"{where}.{sub}'")
        groups = stage["groups"]
        if groups != "all" and not (isinstance(groups, int) and not isinstance(groups, bool) and groups >= 1):
            raise BadInput(f'{where}.groups\' must be a positive int or "all", got {groups!r}')
    return settings


def _str_list(value, where: str) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(t, str) for t in value):
        raise BadInput(f"{where}: expected a non-empty list of strings")
    return value


def load_data(data_dir: Path, limit: int | None, with_pretrain: bool = True) -> tuple[dict, dict]:
    """Read and check `pretrain.json` (unless `with_pretrain` is false) and `task.json`; keep the
    first `limit` docs of each list."""
    cut = (lambda xs: xs[:limit]) if limit else (lambda xs: xs)
    pretrain = {}
    if with_pretrain:
        path = data_dir / "pretrain.json"
        raw = read_json(path)
        if not isinstance(raw, dict):
            raise BadInput(f"{path}: expected a JSON object")
        for split in ("train", "valid"):
            if split not in raw:
                raise BadInput(f"{path}: missing key '{split}'")
            pretrain[split] = cut(_str_list(raw[split], f"{path}: '{split}'"))

    path = data_dir / "task.json"
    raw = read_json(path)
    if not isinstance(raw, dict):
        raise BadInput(f"{path}: expected a JSON object")
    if "labels" not in raw:
        raise BadInput(f"{path}: missing key 'labels'")
    labels = _str_list(raw["labels"], f"{path}: 'labels'")
    task = {"labels": labels}
    for split in ("train", "test"):
        part = raw.get(split)
        if not isinstance(part, dict):
            raise BadInput(f"{path}: missing or ill-formed key '{split}'")
        for sub in ("texts", "labels"):
            if sub not in part:
                raise BadInput(f"{path}: missing key '{split}.{sub}'")
        texts = _str_list(part["texts"], f"{path}: '{split}.texts'")
        ys = _str_list(part["labels"], f"{path}: '{split}.labels'")
        if len(texts) != len(ys):
            raise BadInput(f"{path}: '{split}.texts' and '{split}.labels' differ in length ({len(texts)} vs {len(ys)})")
        unknown = sorted(set(ys) - set(labels))
        if unknown:
            raise BadInput(f"{path}: '{split}.labels' has labels not in 'labels': {unknown[:5]}")
        task[split] = {"texts": cut(texts), "labels": cut(ys)}
    return pretrain, task


# -- fastai helpers ----------------------------------------------------------------------------------


def quiet(learn, stage: str):
    """Drop fastai's progress bars and send its per-epoch log line to stderr instead of stdout."""
    from fastai.callback.progress import ProgressCallback

    learn.remove_cb(ProgressCallback)

    def log(values):
        names = list(learn.recorder.metric_names)
        parts = [f"{n}={v:.4f}" if isinstance(v, float) else f"{n}={v}" for n, v in zip(names, values, strict=False)]
        note(f"{stage}: " + " ".join(parts))

    learn.logger = log
    return learn


def valid_loss(learn) -> float:
    """Validation loss after the last epoch (the Recorder's value; a fresh pass if nothing was fit)."""
    values = getattr(learn.recorder, "values", None)  # absent until something was fit
    if values:
        return float(values[-1][1])
    with learn.no_bar(), learn.no_logging():
        return float(learn.validate()[0])


def lm_config(pre: dict, base: dict) -> dict:
    """fastai's default AWD-LSTM config (its dropouts) at the sizes of the settings."""
    cfg = dict(base)
    cfg.update(emb_sz=pre["emb_size"], n_hid=pre["hidden_size"], n_layers=pre["n_layers"])
    return cfg


def lm_dataloaders(
    train: list[str],
    valid: list[str],
    *,
    bs: int,
    bptt: int,
    vocab,
    max_vocab: int,
    min_freq: int,
    tok_workers: int,
    work: Path,
):
    import pandas as pd
    from fastai.text.all import ColReader, ColSplitter, DataBlock, TextBlock

    df = pd.DataFrame({"text": train + valid, "is_valid": [False] * len(train) + [True] * len(valid)})
    # Tokenizer.from_df tokenizes the whole frame (train_setup=False), so fastai's vocabulary counts
    # include the validation texts; that is fastai's behaviour and is kept.
    block = TextBlock.from_df(
        "text", is_lm=True, seq_len=bptt, vocab=vocab, max_vocab=max_vocab, min_freq=min_freq, n_workers=tok_workers
    )
    dblock = DataBlock(blocks=block, get_x=ColReader("text"), splitter=ColSplitter("is_valid"))
    return dblock.dataloaders(df, bs=bs, seq_len=bptt, num_workers=0, path=work)


def text_vocab(dls) -> list[str]:
    vocab = dls.vocab
    # A classifier's dls.vocab is (text vocab, label vocab); a language model's is the text vocab.
    if len(vocab) and not isinstance(vocab[0], str):
        vocab = vocab[0]
    return list(vocab)


# -- stages ------------------------------------------------------------------------------------------


def pretrain_stage(data: dict, settings: dict, work: Path, tok_workers: int) -> dict:
    """Stage 1: language model on Brown; saves `models/brown_lm.pth` and `models/brown_vocab.pkl`."""
    from fastai.text.all import (
        AWD_LSTM,
        GradientClip,
        awd_lstm_lm_config,
        language_model_learner,
        save_pickle,
        set_seed,
    )

    pre = settings["pretrain"]
    set_seed(settings["seed"], reproducible=True)
    note(f"pretrain: tokenizing {len(data['train'])} train / {len(data['valid'])} valid documents")
    dls = lm_dataloaders(
        data["train"],
        data["valid"],
        bs=pre["batch_size"],
        bptt=pre["bptt"],
        vocab=None,
        max_vocab=pre["max_vocab"],
        min_freq=pre["min_freq"],
        tok_workers=tok_workers,
        work=work,
    )
    vocab = text_vocab(dls)
    note(f"pretrain: vocab {len(vocab)}, {len(dls.train)} train batches")
    learn = language_model_learner(
        dls,
        AWD_LSTM,
        config=lm_config(pre, awd_lstm_lm_config),
        pretrained=False,
        drop_mult=pre["drop_mult"],
        cbs=[GradientClip(pre["clip"])],
    )
    quiet(learn, "pretrain")
    if pre["epochs"] > 0:
        learn.fit_one_cycle(pre["epochs"], pre["lr"], wd=pre["wd"])
    loss = valid_loss(learn)
    # load_pretrained wants the whole LM (encoder and tied decoder with its bias) plus the vocab pickle.
    learn.save("brown_lm", with_opt=False)
    learn.save_encoder("brown_enc")
    save_pickle(work / "models" / "brown_vocab.pkl", vocab)
    return {"valid_loss": loss, "perplexity": math.exp(loss), "vocab_size": len(vocab)}


def check_textkit_lm(folder: Path) -> dict:
    """The config of a textkit forward AWD-LSTM folder, checked before anything runs."""
    config = read_json(folder / "config.json")
    arch = config.get("arch") if isinstance(config, dict) else None
    if arch != "awd_lstm":
        raise BadInput(f"{folder / 'config.json'}: not a textkit AWD-LSTM (arch {arch!r})")
    if config.get("data", {}).get("backwards", False):
        raise BadInput(f"{folder}: a backward LM; the fastai peer starts from a forward one")
    itos = read_json(folder / "vocab.json")
    if not isinstance(itos, dict) or not isinstance(itos.get("itos"), list):
        raise BadInput(f"{folder / 'vocab.json'}: expected an object with an 'itos' list")
    if len(itos["itos"]) != config["model"].get("vocab_size"):
        raise BadInput(f"{folder}: vocab.json has {len(itos['itos'])} tokens, config.json {config['model']}")
    if not (folder / "model.safetensors").is_file():
        raise BadInput(f"{folder / 'model.safetensors'}: file not found")
    return config


# textkit AWD-LSTM weight name -> fastai get_language_model(AWD_LSTM) names (the embedding also
# fills the embedding-dropout copy and the tied decoder)
def fastai_names(textkit_name: str) -> list[str]:
    if textkit_name == "encoder.embedding.weight":
        return ["0.encoder.weight", "0.encoder_dp.emb.weight", "1.decoder.weight"]
    if textkit_name == "decoder.bias":
        return ["1.decoder.bias"]
    if textkit_name == "decoder.weight":  # tied to the embedding (saved files leave it out)
        return []
    prefix = "encoder.rnns."
    if textkit_name.startswith(prefix):
        layer, param = textkit_name[len(prefix) :].split(".")
        if param == "weight_hh_l0":
            return [f"0.rnns.{layer}.weight_hh_l0_raw"]
        return [f"0.rnns.{layer}.module.{param}"]
    raise BadInput(f"unexpected weight {textkit_name!r} in the textkit LM")


def import_stage(folder: Path, settings: dict, work: Path) -> dict:
    """Stage 1 replaced: the textkit LM's weights and vocabulary as `models/pre_lm.pth` and
    `models/pre_vocab.pkl`, in fastai's state-dict order (fastai's load_pretrained loads by
    position, not by name)."""
    import hashlib

    import torch
    from fastai.text.all import AWD_LSTM, awd_lstm_lm_config, get_language_model, save_pickle
    from safetensors.torch import load_file

    config = check_textkit_lm(folder)
    sizes = config["model"]
    pre = settings["pretrain"]
    pre.update(emb_size=sizes["emb_size"], hidden_size=sizes["hidden_size"], n_layers=sizes["n_layers"])
    itos = read_json(folder / "vocab.json")["itos"]
    weights_path = folder / "model.safetensors"
    tensors = {k: v.float() for k, v in load_file(str(weights_path)).items()}
    renamed = {new: tensor for old, tensor in tensors.items() for new in fastai_names(old)}
    layout = get_language_model(AWD_LSTM, len(itos), config=lm_config(pre, awd_lstm_lm_config)).state_dict()
    missing = [k for k in layout if k not in renamed]
    if missing:
        raise BadInput(f"{weights_path}: no weights for fastai's {missing[:5]}")
    for name, tensor in layout.items():
        if tuple(renamed[name].shape) != tuple(tensor.shape):
            raise BadInput(
                f"{weights_path}: {name} is {tuple(renamed[name].shape)}, fastai wants {tuple(tensor.shape)}"
            )
    torch.save({name: renamed[name] for name in layout}, work / "models" / "pre_lm.pth")
    save_pickle(work / "models" / "pre_vocab.pkl", itos)
    digest = hashlib.sha256(weights_path.read_bytes()).hexdigest()
    note(f"import: {weights_path} ({len(tensors)} tensors, vocab {len(itos)}, sha256 {digest[:12]}...)")
    return {"imported_from": str(folder), "weights_sha256": digest, "vocab_size": len(itos), "sizes": sizes}


def finetune_stage(
    task: dict, settings: dict, work: Path, tok_workers: int, start: str = "brown"
) -> tuple[dict, list[str]]:
    """Stage 2: LM fine-tuning on the task's training texts; saves the encoder as `models/ft_enc.pth`."""
    import numpy as np
    from fastai.text.all import AWD_LSTM, awd_lstm_lm_config, language_model_learner, load_pickle, set_seed

    pre, ft = settings["pretrain"], settings["finetune"]
    set_seed(settings["seed"], reproducible=True)
    texts = task["train"]["texts"]
    # Seeded hold-out of the training texts; the test texts are never seen by the language model.
    order = np.random.RandomState(settings["seed"]).permutation(len(texts))
    n_valid = max(1, round(len(texts) * ft["valid_fraction"]))
    valid_idx = set(order[:n_valid].tolist())
    train = [t for i, t in enumerate(texts) if i not in valid_idx]
    valid = [t for i, t in enumerate(texts) if i in valid_idx]
    note(f"finetune: tokenizing {len(train)} train / {len(valid)} valid texts")
    # The settings carry one max_vocab/min_freq, used for both vocabularies.
    dls = lm_dataloaders(
        train,
        valid,
        bs=ft["batch_size"],
        bptt=ft["bptt"],
        vocab=None,
        max_vocab=pre["max_vocab"],
        min_freq=pre["min_freq"],
        tok_workers=tok_workers,
        work=work,
    )
    vocab = text_vocab(dls)
    note(f"finetune: vocab {len(vocab)}, {len(dls.train)} train batches")
    # pretrained_fnames -> learn.load_pretrained -> match_embeds: rows of words also in the Brown vocab
    # are copied, the others get the mean Brown embedding (and mean decoder bias); then freeze().
    learn = language_model_learner(
        dls,
        AWD_LSTM,
        config=lm_config(pre, awd_lstm_lm_config),
        pretrained=False,
        pretrained_fnames=[f"{start}_lm", f"{start}_vocab"],
        drop_mult=ft["drop_mult"],
    )
    quiet(learn, "finetune")
    known = set(load_pickle(work / "models" / f"{start}_vocab.pkl"))
    matched = sum(w in known for w in vocab)
    note(f"finetune: {matched} of {len(vocab)} words take their pretrained embedding, the rest the mean one")
    before = valid_loss(learn)
    learn.freeze()
    if ft["epochs_frozen"] > 0:
        learn.fit_one_cycle(ft["epochs_frozen"], ft["lr_frozen"])
    learn.unfreeze()
    if ft["epochs"] > 0:
        learn.fit_one_cycle(ft["epochs"], ft["lr"])
    loss = valid_loss(learn)
    learn.save_encoder("ft_enc")
    result = {"valid_loss": loss, "perplexity": math.exp(loss), "vocab_size": len(vocab)}
    result.update(words_with_pretrained_embedding=matched, perplexity_before=math.exp(before))
    return result, vocab


def classifier_stage(task: dict, vocab: list[str], settings: dict, work: Path, tok_workers: int):
    """Stage 3: classifier on the fine-tuned encoder, gradual unfreezing. Returns (learner, fit seconds)."""
    import pandas as pd
    from fastai.text.all import (
        AWD_LSTM,
        CategoryBlock,
        ColReader,
        ColSplitter,
        DataBlock,
        TextBlock,
        accuracy,
        awd_lstm_clas_config,
        set_seed,
        text_classifier_learner,
    )

    pre, cl = settings["pretrain"], settings["classifier"]
    set_seed(settings["seed"], reproducible=True)
    tr, te = task["train"], task["test"]
    df = pd.DataFrame(
        {
            "text": tr["texts"] + te["texts"],
            "label": tr["labels"] + te["labels"],
            "is_valid": [False] * len(tr["texts"]) + [True] * len(te["texts"]),
        }
    )
    # The validation set is the test set: fastai only reports on it, nothing is chosen with it.
    dblock = DataBlock(
        blocks=(
            TextBlock.from_df("text", vocab=vocab, seq_len=cl["bptt"], n_workers=tok_workers),
            CategoryBlock(vocab=task["labels"]),
        ),
        get_x=ColReader("text"),
        get_y=ColReader("label"),
        splitter=ColSplitter("is_valid"),
    )
    note(f"classifier: tokenizing {len(tr['texts'])} train / {len(te['texts'])} test texts")
    dls = dblock.dataloaders(df, bs=cl["batch_size"], seq_len=cl["bptt"], num_workers=0, path=work)
    learn = text_classifier_learner(
        dls,
        AWD_LSTM,
        seq_len=cl["bptt"],
        config=lm_config(pre, awd_lstm_clas_config),
        pretrained=False,
        drop_mult=cl["drop_mult"],
        max_len=cl["max_len"],
        metrics=accuracy,
    )
    quiet(learn, "classifier")
    learn.load_encoder("ft_enc")  # also freezes: only the head trains until freeze_to/unfreeze
    fit_seconds = 0.0
    for stage in cl["stages"]:
        if stage["groups"] == "all":
            learn.unfreeze()
        else:
            learn.freeze_to(-stage["groups"])
        lr = stage["lr"]
        note(f"classifier: groups={stage['groups']} epochs={stage['epochs']} lr={lr}")
        if stage["epochs"] > 0:
            t0 = time.perf_counter()
            learn.fit_one_cycle(stage["epochs"], slice(lr / cl["lr_factor"] ** 4, lr), moms=tuple(cl["moms"]))
            fit_seconds += time.perf_counter() - t0
    return learn, fit_seconds


def predict(learn, texts: list[str], bs: int) -> list[int]:
    """Class indices for `texts`, in input order (get_preds undoes SortedDL's length sort)."""
    dl = learn.dls.test_dl(texts, bs=bs, num_workers=0)
    with learn.no_bar(), learn.no_logging():
        probs, _ = learn.get_preds(dl=dl)
    return probs.argmax(dim=1).tolist()


def measure_inference(learn, texts: list[str], n_docs: int, bs: int = 64, bf16: bool = False) -> float:
    """Docs/s from raw text to class probabilities: test_dl (tokenizes) + get_preds, after one warm-up.
    ``bf16``: get_preds under ``torch.autocast("cpu", dtype=torch.bfloat16)``, the same precision
    as textkit's ``precision="bf16"`` (fastai has no option of its own for it on CPU)."""
    import contextlib

    import torch

    docs = [texts[i % len(texts)] for i in range(n_docs)]
    context = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    with context:
        predict(learn, docs[:bs], bs)
        t0 = time.perf_counter()
        predict(learn, docs, bs)
    return n_docs / (time.perf_counter() - t0)


def measure_load(learn, work: Path, tries: int = 3) -> float:
    """learn.export, then the best of `tries` load_learner calls in this process (seconds)."""
    from fastai.learner import load_learner

    learn.export("classifier.pkl")
    best = math.inf
    for _ in range(tries):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # load_learner warns that it unpickles; the file is ours
            load_learner(work / "classifier.pkl")
        best = min(best, time.perf_counter() - t0)
    return best


# -- main --------------------------------------------------------------------------------------------


def run(args, settings: dict, pretrain: dict, task: dict, work: Path) -> dict:
    import fastai
    import spacy
    import torch

    torch.set_num_threads(args.threads)
    # Tokenize in-process for one thread; otherwise one spaCy worker process per thread.
    tok_workers = 0 if args.threads == 1 else args.threads
    (work / "models").mkdir(parents=True, exist_ok=True)

    seconds = {}
    t_all = time.perf_counter()
    t0 = time.perf_counter()
    if args.pretrained_lm is not None:
        pre_res, start = import_stage(args.pretrained_lm, settings, work), "pre"
    else:
        pre_res, start = pretrain_stage(pretrain, settings, work, tok_workers), "brown"
    seconds["pretrain"] = time.perf_counter() - t0
    note(f"pretrain: done in {seconds['pretrain']:.1f}s, {pre_res}")

    t0 = time.perf_counter()
    ft_res, vocab = finetune_stage(task, settings, work, tok_workers, start)
    seconds["finetune"] = time.perf_counter() - t0
    note(f"finetune: done in {seconds['finetune']:.1f}s, {ft_res}")

    t0 = time.perf_counter()
    learn, fit_seconds = classifier_stage(task, vocab, settings, work, tok_workers)
    seconds["classifier"] = time.perf_counter() - t0
    seconds["total"] = time.perf_counter() - t_all
    note(f"classifier: done in {seconds['classifier']:.1f}s (fit {fit_seconds:.1f}s)")

    test = task["test"]
    label_vocab = list(learn.dls.vocab[1])
    preds = predict(learn, test["texts"], bs=64)
    correct = sum(label_vocab[p] == y for p, y in zip(preds, test["labels"], strict=True))
    acc = correct / len(test["labels"])
    note(f"test accuracy {acc:.4f} on {len(test['labels'])} texts")

    n_train = len(task["train"]["texts"])
    epochs = sum(s["epochs"] for s in settings["classifier"]["stages"])
    train_dps = n_train * epochs / fit_seconds if fit_seconds > 0 else 0.0
    note(f"inference: {args.inference_docs} docs")
    infer_dps = measure_inference(learn, test["texts"], args.inference_docs)
    infer_bf16_dps = measure_inference(learn, test["texts"], args.inference_docs, bf16=True)
    load_s = measure_load(learn, work)
    note(f"inference {infer_dps:.1f} docs/s, load_learner {load_s:.3f}s")

    return {
        "accuracy": acc,
        "n_test": len(test["labels"]),
        "n_train": n_train,
        "seconds": seconds,
        "pretrain": pre_res,
        "finetune": ft_res,
        "classifier_train_docs_per_s": train_dps,
        "inference_docs_per_s": infer_dps,
        "inference_docs_per_s_bf16": infer_bf16_dps,
        "inference_docs": args.inference_docs,
        "load_seconds": load_s,
        # this process only (tokenizer workers, if any, are children)
        "peak_rss_mb": peak_rss_kib() / 1024,
        "versions": {
            "fastai": fastai.__version__,
            "torch": torch.__version__,
            "spacy": spacy.__version__,
            "python": platform.python_version(),
        },
        "settings": settings,
        "seed": settings["seed"],
        "threads": args.threads,
    }


QUICK_WORDS = {
    "pos": ["good", "great", "fine", "warm", "funny", "clever", "bright"],
    "neg": ["bad", "dull", "poor", "cold", "flat", "weak", "tired"],
    "any": ["the", "a", "film", "story", "cast", "plot", "is", "and", "with", "of", "scene", "music", "it", "very"],
}


def write_quick_input(folder: Path, seed: int = 0) -> tuple[Path, Path]:
    """Seeded toy data (pretrain.json, task.json) and tiny settings for --quick; returns (data dir, settings)."""
    import random

    rng = random.Random(seed)

    def text(label: str | None) -> str:
        pool = QUICK_WORDS["any"] * 2 + (QUICK_WORDS[label] if label else QUICK_WORDS["pos"] + QUICK_WORDS["neg"])
        return " ".join(rng.choice(pool) for _ in range(rng.randint(8, 20))) + " ."

    def task_split(n: int) -> dict:
        labels = [rng.choice(("pos", "neg")) for _ in range(n)]
        return {"texts": [text(y) for y in labels], "labels": labels}

    data_dir = folder / "quick_data"
    data_dir.mkdir(parents=True, exist_ok=True)
    pretrain = {"train": [text(None) for _ in range(120)], "valid": [text(None) for _ in range(20)]}
    write_json_atomic(data_dir / "pretrain.json", pretrain)
    task = {"train": task_split(96), "test": task_split(32), "labels": ["neg", "pos"]}
    write_json_atomic(data_dir / "task.json", task)
    sizes = {"batch_size": 8, "bptt": 16}
    settings = {
        "seed": seed,
        "pretrain": {
            "emb_size": 16,
            "hidden_size": 32,
            "n_layers": 2,
            "drop_mult": 0.5,
            "epochs": 1,
            "lr": 0.005,
            **sizes,
            "max_vocab": 1000,
            "min_freq": 1,
            "wd": 0.01,
            "clip": 0.4,
        },
        "finetune": {
            "epochs_frozen": 1,
            "lr_frozen": 0.02,
            "epochs": 0,
            "lr": 0.002,
            **sizes,
            "drop_mult": 0.5,
            "valid_fraction": 0.1,
        },
        "classifier": {
            **sizes,
            "max_len": 160,
            "drop_mult": 0.5,
            "lr_factor": 2.6,
            "moms": [0.8, 0.7, 0.8],
            "stages": [{"groups": "all", "epochs": 1, "lr": 0.002}],
        },
    }
    write_json_atomic(folder / "quick_settings.json", settings)
    return data_dir, folder / "quick_settings.json"


def fastai_missing() -> str | None:
    """None when fastai is importable here, else the reason it is not."""
    import importlib.util

    if importlib.util.find_spec("fastai") is None:
        return "fastai is not installed in this environment; see bench/requirements-tokenize.txt"
    return None


def write_json_atomic(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="folder with pretrain.json and task.json")
    parser.add_argument("--settings", type=Path, default=None, help="settings JSON written by textkit")
    parser.add_argument("--out", type=Path, required=True, help="results JSON (written atomically)")
    parser.add_argument("--threads", type=positive_int, default=1, help="torch threads (default 1)")
    parser.add_argument("--work", type=Path, default=None, help="folder for fastai's files (default: a temp dir)")
    parser.add_argument("--limit", type=positive_int, default=None, help="keep the first N docs of each list")
    parser.add_argument(
        "--inference-docs",
        type=positive_int,
        default=10_000,
        help="texts in the inference-throughput run (default 10000)",
    )
    parser.add_argument(
        "--pretrained-lm",
        type=Path,
        default=None,
        help="start from this textkit forward AWD-LSTM folder instead of pretraining on pretrain.json",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run on generated toy data and tiny settings (no --data/--settings)"
    )
    args = parser.parse_args(argv)
    if not args.quick and (args.data is None or args.settings is None):
        parser.error("--data and --settings are required (or --quick)")

    with tempfile.TemporaryDirectory(prefix="ulmfit-fastai-") as tmp:
        work = args.work.resolve() if args.work is not None else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if args.quick:
            args.data, args.settings = write_quick_input(work)
            args.inference_docs = min(args.inference_docs, 200)
        try:
            settings = load_settings(args.settings)
            pretrain, task = load_data(args.data, args.limit, with_pretrain=args.pretrained_lm is None)
            if args.pretrained_lm is not None:
                check_textkit_lm(args.pretrained_lm)
        except BadInput as e:
            print(f"error: {e}", file=sys.stderr)
            return EXIT_BAD_INPUT
        missing = fastai_missing() if args.quick else None
        if missing is None:
            result = run(args, settings, pretrain, task, work)
            result["peer"] = {"name": "fastai", "available": True}
        else:
            note(f"fastai not run: {missing}")
            result = {
                "peer": {"name": "fastai", "available": False, "reason": missing},
                "input": {
                    "pretrain_docs": {split: len(docs) for split, docs in pretrain.items()},
                    "task_docs": {split: len(task[split]["texts"]) for split in ("train", "test")},
                    "labels": task["labels"],
                },
                "settings": settings,
                "seed": settings["seed"],
                "threads": args.threads,
            }
        result["quick"] = args.quick
    write_json_atomic(args.out, result)
    note(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
