"""``%%revision``: a notebook cell becomes an Alembic revision file.

The cell holds the revision's body as it would stand in the file::

    %%revision -m "add mobile number" [--apply]
    def upgrade():
        op.add_column("user", sa.Column("mobile_number", sa.String()))

    def downgrade():
        op.drop_column("user", "mobile_number")

A cell of bare statements is the upgrade body (the downgrade is then empty, and the result says
so). ``op`` and ``sa`` come from the project's own ``script.py.mako``; the cell's top-level
imports (and any other top-level code of a cell that defines ``upgrade()``) go to module level.
The file is written by Alembic itself, :meth:`ScriptDirectory.generate_revision` with the cell's
code as the template's ``imports`` / ``upgrades`` / ``downgrades``, so its id, ``down_revision``,
slug and docstring header are Alembic's and the ``alembic`` command line runs it unchanged.

Nothing is written until the cell passed every check: Python syntax, an upgrade, a message that
fits a docstring, exactly one parent (several heads need ``--head``), an unused ``--rev-id``
and branch label, and a ``--version-path`` that is one of the project's version locations.

``--autogenerate`` compares a ``MetaData`` of the kernel (``--metadata Base.metadata``, or a
``target_metadata`` variable) with the database through the project's ``env.py``, which gets
the kernel's connection and the MetaData in ``config.attributes``; the detected operations come
first in ``upgrade()`` (last in ``downgrade()``), followed by the cell's own code, if any.
``--apply`` upgrades the database to the new revision at once. (IPython refuses a cell magic
whose body is empty: a cell that only autogenerates needs a line, e.g. a comment, below the
magic line.)

Re-running a cell never makes a second revision. A cell is recognised by, in this order:

1. its ``--rev-id`` (together with the front end's cell id when there is one, so another cell
   naming the same id is refused as taking an id that is taken);
2. else the front end's cell id (Jupyter sends one with every execution);
3. else (a terminal, or the Python API without ``cell_id``) its message: the revision a cell
   wrote with this message, wherever it now stands in the history; when several cells wrote
   one, the one built on the parent this cell names (``--head``, default the current head).

The kernel keeps, per project, a record of cell key → revision id and hashes; the generated file
carries the same as a comment (``# nbmigrate-cell: key=... cell=... [ops=...]``) so a restarted
kernel still recognises it. ``cell`` hashes everything the cell decides (message, parent, labels,
code); ``ops`` hashes what autogenerate produced. On a re-run:

- nothing changed → ``"unchanged"`` (with ``--autogenerate`` the model is compared again too);
- changed, not applied to the database → the file is rewritten in place, same revision id;
- changed and applied → refused with a message; with ``--apply``, when the revision is one of
  the database's current heads, it is downgraded with the applied code (that revision alone,
  ``REV@-1``), rewritten, and upgraded with the new code (``"reapplied"``).

A rewrite keeps the revision's parent unless the cell names another with ``--head``; a changed
message changes the file name (Alembic's slug), and the old file is removed. Without a cell id,
two cells with the same message are one cell: give each cell its own message (or ``--rev-id``).
A revision whose applied ``downgrade()`` is empty is never re-applied: undoing it would leave
its changes in the database under the new code.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import hashlib
import io
import json
import os
import re
import tokenize
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _internals, _runtime, commands
from ._files import check_inside, check_message, check_replaceable, drop_bytecode, undone_on_failure
from .errors import BadArguments, MigrationFailed, NbmigrateError, RevisionProblem, RiskyMigration
from .parser import Invocation, resolve_metadata, split_line
from .project import Project
from .results import HelpResult, MigrationResult, Result

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory

__all__ = ["CellCode", "CellResult", "parse_line", "resolve_metadata", "revision_cell", "run_cell", "split_cell"]

Progress = Callable[[int, int, str], None]

MARKER = "nbmigrate-cell"
_MARKER_RE = re.compile(
    r"^[ \t]*# nbmigrate-cell: key=(?P<key>[0-9a-f]+) cell=(?P<cell>[0-9a-f]+)(?: ops=(?P<ops>[0-9a-f]+))?",
    re.MULTILINE,
)
# What Alembic's template imports already; the same lines in a cell are not repeated.
_TEMPLATE_IMPORTS = {"from alembic import op", "import sqlalchemy as sa"}


# -- the result ------------------------------------------------------------------------------


@dataclass(repr=False)
class CellResult(Result):
    """What ``%%revision`` made: the revision file, its code, and the database run if any.

    ``status`` is ``"created"``, ``"unchanged"``, ``"rewritten"`` or ``"reapplied"``;
    ``apply`` is the upgrade's :class:`~nbmigrate.results.MigrationResult` (``--apply``), and
    ``downgrade`` the downgrade that ran with the old code before a re-apply.
    """

    command: str
    revision: str
    path: str
    source: str
    status: str
    message: str = ""
    down_revision: tuple[str, ...] = ()
    apply: MigrationResult | None = None
    downgrade: MigrationResult | None = None
    downgrade_empty: bool = False
    autogenerated: bool = False
    notes: list[str] = field(default_factory=list)
    output: str = ""
    warnings: list[str] = field(default_factory=list)
    # What the lint says of this revision's operations on this database (warnings and errors).
    risks: list[Any] = field(default_factory=list)

    def _repr_html_(self) -> str:
        from .render.cell import render_cell_html

        return render_cell_html(self)

    def __str__(self) -> str:
        from .render.cell import render_cell_text

        return render_cell_text(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))  # defined here too: IPython prefers a class's own __repr__ to an inherited one

    def __repr__(self) -> str:
        return f"<CellResult {self.status} {self.revision} {self.message!r}>"


# -- the magic line --------------------------------------------------------------------------


@dataclass
class CellOptions:
    """A parsed ``%%revision`` line."""

    message: str | None = None
    rev_id: str | None = None
    head: str | None = None
    splice: bool = False
    branch_label: str | None = None
    depends_on: list[str] | None = None
    version_path: str | None = None
    autogenerate: bool = False
    metadata: str | None = None
    apply: bool = False
    accept_risk: bool = False
    config: list[str] | None = None
    name: str = "alembic"
    x: list[str] = field(default_factory=list)
    raiseerr: bool = False

    @property
    def invocation(self) -> Invocation:
        """The project options as ``%migrate`` has them (for ``projects(invocation)``)."""
        return Invocation(command="revision", config=self.config, name=self.name, x=list(self.x), raiseerr=self.raiseerr)


_PARSER: argparse.ArgumentParser | None = None


def _line_parser() -> argparse.ArgumentParser:
    """Alembic's own ``revision`` parser, plus the project options and ``--apply``/``--metadata``."""
    global _PARSER
    if _PARSER is None:
        from alembic.config import CommandLine

        parser: argparse.ArgumentParser = CommandLine(prog="%%revision").subparsers.choices["revision"]  # type: ignore[union-attr]
        parser.prog = "%%revision"
        parser.description = "Turn this cell into an Alembic revision file."
        for action in parser._actions:
            if action.dest == "sql":  # parsed only to be refused with a message
                action.help = argparse.SUPPRESS
        parser.add_argument("--apply", action="store_true", help="upgrade the database to the new revision at once")
        parser.add_argument(
            "--accept-risk", dest="accept_risk", action="store_true",
            help="with --apply: upgrade although the revision has a lint finding at the fail level (still shown)",
        )
        parser.add_argument(
            "--metadata", metavar="NAME",
            help="the kernel's MetaData to autogenerate from, e.g. Base.metadata (default: target_metadata)",
        )
        parser.add_argument("-c", "--config", action="append", help="alternate config file (ini or pyproject.toml)")
        parser.add_argument("-n", "--name", default="alembic", help="name of section in .ini file to use for Alembic config")
        parser.add_argument("-x", action="append", help="additional arguments consumed by custom env.py scripts")
        parser.add_argument("--raiseerr", action="store_true", help="raise a full stack trace on error")
        parser.error = _error_for(parser)  # type: ignore[method-assign, assignment]
        parser.exit = _exit  # type: ignore[method-assign, assignment]
        _PARSER = parser
    return _PARSER


