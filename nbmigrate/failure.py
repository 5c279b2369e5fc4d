"""What a failed or interrupted migration left behind, said exactly: the failure report.

:func:`report_failure` reads the database once more (under the run's lock) and says which
revisions completed, which statements of the failed one ran and which were rolled back, and
what ``alembic_version`` says now; :func:`step_result` turns one of Alembic's steps into a
:class:`~nbmigrate.results.Step`.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from . import _runtime
from .engine import captured_warnings, error_text, output_text, raise_translated
from .errors import BadArguments, Interrupted, MigrationFailed
from .project import Project
from .results import FailureReport, Step


def step_result(project: Project, kind: str, event: _runtime.StepEvent) -> Step:
    step = event.step
    is_upgrade = getattr(step, "is_upgrade", kind == "upgrade")
    revision = getattr(getattr(step, "revision", None), "revision", "") or ""
    if kind == "stamp":
        direction = "stamp"
    else:
        direction = "upgrade" if is_upgrade else "downgrade"
    doc = getattr(step, "doc", None) or ""
    return Step(
        revision=revision,
        from_revisions=tuple(getattr(step, "from_revisions", ()) or ()),
        to_revisions=tuple(getattr(step, "to_revisions", ()) or ()),
        message=project.redact(doc.strip()),
        direction=direction,
        duration=(event.finished or event.started) - event.started,
        sql=shown_sql(project, event.sql),
    )


# What Alembic reads of the catalog while it migrates (batch mode on SQLite reflects each table
# it rebuilds): not the migration's own SQL.
_INTROSPECTION = re.compile(
    r"^\s*(PRAGMA\b|SELECT\b.*\bFROM\s+(\"?sqlite_(temp_)?master\b|\"?pg_catalog\.|pg_[a-z_]+\b|"
    r"information_schema\.|\"?sqlite_schema\b))",
    re.IGNORECASE | re.DOTALL,
)


def shown_sql(project: Project, statements: Sequence[str]) -> list[str]:
    """The statements a migration ran, as shown: its own (no catalog reads), trimmed, passwords masked."""
    return [project.redact(sql.strip()) for sql in statements if not _INTROSPECTION.match(sql)]


def step_line(kind: str, step: Any) -> str:
    """A step as the progress line shows it: ``upgrade base → 0001: create user``."""
    direction = "stamp" if kind == "stamp" else ("upgrade" if getattr(step, "is_upgrade", kind == "upgrade") else "downgrade")
    src = ", ".join(getattr(step, "from_revisions", ()) or ()) or "base"
    dst = ", ".join(getattr(step, "to_revisions", ()) or ()) or "base"
    doc = (getattr(step, "doc", None) or "").strip()
    return f"{direction} {src} → {dst}" + (f": {doc}" if doc else "")


def report_failure(
    project: Project,
    kind: str,
    target: str,
    state: dict[str, Any],
    capture: _runtime.Capture,
    error: BaseException,
) -> None:
    """Raise a translated error; a failure while migrating becomes :class:`MigrationFailed`.

    What the database kept is not guessed from the dialect: the run's journal (see
    :func:`nbmigrate.locks.watch_commits`) says which statements were committed, explicitly, by an
    ``autocommit_block``, by MySQL's implicit commit before DDL or by a ``COMMIT`` of the
    migration's own, on whichever connection the migration ran, and ``alembic_version`` is read back.
    """
    from sqlalchemy.exc import OperationalError

    from .errors import LockTimeout

    if isinstance(error, BadArguments):
        raise error  # nbmigrate refused (e.g. a preview meeting autocommit_block): already rolled back
    interrupted = isinstance(error, KeyboardInterrupt)
    if (
        isinstance(error, OperationalError) and state.get("dialect") == "sqlite" and not capture.steps
        and "database is locked" in str(error.orig)
    ):
        raise LockTimeout(
            f"Gave up after {project.lock_timeout:g} s waiting for another connection writing to "
            f"{project.display_url}. Nothing was run. Try again once it has finished, or wait longer: "
            "`%config MigrateMagics.lock_timeout = 300` (from Python: `project.lock_timeout = 300`)."
        ) from None
    if interrupted and "before" not in state:
        # Stopped before reading the database, e.g. while waiting for another run's lock.
        raise Interrupted(f"Interrupted before anything ran: {project.display_url} is unchanged.") from None
    if "before" not in state or (not capture.steps and not interrupted):
        raise_translated(project, error)
    steps = [step_result(project, kind, e) for e in capture.steps]
    failed = steps[-1] if steps else None
    journal = state.get("journal")
    if interrupted and error.__cause__ is None and journal is not None:
        journal.drop_unsent()  # the statement Ctrl-C stopped the run before: it never reached the database
    statement = getattr(error, "statement", None) or getattr(error.__cause__, "statement", None)
    if statement is None and journal is not None:
        # The statement in flight when the run stopped, if the failed step had one (an error the
        # run handled, like MySQL's DESCRIBE of a missing version table, is no such statement).
        last = journal.statements[-1] if journal.statements else None
        if last is not None and not last.ran and capture.steps and capture.steps[-1].sql[-1:] == [last.sql]:
            statement = last.sql
    elif statement is None:
        statement = capture.failed_statement
    reason = "interrupted (KeyboardInterrupt)" if interrupted else error_text(error)
    heads_after: tuple[str, ...] | None = state.get("heads_after")
    if heads_after is None:
        try:
            with project.connection() as conn:
                heads_after = project.current_heads(conn)
        except Exception:
            heads_after = None
    before = state["before"]
    transactional = capture.transactional_ddl
    raw = [e.sql for e in capture.steps]
    entries = journal.tail([sql for step_sql in raw for sql in step_sql]) if journal is not None else None
    notes: list[str] = []
    committed: list[str] = []  # what earlier, unfinished revisions committed: said in the message too
    if entries is not None:
        from .locks import transaction_control

        # Split the journal's verdicts back into the steps they belong to; a COMMIT or BEGIN is
        # no effect of its own to list.
        per_step, at = [], 0
        for step_sql in raw:
            per_step.append([(sql, kept) for sql, kept in entries[at : at + len(step_sql)] if not transaction_control(sql)])
            at += len(step_sql)
        kept_any = any(kept for step_entries in per_step for _, kept in step_entries)
        rolled_back = not kept_any and heads_after is not None and set(heads_after) == set(before)
        completed = [step for step, step_entries in zip(steps[:-1], per_step[:-1]) if all(k for _, k in step_entries)]
        for step, step_entries in zip(steps[:-1], per_step[:-1]):
            kept_sql = [project.redact(sql).strip() for sql, kept in step_entries if kept]
            if step in completed or not kept_sql:
                continue
            # A revision that committed part of itself (a COMMIT of its own) and lost the rest.
            lost = [project.redact(sql).strip() for sql, kept in step_entries if not kept]
            committed.append(
                f"Statements of {step.revision} that were committed before the failure and remain: "
                f"{'; '.join(kept_sql)}. Its other statements were rolled back with the failure: {'; '.join(lost)}"
            )
        failed_entries = per_step[-1] if per_step else []
        partial = [project.redact(sql) for sql, kept in failed_entries if kept]
        undone = [project.redact(sql).strip() for sql, kept in failed_entries if not kept and sql != statement]
        if not rolled_back and undone:
            notes.append(
                f"Statements of {failed.revision if failed else 'the run'} that ran but were rolled back "
                f"with the failure: {'; '.join(undone)}"
            )
        if not rolled_back and transactional:
            notes.append(
                f"{state.get('dialect', '')} rolled back the failure's open transaction; what is listed as "
                "completed or remaining had been committed before it (by an autocommit block or a commit "
                "of the migration's own)."
            )
    else:  # the run used another connection (e.g. an env.py of its own): judge by the heads
        rolled_back = bool(transactional) and heads_after is not None and set(heads_after) == set(before)
        completed = [] if rolled_back else steps[:-1]
        partial = [] if failed is None or rolled_back else [s for s in failed.sql if s != statement]
    report = FailureReport(
        command=f"{kind} {target}",
        database=project.display_url,
        dialect=state.get("dialect", ""),
        transactional_ddl=transactional,
        revision=failed.revision if failed else None,
        message=failed.message if failed else None,
        statement=project.redact(statement) if statement else None,
        error=project.redact(reason),
        heads_before=before,
        heads_after=heads_after,
        rolled_back=rolled_back,
        completed=[] if rolled_back else completed,
        partial_sql=partial,
        interrupted=interrupted,
        output=output_text(project, capture),
        warnings=[*([capture.interrupt] if capture.interrupt else []), *notes, *committed, *captured_warnings(project, capture)],
    )
    lines = report.summary().splitlines()
    if committed:  # the summary lists the failed revision's remains; these are of earlier ones
        at = len(lines) - 1 if lines[-1].startswith("Next:") else len(lines)
        lines[at:at] = committed
    raise MigrationFailed("\n".join(lines), report) from error  # `--raiseerr` shows the database's error
