"""The engine: :func:`revision_cell` and :func:`run_cell`, and the flow that creates, re-runs or re-applies a cell's revision."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import _cache, _internals, _runtime, engine, revisions
from .._files import check_message, check_replaceable
from ..errors import BadArguments, NbmigrateError, RevisionProblem
from ..parser import Invocation, resolve_metadata
from ..project import Project
from ..results import HelpResult
from .code import split_cell
from .history import (
    _all_scripts,
    _check_branch_label,
    _check_splice,
    _lookup,
    _parent_name,
    _parents,
    _resolve_parent,
    _template_slots,
    _without,
)
from .memory import _key_digest, _marker, _state
from .options import parse_line
from .result import CellResult
from .steps import Progress, _CellSteps

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory


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
    with _runtime.LOCK:  # one cell at a time, also against widget callbacks
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


class _CellRun(_CellSteps):
    """The flow: recognise the cell, then create its revision, or re-run or re-apply it."""

    # -- entry ---------------------------------------------------------------------------

    def run(self) -> CellResult:
        revisions.check_rev_id(self.rev_id)
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
        script = engine.script_directory(self.project)
        self.slots = _template_slots(script)
        if "upgrades" not in self.slots:
            raise NbmigrateError(
                f"The project's script.py.mako ({Path(script.dir) / 'script.py.mako'}) has no ${{upgrades}} slot "
                "for the cell's code. Nothing was written."
            )
        if self.version_path is not None:
            revisions.check_version_path(script, self.version_path)
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
            revisions.check_new_id(script, self.rev_id)  # taken by a revision this cell did not make
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
            revisions.check_new_id(script, self.rev_id)
        _check_branch_label(script, self.branch_label)
        revisions.check_depends_on(self.project, script, self.depends_on)
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
            revisions.check_new_id(script, rev_id)
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
        revisions.check_depends_on(self.project, reduced, self.depends_on)
        cell_hash = self._cell_hash(parents)
        same_cell = cell_hash == old_cell

        if not self.autogenerate and same_cell:
            return self._unchanged(old, key, cell_hash, old_ops)
        heads = self._db_heads(rev_id)
        applied = rev_id in _cache.applied(script.revision_map, heads)

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
        steps, _ = engine.run_contained(self.project, lambda: _internals.downgrade_steps(script, target, heads))
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
