"""Thin commands over ``alembic.command``, each returning a result object.

Each function takes the :class:`~nbmigrate.project.Project` first and then exactly the arguments
of the Alembic command of the same name, so the ``%migrate`` parser is Alembic's own (see
:mod:`nbmigrate.parser`) and a command's signature is its command line. Commands that change the
database run through :func:`migrate`: pre-flight, lock, run Alembic contained, then read back
where the database is and what changed. Read-only commands (``current``, ``heads``, ``history``,
``branches``, ``show``) answer from the project's warm revision map.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _internals, _runtime
from ._internals import serving
from ._files import check_message, undone_on_failure
from .engine import (
    applied_revisions,
    captured_warnings,
    compute,
    database_heads,
    describe_autogenerate,
    offline,
    output_text,
    run_contained,
    script_directory,
    with_connection,
)
from .errors import (
    BadArguments,
    ConnectionFailed,
    Interrupted,
    NbmigrateError,
    RevisionProblem,
    RiskyMigration,
)
from .paths import relative_path
from .run import Progress, migrate
from .project import TEMPLATE_DIR, Project
from .results import (
    ConnectResult,
    CurrentResult,
    GraphResult,
    HistoryResult,
    InitResult,
    MigrationResult,
    RevisionFileResult,
    RevisionInfo,
    SqlResult,
    TextResult,
)

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory


_SAFE_REV_ID = re.compile(r"[A-Za-z0-9_]+")
_MAX_REV_ID = 128


# -- running Alembic -----------------------------------------------------------------------


# -- project set-up ------------------------------------------------------------------------


def init(project: Project, directory: str = "migrations", template: str = "nbmigrate", package: bool = False) -> InitResult:
    """Create a migration environment whose database is a SQLite file beside it."""
    import alembic.command

    config = project.config_for_init()
    template_arg = str(TEMPLATE_DIR) if template == "nbmigrate" else template
    if "\x00" in str(directory):
        raise BadArguments("The folder's name holds a NUL byte (\\x00), which no path can hold: remove it. Nothing was written.")
    target = Path(directory)
    if not target.is_absolute():
        # Like `alembic -c conf/alembic.ini init DIR`: DIR is relative to where we run, not to the ini.
        target = (project.directory or Path.cwd()) / target
    _check_init_folder(project, target, directory)
    existed = project.ini_path.is_file()
    if not project.ini_path.parent.is_dir():
        raise BadArguments(
            f"The folder of {relative_path(project.ini_path)} does not exist: create it first, or give -c a "
            "path in an existing folder. Nothing was written."
        )

    # A relative directory lets Alembic write `script_location = %(here)s/...` (and the SQLite
    # URL beside it), so the project still works when its folder is moved or cloned.
    given = target if Path(directory).is_absolute() else Path(os.path.relpath(target))

    def run() -> None:
        alembic.command.init(config, str(given), template=template_arg, package=package)

    _, capture = run_contained(project, run)
    project.invalidate()
    files = sorted(str(p.relative_to(target.parent)) for p in target.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    warnings = captured_warnings(project, capture)
    if not existed:
        files.insert(0, project.ini_path.name)
    elif project.exists:
        # Alembic leaves an existing ini alone: the project does not use the new folder yet.
        location = project.config.file_config.get(project.name, "script_location", raw=True, fallback=None)
        warnings.append(
            f"{relative_path(project.ini_path)} already existed and was left unchanged: this project "
            f"still uses script_location = {location}. Edit it to use {relative_path(target)}, or run "
            f"`%migrate -c NEW.ini init {directory}` for a separate project."
        )
    output = output_text(project, capture)
    if template == "nbmigrate":  # its URL needs no edit: leave out Alembic's reminder to make one
        output = "".join(line for line in output.splitlines(keepends=True) if not line.startswith("Please edit"))
    return InitResult(
        command=f"init {directory}",
        directory=relative_path(target),
        config_file=relative_path(project.ini_path),
        database=project.display_url,
        files=files,
        output=output,
        warnings=warnings,
    )


def _check_init_folder(project: Project, target: Path, directory: str) -> None:
    """``init`` makes a folder: refuse a name that is a file already, or the config file's own."""
    if target.exists() and not target.is_dir():
        raise BadArguments(
            f"{directory} is a file, not a folder: give `init` the name of a new folder (default: migrations). "
            "Nothing was written."
        )
    if target.resolve() == project.ini_path.resolve():
        # Alembic would make the folder and then find "the config file" there, and skip writing it.
        raise BadArguments(
            f"{directory} is the name of the project's config file: give `init` another folder "
            "(default: migrations). Nothing was written."
        )


