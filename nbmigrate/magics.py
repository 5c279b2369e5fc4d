"""The IPython side: ``%migrate`` and ``%%revision``, settings for ``%config``, and the error boundary.

This module is the only one that imports IPython. It parses nothing itself (see
:mod:`nbmigrate.parser`) and knows no Alembic: it picks the project, shows progress, and turns
:class:`~nbmigrate.errors.NbmigrateError` into a one-line ``UsageError`` (``--raiseerr`` keeps
the traceback).
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class
from traitlets import Bool, CFloat, Enum, Unicode

from ._watch import CHANGE_DETECTION
from .errors import NbmigrateError
from .parser import Invocation, dispatch, parse
from .project import Project


@magics_class
class MigrateMagics(Magics):
    """``%migrate <alembic command line>`` and ``%%revision``."""

    config_file = Unicode(
        "", help="Alembic config (alembic.ini or pyproject.toml) used when a line gives no -c/--config."
    ).tag(config=True)
    graph_engine = Enum(
        ["graphviz-pure", "dot"], "graphviz-pure",
        help="Program that lays out the revision graph: 'graphviz-pure' (bundled) or 'dot'.",
    ).tag(config=True)
    show_schema = Bool(True, help="Show the schema before/after on upgrade, downgrade and stamp.").tag(config=True)
    lock_timeout = CFloat(60.0, help="Seconds to wait for another run's database lock.").tag(config=True)
    change_detection = Enum(
        list(CHANGE_DETECTION), "auto",
        help="How a warm kernel learns that revision files changed: 'auto' (the kernel's inotify "
        "events on local filesystems, a stat of every file on NFS, SMB, FUSE, WSL2's /mnt/c and "
        "other shares), 'inotify' (the events on any filesystem), 'stat' (every file, every time).",
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._projects: dict[tuple[Any, ...], Project] = {}

    # -- projects ----------------------------------------------------------------------

    def project_for(self, invocation: Invocation) -> Project:
        """The kernel's project for a line's -c/-n (one per config and section, kept warm).

        ``-x`` belongs to one line, not to a project: the same project (its ``connect``ed database,
        its warm revision map) runs the line with that line's ``-x`` values.
        """
        config = invocation.config or ([self.config_file] if self.config_file else None)
        project = Project(config, name=invocation.name, x=invocation.x)
        key = (str(project.ini_path.resolve()), str(project.toml_path.resolve()), project.name)
        known = self._projects.get(key)
        if known is None:
            self._projects[key] = known = project
        known.x = tuple(invocation.x)
        known.lock_timeout = self.lock_timeout
        known.change_detection = self.change_detection
        return known

    @property
    def project(self) -> Project:
        """The project a bare ``%migrate`` line works on."""
        return self.project_for(Invocation(command=""))

    # -- magics ------------------------------------------------------------------------

    @line_magic
    def migrate(self, line: str) -> Any:
        """Run an Alembic command line in this kernel: ``%migrate upgrade head``.

        Every ``alembic`` command and option works (``-c``, ``-n``, ``-x``, ``--sql``, ``-r a:b``,
        ...), plus ``connect``, ``graph`` and ``schema``. ``%migrate --help`` lists them.
        """
        raiseerr = "--raiseerr" in line.split()
        try:
            invocation = parse(line)
            raiseerr = raiseerr or invocation.raiseerr
            with _Progress(self.shell) as progress:
                return dispatch(
                    invocation,
                    projects=self.project_for,
                    namespace=self.shell.user_ns if self.shell is not None else None,
                    progress=progress,
                    defaults={"schema": self.show_schema, "graph_engine": self.graph_engine},
                )
        except NbmigrateError as exc:
            if not raiseerr:
                raise _usage_error(exc) from None
            error = exc
        raise _real_error(error)

    @line_cell_magic
    def revision(self, line: str, cell: str | None = None) -> Any:
        """Turn this cell into an Alembic revision: ``%%revision -m "add column" [--apply]``."""
        from .cell import run_cell

        raiseerr = "--raiseerr" in line.split()
        try:
            with _Progress(self.shell) as progress:
                return run_cell(
                    line,
                    cell or "",
                    projects=self.project_for,
                    namespace=self.shell.user_ns if self.shell is not None else {},
                    progress=progress,
                    cell_id=_cell_id(self.shell),
                    defaults={"schema": self.show_schema},
                )
        except NbmigrateError as exc:
            if not raiseerr:
                raise _usage_error(exc) from None
            error = exc
        raise _real_error(error)


def _real_error(exc: NbmigrateError) -> BaseException:
    """What ``--raiseerr`` shows: the error Alembic, SQLAlchemy or a revision file raised, when
    nbmigrate translated one (its traceback intact), else nbmigrate's own error."""
    cause = exc.__cause__
    return cause if cause is not None and not isinstance(cause, NbmigrateError) else exc


def _usage_error(exc: NbmigrateError) -> UsageError:
    """The one message a user sees; IPython hides the traceback only for ``UsageError`` itself."""
    return UsageError(str(exc))


def _cell_id(shell: Any) -> str | None:
    """The front end's id of the running cell, when the kernel knows it (Jupyter does)."""
    try:
        kernel = getattr(shell, "kernel", None)
        header = kernel.get_parent().get("metadata", {}) if kernel is not None else {}
        return header.get("cellId")
    except Exception:
        return None


class _Progress:
    """Shows 'step n of N' while a multi-step migration runs, then removes itself."""

    def __init__(self, shell: Any = None) -> None:
        from .render._html import notebook_front_end

        self.handle: Any = None
        # Only where a front end updates the progress line in place.
        self.enabled = shell is not None and notebook_front_end(shell)

    def __call__(self, n: int, total: int, text: str) -> None:
        if total < 2 or not self.enabled:
            return
        from IPython.display import display

        from .render._html import esc

        line = f"step {n} of {total}: {text}"
        body = {
            "text/plain": line,
            "text/html": f'<div class="nbm-progress"><progress value="{n}" max="{total}"></progress> {esc(line)}</div>',
        }
        if self.handle is None:
            self.handle = display(body, raw=True, display_id=True)
        else:
            self.handle.update(body, raw=True)

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.handle is not None:
            # Empty in every format: a saved notebook keeps no trace of the progress line.
            self.handle.update({"text/plain": "", "text/html": ""}, raw=True)
            self.handle = None


def load(ipython: Any) -> MigrateMagics:
    """Register the magics on a shell; returns the magics instance (``%config MigrateMagics``)."""
    magics = MigrateMagics(ipython)
    ipython.register_magics(magics)
    return magics


__all__ = ["MigrateMagics", "load"]
