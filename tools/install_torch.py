"""Install PyTorch's CPU build the way PyTorch documents it, for `make install` / `make demo` /
`make test`:

    python tools/install_torch.py "torch==2.13.0"                       # what the Makefile runs
    python tools/install_torch.py "torch==2.13.0" --dry-run --report r.json   # what it would install

1. If PyTorch's CPU wheel index (``--index``, default https://download.pytorch.org/whl/cpu)
   answers within ``--probe-timeout`` seconds, ``pip install --index-url INDEX SPEC``: the
   ``+cpu`` build and its dependencies, no ``nvidia-*`` or ``cuda-*`` packages.
2. Otherwise it says so on stderr and runs ``pip install SPEC`` against pip's own configuration
   (the default index, plus any ``find-links`` or extra index pip is configured with). On
   Linux x86_64 the public index's torch is the CUDA build, which pulls about 20 ``nvidia-*``
   and ``cuda-*`` packages (several GB); a ``+cpu`` wheel in a configured ``find-links``
   folder wins over it (``2.13.0+cpu`` sorts above ``2.13.0``).

Either way the last line names what was (or, with ``--dry-run``, would be) installed and
whether it is the CPU build. Exit status: pip's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
GPU_PACKAGES = ("nvidia-", "cuda-", "triton")


def reachable(index: str, timeout: float) -> str | None:
    """None when ``index`` answers (its torch page), else the reason it did not."""
    try:
        with urllib.request.urlopen(index.rstrip("/") + "/torch/", timeout=timeout) as response:
            return None if response.status < 400 else f"HTTP {response.status}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return str(getattr(exc, "reason", None) or exc)


def gpu_packages(report: dict) -> list[str]:
    """The CUDA packages a ``pip --report`` would install (nvidia-*, cuda-*, triton)."""
    names = [item["metadata"]["name"].lower() for item in report.get("install", [])]
    return sorted(name for name in names if name.startswith(GPU_PACKAGES))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", help='the torch requirement, e.g. "torch==2.13.0"')
    parser.add_argument("--index", default=CPU_INDEX, help=f"PyTorch's CPU wheel index (default {CPU_INDEX})")
    parser.add_argument("--probe-timeout", type=float, default=10.0, help="seconds to wait for the index")
    parser.add_argument("--dry-run", action="store_true", help="resolve only (pip install --dry-run)")
    parser.add_argument("--report", default=None, help="with --dry-run: write pip's JSON install report here")
    parser.add_argument("--quiet", action="store_true", help="pass --quiet to pip")
    args = parser.parse_args(argv)

    why = reachable(args.index, args.probe_timeout)
    command = [sys.executable, "-m", "pip", "install", *(["--quiet"] if args.quiet else [])]
    if why is None:
        source = f"PyTorch's CPU index {args.index}"
        command += ["--index-url", args.index]
    else:
        source = "pip's default index"
        print(
            f"install_torch: {args.index} is unreachable ({why}); installing {args.spec} from pip's default index "
            "instead (on Linux x86_64 the public index's torch is the CUDA build, unless pip's find-links has a "
            "+cpu wheel)",
            file=sys.stderr,
            flush=True,
        )
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(args.report) if args.report else Path(tmp) / "report.json"
        command += ["--report", str(report)] + (["--dry-run", "--ignore-installed"] if args.dry_run else [])
        done = subprocess.run([*command, args.spec], check=False)
        if done.returncode != 0:
            return done.returncode
        resolved = json.loads(report.read_text(encoding="utf-8"))
    torch = [i["metadata"]["version"] for i in resolved.get("install", []) if i["metadata"]["name"] == "torch"]
    gpu = gpu_packages(resolved)
    build = f"the CUDA build, with {len(gpu)} CUDA packages ({', '.join(gpu[:3])}, ...)" if gpu else "the CPU build"
    verb = "would install" if args.dry_run else "installed"
    shown = f"torch {torch[0]}" if torch else f"{args.spec} (already installed)"
    print(f"install_torch: {verb} {shown} from {source}: {build}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
