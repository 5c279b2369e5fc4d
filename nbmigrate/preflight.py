"""Pre-flight: what must hold before a command moves the database, checked all at once.

Alembic stops at the first broken revision file (and answers a dangling ``down_revision`` with a
bare ``KeyError``). Before ``upgrade``, ``downgrade`` or ``stamp`` runs anything, nbmigrate checks
everything it can and reports every problem in one :class:`~nbmigrate.errors.RevisionProblem`
(its ``problems`` attribute lists them one by one):

* :func:`check_files`, before connecting: each revision file loads, no id is defined twice, no
  branch label is used twice, every ``down_revision`` and ``depends_on`` exists, the graph has
  no cycle, and the target names a revision.
* :func:`check_database`, under the migration lock, with the heads just read: every row of
  ``alembic_version`` names a known revision, once, and no two rows lie on one branch; then the
  plan from those heads to the target is made (relative targets such as ``-1`` resolve here).

The fast path costs nothing extra: when the warm revision map builds, the files are fine and
only the target is resolved; the files are read one by one only to explain a failure.
"""

from __future__ import annotations

import os
import re
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._internals import down_revisions, load_map, load_script_file, own_branch_labels, revision_index
from .errors import RevisionProblem, translate

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory

    from .project import Project

_RELATIVE = re.compile(r"[+-]\d+$")


def check_files(project: Project, targets: Sequence[str] = ()) -> ScriptDirectory:
    """The project's ``ScriptDirectory`` once its files and ``targets`` pass; else one RevisionProblem."""
    script = project.script()
    try:
        load_map(script)  # builds the map, importing changed files
    except Exception as exc:
        problems = _scan(project, script) or [_message(exc, project)]
        raise _problem(problems, "The revision files have")
    # Problems found while the map was built (a revision id defined twice); the targets are
    # resolved only in a sound graph, where an error names the target and not the graph.
    problems = list(getattr(project, "script_problems", []))
    for target in () if problems else targets:
        problem = _unresolved(script, target, project)
        if problem:
            problems.append(problem)
    if problems:
        raise _problem(problems, "Pre-flight found")
    return script


def check_database(
    project: Project,
    script: ScriptDirectory,
    heads: Sequence[str],
    plan: Callable[[ScriptDirectory, tuple[str, ...]], Any],
    *,
    check_rows: bool = True,
) -> list[Any]:
    """The steps from ``heads`` to the target, once ``alembic_version`` agrees with the revision files.

    ``check_rows=False`` (``stamp``, the tool that repairs the rows) only makes the plan.
    """
    problems = _row_problems(project, script, heads) if check_rows else []
    if not problems:
        try:
            return list(plan(script, tuple(heads)))
        except Exception as exc:
            mapped = translate(exc, project.redact)
            if mapped is None:
                raise
            problems.append(str(mapped))
    raise _problem(problems, "Pre-flight found")


def _row_problems(project: Project, script: ScriptDirectory, heads: Sequence[str]) -> list[str]:
    """Rows of the version table that name unknown revisions, repeat, or share a branch."""
    rmap = revision_index(script)
    table = project.version_table
    problems = []
    for rev in sorted({h for h in heads if heads.count(h) > 1}):
        problems.append(f"{table} holds {rev} more than once.")
    for rev in [h for h in dict.fromkeys(heads) if h not in rmap]:
        problems.append(
            f"{table} holds {rev}, which no revision file defines: restore that file, or record where "
            f"the database really is with `%migrate stamp --purge REVISION`."
        )
    known = [h for h in dict.fromkeys(heads) if h in rmap]
    below = {h: _ancestors(script, h) for h in known}
    stale = sorted({a for a in known for b in known if a != b and a in below[b]})
    keep = " ".join(h for h in known if h not in stale)
    for rev in stale:
        later = ", ".join(sorted(b for b in known if rev in below[b]))
        problems.append(
            f"{table} holds both {rev} and {later}, which comes after it on the same branch: it should "
            f"hold only the last revision of each branch (`%migrate stamp --purge {keep}`, if that is "
            "where the database is)."
        )
    return problems


# -- the files, one by one -----------------------------------------------------------------------


def _scan(project: Project, script: ScriptDirectory) -> list[str]:
    """Every problem of the revision files, found by loading them one at a time."""
    from alembic.script import Script

    from ._cache import revision_files

    base = project.ini_path.parent
    problems: list[str] = []
    loaded: list[Script] = []
    for path in revision_files(script):
        try:
            found = load_script_file(script, path)
        except Exception as exc:
            problems.append(f"{_rel(path, base)} does not load: {_load_error(exc, path)}")
            continue
        if found is not None:
            loaded.append(found)
    return problems + _graph_problems(loaded, base)


