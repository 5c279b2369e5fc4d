"""The one place where nbmigrate touches private names of Alembic and SQLAlchemy.

Every other module asks this one, through small named functions, for what Alembic and SQLAlchemy
do not offer publicly (or offer only at a cost nbmigrate's warm kernel cannot pay), so a new
release of either can break nbmigrate in this file only. ``tests/test_internals.py`` fails on any
private Alembic or SQLAlchemy name used elsewhere.

Where a public route exists it is taken (``Script.down_revision`` through ``alembic.util.to_tuple``,
``ScriptDirectory.version_locations``, ``RevisionMap.get_revision``, the ``branch_labels`` of a
revision file's module). Each remaining private use was read and checked against the Alembic and
SQLAlchemy versions in :data:`ALEMBIC_CHECKED` and :data:`SQLALCHEMY_CHECKED`: the oldest allowed
(``constraints/oldest.txt``: Alembic 1.16.0, SQLAlchemy 2.0.0) and the locked ones
(``constraints/test.txt``: Alembic 1.20.1, SQLAlchemy 2.1.9). It is used only while the installed
version lies in that range and the name exists (:func:`alembic_private`, :func:`sqlalchemy_private`);
otherwise Alembic's or SQLAlchemy's own, slower or plainer, behaviour stands in. The functions
that have both paths take ``fast=`` (``None``: whatever the installed version allows), so the
tests compare the two.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory
    from alembic.script.revision import RevisionMap

# [oldest checked, first version not checked): the private names below were read in Alembic
# 1.16.0 and 1.20.1 (the same code for each of them) and SQLAlchemy 2.0.0 and 2.1.9.
ALEMBIC_CHECKED = ((1, 16, 0), (1, 21))
SQLALCHEMY_CHECKED = ((2, 0, 0), (2, 2))


def parse_version(text: str) -> tuple[int, ...]:
    parts = []
    for part in text.split("."):
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        parts.append(int(digits.group()))
    return tuple(parts)


@functools.cache
def alembic_checked() -> bool:
    """True when the installed Alembic is one whose private names this module was checked on."""
    import alembic

    low, high = ALEMBIC_CHECKED
    return low <= parse_version(alembic.__version__) < high


@functools.cache
def sqlalchemy_checked() -> bool:
    """True when the installed SQLAlchemy is one whose private names this module was checked on."""
    import sqlalchemy

    low, high = SQLALCHEMY_CHECKED
    return low <= parse_version(sqlalchemy.__version__) < high


def alembic_private(obj: Any, name: str) -> bool:
    """May ``obj.name`` (a private name of Alembic) be used: a checked version, and the name is there."""
    return alembic_checked() and hasattr(obj, name)


def sqlalchemy_private(obj: Any, name: str) -> bool:
    """May ``obj.name`` (a private name of SQLAlchemy) be used: a checked version, and the name is there."""
    return sqlalchemy_checked() and hasattr(obj, name)


def _fast(fast: bool | None, obj: Any, *names: str) -> bool:
    if fast is None:
        return all(alembic_private(obj, name) for name in names)
    return fast


def _rmap(where: Any) -> RevisionMap:
    """The ``RevisionMap`` of a ``ScriptDirectory``, or the map itself."""
    return getattr(where, "revision_map", where)


# -- the revision map --------------------------------------------------------------------------


def load_map(script: ScriptDirectory) -> None:
    """Build the revision map now (importing the files), raising what building it raises."""
    script.revision_map.heads  # noqa: B018 - a memoized property: building it builds the map


def map_is_built(rmap: RevisionMap, *, fast: bool | None = None) -> bool:
    """True when the map was built (its files imported), without building it.

    Alembic memoizes the map in the instance's ``_revision_map`` (checked versions); else its
    ``heads``, which building the map sets.
    """
    if _fast(fast, type(rmap), "_revision_map"):
        return "_revision_map" in vars(rmap)
    return "heads" in vars(rmap)


def revision_index(where: Any, *, fast: bool | None = None) -> Mapping[Any, Any]:
    """The built map: each revision id and branch label to its revision (``None`` and ``()`` to ``None``).

    Alembic's own dict (``RevisionMap._revision_map``) where allowed; else one built from the
    public walk of every revision (a new dict each call, in base-to-head order).
    """
    rmap = _rmap(where)
    if _fast(fast, type(rmap), "_revision_map"):
        return rmap._revision_map
    index: dict[Any, Any] = {}
    walked = list(rmap.iterate_revisions("heads", "base", inclusive=True, assert_relative_length=False))
    for rev in reversed(walked):
        index[rev.revision] = rev
    for rev in reversed(walked):
        for label in own_branch_labels(rev):
            index[label] = rev
    index[None] = index[()] = None
    return index


def revision_by_id(where: Any, rev_id: str, *, fast: bool | None = None) -> Any:
    """The revision with exactly this id or branch label (no prefix, no ``head``), or ``None``."""
    return revision_index(where, fast=fast).get(rev_id)


def all_revisions(where: Any, *, fast: bool | None = None) -> list[Any]:
    """Every revision of the map once, in the map's order."""
    seen: dict[str, Any] = {}
    for value in revision_index(where, fast=fast).values():
        if value is not None and value.revision not in seen:
            seen[value.revision] = value
    return list(seen.values())


