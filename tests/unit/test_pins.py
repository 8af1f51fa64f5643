"""constraints.txt pins what pyproject.toml asks for, and this environment runs the pins.

`make install` (so `make demo` and `make test`) and deploy/Dockerfile install with
`pip install -c constraints.txt`; `make pins` rewrites it. A requirement added to pyproject.toml
without a pin, a pin outside its range, or a venv drifting from the pins fails here.
(`packaging` comes with pytest.)
"""

from __future__ import annotations

import importlib.metadata as metadata
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
EXTRAS = sorted(PROJECT.get("optional-dependencies", {}))
#: Installed editable by `make install`, never pinned.
OURS = {canonicalize_name("syncwright"), canonicalize_name("syncwright-json-folder")}
PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def _pins() -> dict[NormalizedName, Version]:
    pins: dict[NormalizedName, Version] = {}
    text = (ROOT / "constraints.txt").read_text()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = PIN.fullmatch(line)
        assert match, f"constraints.txt:{number}: expected name==version, not {raw!r}"
        name = canonicalize_name(match[1])
        assert name not in pins, f"constraints.txt:{number}: {name} is pinned twice"
        pins[name] = Version(match[2])
    return pins


PINS = _pins()


def _declared() -> list[Requirement]:
    lines = list(PROJECT["dependencies"])
    for extra in EXTRAS:
        lines += PROJECT["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


def _applies(requirement: Requirement, extras: set[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": e}) for e in ["", *sorted(extras)])


def _installed() -> dict[NormalizedName, metadata.Distribution]:
    found: dict[NormalizedName, metadata.Distribution] = {}
    for dist in metadata.distributions():  # in sys.path order: the one imported comes first
        found.setdefault(canonicalize_name(dist.metadata["Name"]), dist)
    return found


def _requirement_graph() -> list[tuple[str, Requirement]]:
    """(who requires it, requirement) for everything syncwright with every extra and the
    example plugin pull in, read from the installed metadata, markers judged here."""
    installed = _installed()
    edges: list[tuple[str, Requirement]] = []
    wanted: dict[NormalizedName, set[str]] = {}
    todo = [
        (canonicalize_name("syncwright"), set(EXTRAS)),
        (canonicalize_name("syncwright-json-folder"), set()),
    ]
    while todo:
        name, extras = todo.pop()
        if name in wanted and extras <= wanted[name]:
            continue
        wanted[name] = wanted.get(name, set()) | extras
        dist = installed.get(name)
        assert dist is not None, f"{name} is required but not installed: run `make install`"
        for line in dist.requires or []:
            requirement = Requirement(line)
            if _applies(requirement, wanted[name]):
                edges.append((name, requirement))
                todo.append((canonicalize_name(requirement.name), set(requirement.extras)))
    return edges


def test_the_pins_are_exact_and_leave_our_projects_out():
    assert len(PINS) > len(_declared())
    assert not OURS & PINS.keys(), "syncwright itself is installed editable, not pinned"


def test_every_requirement_of_pyproject_is_pinned_within_its_range():
    declared = _declared()
    assert {"paramiko", "sqlalchemy", "pytest", "dlt", "pymysql"} <= {
        canonicalize_name(r.name) for r in declared
    }
    for requirement in declared:
        name = canonicalize_name(requirement.name)
        assert name in PINS, f"{requirement} (pyproject.toml) has no pin in constraints.txt"
        assert requirement.specifier.contains(PINS[name], prereleases=True), (
            f"constraints.txt pins {name}=={PINS[name]}, outside pyproject.toml's {requirement}"
        )


def test_everything_the_project_pulls_in_is_pinned_within_every_range():
    edges = _requirement_graph()
    assert len(edges) > len(_declared())
    for parent, requirement in edges:
        name = canonicalize_name(requirement.name)
        if name in OURS:
            continue
        assert name in PINS, f"{name} (required by {parent}: {requirement}) is not pinned"
        assert requirement.specifier.contains(PINS[name], prereleases=True), (
            f"constraints.txt pins {name}=={PINS[name]}; {parent} requires {requirement}"
        )


def test_this_environment_runs_the_pinned_versions():
    installed = _installed()
    drift = []
    for name, pinned in sorted(PINS.items()):
        dist = installed.get(name)
        if dist is None:
            drift.append(f"{name}: pinned {pinned}, not installed")
        elif Version(dist.version) != pinned:
            drift.append(f"{name}: pinned {pinned}, installed {dist.version}")
    assert not drift, "the venv is not what constraints.txt pins (`make install`):\n" + "\n".join(
        drift
    )
