"""Packaging that pyproject.toml cannot say: the corpus manifests and model recipes live at the
top of the repository (``corpora/``, ``models/``) and ship inside the wheel as ``textkit/_corpora``
and ``textkit/_models``. Everything else (metadata, dependencies, package data) is in pyproject.toml.

pyproject.toml can map a package onto a folder (``package-dir``) but cannot add such a package
to the ones ``packages.find`` discovers, and a hand-kept list of subpackages would silently drop
the next one added; so discovery and the mapping live here, together.
"""

from pathlib import Path

from setuptools import find_packages, setup

# package name -> folder in the repository (the folders stay where the README documents them)
SHIPPED_DATA = {"textkit._corpora": "corpora", "textkit._models": "models"}
HERE = Path(__file__).resolve().parent


def data_packages(root: Path = HERE) -> dict[str, str]:
    """SHIPPED_DATA and every subfolder of those folders that Python could import by name
    (``models/transfer`` -> ``textkit._models.transfer``). pyproject.toml's package-data globs
    (``**/*.json``) put such a folder's files in the wheel; setuptools sees the folder as a
    package, and one missing from ``packages`` makes it warn ("BuildBackendWarning: Package
    'textkit._models.transfer' is absent from the `packages` configuration") and, in a later
    release, skip its files. Folders with other names (``awd_lstm-en``) are plain data."""
    found = dict(SHIPPED_DATA)
    for package, folder in SHIPPED_DATA.items():
        for sub in sorted((root / folder).rglob("*")):
            parts = sub.relative_to(root / folder).parts
            if sub.is_dir() and all(part.isidentifier() for part in parts) and "__pycache__" not in parts:
                found[".".join((package, *parts))] = "/".join((folder, *parts))
    return found


if __name__ == "__main__":
    mapping = data_packages()
    setup(
        packages=find_packages(include=["textkit", "textkit.*"]) + list(mapping),
        package_dir=mapping,
    )
