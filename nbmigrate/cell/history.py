"""The project's revisions as a cell sees them: lookups, parents, the history without a cell's revision, checks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from ..walk import reachable
from .. import _internals, engine
from ..errors import NbmigrateError, RevisionProblem
from ..project import Project

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory


def _lookup(script: ScriptDirectory, rev_id: str) -> Script | None:
    """The revision with exactly this id (no prefixes, no labels), or ``None``."""
    return _internals.revision_by_id(script, rev_id)  # type: ignore[no-any-return]


def _all_scripts(script: ScriptDirectory) -> list[Script]:
    return _internals.all_revisions(script)


def _parents(rev: Script | None) -> tuple[str, ...]:
    return _internals.down_revisions(rev) if rev is not None else ()


def _parent_name(parents: tuple[str, ...]) -> str:
    return ",".join(parents) if parents else "base"


def _without(project: Project, script: ScriptDirectory, rev_id: str) -> ScriptDirectory:
    """A ``ScriptDirectory`` whose revision map lacks ``rev_id`` and what is built on it.

    A rewrite is generated against it, so Alembic sees the history as it was before the cell's
    revision existed (heads, branch labels, ids), while the files on disk stay untouched.
    """
    from alembic.script import Script, ScriptDirectory
    from alembic.script.revision import RevisionMap

    rmap = _internals.revision_index(script)
    drop = reachable([rev_id], lambda current: rmap[current].nextrev if rmap.get(current) is not None else ())
    fresh = [Script(s.module, s.revision, s.path) for s in _all_scripts(script) if s.revision not in drop]
    reduced = ScriptDirectory.from_config(project.config)
    reduced.revision_map = RevisionMap(lambda: fresh)
    return reduced


def _resolve_parent(project: Project, script: ScriptDirectory, head: str | None) -> Script | None:
    """The one revision a new revision builds on (``None`` for base); refuses several."""
    heads = list(script.get_heads())
    if head is None and len(heads) > 1:
        listed = ", ".join(_describe(script, h) for h in heads)
        raise RevisionProblem(
            f"There are several heads ({listed}): name the parent with --head (e.g. `--head {heads[0]}` or "
            f"`--head branchname@head`), or merge them first with `%migrate merge heads -m \"merge\"`. Nothing was written."
        )
    found, _ = engine.run_contained(project, lambda: script.revision_map.get_revisions(head or "head"))
    found = tuple(found)
    if len(found) > 1:
        listed = ", ".join(r.revision for r in found if r is not None)
        raise RevisionProblem(f"--head {head} names several revisions ({listed}): a revision has exactly one parent here; name one.")
    return found[0] if found else None


def _describe(script: ScriptDirectory, rev_id: str) -> str:
    rev = script.get_revision(rev_id)
    labels = f" [{', '.join(sorted(rev.branch_labels))}]" if rev is not None and rev.branch_labels else ""
    doc = f" {(rev.doc or '').strip()!r}" if rev is not None and rev.doc else ""
    return f"{rev_id}{labels}{doc}"


def _template_slots(script: ScriptDirectory) -> set[str]:
    path = Path(script.dir) / "script.py.mako"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        raise NbmigrateError(f"The project has no script template ({path}); %%revision writes files through it.") from None
    return {name for name in ("imports", "upgrades", "downgrades") if re.search(r"\$\{\s*" + name + r"\b", text)}


def _check_branch_label(script: ScriptDirectory, label: str | None, *, ignore: str | None = None) -> None:
    if not label:
        return
    for rev in _all_scripts(script):
        # Alembic copies a label down its branch (``branch_labels``); the revision that set it has it in its file.
        if rev.revision != ignore and label in _internals.own_branch_labels(rev):
            raise RevisionProblem(
                f"Branch label {label!r} is already used by revision {rev.revision}; choose another --branch-label. Nothing was written."
            )


def _check_splice(parent: Script | None, splice: bool) -> None:
    if parent is not None and not splice and not parent.is_head:
        raise RevisionProblem(
            f"Revision {parent.revision} is not a head: building on it starts a new branch. "
            "Add --splice to do that, or build on a head. Nothing was written."
        )