def list_templates(project: Project) -> TextResult:
    """List the environment templates ``init`` can use."""
    import alembic.command

    config = project.config_for_init()
    _, capture = run_contained(project, lambda: alembic.command.list_templates(config))
    text = capture.text.strip() + "\n\nnbmigrate - nbmigrate's own template (the default for %migrate init)"
    return TextResult(command="list_templates", title="Available templates", text=text)


def connect(project: Project, target: Any) -> ConnectResult:
    """Point this kernel at another database (a URL, Engine or Connection); nothing is written."""
    previous = project._override
    project.use(target)

    def run() -> tuple[str, tuple[str, ...]]:
        with project.connection() as conn:
            return conn.dialect.name, (project.current_heads(conn) if project.exists else ())

    try:
        (dialect, heads), capture = run_contained(project, run)
    except BaseException:
        # A database that cannot be reached is not switched to: the kernel stays where it was.
        if previous is None:
            project.disconnect()
        else:
            project.use(previous)
        raise
    return ConnectResult(
        command="connect", database=project.display_url, dialect=dialect, heads=heads, warnings=captured_warnings(project, capture)
    )


# -- read-only commands, answered from the warm revision map -------------------------------


def _info(script: Script, heads: Sequence[str] | None, applied: set[str] | None) -> RevisionInfo:
    """The revision's details; its state is "unknown" when ``heads`` is None (the database was not read)."""
    state = "unknown"
    if heads is not None and applied is not None:
        state = "current" if script.revision in heads else "applied" if script.revision in applied else "pending"
    # Worked out once per Script and state (Alembic recomputes ``doc``, the down revisions and
    # the head/branch flags on every access); RevisionInfo is immutable, so one object serves
    # every result. A Script belongs to one revision map (the warm map makes new ones when the
    # files change); the head and branch flags follow the revisions above it (through
    # down_revision or depends_on), see ``_internals.links_token``.
    cached = script.__dict__.get("_nbm_info")
    token = _internals.links_token(script)
    if cached is None or cached[0] is not token:
        static = (
            script.revision,
            _internals.down_revisions(script),
            (script.doc or "").strip(),
            tuple(sorted(script.branch_labels)),
            tuple(dict.fromkeys(_internals.dependencies(script))),
            str(script.path),
            script.is_head,
            script.is_base,
            script.is_branch_point,
            script.is_merge_point,
            # What Alembic's own lines call an "effective head".
            _internals.effective_head(script),
        )
        cached = (token, static, {})
        script.__dict__["_nbm_info"] = cached
    by_state = cached[2]
    info = by_state.get(state)
    if info is None:
        info = by_state[state] = RevisionInfo(*cached[1], state=state)
    return info


def _sorted_labels(sc: Script, text: str) -> str:
    """``text`` of Alembic's with ``sc``'s branch labels sorted.

    Alembic joins a revision's labels in the order of a set, which differs from process to
    process; sorted, the same history reads the same in every kernel and saved notebook.
    """
    labels = list(sc.branch_labels)
    if len(labels) < 2:
        return text
    return text.replace(", ".join(labels), ", ".join(sorted(labels)))


