"""One resolver for every verb that takes a model: a path means a folder, a bare word a name.

- A path is anything with a separator, or starting with ``.`` or ``~``: ``runs/lm``, ``./lm``.
- A bare word is a name that ``textkit models list`` shows: a shipped pretrained model
  (``awd_lstm-en``, ``transformer-es-en``; files checked against their sha256), a pretrained
  LLM (``smollm2-135m``) or encoder (``minilm-l6``) fetched by name and converted once.
- A bare word that is both a name and a folder here is refused, with the two ways to say which:
  ``./NAME`` for the folder, ``name:NAME`` for the model.
- A bare word that is only a folder here is that folder (nothing else could be meant).
- A verb says which kinds of model it takes (``expects``); a name or folder of another kind is
  refused with the verbs that do take it, before anything is fetched or loaded.
"""

from __future__ import annotations

import os
from pathlib import Path

from textkit._folders import FolderError

NAME_PREFIX = "name:"

__all__ = ["MODEL_KINDS", "NAME_PREFIX", "check_model_kind", "is_path", "model_kind", "model_names", "resolve_model"]

# kind -> (what it is, the verbs that take it); the kinds are textkit._folders' folder kinds
MODEL_KINDS: dict[str, tuple[str, str]] = {
    "language_model": (
        "a language model",
        "textkit lm generate NAME, textkit lm evaluate NAME, textkit classify train --method ulmfit --pretrained NAME",
    ),
    "translation": ("a translation model", "textkit translate NAME --data FILE"),
    "encoder": ("a sentence encoder", "textkit embed --model NAME --data FILE, textkit audit --model NAME"),
    "recipe": ("a training recipe with no weights", "textkit lm pretrain --config NAME --out DIR, then use DIR"),
}


def is_path(spec: str | os.PathLike) -> bool:
    """Whether ``spec`` is written as a path rather than a bare name."""
    if isinstance(spec, Path):
        return True
    text = os.fspath(spec)
    return os.sep in text or "/" in text or text.startswith((".", "~"))


def model_names() -> dict[str, str]:
    """Every loadable name -> its kind: "pretrained" (shipped weights), "llm" or "encoder"
    (fetched and converted once)."""
    from textkit.data.encoders import list_encoders
    from textkit.data.llms import list_llms
    from textkit.data.pretrained import list_pretrained

    names = {name: "pretrained" for name in list_pretrained()}
    names.update({name: "llm" for name in list_llms()})
    names.update({name: "encoder" for name in list_encoders()})
    return names


def model_kind(name: str) -> str | None:
    """The kind of a name ``textkit models list`` shows (a key of ``MODEL_KINDS``), known
    without fetching anything; None for an unknown name."""
    from textkit.data.models import list_recipes
    from textkit.data.pretrained import pretrained_manifest

    kind = model_names().get(name)
    if kind == "pretrained":
        return "translation" if pretrained_manifest(name).get("kind") == "translation" else "language_model"
    if kind is not None:
        return {"llm": "language_model", "encoder": "encoder"}[kind]
    return "recipe" if name in list_recipes() else None


def _folder_model_kind(path: Path) -> str | None:
    """A folder's kind; a shipped model's folder (one with a manifest) is the kind of its model."""
    from textkit._folders import folder_kind

    kind = folder_kind(path)
    if kind == "pretrained":
        from textkit._io import read_json

        try:
            manifest = read_json(path / "manifest.json", "model manifest")
        except ValueError:
            return None  # the loader names the damage
        return "translation" if isinstance(manifest, dict) and manifest.get("kind") == "translation" else None
    return kind


def _check_kind(spec: str, kind: str | None, expects: tuple[str, ...] | None, verb: str | None) -> None:
    if expects is None or kind is None or kind in expects:
        return
    if kind in MODEL_KINDS:
        what, verbs = MODEL_KINDS[kind]
    else:  # a folder that holds no model: a classifier, a topics report, a training run
        from textkit._folders import KINDS

        what = KINDS[kind].what if kind in KINDS else f"a {kind.replace('_', ' ')} folder"
        verbs = f"it was written by {KINDS[kind].written_by}" if kind in KINDS else "its own textkit command"
    wanted = " or ".join(MODEL_KINDS[k][0] for k in expects if k in MODEL_KINDS)
    raise FolderError(
        f"{spec} is {what}, not {wanted}{f'; `{verb}` needs {wanted}' if verb else ''}. "
        f"For {spec}: {verbs.replace('NAME', spec)}"
    )


def check_model_kind(spec: str | os.PathLike, expects: tuple[str, ...], verb: str | None = None) -> None:
    """Refuse a name or folder of a kind the caller does not take, without fetching anything:
    a command checks its model before it reads its data."""
    text = os.fspath(spec)
    name = text[len(NAME_PREFIX) :] if text.startswith(NAME_PREFIX) else text
    if name == text and (is_path(spec) or (name not in model_names() and Path(text).is_dir())):
        _check_kind(text, _folder_model_kind(Path(text).expanduser()), expects, verb)
    else:
        _check_kind(name, model_kind(name), expects, verb)


def resolve_model(
    spec: str | os.PathLike,
    *,
    direction: str | None = None,
    verbose: bool = False,
    expects: tuple[str, ...] | None = None,
    verb: str | None = None,
) -> Path:
    """The folder that ``spec`` names: a verified shipped model (``direction`` picks forward or
    backward for a two-direction LM; default forward), a converted LLM or encoder, or a folder
    path. ``expects``: the kinds the caller takes (keys of ``MODEL_KINDS``); ``verb`` names the
    caller in the refusal of another kind."""
    text = os.fspath(spec)
    explicit_name = text.startswith(NAME_PREFIX)
    if explicit_name:
        text = text[len(NAME_PREFIX) :]
    elif is_path(spec):
        path = Path(spec).expanduser()
        _check_kind(text, _folder_model_kind(path), expects, verb)
        return path
    names = model_names()
    if text not in names:
        if not explicit_name and Path(text).is_dir():
            _check_kind(text, _folder_model_kind(Path(text)), expects, verb)
            return Path(text)
        _check_kind(text, model_kind(text), expects, verb)  # a recipe name: say how to get weights
        if model_kind(text) == "recipe":
            raise FolderError(f"{text} is {MODEL_KINDS['recipe'][0]}: {MODEL_KINDS['recipe'][1].replace('NAME', text)}")
        known = ", ".join(sorted(names)) or "none"
        raise FolderError(
            f"{text!r} is neither a model name ({known}) nor a folder; for a folder, write a path such as ./{text}"
        )
    if not explicit_name and Path(text).exists():
        raise FolderError(
            f"{text!r} is both a model name and a folder here; write ./{text} for the folder "
            f"or {NAME_PREFIX}{text} for the model"
        )
    _check_kind(text, model_kind(text), expects, verb)
    if names[text] == "llm":
        from textkit.data.llms import pretrained_llm_folder

        return pretrained_llm_folder(text, verbose=verbose)
    if names[text] == "encoder":
        from textkit.data.encoders import pretrained_encoder_folder

        return pretrained_encoder_folder(text, verbose=verbose)
    from textkit.data.pretrained import pretrained_folder

    return pretrained_folder(text, direction)
