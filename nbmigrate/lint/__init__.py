"""Before a migration runs, say what it will lock and rewrite, and the safe way to do it.

``lint(project, rev_range)`` renders each revision of the range offline (the SQL ``--sql`` would
write, :mod:`.collect`), parses every statement with sqlglot (:mod:`.parse`), checks it against
the rules (:mod:`.rules`, :mod:`.checks`) for the dialect and server version, sizes the findings
by the connected database's tables (:mod:`.size`) and returns a :class:`LintResult`, riskiest
finding first. ``check_upgrade`` is what ``upgrade`` asks before it runs.

Layers, each importing only those below it: ``report`` → ``size`` → ``collect`` → ``analyze`` →
``checks`` → ``parse`` → ``rules``; :mod:`.policy` reads the project's settings and marker comments.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..project import Project
    from .analyze import Finding, RevisionStatements, Statement, analyse
    from .policy import Policy, read_markers, read_policy
    from .report import LintResult
    from .rules import RULES, Effect, Rule, rule

# Where each public name lives; imported on first use (the result class is registered for
# rendering by nbmigrate.render.results, which must not pay for the whole linter).
_LAZY = {
    "Finding": "analyze", "RevisionStatements": "analyze", "Statement": "analyze", "analyse": "analyze",
    "Policy": "policy", "read_markers": "policy", "read_policy": "policy", "LintResult": "report",
    "RULES": "rules", "Effect": "rules", "Rule": "rules", "rule": "rules",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nbmigrate.lint' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value

__all__ = [
    "RULES", "Effect", "Finding", "LintResult", "Policy", "RevisionStatements", "Rule", "Statement",
    "analyse", "check_upgrade", "lint", "read_markers", "read_policy", "rule",
]


def lint(project: Project, rev_range: str | None = None) -> LintResult:
    """Lint the revisions of ``rev_range`` (default: those pending in the connected database).

    ``rev_range`` is Alembic's grammar: ``base:head``, ``a:b``, or one target (``head``, ``+1``,
    ``abc123``), which means from where the database is now to there.
    """
    from .analyze import analyse
    from .collect import collect
    from .policy import read_policy
    from .report import LintResult
    from .size import DatabaseFacts, riskiest_first, size_findings

    policy = read_policy(project)
    warnings: list[str] = []
    with contextlib.ExitStack() as stack:
        conn = _connect(project, stack, warnings)
        theirs = conn is not None and conn.in_transaction()  # a Connection lent mid-transaction: leave it be
        heads = _heads(project, conn, warnings)
        start, destination, label = _range(rev_range, heads, warnings)
        collection = collect(project, start, destination, label=label)
        dialect, version = _server(project, conn, policy, warnings)
        facts = DatabaseFacts(conn, dialect, nested=theirs) if conn is not None else None
        findings = analyse(collection.revisions, dialect, version, facts=facts, preamble=collection.preamble,
                           disabled=policy.disable)
        findings = size_findings(findings, facts)
        if conn is not None and not theirs and conn.in_transaction():
            conn.rollback()  # the facts were read in a transaction of their own; end it (SQLite holds a lock)
    order = [r.revision for r in collection.revisions]
    return LintResult(
        command=f"lint {label}".strip(), findings=riskiest_first(findings, order), revisions=collection.revisions,
        dialect=dialect, server_version=version, database=project.display_url, rev_range=label, policy=policy,
        sized=facts is not None, output=collection.output, warnings=warnings + collection.warnings,
    )


def check_upgrade(project: Project, revision: str = "head", *, accept_risk: bool = False) -> LintResult:
    """Lint what ``upgrade revision`` would apply; raise :class:`~nbmigrate.errors.RiskyMigration` if it must not run.

    With ``accept_risk`` nothing is raised: the result still lists the findings (for the upgrade's
    output). The refusal names the riskiest blocking finding, its revision and file, and the recipe.
    """
    from ..errors import RiskyMigration

    result = lint(project, revision)
    if not accept_risk and not result.ok:
        raise RiskyMigration(result.refusal(), result)
    return result


def _connect(project: Project, stack: contextlib.ExitStack, warnings: list[str]) -> Any:
    """A connection to the project's database, or ``None`` (with the reason in ``warnings``)."""
    from ..errors import NbmigrateError, translate

    if project.url is None and not project.exists:
        return None
    try:
        return stack.enter_context(project.connection())
    except NbmigrateError as exc:
        warnings.append(f"database not read ({exc}): no sizes, server version assumed")
    except Exception as exc:  # a database that is down must not stop a lint
        mapped = translate(exc, project.redact)
        why = str(mapped) if mapped else project.redact(f"{type(exc).__name__}: {exc}")
        warnings.append(f"database not read ({why}): no sizes, server version assumed")
    return None


def _heads(project: Project, conn: Any, warnings: list[str]) -> tuple[str, ...] | None:
    if conn is None:
        return None
    try:
        return project.current_heads(conn)
    except Exception as exc:  # noqa: BLE001 - the lint goes on from base
        warnings.append(project.redact(f"the version table could not be read ({type(exc).__name__}: {exc})"))
        return None


def _range(rev_range: str | None, heads: tuple[str, ...] | None, warnings: list[str]) -> tuple[Any, str, str]:
    """(start, destination, label) of a range as Alembic's ``upgrade`` reads it."""
    if rev_range and ":" in rev_range:
        start, _, destination = rev_range.partition(":")
        return (start or "base"), (destination or "heads"), rev_range
    destination = rev_range or "heads"
    if heads is None:
        warnings.append(f"the database's revision is unknown: linting every revision up to {destination}")
        return "base", destination, f"base:{destination}"
    label = f"{','.join(heads) or 'base'}:{destination}"
    return (heads or "base"), destination, label


def _server(project: Project, conn: Any, policy: Any, warnings: list[str]) -> tuple[str, tuple[int, ...] | None]:
    """The dialect's name (``mariadb`` apart from ``mysql``) and the server version to judge for."""
    import sqlite3

    if conn is not None:
        dialect = conn.dialect.name
        version = tuple(conn.dialect.server_version_info or ()) or None
        if dialect == "mysql" and getattr(conn.dialect, "is_mariadb", False):
            dialect = "mariadb"
    else:
        url = project.url
        dialect = url.get_backend_name() if url is not None else "sqlite"
        version = None
        if dialect == "mysql" and policy.mariadb:
            dialect = "mariadb"
    if dialect == "sqlite":
        version = tuple(sqlite3.sqlite_version_info)  # the library that will run the migration
    if policy.server_version is not None and conn is None:
        version = policy.server_version
    if version is None:
        warnings.append(f"{dialect} server version unknown: judged for the newest releases "
                        "(set nbmigrate.lint.server_version)")
    return dialect, version