def _alembic_text(project: Project, scripts: Sequence[Script], line: Callable[[Script], str], current: Sequence[str] = ()) -> str:
    """What the ``alembic`` command prints for ``scripts``: Alembic's own ``line`` for each.

    ``current`` are marked "(current)" as ``alembic history -i`` marks them: through the flag
    Alembic's formatting reads, set for this call only (the warm Script objects are shared).
    """

    def run() -> str:
        with _internals.marked_current(scripts, current):
            return project.redact("".join(_sorted_labels(sc, line(sc)) + "\n" for sc in scripts))  # as config.print_stdout writes

    return compute(project, run)


def _history_result(
    project: Project,
    command: str,
    scripts: Sequence[Script],
    line: Callable[[Script], str],
    *,
    verbose: bool = False,
    indicate_current: bool = False,
) -> HistoryResult:
    script_dir = script_directory(project)
    heads, reason = database_heads(project)
    applied = applied_revisions(script_dir, heads) if heads is not None else None
    warnings = [f"Database state not shown: {reason}"] if heads is None and reason else []
    unknown = [h for h in heads or () if _internals.revision_by_id(script_dir, h) is None]
    if unknown:
        warnings.append(
            f"{project.version_table} holds {', '.join(unknown)}, which no revision file defines: restore "
            "that file, or record where the database really is with `%migrate stamp --purge REVISION`."
        )
    return HistoryResult(
        command=command,
        revisions=[_info(s, heads, applied) for s in scripts],
        current=heads,
        database=project.display_url if project.url is not None else "",
        warnings=warnings,
        verbose=verbose,
        text=_alembic_text(project, scripts, line, heads or () if indicate_current else ()),
    )


def history(project: Project, rev_range: str | None = None, verbose: bool = False, indicate_current: bool = False) -> HistoryResult:
    """List revisions newest first, each marked applied, current or pending in this database."""
    script = script_directory(project)
    base = head = None
    if rev_range is not None:
        if ":" not in rev_range:
            raise BadArguments("History range requires [start]:[end], [start]: or :[end], e.g. `-r base:head`.")
        base, head = (part.strip() or None for part in rev_range.split(":", 1))
    if "current" in (base, head):
        heads, reason = database_heads(project)
        if heads is None:
            raise NbmigrateError(f"Cannot use 'current' in a range: {reason}")
        current = heads[0] if len(heads) == 1 else None
        if current is None:
            raise RevisionProblem("'current' is ambiguous: the database has several heads; name one.")
        base = current if base == "current" else base
        head = current if head == "current" else head

    def walk() -> list[Script]:
        return list(script.walk_revisions(base=base or "base", head=head or "heads"))

    def line(sc: Script) -> str:  # as `alembic history` words it
        return sc.cmd_format(verbose=verbose, include_branches=True, include_doc=True, include_parents=True)

    scripts = compute(project, walk)
    command = f"history{' -r ' + rev_range if rev_range else ''}"
    with project._scripts.pin(script):  # the files were checked once for this command
        return _history_result(project, command, scripts, line, verbose=verbose, indicate_current=indicate_current)


def heads(project: Project, verbose: bool = False, resolve_dependencies: bool = False) -> HistoryResult:
    """Show the current head revisions of the scripts."""
    script = script_directory(project)

    def find() -> list[Script]:
        ids = script.get_revisions("heads") if resolve_dependencies else script.get_heads()
        return [script.get_revision(r if isinstance(r, str) else r.revision) for r in ids]

    def line(sc: Script) -> str:  # as `alembic heads` words it
        return sc.cmd_format(verbose, include_branches=True, tree_indicators=False)

    scripts = compute(project, find)
    with project._scripts.pin(script):  # the files were checked once for this command
        return _history_result(project, "heads", scripts, line, verbose=verbose)


