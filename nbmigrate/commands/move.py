"""The verbs that move the database: ``upgrade`` (linted first), ``downgrade``, ``stamp``, each one call of :func:`nbmigrate.run.migrate`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import _internals
from ..engine import offline, run_downgrade, run_stamp, run_upgrade
from ..errors import BadArguments, Interrupted, NbmigrateError, RiskyMigration
from ..run import Progress, migrate
from ..project import Project
from ..results import MigrationResult, SqlResult



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

    if sql and preview:
        raise BadArguments("--preview runs the migration and rolls it back; --sql only writes its SQL. Pick one.")
    if sql:
        result = offline(project, f"upgrade {revision} --sql", lambda script: run_upgrade(project.config, script, revision, sql=True, tag=tag))
        result.lint = _risk(project, revision, preview=False, refuse=False).get("lint")
        return result
    if ":" in revision:
        raise BadArguments("A range (a:b) needs --sql; to upgrade the database, give one target, e.g. `upgrade head`.")
    linted: dict[str, Any] = {}
    migrated = migrate(
        project, "upgrade", revision,
        plan=lambda script, heads: _internals.upgrade_steps(script, revision, heads),
        run=lambda script: run_upgrade(project.config, script, revision, tag=tag),
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
    from ..lint import check_upgrade, read_policy

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

    if sql and preview:
        raise BadArguments("--preview runs the migration and rolls it back; --sql only writes its SQL. Pick one.")
    if sql:
        if ":" not in revision:
            raise BadArguments("downgrade --sql needs a range <fromrev>:<torev>, e.g. `downgrade head:base --sql`.")
        return offline(project, f"downgrade {revision} --sql", lambda script: run_downgrade(project.config, script, revision, sql=True, tag=tag))
    if ":" in revision:
        raise BadArguments("A range (a:b) needs --sql; to downgrade the database, give one target, e.g. `downgrade -1`.")
    return migrate(
        project, "downgrade", revision,
        plan=lambda script, heads: _internals.downgrade_steps(script, revision, heads),
        run=lambda script: run_downgrade(project.config, script, revision, tag=tag),
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
        return offline(project, f"stamp {label} --sql", lambda script: run_stamp(project.config, script, list(targets), sql=True, tag=tag, purge=purge))
    return migrate(
        project, "stamp", label,
        plan=lambda script, heads: _internals.stamp_steps(script, targets, () if purge else heads),
        run=lambda script: run_stamp(project.config, script, list(targets), tag=tag, purge=purge),
        preview=False, schema=schema, progress=None,
        # Where the stamp left the database: nothing left to stamp from there (purge or not).
        remaining=lambda script, heads: _internals.stamp_steps(script, targets, heads),
    )