class _Exit(Exception):
    """argparse wanted to exit (``--help``, or an error): carried out as an exception."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


def _error_for(parser: argparse.ArgumentParser) -> Callable[[str], None]:
    def error(message: str) -> None:
        usage = parser.format_usage().strip().replace("usage: ", "")
        raise BadArguments(f"{message}. Usage: {usage}")

    return error


def _exit(status: int = 0, message: str | None = None) -> None:
    raise _Exit(status, message or "")


def parse_line(line: str) -> CellOptions | HelpResult:
    """Parse a ``%%revision`` line; ``--help`` gives a :class:`HelpResult`.

    Raises :class:`BadArguments` when the line does not parse.
    """
    argv = split_line(line)  # as `%migrate` reads its line: quotes, and a `# comment` left out
    parser = _line_parser()
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            ns = parser.parse_args(argv)
    except _Exit as exc:
        if exc.status == 0:
            return HelpResult(command="%%revision --help", text=out.getvalue() or exc.text)
        raise BadArguments(exc.text.strip() or out.getvalue().strip()) from None
    if ns.sql:
        raise BadArguments("%%revision writes a revision file; --sql does not apply. Use `%migrate upgrade ... --sql`.")
    return CellOptions(
        message=ns.message,
        rev_id=ns.rev_id,
        head=ns.head,
        splice=ns.splice,
        branch_label=ns.branch_label,
        depends_on=ns.depends_on,
        version_path=ns.version_path,
        autogenerate=ns.autogenerate,
        metadata=ns.metadata,
        apply=ns.apply,
        accept_risk=ns.accept_risk,
        config=ns.config,
        name=ns.name,
        x=ns.x or [],
        raiseerr=ns.raiseerr,
    )


def run_cell(
    line: str,
    cell: str,
    *,
    project: Project | None = None,
    projects: Callable[[Invocation], Project] | None = None,
    namespace: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    cell_id: str | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> CellResult | HelpResult:
    """Run a ``%%revision`` cell: parse the line, pick the project, make the revision."""
    options = parse_line(line)
    if isinstance(options, HelpResult):
        return options
    if project is None:
        invocation = options.invocation
        project = projects(invocation) if projects is not None else Project(options.config, name=options.name, x=options.x)
    metadata = None
    if options.autogenerate:
        metadata = resolve_metadata(options.metadata, namespace)
    elif options.metadata is not None:
        raise BadArguments("--metadata names the model for --autogenerate; add --autogenerate, or drop --metadata.")
    if options.accept_risk and not options.apply:
        raise BadArguments("--accept-risk lets --apply upgrade a risky revision; add --apply, or drop --accept-risk.")
    return revision_cell(
        project,
        cell,
        message=options.message,
        rev_id=options.rev_id,
        head=options.head,
        splice=options.splice,
        branch_label=options.branch_label,
        depends_on=options.depends_on,
        version_path=options.version_path,
        autogenerate=options.autogenerate,
        metadata=metadata,
        metadata_name=options.metadata or "target_metadata",
        apply=options.apply,
        accept_risk=options.accept_risk,
        cell_id=cell_id,
        schema=(defaults or {}).get("schema", True),
        progress=progress,
    )


# -- the cell's code -------------------------------------------------------------------------


@dataclass(frozen=True)
class CellCode:
    """A cell split for the template: module-level imports and code, and the two bodies.

    ``upgrade`` and ``downgrade`` are indented by four spaces on every line (the template puts
    the first line after its own indentation); ``downgrade`` is ``None`` when the cell has none.
    """

    imports: str = ""
    module: str = ""
    upgrade: str = ""
    downgrade: str | None = None
    bare: bool = True

    @property
    def empty(self) -> bool:
        return not self.upgrade.strip() and self.downgrade is None


def split_cell(source: str) -> CellCode:
    """Split a cell into imports, module code and upgrade/downgrade bodies (see the module doc)."""
    source = _expand_indentation(source)
    lines = source.splitlines()
    try:
        tree = ast.parse(source, filename="<cell>")
    except SyntaxError as exc:
        raise BadArguments(_syntax_message(exc, lines)) from None
    verbatim = _string_lines(source)
    nodes = list(tree.body)
    spans = _spans(nodes, lines)
    imports: list[str] = []
    module: list[str] = []
    other: list[str] = []
    defs: dict[str, ast.FunctionDef] = {}
    def_chunks: dict[str, tuple[int, int]] = {}
    for node, (start, end) in zip(nodes, spans):
        chunk = "\n".join(lines[start - 1 : end])
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                raise BadArguments(f"Line {node.lineno}: `from __future__` imports cannot go into a revision file.")
            if ast.unparse(node) not in _TEMPLATE_IMPORTS:
                imports.append(chunk)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in ("upgrade", "downgrade"):
            _check_def(node)
            if node.name in defs:
                raise BadArguments(f"Line {node.lineno}: the cell defines {node.name}() twice.")
            defs[node.name] = node  # type: ignore[assignment]
            def_chunks[node.name] = (start, end)
        else:
            module.append(chunk)
            other.append(chunk)
    if "downgrade" in defs and "upgrade" not in defs:
        raise BadArguments("The cell defines downgrade() but no upgrade(): add `def upgrade():` with the changes.")
    if "upgrade" not in defs:
        # Bare statements: everything but the imports is the upgrade body.
        body_lines: list[int] = []
        for node, (start, end) in zip(nodes, spans):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                body_lines.extend(range(start, end + 1))
        upgrade = _reindent(lines, body_lines, "", verbatim)
        return CellCode(imports="\n".join(imports).strip(), upgrade=upgrade, bare=True)
    bodies = {name: _body(defs[name], lines, source, def_chunks[name], verbatim) for name in defs}
    return CellCode(
        imports="\n".join(imports).strip(),
        module="\n\n".join(m.strip("\n") for m in module).strip("\n"),
        upgrade=bodies["upgrade"],
        downgrade=bodies.get("downgrade"),
        bare=False,
    )


def _expand_indentation(source: str) -> str:
    """Tabs in indentation become spaces (as Python reads them); strings keep theirs."""
    if "\t" not in source:
        return source
    verbatim = _string_lines(source)
    out = []
    for n, line in enumerate(source.splitlines(keepends=True), 1):
        stripped = line.lstrip(" \t")
        out.append(line if n in verbatim else line[: len(line) - len(stripped)].expandtabs(8) + stripped)
    return "".join(out)


def _syntax_message(exc: SyntaxError, lines: list[str]) -> str:
    where = f"line {exc.lineno}, column {exc.offset}" if exc.offset else f"line {exc.lineno}"
    text = ""
    if exc.lineno and 0 < exc.lineno <= len(lines):
        text = f": `{lines[exc.lineno - 1].strip()}`"
    return f"The cell is not valid Python ({exc.msg}) at {where} of the code below %%revision{text}. Nothing was written."


def _check_def(node: ast.AST) -> None:
    assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    if isinstance(node, ast.AsyncFunctionDef):
        raise BadArguments(f"Line {node.lineno}: {node.name}() cannot be async; Alembic calls it as a plain function.")
    args = node.args
    if args.args or args.posonlyargs or args.kwonlyargs or args.vararg or args.kwarg:
        raise BadArguments(f"Line {node.lineno}: {node.name}() takes no arguments in a revision file.")
    if node.decorator_list:
        raise BadArguments(f"Line {node.lineno}: {node.name}() cannot have decorators in a revision file.")


def _spans(nodes: list[ast.stmt], lines: list[str]) -> list[tuple[int, int]]:
    """Each top-level statement's lines, with the comments and blank lines before it.

    Statements sharing a line (``a; b``) cannot be split by lines: the cell is refused.
    """
    spans = []
    previous_end = 0
    for i, node in enumerate(nodes):
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        end = node.end_lineno or node.lineno
        if first <= previous_end:
            raise BadArguments(
                f"Line {first}: put each top-level statement on a line of its own (no `;` between them)."
            )
        spans.append((previous_end + 1, end))
        previous_end = end
    if spans:
        spans[-1] = (spans[-1][0], max(spans[-1][1], len(lines)))
    return spans


def _string_lines(source: str) -> set[int]:
    """Lines that continue a multi-line string: their text is kept exactly as it is."""
    inside: set[int] = set()
    starts: list[int] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            name = tokenize.tok_name.get(tok.type, "")
            if tok.type == tokenize.STRING and tok.end[0] > tok.start[0]:
                inside.update(range(tok.start[0] + 1, tok.end[0] + 1))
            elif name == "FSTRING_START":
                starts.append(tok.start[0])
            elif name == "FSTRING_END" and starts:
                begin = starts.pop()
                inside.update(range(begin + 1, tok.end[0] + 1))
    except (tokenize.TokenError, SyntaxError):  # pragma: no cover - ast.parse accepted it
        pass
    return inside


def _reindent(lines: list[str], numbers: Sequence[int], prefix: str, verbatim: set[int]) -> str:
    """Lines ``numbers`` (1-based) moved from indentation ``prefix`` to four spaces."""
    out = []
    for n in numbers:
        line = lines[n - 1]
        if n in verbatim:
            out.append(line)
        elif not line.strip():
            out.append("")
        elif line.startswith(prefix):
            out.append("    " + line[len(prefix) :].rstrip())
        else:
            out.append("    " + line.strip())
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out)


def _body(node: ast.FunctionDef, lines: list[str], source: str, chunk: tuple[int, int], verbatim: set[int]) -> str:
    """The body of ``def upgrade():`` (with comments) indented by four spaces."""
    colon_line, colon_col = _header_end(node, source)
    first = node.body[0]
    leading = [lines[n - 1].strip() for n in range(chunk[0], node.lineno) if lines[n - 1].strip().startswith("#")]
    head = ["    " + c for c in leading]
    rest_of_header = lines[colon_line - 1][colon_col + 1 :]
    if first.lineno == colon_line:
        # A one-line body (`def upgrade(): op.f()`), possibly continued on following lines.
        text = rest_of_header.strip()
        head.append("    " + text)
        tail = _reindent(lines, range(colon_line + 1, (node.end_lineno or colon_line) + 1), "", verbatim)
        return "\n".join(head + ([tail] if tail else []))
    if rest_of_header.strip().startswith("#"):
        head.append("    " + rest_of_header.strip())
    first_line = lines[first.lineno - 1]
    prefix = first_line[: len(first_line) - len(first_line.lstrip())]
    body = _reindent(lines, range(colon_line + 1, (node.end_lineno or colon_line) + 1), prefix, verbatim)
    return "\n".join([*head, body]) if head else body


def _header_end(node: ast.FunctionDef, source: str) -> tuple[int, int]:
    """Line and column of the ``:`` that ends a ``def`` header."""
    depth = 0
    started = False
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if not started:
            if tok.start[0] == node.lineno and tok.type == tokenize.NAME and tok.string == "def":
                started = True
            continue
        if tok.type == tokenize.OP:
            if tok.string in "([{":
                depth += 1
            elif tok.string in ")]}":
                depth -= 1
            elif tok.string == ":" and depth == 0:
                return tok.start[0], tok.start[1]
    raise AssertionError("a parsed def has a header")  # pragma: no cover


# -- per-project memory ------------------------------------------------------------------------


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


# -- Alembic helpers ---------------------------------------------------------------------------


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
    drop = set()
    todo = [rev_id]
    while todo:
        current = todo.pop()
        if current in drop:
            continue
        drop.add(current)
        rev = rmap.get(current)
        if rev is not None:
            todo.extend(rev.nextrev)
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
    found, _ = commands._call(project, lambda: script.revision_map.get_revisions(head or "head"))
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


# -- the revision to write -----------------------------------------------------------------------


@dataclass
class _Auto:
    """What autogenerate produced, rendered by Alembic's own renderer."""

    upgrades: str
    downgrades: str
    imports: list[str]
    empty: bool
    rev_id: str | None
    output: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def digest(self) -> str:
        return _digest(self.upgrades, self.downgrades, sorted(self.imports))


