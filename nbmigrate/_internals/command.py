"""What Alembic's commands read: the ``ScriptDirectory`` they build, an offline run's version writes, the command line's config files."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .versions import _fast, alembic_checked, alembic_private

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory


@contextlib.contextmanager
def serving(script: ScriptDirectory) -> Iterator[None]:
    """Let ``alembic.command`` functions use ``script`` instead of building their own.

    Alembic's commands start with ``ScriptDirectory.from_config(config)``, looked up in
    ``alembic.command``'s namespace (checked versions); while this is active that name returns
    the warm instance. nbmigrate runs one command at a time (see :mod:`nbmigrate._runtime`), so
    the swap cannot leak into another call. Elsewhere Alembic reads the files itself.
    """
    import alembic.command as command
    from alembic.script import ScriptDirectory

    if not (alembic_checked() and hasattr(command, "ScriptDirectory")):
        yield
        return

    class _Warm:
        def __getattr__(self, name: str) -> Any:
            return getattr(ScriptDirectory, name)

        @staticmethod
        def from_config(config: Any) -> ScriptDirectory:
            return script

    saved = command.ScriptDirectory
    command.ScriptDirectory = _Warm()  # type: ignore[assignment, misc]
    try:
        yield
    finally:
        command.ScriptDirectory = saved  # type: ignore[misc]


def skip_version_writes(context: Any) -> None:
    """Make an offline run's ``MigrationContext`` compile no writes to its version table.

    The writes go through ``context.impl._exec`` with the table ``context._version`` (checked
    versions); only this context's impl is changed. Elsewhere they are compiled as Alembic does.
    """
    impl = getattr(context, "impl", None)
    if impl is None or not alembic_private(context, "_version") or not alembic_private(impl, "_exec"):
        return
    version = context._version
    original = impl._exec

    def _exec(construct: Any, *args: Any, **kw: Any) -> Any:
        if getattr(construct, "table", None) is version:
            return None
        return original(construct, *args, **kw)

    impl._exec = _exec


def config_files(names: Sequence[str] | None, *, fast: bool | None = None) -> tuple[str, str]:
    """``(pyproject.toml, ini)`` the ``alembic`` command line reads for ``-c`` ``names`` and ``ALEMBIC_CONFIG``.

    ``CommandLine._inis_from_config`` (checked versions); else the same rules: ``ALEMBIC_CONFIG``
    names the default ini (or the default pyproject.toml, when so named), and each ``-c`` name is
    the pyproject.toml when so named, else the ini; at most one of each.
    """
    from argparse import Namespace

    from alembic.config import CommandLine

    if _fast(fast, CommandLine, "_inis_from_config"):
        return CommandLine._inis_from_config(None, Namespace(config=names))  # type: ignore[arg-type]
    from alembic.util import CommandError

    env = os.environ.get("ALEMBIC_CONFIG")
    toml_default, ini_default = "pyproject.toml", "alembic.ini"
    if env and os.path.basename(env) == "pyproject.toml":
        toml_default = env
    elif env:
        ini_default = env
    toml = ini = None
    for name in names or ():
        if os.path.basename(name) == "pyproject.toml":
            if toml is not None:
                raise CommandError("pyproject.toml indicated more than once")
            toml = name
        else:
            if ini is not None:
                raise CommandError("only one ini file may be indicated")
            ini = name
    return toml or toml_default, ini or ini_default
