"""Setting a project up: ``init``, ``list_templates``, ``connect``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..engine import captured_warnings, output_text, run_contained
from ..errors import BadArguments
from ..paths import relative_path
from ..project import TEMPLATE_DIR, Project
from ..results import ConnectResult, InitResult, TextResult



def init(project: Project, directory: str = "migrations", template: str = "nbmigrate", package: bool = False) -> InitResult:
    """Create a migration environment whose database is a SQLite file beside it."""
    import alembic.command

    config = project.config_for_init()
    template_arg = str(TEMPLATE_DIR) if template == "nbmigrate" else template
    target, given = _init_target(project, directory)
    existed = project.ini_path.is_file()

    def run() -> None:
        alembic.command.init(config, str(given), template=template_arg, package=package)

    _, capture = run_contained(project, run)
    project.invalidate()
    return _init_result(project, directory, target, capture, existed=existed, own_template=template == "nbmigrate")


def _init_target(project: Project, directory: str) -> tuple[Path, Path]:
    """The folder ``init`` makes, and the path to give Alembic for it; refused with a message when it cannot be."""
    if "\x00" in str(directory):
        raise BadArguments("The folder's name holds a NUL byte (\\x00), which no path can hold: remove it. Nothing was written.")
    target = Path(directory)
    if not target.is_absolute():
        # Like `alembic -c conf/alembic.ini init DIR`: DIR is relative to where we run, not to the ini.
        target = (project.directory or Path.cwd()) / target
    _check_init_folder(project, target, directory)
    if not project.ini_path.parent.is_dir():
        raise BadArguments(
            f"The folder of {relative_path(project.ini_path)} does not exist: create it first, or give -c a "
            "path in an existing folder. Nothing was written."
        )

    # A relative directory lets Alembic write `script_location = %(here)s/...` (and the SQLite
    # URL beside it), so the project still works when its folder is moved or cloned.
    given = target if Path(directory).is_absolute() else Path(os.path.relpath(target))
    return target, given


def _init_result(project: Project, directory: str, target: Path, capture: Any, *, existed: bool, own_template: bool) -> InitResult:
    """What ``init`` wrote, and what the project uses now."""
    files = sorted(str(p.relative_to(target.parent)) for p in target.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    warnings = captured_warnings(project, capture)
    if not existed:
        files.insert(0, project.ini_path.name)
    elif project.exists:
        # Alembic leaves an existing ini alone: the project does not use the new folder yet.
        location = project.config.file_config.get(project.name, "script_location", raw=True, fallback=None)
        warnings.append(
            f"{relative_path(project.ini_path)} already existed and was left unchanged: this project "
            f"still uses script_location = {location}. Edit it to use {relative_path(target)}, or run "
            f"`%migrate -c NEW.ini init {directory}` for a separate project."
        )
    output = output_text(project, capture)
    if own_template:  # its URL needs no edit: leave out Alembic's reminder to make one
        output = "".join(line for line in output.splitlines(keepends=True) if not line.startswith("Please edit"))
    return InitResult(
        command=f"init {directory}",
        directory=relative_path(target),
        config_file=relative_path(project.ini_path),
        database=project.display_url,
        files=files,
        output=output,
        warnings=warnings,
    )


def _check_init_folder(project: Project, target: Path, directory: str) -> None:
    """``init`` makes a folder: refuse a name that is a file already, or the config file's own."""
    if target.exists() and not target.is_dir():
        raise BadArguments(
            f"{directory} is a file, not a folder: give `init` the name of a new folder (default: migrations). "
            "Nothing was written."
        )
    if target.resolve() == project.ini_path.resolve():
        # Alembic would make the folder and then find "the config file" there, and skip writing it.
        raise BadArguments(
            f"{directory} is the name of the project's config file: give `init` another folder "
            "(default: migrations). Nothing was written."
        )


def list_templates(project: Project) -> TextResult:
    """List the environment templates ``init`` can use."""
    import alembic.command

    config = project.config_for_init()
    _, capture = run_contained(project, lambda: alembic.command.list_templates(config))
    text = capture.text.strip() + "\n\nnbmigrate - nbmigrate's own template (the default for %migrate init)"
    return TextResult(command="list_templates", title="Available templates", text=text)


def connect(project: Project, target: Any) -> ConnectResult:
    """Point this kernel at another database (a URL, Engine or Connection); nothing is written."""
    previous = project._override
    project.use(target)

    def run() -> tuple[str, tuple[str, ...]]:
        with project.connection() as conn:
            return conn.dialect.name, (project.current_heads(conn) if project.exists else ())

    try:
        (dialect, heads), capture = run_contained(project, run)
    except BaseException:
        # A database that cannot be reached is not switched to: the kernel stays where it was.
        if previous is None:
            project.disconnect()
        else:
            project.use(previous)
        raise
    return ConnectResult(
        command="connect", database=project.display_url, dialect=dialect, heads=heads, warnings=captured_warnings(project, capture)
    )