def branches(project: Project, verbose: bool = False) -> HistoryResult:
    """Show the branch points of the scripts."""
    script = script_directory(project)

    def line(sc: Script) -> str:
        # As `alembic branches` prints it: the branch point, then each revision it branches
        # into (sorted here: Alembic's order is a set's, different in every process).
        nexts = (script.get_revision(rev) for rev in sorted(sc.nextrev))
        indent = " " * len(str(sc.revision))
        into = "\n".join(
            f"{indent} -> {_sorted_labels(nxt, nxt.cmd_format(False, include_branches=True, include_doc=verbose))}" for nxt in nexts
        )
        return f"{sc.cmd_format(verbose, include_branches=True)}\n{into}\n"

    points = compute(project, lambda: [sc for sc in script.walk_revisions() if sc.is_branch_point])
    with project._scripts.pin(script):
        return _history_result(project, "branches", points, line, verbose=verbose)


def show(project: Project, rev: str) -> HistoryResult:
    """Show the revision(s) denoted by the given symbol."""
    script = script_directory(project)

    def find() -> list[Script]:
        if rev == "current":
            heads, reason = database_heads(project)
            if heads is None:
                raise NbmigrateError(f"Cannot show 'current': {reason}")
            return list(script.get_revisions(heads))
        return [s for s in script.get_revisions(rev) if s is not None]

    def line(sc: Script) -> str:  # as `alembic show` words it
        return sc.log_entry

    scripts = compute(project, find)
    with project._scripts.pin(script):
        return _history_result(project, f"show {rev}", scripts, line, verbose=True)


def current(project: Project, check_heads: bool = False, verbose: bool = False) -> CurrentResult:
    """Show the database's current revision(s), with their messages."""
    script = script_directory(project)
    heads, reason = database_heads(project)
    if heads is None:
        raise ConnectionFailed(f"Cannot read the current revision: {reason}")
    missing = [h for h in heads if _internals.revision_by_id(script, h) is None]
    if missing:
        raise RevisionProblem(
            f"The database is at {', '.join(missing)}, which no revision file defines. "
            "Restore the file, or `%migrate stamp` the database to a revision that exists."
        )
    # What `alembic current` lists: the tips of everything applied, so a revision applied
    # through depends_on too, though the version table holds only the revision that needs it.
    # Sorted: Alembic's order is a set's, different in every process.
    tips = sorted(compute(project, lambda: script.get_all_current(heads)), key=lambda sc: sc.revision)
    listed = {sc.revision for sc in tips}
    infos = [_info(sc, heads, listed) for sc in tips]  # "current" for a row of the table, else "applied"
    # At head when nothing is pending: every head is among the tips (one applied through a
    # dependency has no row of its own, so the rows alone do not say it).
    at_head = set(script.get_heads()) <= listed
    if check_heads and not at_head:
        raise NbmigrateError("The database is not at all head revisions. Run `%migrate upgrade heads`.")
    text = "".join(_sorted_labels(sc, sc.cmd_format(verbose)) + "\n" for sc in tips)  # as `alembic current [-v]` words it
    if verbose:
        from alembic.util import obfuscate_url_pw

        text = f"Current revision(s) for {obfuscate_url_pw(project.url)}:\n" + text
    return CurrentResult(
        command="current",
        database=project.display_url,
        heads=heads,
        revisions=infos,
        at_head=at_head,
        text=project.redact(text),
    )


# -- commands that write revision files ----------------------------------------------------


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


def _file_result(project: Project, command: str, scripts: Any, capture: _runtime.Capture) -> RevisionFileResult:
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


