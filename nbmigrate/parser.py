"""The ``%migrate`` command line: Alembic's own argument parser, in-process, plus nbmigrate's verbs.

Alembic generates its parser from the signatures of ``alembic.command`` functions; nbmigrate
takes that parser as it is (so ``head``, ``-r a:b``, ``--sql``, ``--tag``, ... mean exactly what
they mean to the ``alembic`` command), registers its own verbs the same way (``connect``,
``graph``, ``schema``), and makes argparse raise :class:`BadArguments` instead of exiting.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import io
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import BadArguments
from .project import Project


class _Exit(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


# nbmigrate's own verbs: like Alembic's commands, their signature is their command line.


def connect(config: Any, target: str) -> None:
    """Point this kernel at another database: a URL, or the name of a variable holding a URL,
    an Engine or a Connection. Nothing is written to disk."""


def graph(config: Any, rev_range: str | None = None) -> None:
    """Draw the revision graph with what this database has applied."""


def schema(config: Any) -> None:
    """Show the database's tables: columns, keys, indexes, constraints and row counts."""


def diff(config: Any, start: str, end: str, sql: bool = False) -> None:
    """Compare the schema at two points of history (e.g. `base head`, `-1 head`, `0002 current`), replayed on a scratch database."""


def test(config: Any) -> None:
    """Round-trip every revision (upgrade, downgrade, upgrade) on a scratch database: each downgrade must give back the schema before."""


def squash(config: Any, rev_range: str, message: str | None = None) -> None:
    """Replace the revisions after A up to B (a range A:B) by one revision with B's id, proved equal on scratch databases."""


def erd(config: Any) -> None:
    """Draw the database's tables (or the schema at a revision, --at) as an ER diagram: columns, keys, foreign keys."""


def lint(config: Any) -> None:
    """Say what the pending revisions (or a RANGE) will lock and rewrite on this database, and the safe way to do each."""


_OWN_VERBS = (connect, graph, schema, diff, test, squash, erd, lint)
_COMMANDS: set[str] = set()


def _build() -> argparse.ArgumentParser:
    from alembic.config import CommandLine

    cli = CommandLine(prog="%migrate")
    for verb in _OWN_VERBS:
        cli.register_command(verb)
    choices: dict[str, argparse.ArgumentParser] = cli.subparsers.choices  # type: ignore[assignment]
    choices["schema"].add_argument("tables", nargs="*", help="only these tables")
    choices["schema"].add_argument("--db-schema", dest="db_schema", help="database schema (PostgreSQL), default: the default schema")
    choices["erd"].add_argument("tables", nargs="*", help="only these tables (and stubs of the tables they refer to)")
    choices["erd"].add_argument("--at", metavar="REV", help="the schema at this revision, replayed on a scratch database")
    choices["erd"].add_argument("--engine", choices=["graphviz-pure", "dot"], help="graphviz program that lays the diagram out")
    choices["schema"].add_argument("--at", metavar="REV", help="the schema at this revision (any target: head, -1, current, ...), replayed on a scratch database")
    choices["squash"].add_argument(
        "--accept-data-code", dest="accept_data_code", action="store_true",
        help="squash although the revisions move data (op.execute, bulk_insert): that code is listed, to carry over by hand",
    )
    choices["lint"].add_argument(
        "rev_range", nargs="?", metavar="RANGE",
        help="[start]:[end], or one target (from where the database is to there); default: the pending revisions",
    )
    choices["upgrade"].add_argument(
        "--accept-risk", dest="accept_risk", action="store_true",
        help="upgrade although a revision has a lint finding at the fail level (the findings are still shown)",
    )
    choices["test"].add_argument(
        "rev_range", nargs="?", metavar="RANGE", help="[start]:[end] of the revisions to check (default: all; those below start are applied unchecked)",
    )
    for action in choices["diff"]._actions:
        if action.dest in ("start", "end"):
            action.help = "a point of history: any revision target (base, head, -1, an id, branch@head, current)"
    choices["graph"].add_argument("--engine", choices=["graphviz-pure", "dot"], help="graphviz program that lays the graph out")
    choices["graph"].add_argument(
        "--collapse", type=int, metavar="N",
        help="fold linear runs of more than N revisions into one node, expandable (0: never; default: 12 above 100 revisions)",
    )
    choices["graph"].add_argument("--save", metavar="PATH", help="also write the graph to PATH, an .svg file (as a saved notebook shows it)")
    # `%migrate init` with no folder makes `migrations`, from nbmigrate's template (SQLite default).
    for action in choices["init"]._actions:
        if action.dest == "directory":
            action.nargs, action.default = "?", "migrations"
        elif action.dest == "template":
            action.default = "nbmigrate"
            action.help = "Setup template for use with 'init' (default: nbmigrate; see list_templates)"
    for name in ("upgrade", "downgrade"):
        choices[name].add_argument(
            "--preview", action="store_true",
            help="run inside a transaction, show what it would do, then roll back",
        )
    for name in ("upgrade", "downgrade", "stamp"):
        choices[name].add_argument("--no-schema", dest="no_schema", action="store_true", help="skip the schema before/after")
    for name in ("revision", "check", "test"):
        choices[name].add_argument(
            "--metadata", metavar="NAME",
            help="the kernel's MetaData to compare with, e.g. Base.metadata (default: a target_metadata variable)",
        )
    _COMMANDS.update(choices)
    parser = cli.parser
    parser.prog = "%migrate"
    for p in [parser, *choices.values()]:
        tame(p, commands=p is parser)
    return parser


