"""The IPython side: ``%migrate`` and ``%%revision``, settings for ``%config``, and the error boundary.

This module is the only one that imports IPython. It parses nothing itself (see
:mod:`nbmigrate.parser`) and knows no Alembic: it picks the project, shows progress, and turns
:class:`~nbmigrate.errors.NbmigrateError` into a one-line ``UsageError`` (``--raiseerr`` keeps
the traceback). Whatever it raises shows its passwords masked (:mod:`nbmigrate.masking`).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class
from traitlets import Bool, CFloat, Enum, Unicode

from ._watch import CHANGE_DETECTION
from .errors import NbmigrateError
from .masking import mask, mask_exception, mask_lines
from .parser import Invocation, dispatch, parse
from .results import GraphResult
from .project import ensure_alembic

if TYPE_CHECKING:
    from .api import Project


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
        from .api import Project  # the verbs, imported with the first line that needs a project

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

    def forget_projects(self) -> None:
        """Forget the kernel's projects and close their database connections; the next line starts afresh."""
        for project in self._projects.values():
            project._dispose_engine()
        self._projects.clear()

    @property
    def projects(self) -> tuple[Project, ...]:
        """The projects this kernel's lines have opened so far (one per config and section), oldest first."""
        return tuple(self._projects.values())

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
        # The words of the line, as a shell splits them, say whether `--raiseerr` is the flag: in
        # quotes (`-m " --raiseerr "`) or in a comment it is not.
        raiseerr = _asks_for_traceback(line)

        def run() -> Any:
            ensure_alembic()  # before the parser imports Alembic: a folder named alembic may hide it
            invocation = parse(line)
            with _Progress(self.shell) as progress:
                result = dispatch(
                    invocation,
                    projects=self.project_for,
                    namespace=self.shell.user_ns if self.shell is not None else None,
                    progress=progress,
                    defaults={"schema": self.show_schema, "graph_engine": self.graph_engine},
                )
            if isinstance(result, GraphResult):  # live in the notebook; the result is its first drawing
                from .widgets import GraphWidget

                return GraphWidget.for_result(result)
            return result

        return self._at_the_boundary(run, raiseerr=raiseerr)

    @line_cell_magic
    def revision(self, line: str, cell: str | None = None) -> Any:
        """Turn this cell into an Alembic revision: ``%%revision -m "add column" [--apply]``."""
        from .cell import CellOptions, parse_line, run_cell

        try:  # as for `%migrate`: the parsed header line says whether `--raiseerr` is the flag
            ensure_alembic()  # a failure is said again, as one line, when run_cell makes the project
            options = parse_line(line)
        except NbmigrateError:
            options = None  # run_cell says what is wrong with the line
        raiseerr = isinstance(options, CellOptions) and options.raiseerr

        def run() -> Any:
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

        return self._at_the_boundary(run, raiseerr=raiseerr)

    def _at_the_boundary(self, run: Callable[[], Any], *, raiseerr: bool) -> Any:
        """``run()``, where an :class:`NbmigrateError` becomes one line (the error itself with
        ``--raiseerr``) and whatever is raised shows its passwords masked."""
        try:
            return run()
        except NbmigrateError as exc:
            if not raiseerr:
                raise _usage_error(exc) from None
            error = exc
        except Exception as exc:  # a bug keeps its traceback, with its passwords masked
            _masked(exc, self.shell)
            raise
        raise _masked(_real_error(error), self.shell)


def _real_error(exc: NbmigrateError) -> BaseException:
    """What ``--raiseerr`` shows: the error Alembic, SQLAlchemy or a revision file raised, when
    nbmigrate translated one (its traceback intact), else nbmigrate's own error."""
    cause = exc.__cause__
    return cause if cause is not None and not isinstance(cause, NbmigrateError) else exc


def _usage_error(exc: NbmigrateError) -> UsageError:
    """The one message a user sees; IPython hides the traceback only for ``UsageError`` itself."""
    return UsageError(mask(str(exc)))


def _masked(exc: BaseException, shell: Any) -> BaseException:
    """``exc`` as ``--raiseerr`` shows it: its type and traceback, every password masked.

    The exception's own text (and its causes', which the traceback shows too) is masked in place,
    so what IPython prints, and what a kernel sends as the error's value, holds none; and IPython
    draws the traceback through ``_render_traceback_``, masking the lines it shows (source lines
    of a revision file, locals in verbose mode).
    """
    mask_exception(exc)
    if shell is None:
        return exc

    def render() -> list[str]:
        try:
            lines = shell.InteractiveTB.structured_traceback(type(exc), exc, exc.__traceback__)
        except Exception:  # noqa: BLE001 - IPython's formatter failed: Python's own, masked too
            lines = [line.rstrip("\n") for line in traceback.format_exception(type(exc), exc, exc.__traceback__)]
        return mask_lines(lines)

    try:
        exc._render_traceback_ = render  # type: ignore[attr-defined]
    except (AttributeError, TypeError):  # an exception without a __dict__: its masked text still shows
        pass
    return exc


def _cell_id(shell: Any) -> str | None:
    """The front end's id of the running cell, when the kernel knows it (Jupyter does)."""
    try:
        kernel = getattr(shell, "kernel", None)
        header = kernel.get_parent().get("metadata", {}) if kernel is not None else {}
        return header.get("cellId")
    except Exception:
        return None


class _Progress:
    """Shows 'step n of N' while a multi-step migration runs, updated in place step by step."""

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
        # The line stays as the run left it: the last step started (the failed one, after a
        # failure), its bar full after a success. Emptied, it would stay in a saved notebook as
        # an output showing nothing; and no message can remove one display alone
        # (``clear_output`` clears the whole cell, and nbval, which ignores updates, still
        # counts the display as it first came).
        self.handle = None


def load(ipython: Any) -> MigrateMagics:
    """Register the magics on a shell; returns the magics instance (``%config MigrateMagics``)."""
    magics = MigrateMagics(ipython)
    ipython.register_magics(magics)
    return magics


__all__ = ["MigrateMagics", "load"]


def _asks_for_traceback(line: str) -> bool:
    """Whether ``--raiseerr`` stands in ``line`` as a word of its own (not quoted, not commented)."""
    from .parser import split_line

    try:
        return "--raiseerr" in split_line(line)
    except NbmigrateError:
        return False
