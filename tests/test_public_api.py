"""Every name in every public ``__all__`` imports; the base package stays light."""

import importlib
import pkgutil
import subprocess
import sys

import textkit


def _public_modules():
    yield "textkit"
    for info in pkgutil.walk_packages(textkit.__path__, "textkit."):
        if info.ispkg and not info.name.split(".")[-1].startswith("_"):
            yield info.name


def test_public_api_every_all_name_imports():
    checked = 0
    for name in _public_modules():
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", []):
            assert hasattr(module, attr), f"{name}.__all__ lists {attr!r}, which does not exist"
            checked += 1
    assert checked > 30


def test_public_api_importing_text_and_data_does_not_load_torch():
    code = "import sys, textkit, textkit.data, textkit.text; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
