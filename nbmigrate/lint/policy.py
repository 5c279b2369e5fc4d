"""A project's lint policy (which level fails, which rules are off) and a revision file's marker comments.

Policy, in the ``[alembic]`` section of ``alembic.ini`` (the section ``-n`` names)::

    nbmigrate.lint.fail = error              # error (default), warning, or never
    nbmigrate.lint.disable = NBM601, NBM003  # codes or names of rules that are off
    nbmigrate.lint.server_version = 15       # the server to judge for when no database is connected
                                             # (e.g. 8.0.36, or "10.11 mariadb")

or in ``pyproject.toml``::

    [tool.nbmigrate.lint]
    fail = "warning"
    disable = ["NBM601"]
    server_version = "15"

The ini file wins where both set an option. A revision silences a rule for itself with a
comment anywhere in its file, with an optional reason after ``--``::

    # nbmigrate: allow NBM108 -- the column is unused since release 4.2
    # nbmigrate: allow renaming-column, NBM105

A silenced finding is still reported (as allowed) but no longer counts against the fail level.
"""

from __future__ import annotations

import io
import os
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import NbmigrateError
from .rules import rule

if TYPE_CHECKING:
    from ..project import Project

FAIL_LEVELS = ("error", "warning", "never")
MARKER = "nbmigrate:"


@dataclass(frozen=True)
class Policy:
    """What fails a lint and which rules are off."""

    fail: str = "error"
    disable: frozenset[str] = frozenset()  # rule codes
    server_version: tuple[int, ...] | None = None
    mariadb: bool | None = None  # said by server_version ("10.11 mariadb")
    source: str = ""  # where it was read from, for messages

    def fails(self, severity: str) -> bool:
        """Whether a finding of ``severity`` fails the lint (``ok`` False; ``upgrade`` refuses)."""
        if self.fail == "never":
            return False
        return severity == "error" or (self.fail == "warning" and severity == "warning")


def read_policy(project: Project) -> Policy:
    """The project's policy: ``nbmigrate.lint.*`` in the ini section, else ``[tool.nbmigrate.lint]``."""
    values: dict[str, Any] = dict(_toml_options(project))
    source = "pyproject.toml [tool.nbmigrate.lint]" if values else ""
    for key in ("fail", "disable", "server_version"):
        raw = project._main_option(f"nbmigrate.lint.{key}") if project.exists else None
        if raw is not None and raw.strip():
            values[key] = raw.strip()
            source = f"{project.ini_path.name} nbmigrate.lint.*"
    fail = str(values.get("fail", "error")).strip().lower()
    if fail not in FAIL_LEVELS:
        raise NbmigrateError(f"nbmigrate.lint.fail is {fail!r} ({source}); use error, warning or never.")
    disable = values.get("disable", ())
    names = disable.replace(",", " ").split() if isinstance(disable, str) else [str(d) for d in disable]
    codes = set()
    for name in names:
        try:
            codes.add(rule(name).code)
        except KeyError:
            raise NbmigrateError(f"nbmigrate.lint.disable names no rule {name!r} ({source}); see `python -m nbmigrate lint --rules`.") from None
    version, mariadb = parse_version(str(values["server_version"])) if "server_version" in values else (None, None)
    return Policy(fail, frozenset(codes), version, mariadb, source)


def _toml_options(project: Project) -> dict[str, Any]:
    from alembic.util.compat import tomllib

    path = project.toml_path
    if not path.is_file():
        return {}
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except (OSError, ValueError):
        return {}  # a broken pyproject.toml is reported where Alembic reads it
    section = data.get("tool", {}).get("nbmigrate", {}).get("lint", {})
    return section if isinstance(section, dict) else {}


def parse_version(text: str) -> tuple[tuple[int, ...] | None, bool | None]:
    """``"8.0.36"`` → ``((8, 0, 36), None)``; ``"10.11 mariadb"`` or ``"10.11.6-MariaDB"`` → ``((10, 11), True)``."""
    lowered = text.lower()
    digits = lowered.replace("mariadb", " ").replace("mysql", " ").replace("-", " ").split()
    numbers: tuple[int, ...] = ()
    for word in digits:
        parts = word.split(".")
        if all(p.isdigit() for p in parts):
            numbers = tuple(int(p) for p in parts)
            break
    mariadb = True if "mariadb" in lowered else (False if "mysql" in lowered else None)
    return (numbers or None), mariadb


@dataclass(frozen=True)
class Markers:
    """The rules a revision file's marker comments allow, and what was wrong with any of them."""

    allowed: frozenset[str] = frozenset()
    reasons: dict[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


_SEEN: dict[str, tuple[tuple[int, int], Markers]] = {}  # path -> (its stat, its markers): files read once


def read_markers(path: str | Path, text: str | None = None) -> Markers:
    """The ``# nbmigrate: allow ...`` comments of a revision file (read with Python's tokenizer).

    A file is read again only when its modification time or size changed, as the warm revision
    map does (see :mod:`nbmigrate._cache`).
    """
    if text is not None:
        return _markers(path, text)
    key = str(path)
    try:
        st = os.stat(key)
    except OSError:
        return Markers()
    stamp = (st.st_mtime_ns, st.st_size)
    seen = _SEEN.get(key)
    if seen is not None and seen[0] == stamp:
        return seen[1]
    try:
        found = _markers(path, Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return Markers()
    _SEEN[key] = (stamp, found)
    return found


def _markers(path: str | Path, text: str) -> Markers:
    if MARKER not in text:  # the common case: no tokenizing at all
        return Markers()
    from ..paths import relative_path

    shown = relative_path(path)
    allowed: set[str] = set()
    reasons: dict[str, str] = {}
    problems: list[str] = []
    try:
        comments = [(t.string, t.start[0]) for t in tokenize.generate_tokens(io.StringIO(text).readline)
                    if t.type == tokenize.COMMENT]
    except (tokenize.TokenError, SyntaxError):
        return Markers()
    for comment, line in comments:
        body = comment.lstrip("#").strip()
        if not body.startswith(MARKER):
            continue
        words, _, reason = body[len(MARKER):].partition("--")
        verb, _, names = words.strip().partition(" ")
        if verb != "allow":
            problems.append(f"{shown}:{line}: marker {comment.strip()!r} is not `# nbmigrate: allow CODE`")
            continue
        for name in names.replace(",", " ").split():
            try:
                code = rule(name).code
            except KeyError:
                problems.append(f"{shown}:{line}: marker names no rule {name!r}")
                continue
            allowed.add(code)
            if reason.strip():
                reasons[code] = reason.strip()
    return Markers(frozenset(allowed), reasons, tuple(problems))