def revision(
    project: Project,
    message: str | None = None,
    autogenerate: bool = False,
    sql: bool = False,
    head: str = "head",
    splice: bool = False,
    branch_label: str | None = None,
    version_path: str | None = None,
    rev_id: str | None = None,
    depends_on: str | Sequence[str] | None = None,
    process_revision_directives: Any = None,
    *,
    metadata: Any = None,
) -> RevisionFileResult:
    """Create a new revision file (``metadata``: the models autogenerate compares, see ``check``)."""
    import alembic.command

    check_rev_id(rev_id)
    message = check_message(message, required=False)
    script = script_directory(project)
    if rev_id is not None:
        check_new_id(script, rev_id)
    if version_path is not None:
        check_version_path(script, version_path)
    check_depends_on(project, script, [depends_on] if isinstance(depends_on, str) else depends_on)

    def run() -> Any:
        with serving(script):
            return alembic.command.revision(
                project.config,
                message=message,
                autogenerate=autogenerate,
                sql=sql,
                head=head,
                splice=splice,
                branch_label=branch_label,
                version_path=version_path,
                rev_id=rev_id,
                depends_on=depends_on,
                process_revision_directives=process_revision_directives,
            )

    with undone_on_failure(script, project.invalidate):
        scripts, capture = run_contained(project, with_connection(project, run, needs_db=autogenerate, metadata=metadata))
    return _file_result(project, "revision", scripts, capture)


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


def merge(
    project: Project,
    revisions: str | Sequence[str],
    message: str | None = None,
    branch_label: str | None = None,
    rev_id: str | None = None,
    splice: bool = False,
) -> RevisionFileResult:
    """Merge two revisions together; creates a new migration file."""
    import alembic.command

    check_rev_id(rev_id)
    message = check_message(message, required=False)
    script = script_directory(project)
    if rev_id is not None:
        check_new_id(script, rev_id)
    # Alembic added ``splice`` to merge in a later release; pass it only when asked for.
    extra = {"splice": True} if splice else {}

    def run() -> Any:
        with serving(script):
            return alembic.command.merge(
                project.config, revisions, message=message, branch_label=branch_label, rev_id=rev_id, **extra
            )

    with undone_on_failure(script, project.invalidate):
        result, capture = run_contained(project, run)
    return _file_result(project, "merge", result, capture)


def edit(project: Project, rev: str) -> RevisionFileResult:
    """Show the path and source of a revision file (a notebook opens no editor)."""
    script = script_directory(project)

    def find() -> Any:
        if rev == "current":
            heads, reason = database_heads(project)
            if heads is None:
                raise NbmigrateError(f"Cannot edit 'current': {reason}")
            return [script.get_revision(h) for h in heads]
        return [s for s in script.get_revisions(rev) if s is not None]

    found, capture = run_contained(project, find)
    if not found:
        raise RevisionProblem(f"No revision file for {rev!r}.")
    return _file_result(project, f"edit {rev}", found, capture)


def check(project: Project, *, metadata: Any = None) -> TextResult:
    """Check if autogenerate would find new operations for the model.

    ``metadata`` is the kernel's ``MetaData`` (``%migrate check`` passes a ``target_metadata``
    variable, or the one ``--metadata NAME`` names); nbmigrate's ``env.py`` compares with it.
    """
    import alembic.command
    from alembic.util import AutogenerateDiffsDetected

    script = script_directory(project)

    def run() -> str | None:
        try:
            with serving(script):
                alembic.command.check(project.config)
        except AutogenerateDiffsDetected as exc:
            return "\n".join(describe_autogenerate(d) for d in exc.diffs)
        return None

    problem, capture = run_contained(project, with_connection(project, run, needs_db=True, metadata=metadata))
    if problem is not None:
        return TextResult(command="check", title="The model and the database differ", text=project.redact(problem), ok=False)
    title = "No new upgrade operations detected"
    text = output_text(project, capture).strip()
    return TextResult(
        command="check", title=title, text="" if text.rstrip(".") == title else text,  # not said twice
        warnings=captured_warnings(project, capture),
    )


def ensure_version(project: Project, sql: bool = False) -> TextResult | SqlResult:
    """Create the alembic version table if it doesn't exist already."""
    import alembic.command

    script = script_directory(project)
    if sql:
        return offline(project, "ensure_version --sql", lambda: alembic.command.ensure_version(project.config, sql=True), script)

    def run() -> None:
        with serving(script):
            alembic.command.ensure_version(project.config)

    _, capture = run_contained(project, with_connection(project, run, needs_db=True))
    return TextResult(
        command="ensure_version", title=f"Version table {project.version_table!r} is present",
        text=project.display_url, warnings=captured_warnings(project, capture),
    )


