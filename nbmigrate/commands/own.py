"""nbmigrate's own verbs: ``schema``, ``diff``, ``test``, ``erd``, ``lint``, ``squash``, ``graph``."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .. import _internals
from ..engine import database_heads, run_contained, script_directory
from ..errors import BadArguments
from ..project import Project
from ..results import GraphResult



def schema(project: Project, tables: Sequence[str] = (), db_schema: str | None = None, at: str | None = None) -> Any:
    """The database's tables: columns, keys, indexes, constraints and row counts (a ``Snapshot``).

    ``at`` (any Alembic target) is the schema at that revision instead, replayed on a scratch
    database: the project's own is not touched.
    """
    from ..schema import snapshot

    if at is not None:
        return _schema_at(project, at, tables, db_schema)

    version_table = project.version_table if project.exists else "alembic_version"
    version_table_schema = project.version_table_schema if project.exists else None

    def take() -> Any:
        with project.connection() as conn:
            return snapshot(
                conn,
                schema=db_schema,
                tables=list(tables) or None,
                version_table=version_table,
                version_table_schema=version_table_schema,
            )

    result, _ = run_contained(project, take)
    if tables and result.missing:
        raise BadArguments(
            f"No table {', '.join(map(repr, result.missing))} in the database. "
            "Run `%migrate schema` to list the tables."
        )
    return result


def _schema_at(project: Project, at: str, tables: Sequence[str], db_schema: str | None) -> Any:
    from ..timeline.at import schema_at

    if db_schema is not None:
        raise BadArguments("--at replays the history on a scratch database, which has the default schema only: drop --db-schema.")
    snap = schema_at(project, at)
    if not tables:
        return snap
    missing = [t for t in tables if t not in snap.tables]
    if missing:
        raise BadArguments(f"No table {', '.join(map(repr, missing))} at {at}. Run `%migrate schema --at {at}` to list the tables.")
    return dataclasses.replace(snap, tables={t: snap.tables[t] for t in tables}, requested=tuple(tables))


def diff(project: Project, start: str, end: str, sql: bool = False) -> Any:
    """The schema between two points of history (any Alembic targets), replayed on a scratch database."""
    from ..timeline.at import between

    return between(project, start, end, sql=sql)


def test(project: Project, rev_range: str | None = None, *, metadata: Any = None) -> Any:
    """Round-trip every revision (upgrade, downgrade, upgrade) on a scratch database and check the schema each time."""
    from ..timeline.roundtrip import round_trip

    return round_trip(project, rev_range, metadata=metadata)


def erd(project: Project, tables: Sequence[str] = (), at: str | None = None, engine: str | None = None) -> Any:
    """An ER diagram of the database's tables (or of the schema ``at`` a revision), drawn by graphviz."""
    from ..erd import erd as draw

    snap = schema(project, tables, at=at)
    value, _ = run_contained(project, lambda: draw(snap, tables=list(tables) or None, engine=engine or "graphviz-pure"))
    return value


def lint(project: Project, rev_range: str | None = None) -> Any:
    """What the pending revisions (or ``rev_range``) will lock and rewrite, and the safe recipes (a ``LintResult``)."""
    from ..lint import lint as run

    return run(project, rev_range)


def squash(project: Project, rev_range: str, message: str | None = None, accept_data_code: bool = False) -> Any:
    """Replace the revisions after A up to B (``A:B``) by one revision, proved on scratch databases."""
    from ..timeline.squash import squash as run

    return run(project, rev_range, message, accept_data_code=accept_data_code)


def _svg_target(save: str | os.PathLike[str]) -> Path:
    """Where ``graph(save=...)`` writes, checked before the graph is drawn (so a typo costs no layout)."""
    shown = os.fspath(save)
    path = Path(shown).expanduser()
    if path.suffix.lower() != ".svg":
        raise BadArguments("--save writes an SVG file: give a path ending in .svg, e.g. `--save graph.svg`.")
    if not path.parent.is_dir():
        raise BadArguments(
            f"Cannot save the graph to {shown}: there is no folder {os.fspath(Path(shown).parent)!r}. "
            "Create it first, or give a path in an existing folder."
        )
    return path


def graph(
    project: Project,
    rev_range: str | None = None,
    engine: str | None = None,
    run: Callable[[str], Any] | None = None,
    collapse: int | None = None,
    save: str | os.PathLike[str] | None = None,
) -> GraphResult:
    """The revision graph laid out by graphviz, with this database's state (the magic shows it as the widget).

    ``run`` runs a ``%migrate`` line for the widget's actions (the magic passes its own
    dispatcher). Linear runs longer than ``collapse``
    fold into one expandable node (``0``: never; by default 12 for histories of more than 100).
    ``save`` (``%migrate graph --save graph.svg``) also writes the graph as first drawn to that
    ``.svg`` file: the same SVG a saved notebook shows (``widget.svg``), a document of its own.
    """
    from ..masking import mask

    if rev_range is not None and ":" not in rev_range:
        raise BadArguments("A graph range needs [start]:[end], e.g. `-r base:head` or `-r 0002:`.")
    target = _svg_target(save) if save is not None else None
    build = _graph_builder(project, rev_range, engine or "graphviz-pure", collapse)
    drawn, svg = build()
    result = GraphResult(graph=drawn, svg=mask(svg), build=build, run=run)
    if target is not None:
        try:  # the SVG as it reaches the notebook (and its saved copy)
            target.write_text(result.svg, encoding="utf-8")
        except OSError as exc:  # a folder in the way, no permission, a full disk
            raise BadArguments(f"Cannot save the graph to {target}: {exc.strerror or exc}.") from None
    return result


def _graph_builder(project: Project, rev_range: str | None, layout: str, collapse: int | None) -> Callable[..., Any]:
    """``build(expand=())``: the graph and its SVG, laid out again each time but the first.

    The first build happens in :func:`graph`, so that its errors (a bad range, no graphviz) are
    the command's, not the widget's; the widget's first drawing is that one, not a second layout.
    """
    from ..graph import RevisionGraph, render_svg

    def build(expand: Sequence[str] = ()) -> tuple[RevisionGraph, str]:
        script = script_directory(project)
        heads, _ = database_heads(project)
        size = len(_internals.revision_index(script))
        fold = (collapse or None) if collapse is not None else (12 if size > 100 else None)  # 0: never

        def make() -> tuple[RevisionGraph, str]:
            g = RevisionGraph.from_script_directory(
                script, current=heads or (), rev_range=rev_range, collapse=fold, expand=expand
            )
            return g, render_svg(g.to_dot(), engine=layout)

        value, _ = run_contained(project, make)
        return value

    return _FirstKept(build)


class _FirstKept:
    """``build(expand=())`` that lays the graph out once for the command and the widget's first drawing."""

    def __init__(self, build: Callable[..., Any]) -> None:
        self._build = build
        self._kept: Any = None
        self._first = True

    def __call__(self, expand: Sequence[str] = ()) -> Any:
        if self._first:
            self._first = False
            self._kept = self._build(expand)
            return self._kept
        kept, self._kept = self._kept, None
        return kept if kept is not None and not expand else self._build(expand)
