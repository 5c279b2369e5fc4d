"""The ``%%revision`` line: Alembic's ``revision`` parser with nbmigrate's options, and :class:`CellOptions`."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from ..errors import BadArguments
from ..parser import Invocation, parse_args, split_line, tame
from ..results import HelpResult


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
        tame(parser)
        _PARSER = parser
    return _PARSER


def parse_line(line: str) -> CellOptions | HelpResult:
    """Parse a ``%%revision`` line; ``--help`` gives a :class:`HelpResult`.

    Raises :class:`BadArguments` when the line does not parse.
    """
    argv = split_line(line)  # as `%migrate` reads its line: quotes, and a `# comment` left out
    ns = parse_args(_line_parser(), argv)
    if isinstance(ns, str):
        return HelpResult(command="%%revision --help", text=ns)
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