@dataclass
class _Plan:
    rev_id: str
    message: str
    head: str
    splice: bool
    branch_label: str | None
    depends_on: list[str] | None
    version_path: str | None
    template: dict[str, str]
    parents: tuple[str, ...]
    key: tuple[str, ...]
    cell_hash: str
    ops_hash: str | None
    downgrade_empty: bool


def _autogenerate(project: Project, script: ScriptDirectory, metadata: Any, args: dict[str, Any]) -> _Auto:
    """Compare ``metadata`` with the database through the project's env.py; render the operations.

    This is ``alembic.command.revision(autogenerate=True)`` up to the point where it would write
    the file: the env.py's own ``process_revision_directives`` and options apply.
    """
    from alembic.autogenerate import RevisionContext
    from alembic.runtime.environment import EnvironmentContext

    config = project.config
    command_args = {"sql": False, "autogenerate": True, **args}
    context = RevisionContext(config, script, command_args)

    migrations: list[Any] = []  # the run's MigrationContext, which the rendering falls back on

    def retrieve(rev: Any, migration_context: Any) -> list[Any]:
        migrations.append(migration_context)
        context.run_autogenerate(rev, migration_context)
        return []

    def run() -> None:
        with project.connection() as conn:
            attributes = config.attributes
            saved_opt = getattr(config.cmd_opts, "autogenerate", None) if config.cmd_opts is not None else None
            attributes["connection"] = conn
            attributes["target_metadata"] = metadata
            if config.cmd_opts is not None:
                config.cmd_opts.autogenerate = True  # env.py recipes read it
            try:
                with EnvironmentContext(
                    config, script, fn=retrieve, as_sql=False,
                    template_args=context.template_args, revision_context=context,
                ):
                    script.run_env()
            finally:
                attributes.pop("connection", None)
                attributes.pop("target_metadata", None)
                if config.cmd_opts is not None:
                    config.cmd_opts.autogenerate = saved_opt
                if conn.in_transaction():
                    conn.rollback()

    try:
        _, capture = commands._call(project, run)
    except NbmigrateError as exc:
        text = str(exc)
        if "Target database is not up to date" in text:
            raise NbmigrateError(
                "Autogenerate needs the database at the revision the new one builds on, and it is not "
                "(`Target database is not up to date`). Upgrade it first, e.g. `%migrate upgrade head`. Nothing was written."
            ) from None
        if "does not provide a MetaData" in text:
            raise NbmigrateError(
                f"{text} nbmigrate passes the kernel's MetaData in config.attributes['target_metadata']: make env.py "
                "use it, e.g. `target_metadata = config.attributes.get('target_metadata')`."
            ) from None
        raise
    output = project.redact(capture.text)
    warnings = [project.redact(w) for w in capture.warnings]
    scripts = context.generated_revisions
    if not scripts:  # env.py's process_revision_directives dropped it: nothing to do
        return _Auto("", "", [], True, None, output, warnings)
    if len(scripts) > 1:
        raise NbmigrateError("env.py produced several revisions from one autogenerate; %%revision writes one file per cell.")
    migration = scripts[0]
    template = _internals.render_autogenerate(context, migration, migrations[0] if migrations else None)
    unknown = set(template) - {"upgrades", "downgrades", "imports"}
    if unknown:
        raise NbmigrateError(
            f"The project's template renders autogenerate into {', '.join(sorted(unknown))} (several databases); "
            "%%revision --autogenerate supports the single-database template."
        )
    empty = all(ops.is_empty() for ops in migration.upgrade_ops_list)
    imports = [line for line in str(template.get("imports", "")).splitlines() if line.strip()]
    return _Auto(
        upgrades="" if empty else str(template.get("upgrades", "")),
        downgrades="" if empty else str(template.get("downgrades", "")),
        imports=imports,
        empty=empty,
        rev_id=migration.rev_id,
        output=output,
        warnings=warnings,
    )


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


