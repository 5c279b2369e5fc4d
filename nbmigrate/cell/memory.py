"""How cells are remembered across re-runs: the kernel's records per project, the files' markers, the hashes."""

from __future__ import annotations

import hashlib
import json
import os
import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..project import Project

if TYPE_CHECKING:
    from .code import CellCode

MARKER = "nbmigrate-cell"
_MARKER_RE = re.compile(
    r"^[ \t]*# nbmigrate-cell: key=(?P<key>[0-9a-f]+) cell=(?P<cell>[0-9a-f]+)(?: ops=(?P<ops>[0-9a-f]+))?",
    re.MULTILINE,
)


@dataclass
class _Record:
    revision: str
    cell: str
    ops: str | None = None


@dataclass
class _Marker:
    key: str
    cell: str
    ops: str | None


@dataclass
class _State:
    records: dict[tuple[str, ...], _Record] = field(default_factory=dict)
    markers: dict[str, tuple[int, int, _Marker | None]] = field(default_factory=dict)


_STATES: weakref.WeakKeyDictionary[Project, _State] = weakref.WeakKeyDictionary()


def _state(project: Project) -> _State:
    state = _STATES.get(project)
    if state is None:
        _STATES[project] = state = _State()
    return state


def records(project: Project) -> dict[tuple[str, ...], tuple[str, str]]:
    """This kernel's record for ``project``: cell key → (revision id, cell hash)."""
    return {key: (r.revision, r.cell) for key, r in _state(project).records.items()}


def _digest(*parts: Any, size: int = 16) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:size]


def _key_digest(key: tuple[str, ...]) -> str:
    return _digest(*key, size=12)


def _marker(project: Project, path: str | os.PathLike[str]) -> _Marker | None:
    """The ``# nbmigrate-cell:`` comment of a revision file, cached by mtime and size."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return None
    cache = _state(project).markers
    key = str(p)
    cached = cache.get(key)
    if cached is not None and cached[:2] == (st.st_mtime_ns, st.st_size):
        return cached[2]
    try:
        match = _MARKER_RE.search(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        match = None
    found = _Marker(match["key"], match["cell"], match["ops"]) if match else None
    cache[key] = (st.st_mtime_ns, st.st_size, found)
    return found


def _cell_hash(
    code: CellCode,
    *,
    message: str,
    parents: tuple[str, ...],
    branch_label: str | None,
    depends_on: Sequence[str] | None,
    version_path: str | None,
    autogenerate: bool,
) -> str:
    return _digest(
        message, list(parents), branch_label, list(depends_on or ()), version_path, autogenerate,
        code.imports, code.module, code.upgrade, code.downgrade,
    )
