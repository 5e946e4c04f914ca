"""What `make install` would install for PyTorch: the Makefile runs tools/install_torch.py, which
takes the CPU build from PyTorch's CPU index when it answers and falls back to pip's default
index when it does not. The dry run resolves against whichever index is reachable here and
must pull no nvidia-*/cuda-* package."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location("install_torch", ROOT / "tools" / "install_torch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _makefile(name: str) -> str:
    (value,) = re.findall(rf"^{name} \?= (\S+)$", (ROOT / "Makefile").read_text(), flags=re.M)
    return value


def _default_index() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "config", "get", "global.index-url"], capture_output=True, text=True
    )
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else "https://pypi.org/simple"


def test_makefile_installs_torch_through_the_cpu_index_tool():
    makefile = (ROOT / "Makefile").read_text()
    assert '$(PY) tools/install_torch.py --quiet --index "$(TORCH_INDEX)" "$(TORCH_SPEC)"' in makefile
    assert _makefile("TORCH_INDEX") == "https://download.pytorch.org/whl/cpu" == _tool().CPU_INDEX
    assert 'pip install --quiet "$(TORCH_SPEC)"' not in makefile  # the bare install resolves the CUDA build


def test_install_torch_dry_run_resolves_no_cuda_packages(tmp_path):
    tool = _tool()
    cpu_index, default_index = _makefile("TORCH_INDEX"), _default_index()
    cpu_down, default_down = tool.reachable(cpu_index, 10), tool.reachable(default_index, 10)
    if cpu_down and default_down:
        pytest.skip(f"no package index is reachable: {cpu_index} ({cpu_down}) nor {default_index} ({default_down})")
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "install_torch.py"), "--quiet", "--index", cpu_index]
        + ["--dry-run", "--report", str(report), _makefile("TORCH_SPEC")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    resolved = json.loads(report.read_text())
    names = {item["metadata"]["name"].lower(): item["metadata"]["version"] for item in resolved["install"]}
    assert names["torch"].startswith(_makefile("TORCH_SPEC").split("==")[1])
    assert tool.gpu_packages(resolved) == [], names
    source = f"PyTorch's CPU index {cpu_index}" if cpu_down is None else "pip's default index"
    assert f"would install torch {names['torch']} from {source}: the CPU build" in done.stderr
    if cpu_down is not None:  # the fallback says why
        assert f"{cpu_index} is unreachable" in done.stderr


def test_install_torch_uses_the_cpu_index_when_it_answers_and_falls_back_when_not(monkeypatch, tmp_path, capsys):
    tool = _tool()
    commands = []

    def pip(command, check):
        commands.append(command)
        report = Path(command[command.index("--report") + 1])
        version = "2.13.0+cpu" if "--index-url" in command else "2.13.0"
        extra = [] if "--index-url" in command else [{"metadata": {"name": "nvidia-cublas-cu13", "version": "1"}}]
        report.write_text(json.dumps({"install": [{"metadata": {"name": "torch", "version": version}}, *extra]}))
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(tool.subprocess, "run", pip)
    monkeypatch.setattr(tool, "reachable", lambda index, timeout: None)
    assert tool.main(["torch==2.13.0"]) == 0
    assert commands[-1][commands[-1].index("--index-url") + 1] == tool.CPU_INDEX
    assert "installed torch 2.13.0+cpu from PyTorch's CPU index" in capsys.readouterr().err
    monkeypatch.setattr(tool, "reachable", lambda index, timeout: "Name or service not known")
    assert tool.main(["torch==2.13.0"]) == 0
    assert "--index-url" not in commands[-1] and commands[-1][-1] == "torch==2.13.0"
    err = capsys.readouterr().err
    assert f"{tool.CPU_INDEX} is unreachable (Name or service not known)" in err
    assert "installed torch 2.13.0 from pip's default index: the CUDA build, with 1 CUDA packages" in err
