"""The revision file to write (:class:`_Plan`: the template's slots, the marker) and writing or rewriting it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import engine
from .._files import check_inside, drop_bytecode, undone_on_failure
from ..errors import BadArguments, NbmigrateError
from ..project import Project
from .autogen import _Auto
from .code import CellCode
from .memory import MARKER, _key_digest

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory


@dataclass
class _Plan:
    rev_id: str
    message: str
    head: str
    splice: bool
    branch_label: str | None
    depends_on: list[str] | None
    version_path: str | None
    template: dict[str, str]
    parents: tuple[str, ...]
    key: tuple[str, ...]
    cell_hash: str
    ops_hash: str | None
    downgrade_empty: bool


def _plan(
    *,
    code: CellCode,
    auto: _Auto | None,
    rev_id: str,
    message: str,
    parents: tuple[str, ...],
    head: str,
    splice: bool,
    branch_label: str | None,
    depends_on: list[str] | None,
    version_path: str | None,
    key: tuple[str, ...],
    cell_hash: str,
    slots: set[str],
) -> _Plan:
    ops_hash = auto.digest if auto is not None else None
    marker = f"# {MARKER}: key={_key_digest(key)} cell={cell_hash}" + (f" ops={ops_hash}" if ops_hash else "")
    marker += " (written by %%revision: re-running the cell updates this file)"
    up_blocks = []
    down_blocks = []
    if auto is not None and not auto.empty:
        up_blocks.append("    " + auto.upgrades)
    if code.upgrade.strip():
        up_blocks.append(code.upgrade)
    if code.downgrade is not None:
        down_blocks.append(code.downgrade)
    if auto is not None and not auto.empty:
        down_blocks.append("    " + auto.downgrades)
    imports = [line for line in (auto.imports if auto is not None else []) if line not in code.imports.splitlines()]
    module_level = "\n".join([*imports, code.imports]).strip()
    if code.module:
        module_level = (module_level + "\n\n\n" if module_level else "") + code.module
    upgrades = "\n\n".join(up_blocks)[4:] if up_blocks else ""
    downgrades = "\n\n".join(down_blocks)[4:] if down_blocks else ""
    if "imports" in slots:
        template = {"imports": marker + ("\n" + module_level if module_level else "")}
    else:
        if module_level:
            raise NbmigrateError(
                "The project's script.py.mako has no ${imports} slot, so the cell's imports and module-level code "
                "have nowhere to go: move them into upgrade(), or add ${imports} to the template. Nothing was written."
            )
        upgrades = marker + "\n    " + (upgrades or "pass")
        template = {}
    if downgrades and "downgrades" not in slots:
        raise NbmigrateError("The project's script.py.mako has no ${downgrades} slot for the cell's downgrade(). Nothing was written.")
    template["upgrades"] = upgrades
    template["downgrades"] = downgrades
    _check_compiles(template)
    return _Plan(
        rev_id=rev_id,
        message=message,
        head=head,
        splice=splice,
        branch_label=branch_label,
        depends_on=depends_on,
        version_path=version_path,
        template=template,
        parents=parents,
        key=key,
        cell_hash=cell_hash,
        ops_hash=ops_hash,
        downgrade_empty=not downgrades,
    )


def _check_compiles(template: Mapping[str, str]) -> None:
    """The module the template will make, in outline, must compile (e.g. no `return` at module level)."""
    module = "\n".join(
        [
            "from alembic import op",
            "import sqlalchemy as sa",
            template.get("imports", ""),
            "def upgrade() -> None:",
            "    " + (template.get("upgrades") or "pass"),
            "def downgrade() -> None:",
            "    " + (template.get("downgrades") or "pass"),
        ]
    )
    try:
        compile(module, "<revision>", "exec")
    except SyntaxError as exc:
        text = (exc.text or "").strip()
        raise BadArguments(
            f"The cell cannot become a revision file: {exc.msg}" + (f" (`{text}`)" if text else "") + ". Nothing was written."
        ) from None


def _write(project: Project, script: ScriptDirectory, plan: _Plan, *, replacing: Script | None = None) -> tuple[Path, list[str], list[str]]:
    """Have Alembic write the file; on any failure leave the version folders as they were."""
    old_path = Path(replacing.path).resolve() if replacing is not None else None
    config = project.config

    def run() -> Any:
        return script.generate_revision(
            plan.rev_id,
            plan.message,
            head=plan.head,
            splice=plan.splice,
            branch_labels=plan.branch_label,
            version_path=plan.version_path,
            depends_on=plan.depends_on,
            config=config,
            **plan.template,
        )

    with undone_on_failure(script, project.invalidate, replacing=old_path):
        written, capture = engine.run_contained(project, run)
        if written is None:
            raise NbmigrateError("Alembic wrote no revision file (the template or a post-write hook removed it).")
        path = Path(written.path).resolve()
        check_inside(script, path)
    drop_bytecode(path)
    warnings = [project.redact(w) for w in capture.warnings]
    if old_path is not None and old_path != path:  # a new message, a new name (old_path is no link's target)
        with contextlib.suppress(OSError):
            old_path.unlink()
        drop_bytecode(old_path)
        if os.path.lexists(old_path):  # said only as found: a second file now defines the revision
            warnings.append(f"The old file {old_path} could not be removed: delete it, it defines {plan.rev_id} too.")
    if replacing is not None:
        project.invalidate()
    output = "".join(line for line in capture.text.splitlines(keepends=True) if not line.lstrip().startswith("Generating "))
    return path, [project.redact(output)] if output.strip() else [], warnings
