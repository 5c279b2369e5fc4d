"""``python -m nbmigrate``: nbmigrate's checks outside notebooks, for CI.

    python -m nbmigrate lint [RANGE] [-c alembic.ini] [-n NAME] [-x KEY=VALUE] [--url URL]
                             [--format text|json|github]
    python -m nbmigrate lint --rules [--format text|json|markdown]
    python -m nbmigrate test [RANGE] [--metadata module:Base.metadata] [-c alembic.ini] [--url URL]
                             [--format text|json]

Exit status: 0 when nothing fails, 1 when a check fails (a lint finding at the project's fail
level, a revision whose downgrade does not give back the schema before it), 2 on a usage error (bad arguments, no project, an unknown revision).

Each subcommand is a function registered in :data:`COMMANDS`: it adds its parser (with
``set_defaults(run=...)``) and its ``run`` returns the exit status. The project options
(``-c``, ``-n``, ``-x``, ``--url``) are shared by all of them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

USAGE_ERROR = 2
FAILED = 1


def _project_options(parser: argparse.ArgumentParser) -> None:
    """The options that find the project and its database, as the ``alembic`` command line has them."""
    parser.add_argument("-c", "--config", action="append", help="alembic.ini or pyproject.toml (default: as alembic finds it)")
    parser.add_argument("-n", "--name", default="alembic", help="the ini section (default: alembic)")
    parser.add_argument("-x", action="append", default=[], metavar="KEY=VALUE", help="passed to env.py, as alembic -x")
    parser.add_argument("--url", help="the database to read (instead of the config's sqlalchemy.url); never written to disk")


def project_from(args: argparse.Namespace) -> Any:
    """The :class:`~nbmigrate.Project` the shared options name, connected to ``--url`` if given."""
    from . import Project

    config = args.config[0] if args.config and len(args.config) == 1 else args.config
    project = Project(config, name=args.name, x=args.x)
    if args.url:
        project.use(args.url)
    return project


# -- lint ---------------------------------------------------------------------------------------


def _add_lint(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "lint", help="what each pending revision will lock and rewrite, and the safe recipe",
        description="Lint revisions before they run: locks, rewrites, backward-incompatible changes, safe recipes.",
    )
    parser.add_argument("rev_range", nargs="?", metavar="RANGE",
                        help="base:head, a:b, or a target (default: the revisions pending in the database)")
    parser.add_argument("--format", choices=("text", "json", "github", "markdown"), default="text",
                        help="text (default), json, github (workflow annotations); markdown only with --rules")
    parser.add_argument("--rules", action="store_true", help="print the rule table instead of linting")
    _project_options(parser)
    parser.set_defaults(run=_run_lint)


def _run_lint(args: argparse.Namespace, out: Any) -> int:
    from .lint import RULES, lint

    if args.rules:
        from .render.lint import rules_markdown, rules_text

        if args.format == "json":
            import json

            rows = [{"code": r.code, "name": r.name, "severity": r.severity, "dialects": list(r.dialects),
                     "message": r.message, "explanation": r.explanation, "recipe": r.recipe,
                     "backward_incompatible": r.backward_incompatible} for r in RULES]
            out.write(json.dumps(rows, indent=2) + "\n")
        else:
            out.write((rules_markdown(RULES) if args.format == "markdown" else rules_text(RULES) + "\n"))
        return 0
    if args.format == "markdown":
        raise _Usage("--format markdown is for --rules; lint results are text, json or github")
    result = lint(project_from(args), args.rev_range)
    if args.format == "json":
        out.write(result.to_json() + "\n")
    elif args.format == "github":
        annotations = result.github()
        out.write((annotations + "\n" if annotations else "") + str(result).splitlines()[0] + "\n")
    else:
        out.write(str(result) + "\n")
    return result.exit_code


# -- test ---------------------------------------------------------------------------------------


def _add_test(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "test", help="round-trip every revision (upgrade, downgrade, upgrade) on a scratch database",
        description="Replay every revision up, down and up again on a scratch database of the project's dialect: "
                    "each downgrade must give back the schema before it; one head; no depends_on cycle.",
    )
    parser.add_argument("rev_range", nargs="?", metavar="RANGE", help="[start]:[end] of the revisions to check (default: all)")
    parser.add_argument("--metadata", metavar="MODULE:NAME",
                        help="the models to compare with the schema at the end, e.g. myapp.models:Base.metadata")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json")
    _project_options(parser)
    parser.set_defaults(run=_run_test)


def _metadata(spec: str) -> Any:
    """``module:attr.path`` imported: a MetaData, or a declarative Base (its ``.metadata``)."""
    import importlib

    from .parser import resolve_metadata

    module, _, name = spec.partition(":")
    if not module or not name:
        raise _Usage(f"--metadata takes MODULE:NAME, e.g. myapp.models:Base.metadata, not {spec!r}")
    try:
        namespace = vars(importlib.import_module(module))
    except ImportError as exc:
        raise _Usage(f"--metadata {spec}: cannot import {module} ({exc})") from None
    return resolve_metadata(name, namespace)


def _run_test(args: argparse.Namespace, out: Any) -> int:
    import json

    metadata = _metadata(args.metadata) if args.metadata else None
    project = project_from(args)
    project.require()
    result = project.test(args.rev_range, metadata=metadata)
    if args.format == "json":
        steps = [{"revision": s.revision, "ok": s.ok, "problem": s.problem, "path": s.path, "line": s.line, "note": s.note}
                 for s in result.steps]
        checks = [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in result.checks]
        out.write(json.dumps({"ok": result.ok, "dialect": result.dialect, "range": result.rev_range,
                              "steps": steps, "checks": checks}, indent=2) + "\n")
    else:
        out.write(str(result) + "\n")
    return 0 if result.ok else FAILED


COMMANDS: list[Callable[[Any], None]] = [_add_lint, _add_test]


class _Usage(Exception):
    """A usage error found after parsing."""


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand in :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(prog="python -m nbmigrate", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in COMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None, out: Any = None) -> int:
    """Run one subcommand; return the exit status (see the module docstring)."""
    from .errors import NbmigrateError

    out = out or sys.stdout
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    try:
        return int(args.run(args, out))
    except _Usage as exc:
        parser.print_usage(sys.stderr)
        print(f"python -m nbmigrate {args.command}: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except NbmigrateError as exc:
        print(f"python -m nbmigrate {args.command}: {exc}", file=sys.stderr)
        return USAGE_ERROR


if __name__ == "__main__":
    raise SystemExit(main())