def down_revisions(rev: Any) -> tuple[str, ...]:
    """The revision's ``down_revision`` as a tuple (no dependencies): its parents in the history.

    What ``alembic.util.to_tuple(rev.down_revision, default=())`` gives (Alembic stores a string,
    a tuple or ``None``), inline: the linear walks ask it once per revision.
    """
    down = rev.down_revision
    if down is None:
        return ()
    return (down,) if isinstance(down, str) else tuple(down)


def dependencies(rev: Any, index: Mapping[Any, Any] | None = None, *, fast: bool | None = None) -> tuple[str, ...]:
    """The revision ids ``depends_on`` names, branch labels resolved (the map must be built).

    Alembic keeps them in ``Revision._resolved_dependencies`` (checked versions); else each name
    is looked up in ``index`` (the built map, see :func:`revision_index`) as Alembic resolves it,
    and without an index the names are given as written.
    """
    if fast is None:
        fast = alembic_checked() and hasattr(rev, "_resolved_dependencies")
    if fast:
        return tuple(rev._resolved_dependencies)
    from alembic.util import to_tuple

    names = to_tuple(rev.dependencies, default=())
    if not names:
        return ()
    if index is None:
        return tuple(names)
    return tuple(index[name].revision for name in names)


def below(rev: Any, index: Mapping[Any, Any] | None = None, *, fast: bool | None = None) -> tuple[str, ...]:
    """What must be applied before ``rev``: its down revisions, then its dependencies."""
    return down_revisions(rev) + dependencies(rev, index, fast=fast)


def own_branch_labels(rev: Any) -> tuple[str, ...]:
    """The branch labels a revision sets itself (Alembic copies each down its branch once the map is built).

    A ``Script``'s are its module's ``branch_labels``; a bare ``Revision``'s are kept in
    ``Revision._orig_branch_labels`` (checked versions), else its ``branch_labels`` stand in.
    """
    from alembic.util import to_tuple

    module = getattr(rev, "module", None)
    if module is not None:
        return to_tuple(getattr(module, "branch_labels", None), default=())
    if alembic_private(rev, "_orig_branch_labels"):
        return tuple(rev._orig_branch_labels)
    return tuple(rev.branch_labels or ())


def links_token(rev: Any, *, fast: bool | None = None) -> object:
    """An object that is replaced whenever a revision is added above ``rev`` (down revision or dependency).

    Alembic replaces ``Revision._all_nextrev`` then (checked versions); else a new object each
    call, so that nothing keyed on it is ever reused.
    """
    if _fast(fast, rev, "_all_nextrev"):
        return rev._all_nextrev
    return object()


def effective_head(rev: Any, where: Any = None, *, fast: bool | None = None) -> bool:
    """A head through ``down_revision`` that another revision depends on (Alembic's "effective head").

    ``Revision._is_real_head`` (checked versions); else looked for in ``where`` (the map or its
    ``ScriptDirectory``), and ``False`` without one.
    """
    if not rev.is_head:
        return False
    if _fast(fast, rev, "_is_real_head"):
        return not rev._is_real_head
    if where is None:
        return False
    index = revision_index(where, fast=False)
    return any(rev.revision in dependencies(other, index, fast=False) for other in all_revisions(where, fast=False))


def version_locations(script: ScriptDirectory) -> list[Path]:
    """The script's version locations as absolute paths, as Alembic lists them.

    From the public ``version_locations`` (the config option, package resources resolved), else
    ``versions`` in the script folder; remembered on the instance (asked before every command).
    """
    found = script.__dict__.get("_nbm_version_locations")
    if found is None or found[0] is not script.version_locations:
        from alembic.util import coerce_resource_to_filename

        if script.version_locations:
            paths = [Path(coerce_resource_to_filename(os.fspath(loc))).absolute() for loc in script.version_locations]
        else:
            paths = [Path(script.dir, "versions").absolute()]
        found = (script.version_locations, paths)
        script.__dict__["_nbm_version_locations"] = found
    return list(found[1])