def _plan(
    *,
    code: CellCode,
    auto: _Auto | None,
    rev_id: str,
    message: str,
    parents: tuple[str, ...],
    head: str,
    splice: bool,
    branch_label: str | None,
    depends_on: list[str] | None,
    version_path: str | None,
    key: tuple[str, ...],
    cell_hash: str,
    slots: set[str],
) -> _Plan:
    ops_hash = auto.digest if auto is not None else None
    marker = f"# {MARKER}: key={_key_digest(key)} cell={cell_hash}" + (f" ops={ops_hash}" if ops_hash else "")
    marker += " (written by %%revision: re-running the cell updates this file)"
    up_blocks = []
    down_blocks = []
    if auto is not None and not auto.empty:
        up_blocks.append("    " + auto.upgrades)
    if code.upgrade.strip():
        up_blocks.append(code.upgrade)
    if code.downgrade is not None:
        down_blocks.append(code.downgrade)
    if auto is not None and not auto.empty:
        down_blocks.append("    " + auto.downgrades)
    imports = [line for line in (auto.imports if auto is not None else []) if line not in code.imports.splitlines()]
    module_level = "\n".join([*imports, code.imports]).strip()
    if code.module:
        module_level = (module_level + "\n\n\n" if module_level else "") + code.module
    upgrades = "\n\n".join(up_blocks)[4:] if up_blocks else ""
    downgrades = "\n\n".join(down_blocks)[4:] if down_blocks else ""
    if "imports" in slots:
        template = {"imports": marker + ("\n" + module_level if module_level else "")}
    else:
        if module_level:
            raise NbmigrateError(
                "The project's script.py.mako has no ${imports} slot, so the cell's imports and module-level code "
                "have nowhere to go: move them into upgrade(), or add ${imports} to the template. Nothing was written."
            )
        upgrades = marker + "\n    " + (upgrades or "pass")
        template = {}
    if downgrades and "downgrades" not in slots:
        raise NbmigrateError("The project's script.py.mako has no ${downgrades} slot for the cell's downgrade(). Nothing was written.")
    template["upgrades"] = upgrades
    template["downgrades"] = downgrades
    _check_compiles(template)
    return _Plan(
        rev_id=rev_id,
        message=message,
        head=head,
        splice=splice,
        branch_label=branch_label,
        depends_on=depends_on,
        version_path=version_path,
        template=template,
        parents=parents,
        key=key,
        cell_hash=cell_hash,
        ops_hash=ops_hash,
        downgrade_empty=not downgrades,
    )


