"""``--autogenerate``: the kernel's MetaData compared with the database through env.py, rendered by Alembic."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import _internals, engine
from ..errors import NbmigrateError
from ..project import Project
from .memory import _digest

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory


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
        _, capture = engine.run_contained(project, run)
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
