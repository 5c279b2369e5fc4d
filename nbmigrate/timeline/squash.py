"""Squash: one revision equivalent to a chain of revisions, proved on scratch databases.

``%migrate squash A:B -m "..."`` replaces the revisions after ``A`` up to ``B`` by one revision.
It keeps ``B``'s id, so revisions after ``B`` and databases at or past ``B`` need nothing; its
``down_revision`` is ``A``. Its operations come from Alembic's autogenerate: the schema at ``B``
(replayed on a scratch database and reflected) compared with a scratch database at ``A``, rendered
by Alembic's renderer through the project's ``script.py.mako``.

Before the chain's files are removed, the result is proved on scratch databases: the history
with the new revision gives exactly the schema at ``B`` that the chain gave, and its downgrade
gives back exactly the schema at ``A``. A proof that fails puts the chain's files back and
reports the difference. Code in the chain that moves data (``op.execute``, ``op.bulk_insert``,
the connection) cannot come from a schema difference: the squash is refused while there is any,
unless the user accepts to carry it over by hand (it is then listed in the new file).
"""

from __future__ import annotations

import ast
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BadArguments, NbmigrateError
from ..results import Result
from .at import resolve, schema_at, script_of, steps_to
from .scratch import Probe, replay, scratch_database

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory

    from ..project import Project
    from ..schema import SchemaDiff

_DATA_CALLS = {"execute", "bulk_insert", "get_bind", "run_async", "exec_driver_sql"}


@dataclass(frozen=True)
class DataCode:
    """A line of the chain that moves data: a schema difference cannot carry it."""

    revision: str
    path: str
    line: int
    code: str


@dataclass(repr=False)
class SquashResult(Result):
    """``%migrate squash``: the new revision, the files it replaced, and the proof."""

    command: str
    revision: str
    down_revision: str | None
    path: str
    source: str
    replaced: list[str] = field(default_factory=list)  # the chain's revision ids, in upgrade order
    removed_files: list[str] = field(default_factory=list)
    data_code: list[DataCode] = field(default_factory=list)
    proved: bool = False
    advice: str = ""


class SquashNotProved(NbmigrateError):
    """The squashed revision does not give the chain's schema: nothing was changed."""

    def __init__(self, message: str, difference: SchemaDiff | None = None) -> None:
        super().__init__(message)
        self.difference = difference


def _chain(project: Project, script: ScriptDirectory, rev_range: str) -> tuple[str | None, list[str]]:
    """``A`` (None for base) and the revisions after it up to ``B``, checked to be one straight line."""
    if ":" not in rev_range:
        raise BadArguments("squash takes a range A:B (e.g. `base:0005` or `0002:head`): the revisions after A up to B become one.")
    start, end = (part or default for part, default in zip(rev_range.split(":", 1), ("base", "head")))
    low, high = resolve(project, start), resolve(project, end)
    if len(low.heads) > 1 or len(high.heads) != 1:
        raise BadArguments("squash runs from one revision (or base) to one revision: name single revisions.")
    if not low.applied < high.applied:
        raise BadArguments(f"{start} is not below {end}: nothing to squash between them.")
    chain = [rev for rev in steps_to(project, script, high) if rev not in low.applied]
    if len(chain) < 2:
        raise BadArguments(f"Only {chain[0]} lies between {start} and {end}: there is nothing to squash it with.")
    a = low.heads[0] if low.heads else None
    below = a
    members = set(chain)
    for rev in chain:
        sc = script.get_revision(rev)
        downs = _downs(sc)
        if downs != ((below,) if below else ()):
            raise BadArguments(
                f"squash needs one straight line from {start} to {end}, and {rev} comes after {', '.join(downs) or 'base'}: "
                "squash each branch (or the part after their merge) on its own."
            )
        if rev != chain[-1] and set(sc.nextrev) - members:
            raise BadArguments(f"{rev} has a revision after it outside the range ({', '.join(sorted(set(sc.nextrev) - members))}): squash up to a revision no branch starts from.")
        below = rev
    for sc in script.walk_revisions():
        if sc.revision not in members and set(_depends(sc)) & (members - {chain[-1]}):
            raise BadArguments(f"{sc.revision} depends on {', '.join(sorted(set(_depends(sc)) & members))} inside the range: squash would leave that dependency dangling.")
    return a, chain


