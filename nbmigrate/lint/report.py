"""The result of a lint: findings riskiest first, the revisions read, and the outputs for people and CI.

:class:`LintResult` renders as the other results do (HTML in a notebook, text in a terminal,
through :mod:`nbmigrate.render.lint`) and carries everything as attributes. For CI it writes JSON
(:meth:`LintResult.to_json`) and GitHub workflow annotations (:meth:`LintResult.github`); for
``upgrade`` it says what blocks a revision (:meth:`LintResult.blocking`) and the refusal to show
(:meth:`LintResult.refusal`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..masking import mask
from ..results import Result

if TYPE_CHECKING:  # imported when used: rendering any result registers this class (nbmigrate.render.results)
    from .analyze import Finding, RevisionStatements
    from .policy import Policy


def _default_policy() -> Policy:
    from .policy import Policy

    return Policy()


@dataclass(repr=False)
class LintResult(Result):
    """``lint``: what each revision in the range would lock and rewrite, and the safe recipes."""

    command: str
    findings: list[Finding]
    revisions: list[RevisionStatements]
    dialect: str
    server_version: tuple[int, ...] | None
    database: str = ""
    rev_range: str = ""
    policy: Policy = field(default_factory=_default_policy)
    sized: bool = False  # sizes were read from the database

    @property
    def ok(self) -> bool:
        """No finding at the fail level (``nbmigrate.lint.fail``) that a marker comment does not allow."""
        return not self.blocking()

    @property
    def exit_code(self) -> int:
        """1 when the lint fails (see :attr:`ok`), else 0: what ``python -m nbmigrate lint`` exits with."""
        return 0 if self.ok else 1

    def blocking(self) -> list[Finding]:
        """The findings that fail the lint (and make ``upgrade`` refuse without ``--accept-risk``), riskiest first."""
        return [f for f in self.findings if not f.allowed and self.policy.fails(f.severity)]

    def counts(self) -> dict[str, int]:
        """How many findings of each severity (allowed ones apart, as ``allowed``)."""
        out = {"error": 0, "warning": 0, "info": 0, "allowed": 0}
        for f in self.findings:
            out["allowed" if f.allowed else f.severity] += 1
        return out

    def for_revision(self, revision: str) -> list[Finding]:
        """The findings of one revision."""
        return [f for f in self.findings if f.revision == revision]

    def refusal(self, finding: Finding | None = None) -> str:
        """Why ``upgrade`` refuses: the finding (default: the riskiest that blocks), its revision and the recipe."""
        blocking = self.blocking()
        finding = finding or (blocking[0] if blocking else None)
        if finding is None:
            return ""
        where = _where(finding)
        lines = [
            f"Refusing to upgrade: revision {finding.revision}{where} {finding.severity} {finding.code} "
            f"{finding.name}: {finding.message}.",
            f"It takes {finding.lock}" + _consequence(finding) + "." if finding.lock else "",
            "Safe recipe:",
            *("    " + line for line in finding.recipe.splitlines()),
        ]
        others = [f for f in blocking if f is not finding]
        if others:
            lines.append(f"{len(others)} more finding(s) block this upgrade; `%migrate lint` lists them.")
        lines.append(
            f"To go ahead anyway: `# nbmigrate: allow {finding.code}` in the revision file, "
            "or upgrade with --accept-risk."
        )
        return "\n".join(line for line in lines if line)

    # -- machine-readable outputs -----------------------------------------------------------------

    def as_dict(self) -> dict[str, Any]:
        """Everything as plain data (what :meth:`to_json` writes)."""
        return {
            "ok": self.ok,
            "range": self.rev_range,
            "database": self.database,
            "dialect": self.dialect,
            "server_version": list(self.server_version) if self.server_version else None,
            "fail": self.policy.fail,
            "disabled": sorted(self.policy.disable),
            "counts": self.counts(),
            "findings": [_finding_dict(f) for f in self.findings],
            "revisions": [
                {"revision": r.revision, "path": _relative(r.path), "message": r.message,
                 "statements": len(r.statements), "error": r.error}
                for r in self.revisions
            ],
            "warnings": list(self.warnings),
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The result as JSON, passwords masked."""
        return mask(json.dumps(self.as_dict(), indent=indent))

    def github(self) -> str:
        """One GitHub Actions workflow command per finding (``::error file=...,line=...::message``)."""
        level = {"error": "error", "warning": "warning", "info": "notice"}
        lines = []
        for f in self.findings:
            kind = "notice" if f.allowed else level[f.severity]
            props = [f"file={_prop(_relative(f.path))}"] if f.path else []
            if f.line:
                props.append(f"line={f.line}")
            props.append(f"title={_prop(f'{f.code} {f.name}' + (' (allowed)' if f.allowed else ''))}")
            body = f"{f.revision}: {f.message}. Recipe: {f.recipe}"
            lines.append(f"::{kind} {','.join(props)}::{_data(body)}")
        return mask("\n".join(lines))


def _finding_dict(f: Finding) -> dict[str, Any]:
    size = f.size
    return {
        "code": f.code, "name": f.name, "severity": f.severity, "allowed": f.allowed,
        "revision": f.revision, "path": _relative(f.path), "line": f.line,
        "statement_index": f.statement_index, "statement": f.statement, "table": f.table,
        "lock": f.lock, "rewrites": f.rewrites, "scans": f.scans,
        "backward_incompatible": f.backward_incompatible, "message": f.message, "recipe": f.recipe,
        "size": None if size is None or not size.exists else
        {"rows": size.rows, "bytes": size.bytes, "estimated": size.estimated},
    }


def _relative(path: str) -> str:
    from ..paths import relative_path

    return relative_path(path).replace(os.sep, "/") if path else ""


def _where(f: Finding) -> str:
    if not f.path:
        return ""
    return f" ({_relative(f.path)}" + (f", line {f.line})" if f.line else ")")


_CONSEQUENCE = {
    "rewrites": "rewrites the table",
    "scans": "reads every row while it holds it",
    "breaks": "breaks application code that is still running",
}


def _consequence(f: Finding) -> str:
    parts = [_CONSEQUENCE[e] for e in f.effects]
    return (" and " + " and ".join(parts)) if parts else ""


def _data(text: str) -> str:
    """A workflow command's message, escaped as GitHub reads it."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    """A workflow command's property value, escaped."""
    return _data(text).replace(":", "%3A").replace(",", "%2C")
