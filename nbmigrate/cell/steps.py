"""The steps a cell's run is made of: hashing, planning, autogenerating, writing, upgrading, the result."""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import commands, engine
from ..errors import MigrationFailed, NbmigrateError, RiskyMigration
from ..project import Project
from ..results import MigrationResult
from .autogen import _Auto, _autogenerate
from .history import _parent_name, _parents
from .memory import _Record, _cell_hash, _state
from .result import CellResult
from .write import _Plan, _plan, _write

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory

    from .code import CellCode

Progress = Callable[[int, int, str], None]


@dataclass
class _CellSteps:
    """One cell's run: its arguments, and the steps the flow in :mod:`.run` is made of."""

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

    if TYPE_CHECKING:  # set by _CellRun.run
        code: CellCode
        slots: set[str]

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
        heads, reason = engine.database_heads(self.project)
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
            heads, _ = engine.database_heads(self.project)
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
        from ..lint import lint

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