def _downs(sc: Script) -> tuple[str, ...]:
    down = sc.down_revision
    return () if not down else (down,) if isinstance(down, str) else tuple(down)


def _labels(sc: Script) -> tuple[str, ...]:
    """The branch labels the revision's file declares (``Script.branch_labels`` also holds those it inherits)."""
    declared = getattr(sc.module, "branch_labels", None)
    return () if not declared else (declared,) if isinstance(declared, str) else tuple(declared)


def _depends(sc: Script) -> tuple[str, ...]:
    deps = sc.dependencies
    return () if not deps else (deps,) if isinstance(deps, str) else tuple(deps)


def data_code(script: ScriptDirectory, chain: list[str]) -> list[DataCode]:
    """The calls in the chain's ``upgrade()`` functions that move data."""
    found = []
    for rev in chain:
        path = Path(script.get_revision(rev).path)
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef) and node.name == "upgrade":
                for call in ast.walk(node):
                    if isinstance(call, ast.Call) and getattr(call.func, "attr", getattr(call.func, "id", None)) in _DATA_CALLS:
                        found.append(DataCode(rev, str(path), call.lineno, lines[call.lineno - 1].strip()))
    return sorted(set(found), key=lambda d: (chain.index(d.revision), d.line))


def _operations(project: Project, script: ScriptDirectory, a: str | None, b: str) -> tuple[Any, Any, set[str]]:
    """Autogenerate's operations from a scratch database at ``a`` to the schema at ``b``, and their imports."""
    import sqlalchemy as sa
    from alembic.autogenerate import produce_migrations
    from alembic.runtime.migration import MigrationContext

    from ..schema import CHECKSUM_TABLE

    hidden = {CHECKSUM_TABLE, project.version_table}
    target = sa.MetaData()
    made: dict[str, Any] = {}

    # Worked out here: a plan runs in the worker, where no other nbmigrate call may be made.
    to_b = steps_to(project, script, resolve(project, b))
    to_a = steps_to(project, script, resolve(project, a)) if a else []

    def reflect(probe: Probe) -> Iterator[tuple[str, bool]]:
        yield from ((rev, True) for rev in to_b)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            target.reflect(probe.connection, only=lambda name, _: name not in hidden)
        made["unread at b"] = {str(w.message) for w in caught}

    def compare(probe: Probe) -> Iterator[tuple[str, bool]]:
        yield from ((rev, True) for rev in to_a)

        def include_name(name: str | None, type_: str, parent: Any) -> bool:
            return not (type_ == "table" and name in hidden)

        context = MigrationContext.configure(probe.connection, opts={"compare_type": True, "include_name": include_name})
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            made["migration"] = produce_migrations(context, target)
        made["unread at a"] = {str(w.message) for w in caught}

    for plan in (reflect, compare):
        with scratch_database(project) as url:
            replay(project, script, url, plan).close()
    # What SQLAlchemy could not read at B (SQLite's expression indexes, a partial index's WHERE)
    # is in no operation, and the proof, which reads the schema the same way, would not see it
    # missing: refuse rather than lose it. What it could not read at A already too, the chain
    # did not make and the new revision leaves alone.
    unread = sorted(made["unread at b"] - made["unread at a"])
    if unread:
        raise SquashNotProved(
            f"The squash cannot be proved: SQLAlchemy cannot read all of the schema at {b} from the database "
            f"({'; '.join(unread)}), so the new revision would lack it. Nothing was written."
        )
    migration = made["migration"]
    return migration.upgrade_ops, migration.downgrade_ops, set()


