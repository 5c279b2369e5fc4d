"""The public surface: exactly these names, a Project method behind every ``%migrate`` verb."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path
from typing import Any

import alembic.command
import pytest

import nbmigrate
from nbmigrate import commands, errors
from nbmigrate.parser import command_names
from nbmigrate import Project

PUBLIC = [
    "BadArguments",
    "ConnectionFailed",
    "Interrupted",
    "LockTimeout",
    "MigrationFailed",
    "NbmigrateError",
    "NbmigrateWarning",
    "Project",
    "ProjectNotFound",
    "RevisionProblem",
    "RiskyMigration",
    "__version__",
    "diff",
    "load_ipython_extension",
    "schema_at",
    "snapshot",
]


def verbs() -> list[str]:
    return command_names()


def test_all_is_pinned() -> None:
    assert nbmigrate.__all__ == PUBLIC
    for name in PUBLIC:
        assert getattr(nbmigrate, name) is not None
    assert isinstance(nbmigrate.__version__, str)


def test_the_verbs_are_alembics_plus_nbmigrates() -> None:
    alembic_verbs = {
        "init", "revision", "upgrade", "downgrade", "current", "history", "heads", "branches", "show",
        "stamp", "merge", "check", "ensure_version", "list_templates", "edit",
    }
    assert alembic_verbs | {"connect", "graph", "schema"} <= set(verbs())


@pytest.mark.parametrize("verb", verbs())
def test_each_verb_has_a_project_method(verb: str) -> None:
    method = getattr(Project, verb, None)
    assert callable(method), f"Project has no {verb}()"
    assert (method.__doc__ or "").strip(), f"Project.{verb} has no docstring"
    assert callable(getattr(commands, verb)), f"nbmigrate.commands has no {verb}()"


@pytest.mark.parametrize(
    "verb",
    ["init", "revision", "upgrade", "downgrade", "current", "history", "heads", "branches", "show",
     "stamp", "merge", "check", "ensure_version", "list_templates", "edit"],
)
def test_commands_take_alembics_arguments(verb: str) -> None:
    """``nbmigrate.commands.X(project, ...)`` accepts every argument of ``alembic.command.X(config, ...)``."""
    theirs = list(inspect.signature(getattr(alembic.command, verb)).parameters)[1:]
    ours = inspect.signature(getattr(commands, verb)).parameters
    if verb == "stamp":  # the command line's name for it, as the parser produces
        theirs = ["revisions" if p == "revision" else p for p in theirs]
    assert list(ours)[0] == "project"
    assert [p for p in theirs if p not in ours] == []
    assert (getattr(commands, verb).__doc__ or "").strip()


def test_project_methods_accept_the_same_options() -> None:
    """Project methods pass their options through: e.g. merge(..., splice=True), upgrade(..., tag=...)."""
    for verb in ("upgrade", "downgrade", "stamp", "revision", "merge", "history", "heads", "branches", "current"):
        params = inspect.signature(getattr(Project, verb)).parameters
        assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()), verb
    for verb in ("show", "edit", "check", "ensure_version", "list_templates", "init", "connect"):
        ours = set(inspect.signature(getattr(Project, verb)).parameters) - {"self"}
        theirs = set(inspect.signature(getattr(commands, verb)).parameters) - {"project"}
        assert theirs <= ours, verb


def test_error_tree() -> None:
    for name in ("ProjectNotFound", "BadArguments", "RevisionProblem", "ConnectionFailed", "LockTimeout", "MigrationFailed"):
        error = getattr(nbmigrate, name)
        assert issubclass(error, nbmigrate.NbmigrateError) and error is getattr(errors, name)
    assert issubclass(nbmigrate.NbmigrateError, Exception)
    assert not issubclass(nbmigrate.NbmigrateError, (SystemExit, KeyboardInterrupt))


def test_snapshot_and_diff(tmp_path: Path) -> None:
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 's.db'}"
    before = nbmigrate.snapshot(url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    engine.dispose()
    after = nbmigrate.snapshot(url)
    changes = nbmigrate.diff(before, after)
    assert changes.added_tables == ["t"] and changes.removed_tables == []


def test_load_ipython_extension_registers_the_magics(shell: Any) -> None:
    ip = shell
    ip.run_line_magic("load_ext", "nbmigrate")  # again is harmless
    assert "migrate" in ip.magics_manager.magics["line"]
    assert "revision" in ip.magics_manager.magics["cell"]
    magics = ip.magics_manager.registry["MigrateMagics"]
    for trait in ("config_file", "graph_engine", "show_schema", "lock_timeout"):
        assert magics.traits()[trait].metadata.get("config"), trait


def test_importing_nbmigrate_is_light_and_engines_need_no_ipython() -> None:
    code = (
        "import sys, nbmigrate, nbmigrate.project, nbmigrate.commands, nbmigrate.parser, nbmigrate.results, "
        "nbmigrate.errors, nbmigrate._cache, nbmigrate._runtime\n"
        "assert 'IPython' not in sys.modules, 'engine modules import IPython'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    light = subprocess.run(
        [sys.executable, "-c", "import sys, nbmigrate; print('alembic.command' in sys.modules, 'IPython' in sys.modules)"],
        check=True, capture_output=True, text=True,
    )
    assert light.stdout.split() == ["False", "False"]


def test_a_project_closes_at_the_end_of_a_with_block(here: Path) -> None:
    with Project() as project:
        project.init()
        project.connect(f"sqlite:///{here / 'app.db'}")
        engine = project.engine()
        assert project.engine() is engine  # kept warm inside the block
    assert project.engine() is not engine  # closed: made again when needed
    project.close()


def test_cache_info_counts_loads_and_scans(here: Path) -> None:
    project = Project()
    project.init()
    assert project.cache_info() == nbmigrate.project.CacheInfo(loads=0, scans=0, change_detection=None)
    project.change_detection = "stat"
    project.heads()
    project.heads()
    info = project.cache_info()
    assert (info.loads, info.scans, info.change_detection) == (1, 2, "stat")
    with pytest.raises(AttributeError):
        info.loads = 5  # type: ignore[misc]
