"""The wheel: built from this checkout and installed in a fresh venv, run from a folder outside
the checkout, textkit lists every corpus of ``corpora/`` and pretrains from a recipe given by name
(the manifests and recipes travel as package data, ``textkit/_corpora`` and ``textkit/_models``)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# what a wheel is built from: the package, the data it ships, and the packaging files
SOURCES = ("pyproject.toml", "setup.py", "README.md", "textkit", "corpora", "models")
# shipped folder -> the files in it (and in its subfolders: shipped model folders) that the wheel must hold
SHIPPED = {"corpora": (".toml", ".sha256"), "models": (".json", ".md", ".safetensors")}


def _files(folder: Path, suffixes: tuple[str, ...]) -> list[str]:
    return [p.relative_to(folder).as_posix() for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix in suffixes]


def _run(command: list, cwd: Path, env: dict | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    shown = " ".join(map(str, command))
    assert done.returncode == 0, f"{shown} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _setuptools_version() -> tuple[int, ...]:
    try:
        release = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        return ()
    return tuple(int(part) for part in release.split(".")[:2] if part.isdigit())


def _build_wheel(tmp: Path) -> Path:
    """Build from a copy of the sources: an in-tree build reuses ``build/``, which can hold files
    since deleted from the checkout, and two test workers would share it."""
    src = tmp / "src"
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    # offline and fast: the build backend comes from the running environment (the dev extra pins a
    # setuptools that can build wheels); an older one means an isolated build, which needs PyPI
    offline = ["--no-build-isolation"] if _setuptools_version() >= (77, 0) else []  # as [build-system] requires
    pip = [sys.executable, "-m", "pip"]
    _run([*pip, "wheel", "--no-deps", *offline, "--quiet", "-w", tmp / "dist", src], cwd=tmp, timeout=300)
    (wheel,) = (tmp / "dist").glob("textkit-*.whl")
    return wheel


def _install(wheel: Path, tmp: Path) -> Path:
    """A fresh venv holding only the wheel; the dependencies (torch, numpy, ...) come from the
    running environment's site-packages through a .pth line (which adds the folder to sys.path but
    runs none of its own .pth files, so an editable textkit there stays invisible)."""
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp).stdout.strip()
    ours = sysconfig.get_paths()
    deps = dict.fromkeys([ours["purelib"], ours["platlib"]])
    (Path(purelib) / "zz_textkit_test_deps.pth").write_text("".join(f"{folder}\n" for folder in deps))
    pip = [sys.executable, "-m", "pip", "--python", python]  # this pip, installing into the new venv
    _run([*pip, "install", "--no-deps", "--no-index", "--quiet", wheel], cwd=tmp)
    return python


def _installed_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "TEXTKIT_CORPORA_PATH")}
    env["OMP_NUM_THREADS"] = "1"
    return env


@pytest.mark.slow
def test_wheel_installed_outside_the_checkout_lists_every_corpus_and_pretrains_a_named_recipe(tmp_path):
    wheel = _build_wheel(tmp_path)
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    missing = [
        f"{folder}/{rel}"
        for folder, suffixes in SHIPPED.items()
        for rel in _files(ROOT / folder, suffixes)
        if f"textkit/_{folder}/{rel}" not in in_wheel
    ]
    assert not missing, f"the wheel lacks {missing}"

    python = _install(wheel, tmp_path)
    work = tmp_path / "elsewhere"  # not the checkout: nothing there to fall back on
    work.mkdir()
    env = _installed_env()
    code = (
        "import textkit; from textkit.data.package_data import shipped_dir\n"
        "print(textkit.__file__); print(shipped_dir('corpora')); print(shipped_dir('models'))"
    )
    where = _run([python, "-c", code], cwd=work, env=env)
    for line in where.stdout.split():
        assert Path(line).resolve().is_relative_to((tmp_path / "venv").resolve()), f"{line} is not the installed copy"

    textkit = python.parent / ("textkit.exe" if os.name == "nt" else "textkit")
    lines = _run([textkit, "corpora", "list"], cwd=work, env=env).stdout.splitlines()
    listed = {line.split()[0] for line in lines if line.strip()}
    expected = {tomllib.loads(p.read_text(encoding="utf-8"))["name"] for p in (ROOT / "corpora").glob("*.toml")}
    assert expected <= listed, f"the installed textkit does not list {sorted(expected - listed)}"

    out = tmp_path / "tiny-lm"
    # a name, not a path: models/tiny-test.json is nowhere near this folder
    _run(
        [
            textkit,
            "lm",
            "pretrain",
            "--config",
            "tiny-test",
            "--corpus",
            "brown",
            "--max-steps",
            "2",
            "--quiet",
            "--out",
            out,
        ],
        cwd=work,
        env=env,
        timeout=300,
    )
    config = json.loads((out / "config.json").read_text())
    assert config["recipe"]["name"] == "tiny-test" and config["metrics"]["steps"] == 2
    assert (out / "model.safetensors").exists()


def test_wheel_fastai_peer_script_is_looked_up_in_the_working_folder(tmp_path, monkeypatch):
    # regression: `reproduce ulmfit` found bench/ulmfit_fastai.py through the package's own path
    from textkit.reproduce.ulmfit import find_fastai_script

    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="--fastai-script"):
        find_fastai_script()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_fastai_script(tmp_path / "nowhere.py")
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "ulmfit_fastai.py").write_text("")
    assert find_fastai_script() == (tmp_path / "bench" / "ulmfit_fastai.py").resolve()
    monkeypatch.chdir(ROOT)
    assert find_fastai_script().parent == ROOT / "bench"