def _render(ops: Any, imports: set[str]) -> str:
    """The operations as Python code; the imports it needs are added to ``imports``."""
    from alembic.autogenerate import render_python_code

    if ops.is_empty():
        return ""
    used: list[set[str]] = []

    def keep_imports(type_: str, obj: Any, autogen_context: Any) -> Any:
        # render_python_code renders into a copy of ``imports``, where Alembic adds the dialect
        # modules that reflected types need (MariaDB's ``mysql.INTEGER(display_width=11)``); the
        # hook sees that copy, so the new file can import them.
        used.append(autogen_context.imports)
        return False  # Alembic's own rendering

    text = render_python_code(ops, imports=sorted(imports), render_item=keep_imports).strip()
    for found in used:
        imports.update(found)
    return text


def squash(project: Project, rev_range: str, message: str | None = None, accept_data_code: bool = False) -> SquashResult:
    """Replace the revisions after ``A`` up to ``B`` by one revision with ``B``'s id, proved equal on scratch databases."""
    from .. import engine
    from .._files import check_message, drop_bytecode

    if message is None or not message.strip():  # check_message's own words are about %%revision
        raise BadArguments('squash needs a message for the new revision: `%migrate squash A:B -m "what they do"`. Nothing was written.')
    message = check_message(message, required=True)
    script = script_of(project)
    a, chain = _chain(project, script, rev_range)
    b = chain[-1]
    moving = data_code(script, chain)
    if moving and not accept_data_code:
        listed = "; ".join(f"{d.revision} line {d.line}: `{d.code}`" for d in moving)
        raise BadArguments(
            f"The chain moves data, which a squash made from the schema cannot carry: {listed}. Pass "
            "--accept-data-code to squash the schema and carry that code over by hand (it is listed in the "
            "new file). Nothing was written."
        )
    want_a, want_b = schema_at(project, a or "base"), schema_at(project, b)
    upgrade_ops, downgrade_ops, imports = _operations(project, script, a, b)
    labels = sorted({label for rev in chain for label in _labels(script.get_revision(rev))})
    depends = sorted({dep for rev in chain for dep in _depends(script.get_revision(rev))} - set(chain))
    upgrades, downgrades = _render(upgrade_ops, imports), _render(downgrade_ops, imports)
    if moving:
        todo = "\n    ".join(f"# {d.revision}, line {d.line}: {d.code}" for d in moving)
        upgrades = f"# TODO carry over by hand, from the squashed revisions:\n    {todo}\n    " + (upgrades or "pass")
    folder = Path(script.get_revision(b).path).parent
    backup = Path(tempfile.mkdtemp(prefix="nbmigrate-squash-"))
    files = [Path(script.get_revision(rev).path) for rev in chain]
    # The revisions after B revise it (or depend on it): while its file is away they would not
    # load, and the new file could not be written. They are set aside meanwhile, and come back as they were.
    above = [Path(script.get_revision(rev).path) for rev in _after(script, b)]
    moved: list[tuple[Path, Path]] = []
    aside: list[tuple[Path, Path]] = []
    written: Path | None = None
    try:
        for i, path in enumerate(files):
            kept = backup / f"{i}-{path.name}"
            shutil.move(str(path), kept)
            drop_bytecode(path)
            moved.append((path, kept))
        for i, path in enumerate(above):
            kept = backup / f"after-{i}-{path.name}"
            shutil.move(str(path), kept)
            aside.append((path, kept))
        project.invalidate()
        fresh = script_of(project)

        def write() -> Any:
            return fresh.generate_revision(
                b, message, head=a or "base", splice=True, branch_labels=labels or None,
                version_path=str(folder), depends_on=depends or None, config=project.config,
                upgrades=upgrades, downgrades=downgrades, imports="\n".join(sorted(imports)),
            )

        present = set(folder.iterdir())
        try:
            made, _ = engine.run_contained(project, write)
        except BaseException:
            # Alembic writes the file before it loads it: a file it then refuses is removed too.
            for path in set(folder.iterdir()) - present:
                if path.is_file():
                    path.unlink()
                    drop_bytecode(path)
            raise
        written = Path(made.path)
        while aside:
            path, kept = aside.pop()
            shutil.move(str(kept), path)
        project.invalidate()
        _prove(project, want_a, want_b, a, b, ignore_rows=bool(moving))
    except BaseException:
        if written is not None and written.exists():
            written.unlink()
            drop_bytecode(written)
        for path, kept in moved + aside:
            shutil.move(str(kept), path)
        project.invalidate()
        shutil.rmtree(backup, ignore_errors=True)
        raise
    shutil.rmtree(backup, ignore_errors=True)
    _rerecord(project, b)
    return SquashResult(
        command="squash", revision=b, down_revision=a, path=str(written),
        source=project.redact(written.read_text(encoding="utf-8")), replaced=chain,
        removed_files=[str(p) for p in files if p != written], data_code=moving, proved=True,
        advice=_advice(project, chain, b),
    )