def _check_compiles(template: Mapping[str, str]) -> None:
    """The module the template will make, in outline, must compile (e.g. no `return` at module level)."""
    module = "\n".join(
        [
            "from alembic import op",
            "import sqlalchemy as sa",
            template.get("imports", ""),
            "def upgrade() -> None:",
            "    " + (template.get("upgrades") or "pass"),
            "def downgrade() -> None:",
            "    " + (template.get("downgrades") or "pass"),
        ]
    )
    try:
        compile(module, "<revision>", "exec")
    except SyntaxError as exc:
        text = (exc.text or "").strip()
        raise BadArguments(
            f"The cell cannot become a revision file: {exc.msg}" + (f" (`{text}`)" if text else "") + ". Nothing was written."
        ) from None


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


def _write(project: Project, script: ScriptDirectory, plan: _Plan, *, replacing: Script | None = None) -> tuple[Path, list[str], list[str]]:
    """Have Alembic write the file; on any failure leave the version folders as they were."""
    old_path = Path(replacing.path).resolve() if replacing is not None else None
    config = project.config

    def run() -> Any:
        return script.generate_revision(
            plan.rev_id,
            plan.message,
            head=plan.head,
            splice=plan.splice,
            branch_labels=plan.branch_label,
            version_path=plan.version_path,
            depends_on=plan.depends_on,
            config=config,
            **plan.template,
        )

    with undone_on_failure(script, project.invalidate, replacing=old_path):
        written, capture = commands._call(project, run)
        if written is None:
            raise NbmigrateError("Alembic wrote no revision file (the template or a post-write hook removed it).")
        path = Path(written.path).resolve()
        check_inside(script, path)
    drop_bytecode(path)
    warnings = [project.redact(w) for w in capture.warnings]
    if old_path is not None and old_path != path:  # a new message, a new name (old_path is no link's target)
        with contextlib.suppress(OSError):
            old_path.unlink()
        drop_bytecode(old_path)
        if os.path.lexists(old_path):  # said only as found: a second file now defines the revision
            warnings.append(f"The old file {old_path} could not be removed: delete it, it defines {plan.rev_id} too.")
    if replacing is not None:
        project.invalidate()
    output = "".join(line for line in capture.text.splitlines(keepends=True) if not line.lstrip().startswith("Generating "))
    return path, [project.redact(output)] if output.strip() else [], warnings


# -- the engine ------------------------------------------------------------------------------------