# -- commands that move the database -------------------------------------------------------


def upgrade(
    project: Project,
    revision: str = "head",
    sql: bool = False,
    tag: str | None = None,
    *,
    preview: bool = False,
    schema: bool = True,
    progress: Progress | None = None,
    accept_risk: bool = False,
) -> MigrationResult | SqlResult:
    """Upgrade to a later version.

    The revisions are linted before they run (see :mod:`nbmigrate.lint`): a finding at the fail
    level of the project's policy (``error`` unless it says otherwise) refuses the upgrade unless
    ``accept_risk``, which still shows the findings; ``--preview`` and ``--sql`` show them too. On PostgreSQL ``--preview`` records what the
    server held and rewrote after each statement (``result.observed``).
    """
    import alembic.command

    if sql and preview:
        raise BadArguments("--preview runs the migration and rolls it back; --sql only writes its SQL. Pick one.")
    if sql:
        result = offline(project, f"upgrade {revision} --sql", lambda: alembic.command.upgrade(project.config, revision, sql=True, tag=tag))
        result.lint = _risk(project, revision, preview=False, refuse=False).get("lint")
        return result
    if ":" in revision:
        raise BadArguments("A range (a:b) needs --sql; to upgrade the database, give one target, e.g. `upgrade head`.")
    linted: dict[str, Any] = {}
    migrated = migrate(
        project, "upgrade", revision,
        plan=lambda script, heads: _internals.upgrade_steps(script, revision, heads),
        run=lambda: alembic.command.upgrade(project.config, revision, tag=tag),
        preview=preview, schema=schema, progress=progress,
        check=lambda: linted.update(_risk(project, revision, preview=preview, refuse=not (accept_risk or preview))),
    )
    migrated.lint = linted.get("lint")
    if "unlinted" in linted:
        migrated.warnings.append(linted["unlinted"])
    return migrated


def _risk(project: Project, revision: str, *, preview: bool, refuse: bool) -> dict[str, Any]:
    """The lint of what ``upgrade revision`` applies, raising :class:`RiskyMigration` when ``refuse`` and it fails.

    Run once the revision files passed the pre-flight. Upgrades are linted unless the project's
    policy (``nbmigrate.lint.fail`` in its ini section or ``[tool.nbmigrate.lint]``, see
    :mod:`nbmigrate.lint.policy`) is ``never``; a preview always is. A lint that cannot run leaves
    the upgrade to say what is wrong (its pre-flight reads the database), and a warning says the
    revisions were not linted. ``{"lint": result}``, or ``{"unlinted": warning}``, or ``{}``.
    """
    from .lint import check_upgrade, read_policy

    if not preview and read_policy(project).fail == "never":
        return {}
    try:
        return {"lint": check_upgrade(project, revision, accept_risk=not refuse)}
    except (Interrupted, RiskyMigration):
        raise
    except NbmigrateError as exc:
        return {"unlinted": f"The revisions were not linted: {exc}"}


def downgrade(
    project: Project,
    revision: str,
    sql: bool = False,
    tag: str | None = None,
    *,
    preview: bool = False,
    schema: bool = True,
    progress: Progress | None = None,
) -> MigrationResult | SqlResult:
    """Revert to a previous version."""
    import alembic.command

    if sql and preview:
        raise BadArguments("--preview runs the migration and rolls it back; --sql only writes its SQL. Pick one.")
    if sql:
        if ":" not in revision:
            raise BadArguments("downgrade --sql needs a range <fromrev>:<torev>, e.g. `downgrade head:base --sql`.")
        return offline(project, f"downgrade {revision} --sql", lambda: alembic.command.downgrade(project.config, revision, sql=True, tag=tag))
    if ":" in revision:
        raise BadArguments("A range (a:b) needs --sql; to downgrade the database, give one target, e.g. `downgrade -1`.")
    return migrate(
        project, "downgrade", revision,
        plan=lambda script, heads: _internals.downgrade_steps(script, revision, heads),
        run=lambda: alembic.command.downgrade(project.config, revision, tag=tag),
        preview=preview, schema=schema, progress=progress,
    )


