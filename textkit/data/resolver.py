"""One resolver for every verb that takes a model: a path means a folder, a bare word a name.

- A path is anything with a separator, or starting with ``.`` or ``~``: ``runs/lm``, ``./lm``.
- A bare word is a name that ``textkit models list`` shows: a shipped pretrained model
  (``awd_lstm-en``, ``transformer-es-en``; files checked against their sha256), a pretrained
  LLM (``smollm2-135m``) or encoder (``minilm-l6``) fetched by name and converted once.
- A bare word that is both a name and a folder here is refused, with the two ways to say which:
  ``./NAME`` for the folder, ``name:NAME`` for the model.
- A bare word that is only a folder here is that folder (nothing else could be meant).
"""

from __future__ import annotations

import os
from pathlib import Path

from textkit._folders import FolderError

NAME_PREFIX = "name:"

__all__ = ["NAME_PREFIX", "is_path", "model_names", "resolve_model"]


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


def resolve_model(spec: str | os.PathLike, *, direction: str | None = None, verbose: bool = False) -> Path:
    """The folder that ``spec`` names: a verified shipped model (``direction`` picks forward or
    backward for a two-direction LM; default forward), a converted LLM, or a folder path."""
    text = os.fspath(spec)
    explicit_name = text.startswith(NAME_PREFIX)
    if explicit_name:
        text = text[len(NAME_PREFIX) :]
    elif is_path(spec):
        return Path(spec).expanduser()
    names = model_names()
    if text not in names:
        if not explicit_name and Path(text).is_dir():
            return Path(text)
        known = ", ".join(sorted(names)) or "none"
        raise FolderError(
            f"{text!r} is neither a model name ({known}) nor a folder; for a folder, write a path such as ./{text}"
        )
    if not explicit_name and Path(text).exists():
        raise FolderError(
            f"{text!r} is both a model name and a folder here; write ./{text} for the folder "
            f"or {NAME_PREFIX}{text} for the model"
        )
    if names[text] == "llm":
        from textkit.data.llms import pretrained_llm_folder

        return pretrained_llm_folder(text, verbose=verbose)
    if names[text] == "encoder":
        from textkit.data.encoders import pretrained_encoder_folder

        return pretrained_encoder_folder(text, verbose=verbose)
    from textkit.data.pretrained import pretrained_folder

    return pretrained_folder(text, direction)