# -- revision files ------------------------------------------------------------------------------


def load_script_file(script: ScriptDirectory, path: str | os.PathLike[str], *, fast: bool | None = None) -> Script | None:
    """The revision file at ``path`` as Alembic loads it, or ``None`` for a file Alembic skips.

    ``Script._from_path`` (checked versions); else a plainer load: a ``.py`` file (not an
    editor's ``.#`` lock), imported with ``alembic.util.load_python_file``, its ``revision`` read.
    """
    from alembic.script import Script

    if _fast(fast, Script, "_from_path"):
        return Script._from_path(script, path)
    from alembic.util import CommandError, load_python_file

    path = Path(path)
    if not path.name.endswith(".py") or path.name.startswith(".#"):
        return None
    module = load_python_file(str(path.parent), path.name)
    if not hasattr(module, "revision"):
        raise CommandError(f"Could not determine revision id from filename {path.name}.")
    return Script(module, module.revision, path)


def list_revision_files(script: ScriptDirectory, location: Path, *, fast: bool | None = None) -> list[Path]:
    """The candidate files of one version location in Alembic's order (``Script._list_py_dir``).

    The fallback lists sorted names top-down, into subfolders only with
    ``recursive_version_locations``, and no sourceless ``__pycache__`` files.
    """
    from alembic.script import Script

    if _fast(fast, Script, "_list_py_dir"):
        return Script._list_py_dir(script, location)
    paths: list[Path] = []
    for root, dirs, files in os.walk(location, topdown=True):
        if os.path.basename(root).endswith("__pycache__"):
            continue
        paths.extend(Path(root, name) for name in sorted(files))
        if not script.recursive_version_locations:
            break
        dirs.sort()
    return paths


@contextlib.contextmanager
def checking_destination(script: ScriptDirectory, check: Callable[[Path], None]) -> Iterator[None]:
    """While inside, ``check(path)`` sees the path of each new revision file before Alembic writes it.

    Alembic has no public hook between naming the file and writing it: ``generate_revision``
    calls ``self._rev_path(...)`` (checked versions), then makes the folder and writes the file;
    that method is wrapped on this instance, for this block only. Elsewhere nothing is checked
    beforehand (the caller's undo on failure still applies).
    """
    if not alembic_private(script, "_rev_path"):
        yield
        return
    original = script._rev_path

    def rev_path(*args: Any, **kwargs: Any) -> Path:
        path = Path(original(*args, **kwargs))
        check(path)
        return path

    saved = script.__dict__.get("_rev_path")
    script._rev_path = rev_path  # type: ignore[method-assign]
    try:
        yield
    finally:
        if saved is None:
            del script._rev_path  # the class's method again
        else:
            script._rev_path = saved  # type: ignore[method-assign]


@contextlib.contextmanager
def marked_current(scripts: Iterable[Script], current: Iterable[str]) -> Iterator[None]:
    """While inside, Alembic's own lines for ``scripts`` say "(current)" for the revisions in ``current``.

    ``alembic history -i`` sets ``Script._db_current_indicator`` (checked versions); elsewhere
    the lines are Alembic's without the mark.
    """
    from alembic.script import Script

    if not alembic_private(Script, "_db_current_indicator"):
        yield
        return
    wanted = set(current)
    marked = [sc for sc in scripts if sc.revision in wanted]
    try:
        for sc in marked:
            sc._db_current_indicator = True
        yield
    finally:
        for sc in marked:
            sc._db_current_indicator = None


# -- planning: the steps Alembic's commands take --------------------------------------------------


def upgrade_steps(script: ScriptDirectory, destination: str, heads: Any, *, fast: bool | None = None) -> list[Any]:
    """The steps ``alembic upgrade destination`` takes from ``heads`` (``ScriptDirectory._upgrade_revs``)."""
    if _fast(fast, script, "_upgrade_revs"):
        return script._upgrade_revs(destination, heads)
    from alembic.runtime.migration import MigrationStep

    with _command_errors(f"Destination {destination} is not a valid upgrade target from current head(s)", head_arg=destination):
        revs = list(script.iterate_revisions(destination, heads, implicit_base=True))
        return [MigrationStep.upgrade_from_script(script.revision_map, rev) for rev in reversed(revs)]


