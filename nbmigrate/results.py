"""Result objects: what each command returns, with its data as attributes.

Every result renders itself (``_repr_html_`` for notebooks, ``str`` for terminals) through
:mod:`nbmigrate.render.results`; nothing is only printed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .graph import RevisionGraph
    from .schema import SchemaDiff, Snapshot


@dataclass(repr=False, kw_only=True)
class Result:
    """Base of every result: renders as HTML and text, carries the command's captured output.

    ``output`` is what Alembic printed while the command ran, ``warnings`` what it (or nbmigrate)
    warned of; every result has both, as keywords after its own fields (and a ``command``: the line).
    """

    output: str = ""
    warnings: list[str] = field(default_factory=list)

    def _repr_html_(self) -> str:
        from .render.results import render_html

        return render_html(self)

    def __str__(self) -> str:
        from .render.results import render_text

        return render_text(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


@dataclass(repr=False)
class TextResult(Result):
    """A command whose answer is text (``list_templates``, ``check``, ``ensure_version``, ...)."""

    command: str
    title: str
    text: str = ""
    ok: bool = True


@dataclass(repr=False)
class InitResult(Result):
    """``init``: the environment written and the database it uses."""

    command: str
    directory: str
    config_file: str
    database: str
    files: list[str] = field(default_factory=list)


@dataclass(frozen=True, repr=False)
class RevisionInfo:
    """One revision with its place in the graph and its state in the database."""

    revision: str
    down_revisions: tuple[str, ...]
    message: str
    branch_labels: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    path: str = ""
    is_head: bool = False  # as Alembic's ``Script.is_head``: no revision revises it (effective heads too)
    is_base: bool = False
    is_branch_point: bool = False
    is_merge_point: bool = False
    # Alembic's "effective head": a head only through ``down_revision``; a revision depends on it.
    is_effective_head: bool = False
    # "current", "applied", "pending"; "unknown" when the database could not be read, "" when
    # the command does not ask it.
    state: str = ""

    def __repr__(self) -> str:
        return f"<RevisionInfo {self.revision} {self.state or '-'} {self.message!r}>"


@dataclass(repr=False)
class HistoryResult(Result):
    """``history`` / ``heads`` / ``branches`` / ``show``: revisions, newest first."""

    command: str
    revisions: list[RevisionInfo]
    current: tuple[str, ...] | None = ()  # the version table's rows; None: the database could not be read
    database: str = ""
    verbose: bool = False
    text: str = ""  # the answer as the ``alembic`` command prints it, word for word

    @property
    def heads(self) -> list[str]:
        return [r.revision for r in self.revisions if r.is_head]

    def __getitem__(self, index: int) -> RevisionInfo:
        return self.revisions[index]

    def __len__(self) -> int:
        return len(self.revisions)


@dataclass(repr=False)
class CurrentResult(Result):
    """``current``: the database's revision(s).

    ``heads`` are the version table's rows; ``revisions`` are what ``alembic current`` lists:
    the tips of everything applied, a revision applied through ``depends_on`` included.
    """

    command: str
    database: str
    heads: tuple[str, ...]
    revisions: list[RevisionInfo]
    at_head: bool
    text: str = ""  # the answer as the ``alembic`` command prints it, word for word


@dataclass(repr=False)
class Step:
    """One migration step that ran: from → to, message, time, and the SQL it executed."""

    revision: str
    from_revisions: tuple[str, ...]
    to_revisions: tuple[str, ...]
    message: str
    direction: str  # "upgrade", "downgrade" or "stamp"
    duration: float
    sql: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        src = ",".join(self.from_revisions) or "base"
        dst = ",".join(self.to_revisions) or "base"
        return f"<Step {self.direction} {src} -> {dst} {self.message!r}>"


@dataclass(repr=False)
class MigrationResult(Result):
    """``upgrade`` / ``downgrade`` / ``stamp``: what ran, where the database is now."""

    command: str
    target: str
    database: str
    dialect: str
    transactional_ddl: bool | None
    heads_before: tuple[str, ...]
    heads_after: tuple[str, ...]
    steps: list[Step] = field(default_factory=list)
    sql: list[str] = field(default_factory=list)
    before: Snapshot | None = None
    after: Snapshot | None = None
    diff: SchemaDiff | None = None
    preview: bool = False
    reached: bool = True
    note: str = ""
    # What reflecting the schema before/after warned (SQLAlchemy's reflection warnings): not the
    # migration's, which the command line would show; kept apart and shown collapsed.
    snapshot_warnings: list[str] = field(default_factory=list)
    # The lint of the revisions run (nbmigrate.lint.LintResult), when upgrades are linted.
    lint: Any = None
    # --preview on PostgreSQL: what the server held and rewrote after each statement (nbmigrate.observe).
    observed: list[Any] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return sum(step.duration for step in self.steps)


@dataclass(repr=False)
class SqlResult(Result):
    """``--sql`` (offline) mode: the script Alembic generated, shown as SQL."""

    command: str
    sql: str
    database: str = ""
    lint: Any = None  # the lint of the same revisions (``upgrade --sql``), when upgrades are linted


@dataclass(repr=False)
class RevisionFileResult(Result):
    """``revision`` / ``merge`` / ``edit``: a revision file, with its path and source."""

    command: str
    revision: str
    path: str
    source: str
    message: str = ""
    detail: Any = None


@dataclass(repr=False)
class ConnectResult(Result):
    """``connect``: which database this kernel now uses."""

    command: str
    database: str
    dialect: str
    heads: tuple[str, ...]


@dataclass(repr=False)
class HelpResult(Result):
    """``--help`` and ``-h``: the parser's usage text."""

    command: str
    text: str


@dataclass(repr=False)
class FailureReport(Result):
    """What a failed migration left: which step and statement failed, and the exact state after."""

    command: str
    database: str
    dialect: str
    transactional_ddl: bool | None
    revision: str | None
    message: str | None
    statement: str | None
    error: str
    heads_before: tuple[str, ...]
    heads_after: tuple[str, ...] | None
    rolled_back: bool
    completed: list[Step] = field(default_factory=list)
    partial_sql: list[str] = field(default_factory=list)
    interrupted: bool = False

    def summary(self) -> str:
        """One paragraph: what failed, and the state of the database now."""
        from .render.results import failure_summary

        return failure_summary(self)


@dataclass(repr=False)
class GraphResult(Result):
    """``graph``: the revision graph with what the database has applied, laid out as SVG.

    ``%migrate graph`` shows it as the live widget (:class:`nbmigrate.widgets.GraphWidget`, made
    from this result); elsewhere it renders as the same static HTML and text. ``build(expand=())``
    lays the graph out again (folded runs in ``expand`` opened); ``run`` runs a ``%migrate`` line
    for the widget's actions.
    """

    graph: RevisionGraph
    svg: str
    build: Callable[..., tuple[RevisionGraph, str]]
    run: Callable[[str], Any] | None = None
    command: str = "graph"

    def _repr_html_(self) -> str:
        from .render.graph import graph_html

        return graph_html(self.graph, self.svg)

    def __str__(self) -> str:
        from .masking import mask
        from .render.graph import graph_text

        return mask(graph_text(self.graph))

    # IPython prefers a class's own __repr__ to an inherited _repr_pretty_: name it here too.
    _repr_pretty_ = Result._repr_pretty_

    def __repr__(self) -> str:
        return f"<GraphResult {len(self.graph.nodes)} revisions>"