def _after(script: ScriptDirectory, b: str) -> list[str]:
    """Every revision after ``b``: above it through ``down_revision`` or ``depends_on``."""
    children: dict[str, list[str]] = {}
    for sc in script.walk_revisions():
        for parent in (*_downs(sc), *_depends(sc)):
            children.setdefault(parent, []).append(sc.revision)
    found: list[str] = []
    todo = list(children.get(b, ()))
    while todo:
        rev = todo.pop()
        if rev not in found:
            found.append(rev)
            todo.extend(children.get(rev, ()))
    return found


def _prove(project: Project, want_a: Any, want_b: Any, a: str | None, b: str, *, ignore_rows: bool = False) -> None:
    """The new history reaches the chain's schema at ``b``, and its downgrade gives back the schema at ``a``.

    ``ignore_rows``: the chain's data code is carried over by hand (``--accept-data-code``), so the
    rows it wrote on the scratch database are no part of what the new revision must give.
    """
    from ..schema import diff

    script = script_of(project)
    seen: dict[str, Any] = {}

    to_b = steps_to(project, script, resolve(project, b))

    def plan(probe: Probe) -> Iterator[tuple[str, bool]]:
        yield from ((rev, True) for rev in to_b)
        seen["b"] = probe.snapshot()
        yield b, False
        seen["a"] = probe.snapshot()

    with scratch_database(project) as url:
        replay(project, script, url, plan).close()
    for name, want in (("b", want_b), ("a", want_a)):
        if _tables(seen[name], ignore_rows) != _tables(want, ignore_rows):
            where = f"after the squashed revision ({b})" if name == "b" else f"after its downgrade (at {a or 'base'})"
            raise SquashNotProved(
                f"The squash could not be proved: the schema {where} differs from the chain's. The chain's files were "
                "put back; nothing changed.", diff(want, seen[name]),
            )


def _tables(snap: Any, ignore_rows: bool) -> dict[str, Any]:
    """The snapshot's tables, without their row and non-null counts when ``ignore_rows``."""
    from dataclasses import replace

    if not ignore_rows:
        return snap.tables
    return {
        name: replace(t, row_count=None, columns=tuple(replace(c, non_null=None) for c in t.columns))
        for name, t in snap.tables.items()
    }


def _rerecord(project: Project, b: str) -> None:
    """A database that applied ``b`` keeps a checksum of its old file: the new file, proved equal, replaces it."""
    from .. import checksums

    script = script_of(project)
    try:
        with project.connection() as conn:
            checksums.rerecord(project, conn, script, b)
    except NbmigrateError:  # no database to connect to: nothing recorded there
        pass


def _advice(project: Project, chain: list[str], b: str) -> str:
    """What databases already migrated need: nothing at or past ``b`` or below the chain; inside it, a word on ``stamp``."""
    from .. import engine

    heads, _ = engine.database_heads(project)
    inside = sorted(set(heads or ()) & set(chain[:-1]))
    general = (
        f"Databases at {b} or past it, and databases below the squashed revisions, need nothing: the new revision keeps "
        f"the id {b}. A database part-way through the old chain must first reach {b} with the old files "
        f"(from version control), or, once its schema is the one at {b}, be marked with `%migrate stamp {b}`."
    )
    if inside:
        return f"This database is at {', '.join(inside)}, inside the squashed revisions. " + general
    return general
