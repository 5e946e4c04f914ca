"""Packaging: every shipped data subfolder that Python could import by name is declared as a
package, so building the wheel (and `make install`'s editable install) prints no setuptools
BuildBackendWarning ("Package 'textkit._models.transfer' is absent from the `packages`
configuration") and keeps its files."""

from __future__ import annotations

import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_setup_declares_every_importable_data_subfolder():
    packages = runpy.run_path(str(ROOT / "setup.py"), run_name="setup")["data_packages"](ROOT)
    assert packages["textkit._models.transfer"] == "models/transfer"
    for base, folder in (("textkit._models", "models"), ("textkit._corpora", "corpora")):
        for sub in (ROOT / folder).rglob("*"):
            parts = sub.relative_to(ROOT / folder).parts
            if sub.is_dir() and all(p.isidentifier() for p in parts):
                assert ".".join((base, *parts)) in packages, sub
    assert not any("-" in name for name in packages)  # awd_lstm-en stays plain data


@pytest.mark.slow
def test_wheel_build_prints_no_build_backend_warning(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("textkit", "corpora", "models"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v", "-w", tmp_path / "dist", src],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    output = done.stdout + done.stderr
    assert "BuildBackendWarning" not in output, output[output.find("BuildBackendWarning") - 200 :][:1500]
    (wheel,) = (tmp_path / "dist").glob("textkit-*.whl")
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert "textkit/_models/transfer/ulmfit.json" in names
