"""The package's promises agree with one another: the dependency floors and the constraints file
CI installs them from, the Python versions CI runs and what pyproject and the README declare, and
the README's set-up commands."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the dev extras bring tomli on 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
CI = ROOT / ".ci" / "run"
CONSTRAINTS = ROOT / ".ci" / "constraints-min.txt"


def pyproject() -> dict[str, Any]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def floors() -> dict[str, tuple[str, str]]:
    """Each runtime dependency's declared floor (its ``>=`` version) and marker."""
    out: dict[str, tuple[str, str]] = {}
    for line in pyproject()["project"]["dependencies"]:
        req = Requirement(line)
        lower = [s.version for s in req.specifier if s.operator == ">="]
        assert len(lower) == 1, f"{line!r}: every runtime dependency declares one floor (>=)"
        out[canonicalize_name(req.name)] = (lower[0], str(req.marker or ""))
    return out


def constraint_pins() -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for raw in CONSTRAINTS.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        (pin,) = req.specifier
        assert pin.operator == "==", f"{raw!r}: the constraints pin exact versions"
        name = canonicalize_name(req.name)
        assert name not in out, f"{req.name} pinned twice"
        out[name] = (pin.version, str(req.marker or ""))
    return out


def ci_pythons() -> list[str]:
    found = re.findall(r"^PYTHONS=\(([^)]*)\)", CI.read_text(), re.MULTILINE)
    assert len(found) == 1, ".ci/run declares its Pythons once, as PYTHONS=(...)"
    return found[0].split()


def setup_section() -> str:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"^## Set-up\n(.*?)(?=^#+ )", readme, re.MULTILINE | re.DOTALL)
    assert match, "README.md has a ## Set-up section"
    return match.group(1)


def setup_commands() -> list[str]:
    return [line[4:] for line in setup_section().splitlines() if re.match(r"    \S", line)]


def test_constraints_are_exactly_the_declared_floors() -> None:
    declared = floors()
    assert declared, "pyproject declares runtime dependencies"
    assert constraint_pins() == declared


def test_the_minimum_job_runs_on_the_lowest_supported_python() -> None:
    found = re.findall(r"^MIN_PYTHON=(\S+)", CI.read_text(), re.MULTILINE)
    pythons = ci_pythons()
    assert found == [min(pythons, key=lambda v: tuple(map(int, v.split("."))))]


def test_classifiers_and_requires_python_name_exactly_the_pythons_ci_runs() -> None:
    pythons = ci_pythons()
    assert pythons == sorted(set(pythons), key=lambda v: tuple(map(int, v.split(".")))) and pythons
    project = pyproject()["project"]
    classified = [
        c.rsplit(" :: ", 1)[1]
        for c in project["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    ]
    assert classified == pythons
    requires = SpecifierSet(project["requires-python"])
    for minor in range(0, 30):
        version = f"3.{minor}"
        assert requires.contains(f"{version}.0") == (version in pythons), version


def test_readme_states_the_pythons_ci_runs() -> None:
    pythons = ci_pythons()
    said = ", ".join(pythons[:-1]) + " and " + pythons[-1]
    assert f"Python {said}" in " ".join(setup_section().split())


def test_readme_setup_is_two_commands_in_one_virtual_environment_with_a_shipped_recording() -> None:
    commands = setup_commands()
    assert len(commands) == 2, commands
    venv = "python3 -m venv .venv && . .venv/bin/activate && "
    assert all(c.startswith(venv) for c in commands), commands
    analyze, tests = commands
    assert re.search(r"&& bsstream analyze --local \S+$", analyze), analyze
    recording = analyze.split()[-1]
    assert not recording.startswith(("/", "..")), "the recording ships in the repository"
    assert (ROOT / recording).is_file(), recording
    assert tests.endswith("&& pytest"), tests
    assert "'.[dev]'" in tests