def downgrade_steps(script: ScriptDirectory, destination: str, heads: Any, *, fast: bool | None = None) -> list[Any]:
    """The steps ``alembic downgrade destination`` takes from ``heads`` (``ScriptDirectory._downgrade_revs``)."""
    if _fast(fast, script, "_downgrade_revs"):
        return script._downgrade_revs(destination, heads)
    from alembic.runtime.migration import MigrationStep

    with _command_errors(f"Destination {destination} is not a valid downgrade target from current head(s)", head_arg=destination):
        revs = script.iterate_revisions(heads, destination, select_for_downgrade=True)
        return [MigrationStep.downgrade_from_script(script.revision_map, rev) for rev in revs]


def stamp_steps(script: ScriptDirectory, targets: Any, heads: Any, *, fast: bool | None = None) -> list[Any]:
    """The steps ``alembic stamp targets`` takes from ``heads`` (``ScriptDirectory._stamp_revs``).

    The fallback follows the same rules with public calls: per target, nothing when the database
    holds it, one step down from the heads above it, one up from the heads below it, else a new
    branch; ``base`` deletes the rows of the heads in its lineage.
    """
    if _fast(fast, script, "_stamp_revs"):
        return script._stamp_revs(targets, heads)
    from alembic import util
    from alembic.runtime.migration import StampStep

    rmap = script.revision_map
    with _command_errors(multiple_heads="Multiple heads are present; please specify a single target revision"):
        heads_revs = script.get_revisions(heads)
        filtered: list[Any] = []
        for target in util.to_tuple(targets or "base"):
            if target:
                filtered.extend(rmap.filter_for_lineage(heads_revs, target, include_dependencies=True))
        filtered = util.unique_list(filtered)
        index = revision_index(rmap, fast=False)
        steps: list[Any] = []
        for dest in script.get_revisions(targets or "base") or [None]:
            if dest is None:
                steps.extend(StampStep(h.revision, None, False, True, rmap) for h in filtered)
                continue
            if dest in filtered:
                continue
            todo = [h.revision for h in filtered]
            if _related(dest, index, up=True) & set(todo):
                steps.append(StampStep(todo, dest.revision, False, False, rmap))
            elif _related(dest, index, up=False) & set(todo):
                steps.append(StampStep(todo, dest.revision, True, False, rmap))
            else:
                steps.append(StampStep((), dest.revision, True, True, rmap))
        return steps


def _related(rev: Any, index: Mapping[Any, Any], *, up: bool) -> set[str]:
    """Ids of ``rev`` and everything above it (``up``) or below it, through down revisions and dependencies."""
    if up:
        children: dict[str, list[str]] = {}
        for other in {v.revision: v for v in index.values() if v is not None}.values():
            for parent in below(other, index, fast=False):
                children.setdefault(parent, []).append(other.revision)
        step: Callable[[str], Iterable[str]] = lambda rev_id: children.get(rev_id, ())  # noqa: E731
    else:
        step = lambda rev_id: below(index[rev_id], index, fast=False)  # noqa: E731
    seen: set[str] = set()
    todo = [rev.revision]
    while todo:
        rev_id = todo.pop()
        if rev_id not in seen:
            seen.add(rev_id)
            todo.extend(step(rev_id))
    return seen


@contextlib.contextmanager
def _command_errors(ancestor: str | None = None, multiple_heads: str | None = None, head_arg: str | None = None) -> Iterator[None]:
    """Alembic's revision errors as the ``CommandError`` its ``ScriptDirectory`` raises for them."""
    from alembic import util
    from alembic.script import revision

    try:
        yield
    except revision.RangeNotAncestorError as exc:
        raise util.CommandError(ancestor or str(exc)) from exc
    except revision.MultipleHeads as exc:
        arg = head_arg or exc.argument
        text = multiple_heads or (
            f"Multiple head revisions are present for given argument '{arg}'; please specify a specific "
            f"target revision, '<branchname>@{arg}' to narrow to a specific head, or 'heads' for all heads"
        )
        raise util.CommandError(text) from exc
    except revision.ResolutionError as exc:
        raise util.CommandError(f"Can't locate revision identified by '{exc.argument}'") from exc
    except revision.RevisionError as exc:
        raise util.CommandError(exc.args[0]) from exc