def stamp(
    project: Project,
    revisions: str | Sequence[str],
    sql: bool = False,
    tag: str | None = None,
    purge: bool = False,
    *,
    schema: bool = True,
) -> MigrationResult | SqlResult:
    """'stamp' the revision table with the given revision; don't run any migrations."""
    import alembic.command
    from alembic import util

    targets = tuple(util.to_list(revisions))
    label = " ".join(targets)
    if sql:
        for target in targets:
            if target.count(":") > 1:  # Alembic splits FROM:TO once and cannot unpack more
                raise BadArguments(
                    f"stamp --sql takes a revision or FROM:TO with one colon, not {target!r}: "
                    "e.g. `stamp 0001:0002 --sql`."
                )
        return offline(project, f"stamp {label} --sql", lambda: alembic.command.stamp(project.config, list(targets), sql=True, tag=tag, purge=purge))
    return migrate(
        project, "stamp", label,
        plan=lambda script, heads: _internals.stamp_steps(script, targets, () if purge else heads),
        run=lambda: alembic.command.stamp(project.config, list(targets), tag=tag, purge=purge),
        preview=False, schema=schema, progress=None,
        # Where the stamp left the database: nothing left to stamp from there (purge or not).
        remaining=lambda script, heads: _internals.stamp_steps(script, targets, heads),
    )


# -- nbmigrate's own verbs -----------------------------------------------------------------


def schema(project: Project, tables: Sequence[str] = (), db_schema: str | None = None, at: str | None = None) -> Any:
    """The database's tables: columns, keys, indexes, constraints and row counts (a ``Snapshot``).

    ``at`` (any Alembic target) is the schema at that revision instead, replayed on a scratch
    database: the project's own is not touched.
    """
    from .schema import snapshot

    if at is not None:
        return _schema_at(project, at, tables, db_schema)

    version_table = project.version_table if project.exists else "alembic_version"
    version_table_schema = project.version_table_schema if project.exists else None

    def take() -> Any:
        with project.connection() as conn:
            return snapshot(
                conn,
                schema=db_schema,
                tables=list(tables) or None,
                version_table=version_table,
                version_table_schema=version_table_schema,
            )

    result, _ = run_contained(project, take)
    if tables and result.missing:
        raise BadArguments(
            f"No table {', '.join(map(repr, result.missing))} in the database. "
            "Run `%migrate schema` to list the tables."
        )
    return result


def _schema_at(project: Project, at: str, tables: Sequence[str], db_schema: str | None) -> Any:
    from .timeline.at import schema_at

    if db_schema is not None:
        raise BadArguments("--at replays the history on a scratch database, which has the default schema only: drop --db-schema.")
    snap = schema_at(project, at)
    if not tables:
        return snap
    missing = [t for t in tables if t not in snap.tables]
    if missing:
        raise BadArguments(f"No table {', '.join(map(repr, missing))} at {at}. Run `%migrate schema --at {at}` to list the tables.")
    return dataclasses.replace(snap, tables={t: snap.tables[t] for t in tables}, requested=tuple(tables))


def diff(project: Project, start: str, end: str, sql: bool = False) -> Any:
    """The schema between two points of history (any Alembic targets), replayed on a scratch database."""
    from .timeline.at import between

    return between(project, start, end, sql=sql)


def test(project: Project, rev_range: str | None = None, *, metadata: Any = None) -> Any:
    """Round-trip every revision (upgrade, downgrade, upgrade) on a scratch database and check the schema each time."""
    from .timeline.roundtrip import round_trip

    return round_trip(project, rev_range, metadata=metadata)