def revision_cell(
    project: Project,
    cell: str,
    *,
    message: str | None = None,
    rev_id: str | None = None,
    head: str | None = None,
    splice: bool = False,
    branch_label: str | None = None,
    depends_on: str | Sequence[str] | None = None,
    version_path: str | None = None,
    autogenerate: bool = False,
    metadata: Any = None,
    metadata_name: str = "target_metadata",
    apply: bool = False,
    cell_id: str | None = None,
    schema: bool = True,
    progress: Progress | None = None,
    accept_risk: bool = False,
) -> CellResult:
    """Make (or update) the revision a cell's code describes; the Python API behind ``%%revision``.

    ``head=None`` means the current head (one only). ``metadata`` is the ``MetaData`` for
    ``autogenerate``. See the module docstring for the checks and for how re-runs are recognised.
    """
    with _runtime._LOCK:  # one cell at a time, also against widget callbacks
        run = _CellRun(
            project=project,
            cell=cell,
            message=check_message(message, required=True),  # type: ignore[arg-type]
            rev_id=rev_id,
            head=head,
            splice=splice,
            branch_label=branch_label,
            depends_on=[depends_on] if isinstance(depends_on, str) else (list(depends_on) if depends_on else None),
            version_path=version_path,
            autogenerate=autogenerate,
            metadata=metadata,
            metadata_name=metadata_name,
            apply=apply,
            cell_id=cell_id,
            schema=schema,
            progress=progress,
            accept_risk=accept_risk,
        )
        return run.run()