@contextlib.contextmanager
def serving(script: ScriptDirectory) -> Iterator[None]:
    """Let ``alembic.command`` functions use ``script`` instead of building their own.

    Alembic's commands start with ``ScriptDirectory.from_config(config)``, looked up in
    ``alembic.command``'s namespace (checked versions); while this is active that name returns
    the warm instance. nbmigrate runs one command at a time (see :mod:`nbmigrate._runtime`), so
    the swap cannot leak into another call. Elsewhere Alembic reads the files itself.
    """
    import alembic.command as command
    from alembic.script import ScriptDirectory

    if not (alembic_checked() and hasattr(command, "ScriptDirectory")):
        yield
        return

    class _Warm:
        def __getattr__(self, name: str) -> Any:
            return getattr(ScriptDirectory, name)

        @staticmethod
        def from_config(config: Any) -> ScriptDirectory:
            return script

    saved = command.ScriptDirectory
    command.ScriptDirectory = _Warm()  # type: ignore[assignment, misc]
    try:
        yield
    finally:
        command.ScriptDirectory = saved  # type: ignore[misc]


def skip_version_writes(context: Any) -> None:
    """Make an offline run's ``MigrationContext`` compile no writes to its version table.

    The writes go through ``context.impl._exec`` with the table ``context._version`` (checked
    versions); only this context's impl is changed. Elsewhere they are compiled as Alembic does.
    """
    impl = getattr(context, "impl", None)
    if impl is None or not alembic_private(context, "_version") or not alembic_private(impl, "_exec"):
        return
    version = context._version
    original = impl._exec

    def _exec(construct: Any, *args: Any, **kw: Any) -> Any:
        if getattr(construct, "table", None) is version:
            return None
        return original(construct, *args, **kw)

    impl._exec = _exec


def render_autogenerate(revision_context: Any, migration: Any, migration_context: Any, *, fast: bool | None = None) -> dict[str, Any]:
    """The template variables Alembic renders an autogenerated ``MigrationScript`` into.

    ``upgrades``/``downgrades`` (each ops container's token) and ``imports``, rendered with the
    ``AutogenContext`` of the run (``RevisionContext._last_autogen_context`` and
    ``render._render_python_into_templatevars``, checked versions), so env.py's rendering options
    and the imports its types need apply. The fallback renders each container with the public
    ``render_python_code`` and the run's ``MigrationContext`` options; its ``imports`` are the
    script's own only.
    """
    from alembic.autogenerate import render

    template: dict[str, Any] = {}
    if fast is None:
        fast = alembic_private(revision_context, "_last_autogen_context") and alembic_private(
            render, "_render_python_into_templatevars"
        )
    if fast:
        autogen_context = revision_context._last_autogen_context
        autogen_context.imports = set(migration.imports or ())
        render._render_python_into_templatevars(autogen_context, migration, template)
        return template
    from alembic.autogenerate import render_python_code

    opts = getattr(migration_context, "opts", {}) or {}
    keep = ("sqlalchemy_module_prefix", "alembic_module_prefix", "render_as_batch", "render_item", "user_module_prefix")
    kwargs = {key: opts[key] for key in keep if opts.get(key) is not None}
    imports = set(migration.imports or ())
    for up, down in zip(migration.upgrade_ops_list, migration.downgrade_ops_list):
        for container, token in ((up, up.upgrade_token), (down, down.downgrade_token)):
            template[token] = render_python_code(container, migration_context=migration_context, **kwargs)
    template["imports"] = "\n".join(sorted(imports))
    return template


def config_files(names: Sequence[str] | None, *, fast: bool | None = None) -> tuple[str, str]:
    """``(pyproject.toml, ini)`` the ``alembic`` command line reads for ``-c`` ``names`` and ``ALEMBIC_CONFIG``.

    ``CommandLine._inis_from_config`` (checked versions); else the same rules: ``ALEMBIC_CONFIG``
    names the default ini (or the default pyproject.toml, when so named), and each ``-c`` name is
    the pyproject.toml when so named, else the ini; at most one of each.
    """
    from argparse import Namespace

    from alembic.config import CommandLine

    if _fast(fast, CommandLine, "_inis_from_config"):
        return CommandLine._inis_from_config(None, Namespace(config=names))  # type: ignore[arg-type]
    from alembic.util import CommandError

    env = os.environ.get("ALEMBIC_CONFIG")
    toml_default, ini_default = "pyproject.toml", "alembic.ini"
    if env and os.path.basename(env) == "pyproject.toml":
        toml_default = env
    elif env:
        ini_default = env
    toml = ini = None
    for name in names or ():
        if os.path.basename(name) == "pyproject.toml":
            if toml is not None:
                raise CommandError("pyproject.toml indicated more than once")
            toml = name
        else:
            if ini is not None:
                raise CommandError("only one ini file may be indicated")
            ini = name
    return toml or toml_default, ini or ini_default


