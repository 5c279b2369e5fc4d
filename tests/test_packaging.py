"""What a fresh install gets: the version floors are tested, and the lock covers every dependency."""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def _pins(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].split(";", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[_canonical(name)] = version
    return pins


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements() -> list[str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


def test_the_oldest_job_installs_exactly_the_floors_pyproject_allows() -> None:
    floors = {}
    for requirement in _requirements():
        name, _, floor = requirement.partition(">=")
        floors[_canonical(name)] = floor
    oldest = _pins(ROOT / "constraints" / "oldest.txt")
    for name, version in oldest.items():
        assert floors.get(name) == version, f"{name}: oldest.txt pins {version}, pyproject allows >={floors.get(name)}"
    tested = {"alembic", "sqlalchemy", "ipython", "ipywidgets", "anywidget", "graphviz", "pygments"}
    assert tested <= set(oldest), f"floors not tested: {sorted(tested - set(oldest))}"


def test_the_lock_pins_every_dependency_within_pyproject_s_ranges() -> None:
    from packaging.requirements import Requirement

    locked = _pins(ROOT / "constraints" / "test.txt")
    for text in _requirements():
        requirement = Requirement(text)
        name = _canonical(requirement.name)
        assert name in locked, f"{name} is not in constraints/test.txt"
        assert requirement.specifier.contains(locked[name]), f"{name}=={locked[name]} is outside {requirement.specifier}"