def _graph_problems(revisions: list[Script], base: Path) -> list[str]:
    """Duplicate ids and labels, missing down revisions and dependencies, and cycles."""
    from alembic import util

    problems: list[str] = []
    files: dict[str, list[str]] = {}
    for rev in revisions:
        files.setdefault(rev.revision, []).append(_rel(Path(rev.path), base))
    for rev_id, paths in files.items():
        if len(paths) > 1:
            problems.append(f"Revision id {rev_id} is defined by {len(paths)} files: {', '.join(paths)}.")
    labels: dict[str, str] = {}
    for rev in revisions:
        for label in own_branch_labels(rev):
            if label in labels or label in files:
                other = labels.get(label, label)
                problems.append(f"Branch label {label!r} of {rev.revision} is already used by {other}.")
            labels.setdefault(label, rev.revision)
    edges: dict[str, list[str]] = {rev_id: [] for rev_id in files}
    for rev in revisions:
        where = _rel(Path(rev.path), base)
        for down in util.to_tuple(rev.down_revision, default=()):
            if down in files:
                edges[rev.revision].append(down)
            else:
                problems.append(f"{rev.revision} ({where}) revises {down}, which no revision file defines.")
        for dep in util.to_tuple(rev.dependencies, default=()):
            target = dep if dep in files else labels.get(dep)
            if target is None:
                problems.append(f"{rev.revision} ({where}) depends on {dep}, which is no revision or branch label.")
            else:
                edges[rev.revision].append(target)
    for cycle in _cycles(edges):
        problems.append(f"Revisions {', '.join(cycle)} form a cycle: each comes, through the others, before itself.")
    return problems


def _cycles(edges: dict[str, list[str]]) -> list[list[str]]:
    """The strongly connected parts of the graph that contain a cycle (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                part = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    part.append(member)
                    if member == node:
                        break
                if len(part) > 1 or node in edges[node]:
                    found.append(sorted(part))
    return found


def _ancestors(script: ScriptDirectory, rev_id: str) -> set[str]:
    """The revisions before ``rev_id`` on its branch (down revisions only, not dependencies)."""
    rmap = revision_index(script)
    seen: set[str] = set()
    todo = list(down_revisions(rmap[rev_id]))
    while todo:
        current = todo.pop()
        if current in seen or current not in rmap:
            continue
        seen.add(current)
        todo.extend(down_revisions(rmap[current]))
    return seen


def _unresolved(script: ScriptDirectory, target: str, project: Project) -> str | None:
    """Why ``target`` names no revision, or ``None`` (relative targets wait for the database's heads)."""
    if not target.strip():
        return "An empty revision names nothing: give one, e.g. `head`, `base`, `-1` or an id from `%migrate history`."
    if target in ("base", "heads") or _RELATIVE.search(target) or "current" in target:
        return None
    try:
        script.revision_map.get_revisions(target)
    except Exception as exc:
        mapped = translate(exc, project.redact)
        if mapped is None:
            raise
        return f"{target!r}: {mapped}" if isinstance(exc, AssertionError) else str(mapped)
    return None


# -- messages -------------------------------------------------------------------------------------


def _problem(problems: list[str], lead: str) -> RevisionProblem:
    problems = [p if p.rstrip().endswith((".", "?", "!", ")")) else p.rstrip() + "." for p in problems]
    if len(problems) == 1:
        # "(line 3)" may end a problem, not the sentence that goes on with "Nothing was run."
        first = problems[0].rstrip()
        text = f"{first if first.endswith(('.', '?', '!')) else first + '.'} Nothing was run."
    else:
        listed = "\n".join(f"  - {p}" for p in problems)
        text = f"{lead} {len(problems)} problems; nothing was run:\n{listed}\nFix them and run the command again."
    error = RevisionProblem(text)
    error.problems = tuple(problems)  # type: ignore[attr-defined]
    return error


def _message(exc: Exception, project: Project) -> str:
    mapped = translate(exc, project.redact)
    return str(mapped) if mapped is not None else project.redact(f"{type(exc).__name__}: {exc}")


def _load_error(exc: BaseException, path: Path) -> str:
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg} (line {exc.lineno})"
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if os.path.abspath(frame.filename) == os.path.abspath(path):
            line = frame.lineno
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    where = f" (line {line})" if line else ""
    return f"{type(exc).__name__}: {text}{where}".replace(": (", " (")


def _rel(path: Path, base: Path) -> str:
    try:
        return os.path.relpath(path, base)
    except ValueError:  # another drive on Windows
        return str(path)
