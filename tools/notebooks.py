"""Execute the course notebooks in place and strip what changes from machine to machine.

    python tools/notebooks.py                          # all of notebooks/*.ipynb, in order
    python tools/notebooks.py 01 05_ulmfit.ipynb       # only these (a prefix or a file name)
    python tools/notebooks.py --clean-only 06          # strip an executed notebook, no execution

Each notebook runs top to bottom with nbclient on the settings its own cells name (the
notebooks seed everything themselves; the kernel also gets PYTHONHASHSEED=0), with the kernel's
working directory set to notebooks/. Files a notebook writes there (PNG charts) are removed
afterwards. Then volatile metadata is stripped: cell timings (``metadata.execution``) go, and
absolute paths of this machine in outputs are replaced by stable placeholders (the repository
root by a relative path, site-packages by ``<site-packages>``, the home folder by ``~``, temp
folders by ``<tmp>``). A notebook with a failing cell is not written. `make notebooks` runs this.
"""

from __future__ import annotations

import argparse
import os
import re
import site
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
TEXT_MIME = ("text/plain", "text/markdown", "text/html", "text/latex", "application/json")


def _placeholders() -> list[tuple[re.Pattern, str]]:
    """(pattern, replacement) pairs, most specific first."""
    rules: list[tuple[str, str]] = []
    packages = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()}
    for folder in sorted(packages, key=len, reverse=True):
        rules.append((re.escape(folder.rstrip("/")), "<site-packages>"))
    rules.append((re.escape(str(Path(sys.base_prefix))) + r"/lib/python[0-9.]+", "<python-lib>"))
    rules.append((re.escape(str(REPO)) + "/", ""))
    rules.append((re.escape(str(REPO)) + r"\b", "."))
    temp = re.escape(tempfile.gettempdir().rstrip("/"))
    rules.append((temp + r"/ipykernel_\d+/\d+\.py", "<cell>"))  # warnings name the cell's temp file
    rules.append((temp + r"/[^\s'\"/:]+", "<tmp>"))  # mkdtemp folders: /tmp/textkit-xyz -> <tmp>
    rules.append((r"/tmp/[^\s'\"/:]+", "<tmp>"))
    home = str(Path.home())
    if home not in ("/", ""):
        rules.append((re.escape(home) + r"\b", "~"))
    return [(re.compile(p), r) for p, r in rules]


def scrub(text: str, rules: list[tuple[re.Pattern, str]] | None = None) -> str:
    for pattern, replacement in rules if rules is not None else _placeholders():
        text = pattern.sub(replacement, text)
    return text


def clean(notebook) -> None:
    """Drop timings and replace machine paths in every output, in place."""
    rules = _placeholders()
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = scrub(str(output["text"]), rules)
            if "traceback" in output:
                output["traceback"] = [scrub(line, rules) for line in output["traceback"]]
            if "evalue" in output:
                output["evalue"] = scrub(output["evalue"], rules)
            for mime in TEXT_MIME:
                value = output.get("data", {}).get(mime)
                if isinstance(value, str):
                    output["data"][mime] = scrub(value, rules)
            output.get("metadata", {}).pop("execution", None)


def resolve(names: list[str]) -> list[Path]:
    every = sorted(NOTEBOOKS.glob("*.ipynb"))
    if not names:
        return every
    chosen = []
    for name in names:
        stem = Path(name).name
        matches = [p for p in every if p.name == stem or p.name.startswith(stem)]
        if len(matches) != 1:
            known = ", ".join(p.name for p in every)
            raise SystemExit(
                f"{name!r} names {len(matches)} notebooks; give a file name or a unique prefix of: {known}"
            )
        chosen.append(matches[0])
    return chosen


def execute(path: Path, timeout: int) -> float:
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    before = set(NOTEBOOKS.iterdir())
    started = time.perf_counter()
    try:
        NotebookClient(
            notebook,
            timeout=timeout,
            kernel_name="python3",
            record_timing=False,
            resources={"metadata": {"path": str(NOTEBOOKS)}},
        ).execute()
    finally:
        for stray in set(NOTEBOOKS.iterdir()) - before:  # charts written to the working directory
            if stray.is_file():
                stray.unlink()
    seconds = time.perf_counter() - started
    clean(notebook)
    nbformat.write(notebook, path)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="notebooks to run (file names or prefixes like 01); default all")
    parser.add_argument("--clean-only", action="store_true", help="strip timings and paths without executing")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell (default 1800)")
    args = parser.parse_args(argv)
    os.environ.setdefault("PYTHONHASHSEED", "0")  # the kernel inherits it: set and dict orders are fixed
    for path in resolve(args.names):
        if args.clean_only:
            import nbformat

            notebook = nbformat.read(path, as_version=4)
            clean(notebook)
            nbformat.write(notebook, path)
            print(f"{path.name}: cleaned", flush=True)
            continue
        print(f"{path.name}: executing ...", flush=True)
        seconds = execute(path, args.timeout)
        print(f"{path.name}: done in {seconds:.0f} s, {path.stat().st_size / 1e3:.0f} kB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
