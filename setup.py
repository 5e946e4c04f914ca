"""Packaging that pyproject.toml cannot say: the corpus manifests and model recipes live at the
top of the repository (``corpora/``, ``models/``) and ship inside the wheel as ``textkit/_corpora``
and ``textkit/_models``. Everything else (metadata, dependencies, package data) is in pyproject.toml.

pyproject.toml can map a package onto a folder (``package-dir``) but cannot add such a package
to the ones ``packages.find`` discovers, and a hand-kept list of subpackages would silently drop
the next one added; so discovery and the mapping live here, together.
"""

from setuptools import find_packages, setup

# package name -> folder in the repository (the folders stay where the README documents them)
SHIPPED_DATA = {"textkit._corpora": "corpora", "textkit._models": "models"}

setup(
    packages=find_packages(include=["textkit", "textkit.*"]) + list(SHIPPED_DATA),
    package_dir=SHIPPED_DATA,
)