def _error_for(parser: argparse.ArgumentParser, *, commands: bool) -> Callable[[str], None]:
    def error(message: str) -> None:
        # Only the top-level parser chooses a command; elsewhere it is an option's value.
        if commands and "invalid choice" in message:
            raise BadArguments(_suggest(message))
        usage = parser.format_usage().strip().replace("usage: ", "")
        raise BadArguments(f"{message}. Usage: {usage}")

    return error


def _suggest(message: str) -> str:
    bad = message.split("invalid choice: ", 1)[1].split(" ", 1)[0].strip("'\"")
    known = sorted(_COMMANDS)
    close = difflib.get_close_matches(bad, known, n=1)
    hint = f" Did you mean `{close[0]}`?" if close else ""
    return f"Unknown command {bad!r}.{hint} Commands: {', '.join(known)}."


def _exit(status: int = 0, message: str | None = None) -> None:
    raise _Exit(status, message or "")


def tame(parser: argparse.ArgumentParser, *, commands: bool = False) -> None:
    """Make ``parser`` raise :class:`BadArguments` (with its usage) instead of printing and exiting."""
    parser.error = _error_for(parser, commands=commands)  # type: ignore[method-assign]
    parser.exit = _exit  # type: ignore[method-assign, assignment]


def parse_args(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace | str:
    """The namespace of ``argv``, or the help text when the words ask for ``--help``.

    For a parser made with :func:`tame`; a line that does not parse raises :class:`BadArguments`.
    Both magics read their lines through here.
    """
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            return parser.parse_args(argv)
    except _Exit as exc:
        if exc.status == 0:
            return out.getvalue() or exc.text
        raise BadArguments(exc.text.strip() or out.getvalue().strip()) from None


_PARSER: argparse.ArgumentParser | None = None


def _parser() -> argparse.ArgumentParser:
    global _PARSER
    if _PARSER is None:
        _PARSER = _build()
    return _PARSER


def command_names() -> list[str]:
    """The commands a ``%migrate`` line takes, sorted: Alembic's and nbmigrate's own."""
    _parser()
    return sorted(_COMMANDS)


@dataclass
class Invocation:
    """A parsed ``%migrate`` line: the command, its arguments, and the project options."""

    command: str
    arguments: dict[str, Any] = field(default_factory=dict)
    config: list[str] | None = None
    name: str = "alembic"
    x: list[str] = field(default_factory=list)
    raiseerr: bool = False
    help_text: str | None = None


def split_line(line: str) -> list[str]:
    """The words of a magic line, as a POSIX shell reads them; raise :class:`BadArguments` if it cannot.

    IPython hands a magic the rest of its line, a trailing ``# comment`` included, so a line
    pasted with its comment is read as a shell reads it: an unquoted ``#`` that starts a word
    begins a comment, while a ``#`` inside a word (a password in ``postgresql://u:pa#ss@h/db``)
    or inside quotes (``-m "fix #12"``) is kept. A NUL byte can be part of no path, URL, name or
    message, so it is refused here, before anything uses it.
    """
    try:
        words = shlex.split(_before_comment(line))
    except ValueError as exc:
        raise BadArguments(f"Cannot split the line: {exc}. Check the quotes.") from None
    if any("\x00" in word for word in words):
        raise BadArguments("The line holds a NUL byte (\\x00), which no path, URL, name or message can hold: remove it.")
    return words


def _before_comment(line: str) -> str:
    """``line`` without its comment, if it has one; quotes are only followed (shlex checks them)."""
    quote: str | None = None
    word_starts = True
    i = 0
    while i < len(line):
        char = line[i]
        if quote is not None:
            if char == quote:
                quote = None
            elif char == "\\" and quote == '"':  # `\"` does not close a double-quoted string
                i += 1
        elif char == "#" and word_starts:
            return line[:i]
        elif char == "\\":  # the next character is literal, even a space or a `#`
            i += 1
        elif char in "'\"":
            quote = char
        word_starts = quote is None and char in " \t\r\n"
        i += 1
    return line


def parse(line: str) -> Invocation:
    """Parse a ``%migrate`` line with Alembic's grammar; raise :class:`BadArguments` if it does not parse."""
    argv = split_line(line)
    parser = _parser()
    if not argv:
        return Invocation(command="help", help_text=parser.format_help())
    argv, raiseerr = _take_raiseerr(argv, parser)
    options = parse_args(parser, argv)
    if isinstance(options, str):
        return Invocation(command="help", help_text=options)
    if not hasattr(options, "cmd"):
        raise BadArguments(f"Name a command. Usage: {parser.format_usage().strip().replace('usage: ', '')}")
    fn, positional, kwarg = options.cmd
    arguments = {k: getattr(options, k, None) for k in (*positional, *kwarg)}
    for extra in ("preview", "no_schema", "tables", "db_schema", "at", "rev_range", "accept_data_code", "accept_risk", "engine", "metadata", "collapse", "save"):
        if hasattr(options, extra):
            arguments[extra] = getattr(options, extra)
    return Invocation(
        command=fn.__name__,
        arguments=arguments,
        config=options.config,
        name=options.name,
        x=options.x or [],
        raiseerr=options.raiseerr or raiseerr,
    )


def _take_raiseerr(argv: list[str], parser: argparse.ArgumentParser) -> tuple[list[str], bool]:
    """Accept ``--raiseerr`` after the command too (``%migrate upgrade head --raiseerr``).

    Alembic only takes it before the command; in a notebook it is natural to add it at the end.
    A ``--raiseerr`` that is the value of an option (``-m --raiseerr``) is left alone.
    """
    choices: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            choices = dict(action.choices)
    takes_value = {
        option
        for p in [parser, *choices.values()]
        for action in p._actions
        if action.nargs != 0
        for option in action.option_strings
    }
    kept: list[str] = []
    found = command_seen = False
    for token in argv:
        value_of_option = bool(kept) and kept[-1] in takes_value
        if token == "--raiseerr" and command_seen and not value_of_option:
            found = True
            continue
        command_seen = command_seen or (token in choices and not value_of_option)
        kept.append(token)
    return kept, found


def run_line(
    line: str,
    *,
    project: Project | None = None,
    projects: Callable[[Invocation], Project] | None = None,
    namespace: Mapping[str, Any] | None = None,
    progress: Any = None,
    defaults: Mapping[str, Any] | None = None,
) -> Any:
    """Parse and run one ``%migrate`` line; returns the command's result object.

    ``project`` is used as is; otherwise ``projects(invocation)`` picks it from the line's
    ``-c/-n/-x`` options. ``namespace`` resolves ``connect NAME`` and ``--metadata NAME``.
    """
    invocation = parse(line)
    return dispatch(invocation, project=project, projects=projects, namespace=namespace, progress=progress, defaults=defaults)


def dispatch(
    invocation: Invocation,
    *,
    project: Project | None = None,
    projects: Callable[[Invocation], Project] | None = None,
    namespace: Mapping[str, Any] | None = None,
    progress: Any = None,
    defaults: Mapping[str, Any] | None = None,
) -> Any:
    """Run a parsed line on its project."""
    from .results import HelpResult

    if invocation.command == "help":
        return HelpResult(command="help", text=invocation.help_text or "")
    if project is None:
        if projects is not None:
            project = projects(invocation)
        else:
            project = Project(invocation.config, name=invocation.name, x=invocation.x)
    result = _run(invocation, project, namespace=namespace, progress=progress, defaults=defaults)
    # A clash in the revision files is repeated on every result until it is fixed.
    warnings = getattr(result, "warnings", None)
    if isinstance(warnings, list):
        warnings.extend(p for p in project.script_problems if p not in warnings)
    return result


def _run(
    invocation: Invocation,
    project: Project,
    *,
    namespace: Mapping[str, Any] | None,
    progress: Any,
    defaults: Mapping[str, Any] | None,
) -> Any:
    from . import commands

    defaults = defaults or {}
    args = dict(invocation.arguments)
    name = invocation.command
    show_schema = not args.pop("no_schema", False) and defaults.get("schema", True)

    def runner(line: str) -> Any:
        # The graph widget's actions run through this same dispatcher, on the same project.
        return dispatch(parse(line), project=project, namespace=namespace, defaults=defaults)

    if name == "connect":
        return commands.connect(project, resolve_target(args["target"], namespace))
    if name == "graph":
        project.require()
        collapse = args.get("collapse")
        if collapse is not None and collapse < 0:
            raise BadArguments("--collapse takes a number of revisions (0 folds nothing), e.g. `--collapse 5`.")
        return commands.graph(
            project, rev_range=args.get("rev_range"), engine=args.get("engine") or defaults.get("graph_engine"),
            run=runner, collapse=collapse, save=args.get("save"),
        )
    if name == "schema":
        if not project.connected or args.get("at") is not None:  # the database is the project's: there must be one
            project.require()
        return commands.schema(project, tables=args.get("tables") or (), db_schema=args.get("db_schema"), at=args.get("at"))
    if name == "diff":
        project.require()
        return commands.diff(project, args["start"], args["end"], sql=args["sql"])
    if name == "erd":
        project.require()
        return commands.erd(project, args.get("tables") or (), at=args.get("at"), engine=args.get("engine") or defaults.get("graph_engine"))
    if name == "lint":
        project.require()
        return commands.lint(project, args.get("rev_range"))
    if name == "squash":
        project.require()
        return commands.squash(project, args["rev_range"], args.get("message"), accept_data_code=args.get("accept_data_code", False))
    if name == "test":
        project.require()
        named = args.get("metadata")
        metadata = resolve_metadata(named, namespace) if named is not None else None
        return commands.test(project, args.get("rev_range"), metadata=metadata)
    if name in ("upgrade", "downgrade"):
        options = {"accept_risk": args.get("accept_risk", False)} if name == "upgrade" else {}
        fn = getattr(commands, name)
        return fn(project, args["revision"], sql=args["sql"], tag=args["tag"], preview=args.pop("preview", False), schema=show_schema,
                  progress=progress, **options)
    if name == "stamp":
        return commands.stamp(project, args["revisions"], sql=args["sql"], tag=args["tag"], purge=args["purge"], schema=show_schema)
    if name not in _ALEMBIC_COMMANDS:
        raise BadArguments(f"{name!r} is not a command nbmigrate runs.")
    if name != "init" and name != "list_templates":
        project.require()
    if name in ("check", "revision"):
        # Autogenerate compares the kernel's models: --metadata NAME, or a target_metadata variable.
        named = args.pop("metadata", None)
        if named is not None and name == "revision" and not args.get("autogenerate"):
            raise BadArguments("--metadata names the model for --autogenerate; add --autogenerate, or drop --metadata.")
        if named is not None or (namespace is not None and "target_metadata" in namespace):
            if name == "check" or args.get("autogenerate"):
                args["metadata"] = resolve_metadata(named, namespace)
    return getattr(commands, name)(project, **{k: v for k, v in args.items() if k not in ("preview", "tables", "db_schema", "at", "engine")})


_ALEMBIC_COMMANDS = frozenset(
    "init revision upgrade downgrade current history heads branches show stamp merge check "
    "ensure_version list_templates edit".split()
)


def resolve_target(target: str, namespace: Mapping[str, Any] | None) -> Any:
    """``connect NAME``: a variable of the kernel when one has that name, else the text as a URL."""
    if namespace is not None and target.isidentifier() and target in namespace:
        return namespace[target]
    if "://" not in target and ":" not in target:
        raise BadArguments(
            f"{target!r} is neither a database URL (e.g. sqlite:///file.db) nor a variable of this kernel."
        )
    return target


def resolve_metadata(name: str | None, namespace: Mapping[str, Any] | None) -> Any:
    """The ``MetaData`` named by ``--metadata`` (a dotted name in the kernel), or ``target_metadata``."""
    namespace = namespace or {}
    if name is None:
        value = namespace.get("target_metadata")
        if value is None:
            raise BadArguments(
                "No MetaData for --autogenerate: name it with --metadata (e.g. `--metadata Base.metadata`), "
                "or set `target_metadata = Base.metadata` in the notebook."
            )
        return _as_metadata(value, "target_metadata")
    first, *rest = name.split(".")
    if not first.isidentifier() or first not in namespace:
        raise BadArguments(f"--metadata {name}: there is no variable {first!r} in this kernel. Run the cell that defines it first.")
    value = namespace[first]
    for i, part in enumerate(rest, 1):
        try:
            value = getattr(value, part)
        except AttributeError:
            where = ".".join([first, *rest[: i - 1]])
            raise BadArguments(f"--metadata {name}: {where} has no attribute {part!r}.") from None
    return _as_metadata(value, name)


def _as_metadata(value: Any, name: str) -> Any:
    from sqlalchemy import MetaData

    if isinstance(value, MetaData):
        return value
    if isinstance(getattr(value, "metadata", None), MetaData):  # a declarative Base
        return value.metadata
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, MetaData) for v in value):
        return list(value)
    raise BadArguments(f"--metadata {name} is a {type(value).__name__}, not a MetaData (e.g. `--metadata Base.metadata`).")