# -- SQLAlchemy: SQLite reflection served from one query ----------------------------------------


def can_serve_sqlite_reflection(dialect: Any) -> bool:
    """True when :func:`serving_sqlite_reflection` can answer this dialect's per-table PRAGMAs (and does not already)."""
    return (
        sqlalchemy_private(dialect, "_get_table_pragma")
        and sqlalchemy_private(dialect, "_get_table_sql")
        and "_get_table_pragma" not in vars(dialect)
    )


@contextlib.contextmanager
def serving_sqlite_reflection(
    dialect: Any, conn: Any, pragmas: Mapping[tuple[str, str], list[tuple[Any, ...]]], table_sql: Mapping[str, Any]
) -> Iterator[None]:
    """While inside, the SQLite dialect answers ``conn``'s PRAGMA and table-SQL reads from what was read already.

    SQLAlchemy's SQLite inspector reads each table with its own ``PRAGMA`` statements through
    ``SQLiteDialect._get_table_pragma`` and ``_get_table_sql`` (checked versions); those are
    wrapped on this dialect instance for the block. Anything not read beforehand (another
    connection, a schema) goes to SQLAlchemy's own. Elsewhere SQLAlchemy reads table by table.
    """
    if not can_serve_sqlite_reflection(dialect):
        yield
        return
    own_pragma = dialect._get_table_pragma
    own_sql = dialect._get_table_sql

    def table_pragma(connection: Any, pragma: str, table_name: str, schema: str | None = None) -> Any:
        rows = pragmas.get((pragma, table_name)) if connection is conn and schema is None else None
        return list(rows) if rows is not None else own_pragma(connection, pragma, table_name, schema=schema)

    def get_table_sql(connection: Any, table_name: str, schema: str | None = None, **kw: Any) -> Any:
        if connection is conn and schema is None and table_sql.get(table_name) is not None:
            return table_sql[table_name]
        return own_sql(connection, table_name, schema, **kw)

    dialect._get_table_pragma = table_pragma  # type: ignore[method-assign]
    dialect._get_table_sql = get_table_sql  # type: ignore[method-assign]
    try:
        yield
    finally:
        del dialect._get_table_pragma
        del dialect._get_table_sql


# -- the revision map, with Alembic's quadratic walks made linear --------------------------------


def linear_revision_map(generator: Callable[[], Iterable[Any]], *, fast: bool | None = None) -> RevisionMap:
    """A ``RevisionMap`` that answers exactly as Alembic's, without its superlinear bookkeeping.

    Alembic's ``RevisionMap._topological_sort`` (behind ``walk_revisions``, ``iterate_revisions``
    and the upgrade and downgrade plans, so behind ``history``, the graph and every plan)
    recomputes a head's whole ancestry at each merge and branch point, and
    ``_filter_into_branch_heads`` (behind ``get_all_current`` and relative downgrades) walks all
    descendants of every revision it is given. On the checked Alembic versions both are
    replaced by linear versions that give the same result, element for element (see
    :func:`topological_order`); elsewhere this is Alembic's own ``RevisionMap``.
    """
    from alembic.script.revision import RevisionMap

    if fast is None:
        fast = all(alembic_private(RevisionMap, name) for name in ("_topological_sort", "_filter_into_branch_heads", "_revision_map"))
    cls = _linear_map_class() if fast else RevisionMap
    return cls(generator)


