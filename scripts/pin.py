"""Write constraints.txt: the exact versions `make install` and deploy/Dockerfile install.

    make pins                              # python3 scripts/pin.py
    python3 scripts/pin.py --freeze .venv  # pin what an existing venv has instead

By default a fresh venv is built in a temporary folder from pyproject.toml alone (every extra,
and the example plugin, editable, without the current pins: the newest versions the
lower bounds allow), frozen, and removed. Then run `make test` (the stamp depends on
constraints.txt, so the venv is reinstalled at the new pins) before committing the file.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "examples" / "syncwright-json-folder"
OUT = ROOT / "constraints.txt"
PIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*==\S+")


def extras() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return sorted(project.get("optional-dependencies", {}))


def build(python: str, venv: Path) -> None:
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    target = f"{ROOT}[{','.join(extras())}]"
    subprocess.run([*pip, "-e", target, "-e", str(PLUGIN)], check=True)


def freeze(venv: Path) -> tuple[list[str], str]:
    python = str(venv / "bin" / "python")
    # --all: setuptools too, which dlt requires at run time; pip is left out (the installer,
    # upgraded by `make install` on its own).
    out = subprocess.run(
        [python, "-m", "pip", "freeze", "--all", "--exclude-editable"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    lines = [
        line
        for line in out.splitlines()
        if line and not line.startswith("#") and not line.lower().startswith("pip==")
    ]
    odd = [line for line in lines if not PIN.fullmatch(line)]
    if odd:
        sys.exit(f"not a name==version pin (installed from a path or URL?): {odd}")
    version = subprocess.run(
        [
            python,
            "-c",
            "import platform; print(platform.python_implementation(),"
            " platform.python_version(), platform.system(), platform.machine())",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return sorted(lines, key=str.lower), "{} {} on {} {}".format(*version)


def write(out: Path, pins: list[str], python: str) -> None:
    header = f"""\
# The versions the test suite runs with. `make install` (so `make demo` and `make test`) and
# deploy/Dockerfile install with `pip install -c constraints.txt`; pyproject.toml keeps the
# ranges. Every distribution syncwright[{",".join(extras())}] and the example plugin pull in,
# pip excepted (setuptools stays: dlt requires it). Frozen on {python}.
# Regenerate: `make pins` (scripts/pin.py: a fresh venv from pyproject.toml, frozen), then
# `make test`; tests/unit/test_pins.py checks these against pyproject.toml and the venv.
"""
    out.write_text(header + "".join(f"{pin}\n" for pin in pins))
    print(f"{out}: {len(pins)} pins ({python})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="interpreter for the venv")
    parser.add_argument("--freeze", type=Path, help="freeze this venv instead of a fresh one")
    parser.add_argument("--out", type=Path, default=OUT, help="default: constraints.txt")
    args = parser.parse_args()
    if args.freeze:
        write(args.out, *freeze(args.freeze))
        return
    folder = Path(tempfile.mkdtemp(prefix="syncwright-pins-"))
    try:
        build(args.python, folder / "venv")
        write(args.out, *freeze(folder / "venv"))
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
