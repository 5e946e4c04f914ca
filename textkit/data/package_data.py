"""Where the files that ship with textkit live: corpus manifests and model recipes.

In the repository they sit at the top, in ``corpora/`` and ``models/``. A wheel carries the same
files as package data, in ``textkit/_corpora`` and ``textkit/_models`` (``setup.py`` maps those
package names onto the top-level folders). An editable install or a plain source checkout has
no such folders inside the package, so there the checkout's own folders are used.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["SHIPPED_FOLDERS", "shipped_dir"]

# what ships -> its folder inside the installed package (the repository keeps it at the top)
SHIPPED_FOLDERS = {"corpora": "_corpora", "models": "_models"}


def shipped_dir(kind: str) -> Path | None:
    """The folder of shipped ``kind`` files (``"corpora"`` or ``"models"``), or None when this
    textkit has none (an installation without package data, outside any checkout)."""
    if kind not in SHIPPED_FOLDERS:
        raise ValueError(f"unknown kind of shipped files {kind!r}; use one of {', '.join(SHIPPED_FOLDERS)}")
    installed = resources.files("textkit") / SHIPPED_FOLDERS[kind]
    if isinstance(installed, Path) and installed.is_dir():  # a wheel (or a strict editable install)
        return installed
    checkout = Path(__file__).resolve().parents[2]  # textkit/data/package_data.py -> the repository
    if (checkout / "pyproject.toml").is_file() and (checkout / kind).is_dir():
        return checkout / kind
    return None