@functools.cache
def _linear_map_class() -> type[RevisionMap]:
    from alembic.script.revision import RevisionMap

    class LinearRevisionMap(RevisionMap):
        def _links(self) -> tuple[dict[str, tuple[str, ...]], dict[str, int]]:
            """Each revision's ``_normalized_down_revisions`` and each key's place in the map.

            Both are Alembic properties recomputed on every access; they are read once per map
            (and again if ``add_revision`` grew it, as ``revision`` does under ``serving``).
            """
            links = self._nbm_state()
            return links.parents, links.position

        def _nbm_state(self) -> _Links:
            rmap = self._revision_map
            links: _Links | None = self.__dict__.get("_nbm_links")
            if links is None or links.rmap is not rmap or links.size != len(rmap):
                links = _Links(rmap)
                self.__dict__["_nbm_links"] = links
            return links

        def iterate_revisions(self, upper: Any, lower: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
            # A pure function of the map and the arguments: remembered, so that the plan
            # nbmigrate makes before a run is the one Alembic's own command asks for inside it,
            # and ``history`` asked twice walks once.
            key = (upper, lower, args, tuple(sorted(kwargs.items())))
            try:
                hash(key)
            except TypeError:
                yield from super().iterate_revisions(upper, lower, *args, **kwargs)
                return
            walks = self._nbm_state().walks
            found = walks.get(key)
            if found is None:
                found, warned = _warning_aware(lambda: list(super(LinearRevisionMap, self).iterate_revisions(upper, lower, *args, **kwargs)))
                if not warned:  # a walk that warns ("downgrade -1 from multiple heads") warns every time
                    if len(walks) >= 16:
                        walks.clear()
                    walks[key] = found
            yield from found

        def _topological_sort(self, revisions: Any, heads: Any) -> list[str]:
            parents, position = self._links()
            order = topological_order(self._revision_map, revisions, heads, parents, position)
            if order is None:  # a shape the linear walk does not cover: Alembic's own
                return super()._topological_sort(revisions, heads)
            return order

        def _filter_into_branch_heads(self, targets: Any) -> set[Any]:
            targets = set(targets)
            if not all(getattr(t, "revision", None) for t in targets):
                return super()._filter_into_branch_heads(targets)
            return branch_heads(self._revision_map, targets)

    LinearRevisionMap.__name__ = LinearRevisionMap.__qualname__ = "LinearRevisionMap"
    return LinearRevisionMap


def _warning_aware(fn: Callable[[], Any]) -> tuple[Any, bool]:
    """``fn()``, and whether it warned; its warnings (also when it raises) pass on as Alembic raised them."""
    seen: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                value = fn()
            finally:
                seen = list(caught)
    finally:
        for w in seen:
            module = next((m for m in list(sys.modules.values()) if getattr(m, "__file__", None) == w.filename), None)
            registry = module.__dict__.setdefault("__warningregistry__", {}) if module is not None else None
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, registry=registry)
    return value, bool(seen)


class _Links:
    """What the linear walks read of one state of a revision map (rebuilt when the map grows)."""

    def __init__(self, rmap: Mapping[str, Any]) -> None:
        self.rmap = rmap
        self.size = len(rmap)
        revisions = [(key, rev) for key, rev in rmap.items() if rev is not None and key == rev.revision]
        # What Alembic's topological sort follows.
        self.parents = {key: rev._normalized_down_revisions for key, rev in revisions}
        # What makes a revision applied: its down revisions and all its dependencies.
        self.below = {key: rev._normalized_down_revisions + tuple(rev._resolved_dependencies) for key, rev in revisions}
        self.position = {key: i for i, key in enumerate(rmap)}
        self.walks: dict[Any, list[Any]] = {}
        self.applied: tuple[tuple[str, ...], frozenset[str]] | None = None


def applied(rmap: RevisionMap, heads: Sequence[str], *, fast: bool | None = None) -> set[str]:
    """Every revision at or below ``heads`` (down revisions and dependencies), in linear time.

    On a map made by :func:`linear_revision_map` the answer for the last ``heads`` asked is
    remembered (the database rarely moves between two commands).
    """
    if fast is None:
        fast = alembic_private(type(rmap), "_revision_map")
    id_to_rev = revision_index(rmap, fast=fast)
    state = getattr(rmap, "_nbm_state", None) if fast else None
    links: _Links | None = state() if state is not None else None
    key = tuple(heads)
    if links is not None and links.applied is not None and links.applied[0] == key:
        return set(links.applied[1])
    seen: set[str] = set()
    todo = [h for h in heads if h in id_to_rev]
    while todo:
        rev_id = todo.pop()
        if rev_id in seen:
            continue
        seen.add(rev_id)
        ups = links.below.get(rev_id) if links is not None else None
        if ups is None:
            rev = id_to_rev.get(rev_id)
            if rev is None:
                continue
            ups = below(rev, id_to_rev, fast=fast)
        todo.extend(ups)
    if links is not None:
        links.applied = (key, frozenset(seen))
    return seen