@dataclass
class _CellRun:
    project: Project
    cell: str
    message: str
    rev_id: str | None
    head: str | None
    splice: bool
    branch_label: str | None
    depends_on: list[str] | None
    version_path: str | None
    autogenerate: bool
    metadata: Any
    metadata_name: str
    apply: bool
    cell_id: str | None
    schema: bool
    progress: Progress | None
    accept_risk: bool = False
    notes: list[str] = field(default_factory=list)
    output: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    # -- entry ---------------------------------------------------------------------------

    def run(self) -> CellResult:
        commands._check_rev_id(self.rev_id)
        if self.autogenerate and self.metadata is None:
            raise BadArguments(
                "No MetaData for --autogenerate: pass the model's MetaData (e.g. Base.metadata). Nothing was written."
            )
        self.code = split_cell(self.cell)
        if self.code.empty and not self.autogenerate:
            raise BadArguments(
                "The cell has no upgrade: write `def upgrade():` with the changes (and `def downgrade():` to undo "
                "them), or plain statements, which become the upgrade. Nothing was written."
            )
        self.project.require()
        script = commands._script(self.project)
        self.slots = _template_slots(script)
        if "upgrades" not in self.slots:
            raise NbmigrateError(
                f"The project's script.py.mako ({Path(script.dir) / 'script.py.mako'}) has no ${{upgrades}} slot "
                "for the cell's code. Nothing was written."
            )
        if self.version_path is not None:
            commands._check_version_path(script, self.version_path)
            self.version_path = str(Path(self.version_path).resolve())
        key, existing = self._recognise(script)
        if existing is None:
            return self._create(script, key)
        return self._rerun(script, key, existing)

    # -- recognising a cell ------------------------------------------------------------------

    def _recognise(self, script: ScriptDirectory) -> tuple[tuple[str, ...], Script | None]:
        """The cell's key and the revision it made before, if any (see the module docstring)."""
        state = _state(self.project)
        key: tuple[str, ...]
        if self.rev_id is not None:
            key = ("rev", self.rev_id, self.cell_id) if self.cell_id else ("rev", self.rev_id)
            found = _lookup(script, self.rev_id)
            if found is None:
                return key, None
            marker = _marker(self.project, found.path)
            record = state.records.get(key)
            if (marker is not None and marker.key == _key_digest(key)) or (
                record is not None and record.revision == found.revision
            ):
                return key, found
            commands.check_new_id(script, self.rev_id)  # taken by a revision this cell did not make
        if self.cell_id:
            key = ("cell", self.cell_id)
            record = state.records.get(key)
            if record is not None and _lookup(script, record.revision) is not None:
                return key, _lookup(script, record.revision)
            digest = _key_digest(key)
            for rev in _all_scripts(script):
                marker = _marker(self.project, rev.path)
                if marker is not None and marker.key == digest:
                    return key, rev
            return key, None
        # By message: the revisions a message-keyed cell wrote with this message.
        made = [
            rev for rev in _all_scripts(script)
            if (marker := _marker(self.project, rev.path)) is not None
            and marker.key == _key_digest(("message", self.message, _parent_name(_parents(rev))))
        ]
        if len(made) > 1:
            parent = _resolve_parent(self.project, script, self.head)
            on_parent = [rev for rev in made if _parents(rev) == ((parent.revision,) if parent is not None else ())]
            made = on_parent or made[:0]
        if len(made) == 1:
            return ("message", self.message, _parent_name(_parents(made[0]))), made[0]
        parent = _resolve_parent(self.project, script, self.head)
        return ("message", self.message, parent.revision if parent is not None else "base"), None

    # -- a new revision ------------------------------------------------------------------------

    def _create(self, script: ScriptDirectory, key: tuple[str, ...]) -> CellResult:
        parent = _resolve_parent(self.project, script, self.head)
        parents = (parent.revision,) if parent is not None else ()
        _check_splice(parent, self.splice)
        if self.rev_id is not None:
            commands.check_new_id(script, self.rev_id)
        _check_branch_label(script, self.branch_label)
        commands.check_depends_on(self.project, script, self.depends_on)
        head_arg = parent.revision if parent is not None else "base"
        auto = None
        if self.autogenerate:
            auto = self._autogenerate(script, head_arg, self.splice)
            if auto.empty and self.code.empty:
                raise NbmigrateError(
                    f"Autogenerate found no differences between {self.metadata_name} and the database, and the "
                    "cell has no code of its own: there is nothing to write. Nothing was written."
                )
        from alembic import util

        rev_id = self.rev_id or (auto.rev_id if auto is not None else None) or util.rev_id()
        if self.rev_id is None:
            commands.check_new_id(script, rev_id)
        plan = self._plan(rev_id, parents, head_arg, self.splice, key, auto)
        path = self._write(script, plan)
        result = self._result("created", plan, path)
        if self.apply:
            result.apply = self._upgrade(rev_id)
        return result

    # -- a cell that ran before ------------------------------------------------------------------

    def _rerun(self, script: ScriptDirectory, key: tuple[str, ...], old: Script) -> CellResult:
        rev_id = old.revision
        marker = _marker(self.project, old.path)
        record = _state(self.project).records.get(key)
        old_cell = marker.cell if marker is not None else (record.cell if record is not None else None)
        old_ops = marker.ops if marker is not None else (record.ops if record is not None else None)
        reduced = _without(self.project, script, rev_id)
        parents: tuple[str, ...]
        if self.head is not None:
            parent = _resolve_parent(self.project, reduced, self.head)
            _check_splice(parent, self.splice)
            head_arg, splice = (parent.revision if parent is not None else "base"), self.splice
            parents = (parent.revision,) if parent is not None else ()
        else:
            parents = _parents(old)
            if len(parents) > 1:
                raise RevisionProblem(f"Revision {rev_id} is a merge point; %%revision does not rewrite merges.")
            head_arg, splice = (parents[0] if parents else "base"), True
        _check_branch_label(reduced, self.branch_label)
        commands.check_depends_on(self.project, reduced, self.depends_on)
        cell_hash = self._cell_hash(parents)
        same_cell = cell_hash == old_cell

        if not self.autogenerate and same_cell:
            return self._unchanged(old, key, cell_hash, old_ops)
        heads = self._db_heads(rev_id)
        applied = rev_id in commands._applied(script, heads)

        if not applied:
            auto = self._autogenerate(reduced, head_arg, splice) if self.autogenerate else None
            if auto is not None and same_cell and auto.digest == old_ops:
                return self._unchanged(old, key, cell_hash, old_ops)
            self._refuse_empty(auto, rev_id)
            plan = self._plan(rev_id, parents, head_arg, splice, key, auto, cell_hash=cell_hash)
            path = self._write(reduced, plan, replacing=old)
            result = self._result("rewritten", plan, path)
            if self.apply:
                result.apply = self._upgrade(rev_id)
            return result

        at_head = rev_id in heads
        if self.autogenerate:
            if not at_head:
                if same_cell:
                    self.notes.append(
                        f"The model was not compared: revisions above {rev_id} are applied to the database."
                    )
                    return self._unchanged(old, key, cell_hash, old_ops)
            else:
                now = self._autogenerate(script, "head", False, check_only=True)
                if same_cell and now.empty:
                    return self._unchanged(old, key, cell_hash, old_ops)
        what = "The model changed" if self.autogenerate and same_cell else "The cell changed"
        if not self.apply or not at_head:
            where = ", ".join(heads) or "base"
            hint = (
                "Run the cell with --apply to downgrade it with the applied code, rewrite it and upgrade again"
                if at_head
                else f"Downgrade the database to {rev_id} first (it is at {where})"
            )
            raise NbmigrateError(
                f"{what}, but revision {rev_id} ({Path(old.path).name}) is already applied to this database. "
                f"{hint}; or put the new change in a new revision (a new cell). Nothing was written."
            )
        return self._reapply(script, reduced, old, key, parents, head_arg, splice, cell_hash, heads)

    def _reapply(
        self,
        script: ScriptDirectory,
        reduced: ScriptDirectory,
        old: Script,
        key: tuple[str, ...],
        parents: tuple[str, ...],
        head_arg: str,
        splice: bool,
        cell_hash: str,
        heads: tuple[str, ...],
    ) -> CellResult:
        """Downgrade with the applied code, rewrite, upgrade with the new code."""
        rev_id = old.revision
        target = f"{rev_id}@-1"
        steps, _ = commands._call(self.project, lambda: _internals.downgrade_steps(script, target, heads))
        if [s.revision.revision for s in steps] != [rev_id]:
            raise NbmigrateError(
                f"Cannot re-apply {rev_id}: downgrading it would also undo other revisions. Nothing was written."
            )
        plan = None
        if not self.autogenerate:
            plan = self._plan(rev_id, parents, head_arg, splice, key, None, cell_hash=cell_hash)
        if not self._file_has_downgrade(Path(old.path)):
            raise NbmigrateError(
                f"The cell changed, but the applied revision {rev_id} ({Path(old.path).name}) has an empty "
                "downgrade(): undoing it would leave what its upgrade made in the database, under the new code. "
                f"Downgrade it by hand first (e.g. drop what it created, then `%migrate stamp {rev_id}@-1`), "
                "or put the change in a new revision (a new cell). Nothing was written."
            )
        check_replaceable(script, Path(old.path))  # before the downgrade: the rewrite would be refused after it
        down = self._downgrade(target)
        try:
            if plan is None:
                auto = self._autogenerate(reduced, head_arg, splice)
                self._refuse_empty(auto, rev_id)
                plan = self._plan(rev_id, parents, head_arg, splice, key, auto, cell_hash=cell_hash)
            path = self._write(reduced, plan, replacing=old)
        except NbmigrateError as exc:
            self.project.invalidate()
            try:
                self._upgrade(rev_id, note="", restoring=True)
                state = f"The database was upgraded to {rev_id} again with the old code."
            except NbmigrateError as again:
                state = f"Upgrading {rev_id} again with the old code failed too: {again}"
            raise NbmigrateError(f"{exc} {state}") from None
        result = self._result("reapplied", plan, path)
        result.downgrade = down
        result.apply = self._upgrade(rev_id)
        return result

    # -- pieces ----------------------------------------------------------------------------------

    def _cell_hash(self, parents: tuple[str, ...]) -> str:
        return _cell_hash(
            self.code,
            message=self.message,
            parents=parents,
            branch_label=self.branch_label,
            depends_on=self.depends_on,
            version_path=self.version_path,
            autogenerate=self.autogenerate,
        )

    def _plan(
        self,
        rev_id: str,
        parents: tuple[str, ...],
        head_arg: str,
        splice: bool,
        key: tuple[str, ...],
        auto: _Auto | None,
        *,
        cell_hash: str | None = None,
    ) -> _Plan:
        if key[0] == "message":
            key = ("message", self.message, _parent_name(parents))
        return _plan(
            code=self.code,
            auto=auto,
            rev_id=rev_id,
            message=self.message,
            parents=parents,
            head=head_arg,
            splice=splice,
            branch_label=self.branch_label,
            depends_on=self.depends_on,
            version_path=self.version_path,
            key=key,
            cell_hash=cell_hash or self._cell_hash(parents),
            slots=self.slots,
        )

    def _refuse_empty(self, auto: _Auto | None, rev_id: str) -> None:
        if auto is not None and auto.empty and self.code.empty:
            raise NbmigrateError(
                f"Autogenerate found no differences between {self.metadata_name} and the database at the parent of "
                f"{rev_id}, and the cell has no code of its own: the revision would be empty. Nothing was written."
            )

    def _autogenerate(self, script: ScriptDirectory, head_arg: str, splice: bool, *, check_only: bool = False) -> _Auto:
        auto = _autogenerate(
            self.project,
            script,
            self.metadata,
            {
                "message": self.message,
                "head": head_arg,
                "splice": splice,
                "branch_label": self.branch_label,
                "version_path": self.version_path,
                "rev_id": self.rev_id,
                "depends_on": self.depends_on,
            },
        )
        if not check_only:
            if auto.output.strip():
                self.output.append(auto.output)
            self.warnings.extend(auto.warnings)
        return auto

    def _write(self, script: ScriptDirectory, plan: _Plan, *, replacing: Script | None = None) -> Path:
        path, output, warnings = _write(self.project, script, plan, replacing=replacing)
        self.output.extend(output)
        self.warnings.extend(warnings)
        _state(self.project).records[plan.key] = _Record(plan.rev_id, plan.cell_hash, plan.ops_hash)
        return path

    def _db_heads(self, rev_id: str) -> tuple[str, ...]:
        heads, reason = commands._db_heads(self.project)
        if heads is None:
            raise NbmigrateError(
                f"The cell changed, and whether revision {rev_id} is applied cannot be read: {reason}. Nothing was written."
            )
        return heads

    def _upgrade(self, rev_id: str, *, note: str | None = None, restoring: bool = False) -> MigrationResult:
        """Upgrade to the cell's revision; ``restoring`` puts back code that was applied before (not linted again)."""
        accept = self.accept_risk or restoring
        try:
            result = commands.upgrade(self.project, rev_id, schema=self.schema, progress=self.progress, accept_risk=accept)
        except RiskyMigration as exc:
            heads, _ = commands._db_heads(self.project)
            where = ", ".join(heads) if heads else ("base" if heads is not None else "unknown")
            raise RiskyMigration(
                f"{exc}\nThe revision file was written but not applied (the database is at {where}): run the cell "
                "with --accept-risk to apply it as it is, or rewrite it the safe way and run it again.",
                exc.result,
            ) from None
        except NbmigrateError as exc:
            if note is None:
                note = "The revision file was written; fix the cell and run it again (it rewrites the same revision)."
            raise _with_note(exc, note) from exc.__cause__
        assert isinstance(result, MigrationResult)
        return result

    def _downgrade(self, target: str) -> MigrationResult:
        try:
            result = commands.downgrade(self.project, target, schema=self.schema, progress=self.progress)
        except NbmigrateError as exc:
            raise _with_note(exc, "The revision was not rewritten.") from exc.__cause__
        assert isinstance(result, MigrationResult)
        return result

    def _unchanged(self, old: Script, key: tuple[str, ...], cell_hash: str, ops: str | None) -> CellResult:
        _state(self.project).records[key] = _Record(old.revision, cell_hash, ops)
        path = Path(old.path).resolve()
        result = CellResult(
            command="%%revision",
            revision=old.revision,
            path=str(path),
            source=self._source(path),
            status="unchanged",
            message=(old.doc or "").strip(),
            down_revision=_parents(old),
            downgrade_empty=self.code.downgrade is None and not self._file_has_downgrade(path),
            autogenerated=self.autogenerate,
            notes=list(self.notes),
            output="".join(self.output),
            warnings=list(self.warnings),
        )
        if self.apply:
            result.apply = self._upgrade(old.revision)
        return result

    def _file_has_downgrade(self, path: Path) -> bool:
        """Whether the file's downgrade() does anything (for a result that wrote nothing)."""
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError):
            return True
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == "downgrade":
                body = [n for n in node.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
                return not all(isinstance(n, ast.Pass) for n in body)
        return False

    def _source(self, path: Path) -> str:
        try:
            return self.project.redact(path.read_text(encoding="utf-8"))
        except OSError:
            return ""

    def _risks(self, rev_id: str, parents: tuple[str, ...]) -> list[Any]:
        """The lint's warnings and errors for the revision just written (none when it cannot be linted)."""
        if len(parents) > 1:  # a merge point: its operations are its own, but "parent:rev" is no range
            return []
        from .lint import lint

        try:
            linted = lint(self.project, f"{parents[0] if parents else 'base'}:{rev_id}")
        except NbmigrateError:
            return []
        return [f for f in linted.for_revision(rev_id) if f.severity in ("error", "warning") and not f.allowed]

    def _result(self, status: str, plan: _Plan, path: Path) -> CellResult:
        return CellResult(
            risks=self._risks(plan.rev_id, plan.parents),
            command="%%revision",
            revision=plan.rev_id,
            path=str(path),
            source=self._source(path),
            status=status,
            message=plan.message,
            down_revision=plan.parents,
            downgrade_empty=plan.downgrade_empty,
            autogenerated=self.autogenerate,
            notes=list(self.notes),
            output="".join(self.output),
            warnings=list(self.warnings),
        )


def _with_note(exc: NbmigrateError, note: str) -> NbmigrateError:
    """A failed upgrade or downgrade: the migration's report, plus what became of the cell's file."""
    text = f"{exc}\n{note}".strip()
    return MigrationFailed(text, exc.report) if isinstance(exc, MigrationFailed) else type(exc)(text)
