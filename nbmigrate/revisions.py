"""Checks on a revision a command is about to write, and the result of writing it.

A revision id must be a safe file name and new; ``--depends-on`` must name revisions that exist;
``--version-path`` must be one of the project's version locations. Each check raises one clear
error before anything is written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _internals, _runtime
from ._files import check_message, undone_on_failure
from ._internals import serving
from .engine import captured_warnings, compute, output_text, run_contained, script_directory, with_connection
from .errors import BadArguments, RevisionProblem
from .project import Project
from .results import RevisionFileResult

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory


_SAFE_REV_ID = re.compile(r"[A-Za-z0-9_]+")


_MAX_REV_ID = 128


def check_new_id(script: ScriptDirectory, rev_id: str) -> None:
    """Refuse a revision id a file already defines (Alembic would write a revision revising itself)."""
    existing = _internals.revision_by_id(script, rev_id)
    if existing is not None:
        raise RevisionProblem(
            f"Revision id {rev_id!r} is already taken by {Path(existing.path).name}; choose another --rev-id. "
            "Nothing was written."
        )


def check_rev_id(rev_id: str | None) -> None:
    """Refuse a ``--rev-id`` that cannot name a revision file (unsafe characters, too long)."""
    # fullmatch: `$` would let a trailing newline through, into the file's name.
    if rev_id is not None and not _SAFE_REV_ID.fullmatch(rev_id):
        raise BadArguments(
            f"{rev_id!r} cannot be a revision id: use letters, digits and underscores only."
        )
    if rev_id is not None and len(rev_id) > _MAX_REV_ID:
        # The file's name holds the id, the message's slug and the file template's dates; it
        # must stay within the 255 bytes a file name may have.
        raise BadArguments(
            f"That revision id is too long ({len(rev_id)} characters): use at most {_MAX_REV_ID}, so "
            "that its file's name fits. Nothing was written."
        )


def file_result(project: Project, command: str, scripts: Any, capture: _runtime.Capture) -> RevisionFileResult:
    scripts = scripts if isinstance(scripts, list) else [scripts]
    scripts = [s for s in scripts if s is not None]
    if not scripts:
        return RevisionFileResult(command=command, revision="", path="", source="", output=output_text(project, capture))
    first = scripts[0]
    path = Path(first.path)
    return RevisionFileResult(
        command=command,
        revision=first.revision,
        path=str(path),
        source=project.redact(path.read_text(encoding="utf-8")) if path.is_file() else "",
        message=(first.doc or "").strip(),
        output=output_text(project, capture),
        warnings=captured_warnings(project, capture),
    )


def check_depends_on(project: Project, script: ScriptDirectory, depends_on: Sequence[str] | None) -> None:
    """Refuse a ``--depends-on`` that names no revision (Alembic would assert, or write a dangling one)."""
    for dep in depends_on or ():

        def find(dep: str = dep) -> Any:
            return script.revision_map.get_revision(dep)

        found = compute(project, find)
        if found is None:
            raise RevisionProblem(f"--depends-on {dep}: no such revision. Nothing was written.")


def check_version_path(script: ScriptDirectory, version_path: str) -> None:
    """Refuse a ``--version-path`` that is not one of the project's version locations."""
    wanted = Path(version_path).resolve()
    allowed = [Path(p).resolve() for p in _internals.version_locations(script)]
    if wanted not in allowed:
        listed = ", ".join(str(p) for p in allowed)
        raise BadArguments(f"--version-path must be one of the project's version locations: {listed}.")


def write_revision(
    project: Project,
    command: str,
    write: Callable[[str | None], Any],
    *,
    message: str | None,
    rev_id: str | None = None,
    version_path: str | None = None,
    depends_on: Sequence[str] | None = None,
    needs_db: bool = False,
    metadata: Any = None,
) -> RevisionFileResult:
    """Check a new revision's id, message, version path and dependencies, then ``write(message)`` it.

    ``write`` calls Alembic's own command (``revision``, ``merge``), which is served the warm
    revision map; it runs contained, with the kernel's connection when it ``needs_db``
    (autogenerate, with ``metadata``). A failure leaves no file behind.
    """
    check_rev_id(rev_id)
    message = check_message(message, required=False)
    script = script_directory(project)
    if rev_id is not None:
        check_new_id(script, rev_id)
    if version_path is not None:
        check_version_path(script, version_path)
    check_depends_on(project, script, depends_on)

    def run() -> Any:
        with serving(script):
            return write(message)

    with undone_on_failure(script, project.invalidate):
        scripts, capture = run_contained(project, with_connection(project, run, needs_db=needs_db, metadata=metadata))
    return file_result(project, command, scripts, capture)