def topological_order(
    id_to_rev: Mapping[str, Any],
    revisions: Iterable[Any],
    heads: Iterable[Any],
    parents: Mapping[str, tuple[str, ...]] | None = None,
    position: Mapping[str, int] | None = None,
) -> list[str] | None:
    """Alembic's ``RevisionMap._topological_sort(revisions, heads)``, in time linear in the history.

    Alembic walks down from the heads (in revision-map order), emitting the current head unless
    another head still has it as an ancestor, in which case it switches to the first such head;
    to know that, it keeps every head's full set of ancestors and rebuilds it at each merge and
    branch point. When the revisions to sort are *convex* (no path from a head to one of them
    leaves the set and comes back) and every one lies below a head, which holds for each set
    Alembic sorts for ``history``, upgrades and downgrades, "another head has the candidate as
    an ancestor" is the same as "the candidate has a child still to emit", a counter; and which
    head that is, is found by looking up from the candidate through the children still to emit.
    Returns ``None`` (use Alembic's own) for any other input. ``parents`` (each revision's
    ``_normalized_down_revisions``, what Alembic's sort follows) and ``position`` (each key's
    index in the map) may be given precomputed.
    """
    if parents is None:
        parents = {k: r._normalized_down_revisions for k, r in id_to_rev.items() if r is not None and k == r.revision}
    if position is None:
        position = {key: i for i, key in enumerate(id_to_rev)}
    todo: set[str] = set()
    for rev in revisions:
        rev_id = getattr(rev, "revision", None)
        if rev_id is None or id_to_rev.get(rev_id) is not rev:
            return None
        todo.add(rev_id)
    start = {getattr(h, "revision", None) for h in heads}
    start = {h for h in start if h in todo}
    current = sorted(start, key=position.__getitem__)

    children: dict[str, list[str]] = {rev_id: [] for rev_id in todo}
    for rev_id in todo:
        for up in parents[rev_id]:
            if up in todo:
                children[up].append(rev_id)
    if not _convex(parents, todo, current):
        return None

    pending = set(todo)
    waiting = {rev_id: len(kids) for rev_id, kids in children.items()}  # children not yet emitted
    in_current = set(current)
    output: list[str] = []
    index = 0
    while current:
        candidate = current[index]
        if waiting[candidate]:
            above = _pending_above(candidate, children, pending)
            found = next((i for i, head in enumerate(current) if i != index and head in above), None)
            if found is None:  # cannot happen for a convex set; never guess
                return None
            index = found
            continue
        output.append(candidate)
        pending.discard(candidate)
        in_current.discard(candidate)
        ups = parents[candidate]
        for up in ups:
            if up in todo:
                waiting[up] -= 1
        add = [up for up in ups if up in pending and up not in in_current]
        if not add:
            del current[index]
            index = max(index - 1, 0)
        else:
            current[index] = add[0]
            current.extend(add[1:])
            in_current.update(add)
    return output if not pending else None


def _convex(parents: Mapping[str, tuple[str, ...]], todo: set[str], heads: list[str]) -> bool:
    """Every revision of ``todo`` lies below ``heads``, and no path from them leaves ``todo`` and re-enters."""
    inside: set[str] = set()
    outside: set[str] = set()
    stack = [(h, True) for h in heads]
    while stack:
        rev_id, is_inside = stack.pop()
        seen = inside if is_inside else outside
        if rev_id in seen:
            continue
        seen.add(rev_id)
        ups = parents.get(rev_id)
        if ups is None:
            return False
        for up in ups:
            if up in todo:
                if not is_inside:
                    return False
                stack.append((up, True))
            else:
                stack.append((up, False))
    return len(inside) == len(todo)


def _pending_above(rev_id: str, children: Mapping[str, list[str]], pending: set[str]) -> set[str]:
    """The revisions still to emit that have ``rev_id`` as an ancestor (through others still to emit)."""
    found: set[str] = set()
    stack = [kid for kid in children[rev_id] if kid in pending]
    while stack:
        kid = stack.pop()
        if kid in found:
            continue
        found.add(kid)
        stack.extend(k for k in children[kid] if k in pending)
    return found


def branch_heads(id_to_rev: Mapping[str, Any], targets: set[Any]) -> set[Any]:
    """Alembic's ``_filter_into_branch_heads``: the targets no other target descends from, in linear time.

    Alembic drops each target that has another target among its descendants (through
    ``down_revision`` only); what remains are the targets that are not a strict ancestor of
    another one, whatever order it checks them in.
    """
    seen: set[str] = set()
    stack = [up for t in targets for up in down_revisions(t)]
    while stack:
        rev_id = stack.pop()
        if rev_id in seen:
            continue
        seen.add(rev_id)
        rev = id_to_rev.get(rev_id)
        if rev is not None:
            stack.extend(down_revisions(rev))
    return {t for t in targets if t.revision not in seen}