def erd(project: Project, tables: Sequence[str] = (), at: str | None = None, engine: str | None = None) -> Any:
    """An ER diagram of the database's tables (or of the schema ``at`` a revision), drawn by graphviz."""
    from .erd import erd as draw

    snap = schema(project, tables, at=at)
    value, _ = run_contained(project, lambda: draw(snap, tables=list(tables) or None, engine=engine or "graphviz-pure"))
    return value


def lint(project: Project, rev_range: str | None = None) -> Any:
    """What the pending revisions (or ``rev_range``) will lock and rewrite, and the safe recipes (a ``LintResult``)."""
    from .lint import lint as run

    return run(project, rev_range)


def squash(project: Project, rev_range: str, message: str | None = None, accept_data_code: bool = False) -> Any:
    """Replace the revisions after A up to B (``A:B``) by one revision, proved on scratch databases."""
    from .timeline.squash import squash as run

    return run(project, rev_range, message, accept_data_code=accept_data_code)


def _svg_target(save: str | os.PathLike[str]) -> Path:
    """Where ``graph(save=...)`` writes, checked before the graph is drawn (so a typo costs no layout)."""
    shown = os.fspath(save)
    path = Path(shown).expanduser()
    if path.suffix.lower() != ".svg":
        raise BadArguments("--save writes an SVG file: give a path ending in .svg, e.g. `--save graph.svg`.")
    if not path.parent.is_dir():
        raise BadArguments(
            f"Cannot save the graph to {shown}: there is no folder {os.fspath(Path(shown).parent)!r}. "
            "Create it first, or give a path in an existing folder."
        )
    return path


def graph(
    project: Project,
    rev_range: str | None = None,
    engine: str | None = None,
    run: Callable[[str], Any] | None = None,
    collapse: int | None = None,
    save: str | os.PathLike[str] | None = None,
) -> GraphResult:
    """The revision graph laid out by graphviz, with this database's state (the magic shows it as the widget).

    ``run`` runs a ``%migrate`` line for the widget's actions (the magic passes its own
    dispatcher). Linear runs longer than ``collapse``
    fold into one expandable node (``0``: never; by default 12 for histories of more than 100).
    ``save`` (``%migrate graph --save graph.svg``) also writes the graph as first drawn to that
    ``.svg`` file: the same SVG a saved notebook shows (``widget.svg``), a document of its own.
    """
    from .graph import RevisionGraph, render_svg
    from .masking import mask

    layout = engine or "graphviz-pure"
    if rev_range is not None and ":" not in rev_range:
        raise BadArguments("A graph range needs [start]:[end], e.g. `-r base:head` or `-r 0002:`.")
    target = _svg_target(save) if save is not None else None

    def build(expand: Sequence[str] = ()) -> tuple[RevisionGraph, str]:
        script = script_directory(project)
        heads, _ = database_heads(project)
        size = len(_internals.revision_index(script))
        fold = (collapse or None) if collapse is not None else (12 if size > 100 else None)  # 0: never

        def make() -> tuple[RevisionGraph, str]:
            g = RevisionGraph.from_script_directory(
                script, current=heads or (), rev_range=rev_range, collapse=fold, expand=expand
            )
            return g, render_svg(g.to_dot(), engine=layout)

        value, _ = run_contained(project, make)
        return value

    # Built here so that errors (bad range, no graphviz) are the magic's, not the widget's; the
    # widget's first drawing is this one, not a second build and layout of the same graph.
    first = [build()]

    def build_once(expand: Sequence[str] = ()) -> tuple[RevisionGraph, str]:
        if first and not expand:
            return first.pop()
        first.clear()
        return build(expand)

    drawn, svg = first[0]
    result = GraphResult(graph=drawn, svg=mask(svg), build=build_once, run=run)
    if target is not None:
        try:  # the SVG as it reaches the notebook (and its saved copy)
            target.write_text(result.svg, encoding="utf-8")
        except OSError as exc:  # a folder in the way, no permission, a full disk
            raise BadArguments(f"Cannot save the graph to {target}: {exc.strerror or exc}.") from None
    return result
