"""Widgets: synced traits and callbacks; the drawing happens in the front end (``graph.js``).

``GraphWidget`` shows the revision graph, the selected revision's details, and runs
"upgrade to here" / "downgrade to here" through the caller's ``run`` (the same code path as the
``%migrate`` magic). It never touches the database itself.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from nbmigrate.errors import BadArguments
from nbmigrate.graph import RevisionGraph
from nbmigrate.masking import mask, mask_value
from nbmigrate.render._html import esc, notebook_front_end
from nbmigrate.render.graph import graph_html, graph_text, legend_html

if TYPE_CHECKING:
    from nbmigrate.results import GraphResult

__all__ = ["GraphWidget"]

_HERE = Path(__file__).parent

Build = Callable[..., "tuple[RevisionGraph, str]"]


def _error_text(exc: BaseException) -> str:
    """What the widget shows for an error: a UsageError's message, else type and message."""
    try:
        from IPython.core.error import UsageError
    except ImportError:  # pragma: no cover - IPython is a dependency
        UsageError = ()  # type: ignore[assignment,misc]  # noqa: N806
    text = str(exc) if isinstance(exc, UsageError) else f"{type(exc).__name__}: {exc}"
    # Errors can quote a database URL or a statement's parameters; passwords never reach the notebook.
    return mask(text)


def _accepts_expand(build: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(build).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "expand" or p.kind is p.VAR_KEYWORD for p in params)


class GraphWidget(anywidget.AnyWidget):
    """The revision graph with details and upgrade/downgrade actions for a chosen revision.

    ``svg`` is the drawing a saved notebook shows (``%migrate graph --save graph.svg`` or
    ``project.graph(save="graph.svg")`` writes it to a file); ``str(widget)`` is the graph as
    text for a terminal, one revision a line, newest first, with its state and parents.
    """

    _esm = _HERE / "graph.js"
    _css = _HERE / "graph.css"

    svg = traitlets.Unicode("").tag(sync=True)
    legend_html = traitlets.Unicode("").tag(sync=True)
    summary = traitlets.Unicode("").tag(sync=True)
    revisions = traitlets.List(traitlets.Dict()).tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)
    details = traitlets.Dict().tag(sync=True)
    pending_line = traitlets.Unicode("").tag(sync=True)
    needs_confirm = traitlets.Bool(False).tag(sync=True)
    warning = traitlets.Unicode("").tag(sync=True)  # why the pending action waits for confirmation
    result_html = traitlets.Unicode("").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    busy = traitlets.Bool(False).tag(sync=True)
    can_expand = traitlets.Bool(False).tag(sync=True)

    # Every text the front end receives, and a saved notebook's widget state keeps, is masked as
    # it is set: revision sources, messages, rendered results, errors.
    @traitlets.validate(
        "svg", "legend_html", "summary", "revisions", "details", "pending_line", "warning", "result_html", "error"
    )
    def _masked(self, proposal: Any) -> Any:
        return mask_value(proposal["value"])

    def __init__(self, build: Build, run: Callable[[str], object], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._build = build
        self._run = run
        self._graph: RevisionGraph | None = None
        self._expanded: set[str] = set()
        self.can_expand = _accepts_expand(build)
        self.on_msg(self._on_front_end_msg)
        self.refresh()

    @classmethod
    def for_result(cls, result: GraphResult) -> GraphWidget:
        """The live widget of a ``graph`` result: its first drawing is the result's, its actions run through ``result.run``."""
        if result.run is None:
            raise ValueError("the graph result has no runner for the widget's actions (pass run= to commands.graph)")
        return cls(result.build, result.run)

    @property
    def graph(self) -> RevisionGraph | None:
        """The graph currently shown (``None`` until a build succeeded)."""
        return self._graph

    # -- actions ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Rebuild the graph and its SVG through ``build()`` and redraw."""
        try:
            if self._expanded and self.can_expand:
                graph, svg = self._build(expand=frozenset(self._expanded))
            else:
                graph, svg = self._build()
        except Exception as exc:  # shown in the widget; a callback's traceback would be lost
            self.error = _error_text(exc)
            return
        self._graph = graph
        with self.hold_sync():
            self.svg = svg
            self.legend_html = legend_html()
            self.summary = graph_text(graph).splitlines()[0]
            self.revisions = [
                {
                    "id": rid,
                    "label": f"{node.short_id} {node.message}".strip(),
                    "state": node.state,
                }
                for rid, node in ((r, graph.nodes[r]) for r in reversed(graph.order))
            ]
            if self.selected and self.selected not in graph.nodes:
                self.selected = ""
            self._show_details(self.selected)

    def select(self, rev: str) -> None:
        """Select a revision (as a click on its node does)."""
        self.selected = rev

    def upgrade_to(self, rev: str) -> None:
        """Upgrade the database to ``rev``, showing the equivalent magic line.

        A preview (``--preview``: run in a transaction and rolled back) first says whether the
        upgrade drops data. If it does, or cannot tell (MySQL/MariaDB cannot roll DDL back), the
        upgrade waits for :meth:`confirm`, like a downgrade; otherwise it runs at once.
        """
        if self.busy:
            return
        line = f"upgrade {rev}"
        self.busy = True  # the front end disables its buttons while the preview runs
        try:
            loss = self._previewed_loss(line)
        except Exception as exc:  # the preview failed: so would the upgrade; nothing was changed
            self._set_pending(line, confirm=False)
            self.error = _error_text(exc)
            self.refresh()
            return
        finally:
            self.busy = False
        risky, blocking = self._risky_steps(rev)
        if blocking:  # confirming is accepting the risk the project's lint policy would refuse
            line += " --accept-risk"
        said = f"Risky steps: {'; '.join(risky)}. " if risky else ""
        if loss == [] and not risky:
            self._set_pending(line, confirm=False)
            self._execute(line)
        elif loss is None:
            self._set_pending(line, confirm=True, warning=(
                f"{said}This upgrade could not be previewed here, so whether it loses data is unknown. Run it?"
            ))
        elif loss:
            self._set_pending(line, confirm=True, warning=f"{said}This upgrade drops data: {'; '.join(loss)}. Run it?")
        else:
            self._set_pending(line, confirm=True, warning=f"{said}Run it?")

    def downgrade_to(self, rev: str) -> None:
        """Ask to downgrade to ``rev``; :meth:`confirm` runs it (a downgrade can lose data)."""
        self._set_pending(f"downgrade {rev}", confirm=True, warning="A downgrade can lose data. Run it?")

    def confirm(self) -> None:
        """Run the action awaiting confirmation."""
        if not self.needs_confirm or not self.pending_line:
            return
        line = self.pending_line.removeprefix("%migrate ")
        with self.hold_sync():
            self.needs_confirm = False
            self.warning = ""
        self._execute(line)

    def cancel(self) -> None:
        """Drop the action awaiting confirmation without running anything."""
        with self.hold_sync():
            self.pending_line = ""
            self.needs_confirm = False
            self.warning = ""

    def expand(self, rev: str) -> None:
        """Show the collapsed run holding ``rev`` revision by revision."""
        if not self.can_expand:
            return
        self._expanded.add(rev)
        self.refresh()

    # -- plumbing -----------------------------------------------------------------------------

    def _set_pending(self, line: str, *, confirm: bool, warning: str = "") -> None:
        with self.hold_sync():
            self.pending_line = f"%migrate {line}"
            self.needs_confirm = confirm
            self.warning = warning
            self.error = ""
            self.result_html = ""

    def _previewed_loss(self, line: str) -> list[str] | None:
        """The data-loss notes of a preview of ``line`` (``[]``: none), or ``None`` if none can tell.

        A preview nbmigrate refuses (MySQL/MariaDB, an ``autocommit_block``, an ``env.py`` with a
        connection of its own) cannot tell; any other error is raised.
        """
        try:
            result = self._run(f"{line} --preview")
        except BadArguments:
            return None
        diff = getattr(result, "diff", None)
        return list(diff.data_loss) if diff is not None else None

    def _risky_steps(self, rev: str) -> tuple[list[str], bool]:
        """What ``%migrate lint`` says of the upgrade to ``rev``: its errors, and whether policy refuses it.

        Errors only: warnings (a lock taken without a timeout) would stop nearly every upgrade on
        a server; ``%migrate lint`` lists them.

        A lint that cannot run (a revision that does not render offline) leaves the choice to the
        preview and the upgrade themselves.
        """
        try:
            result = self._run(f"lint {rev}")
        except Exception:  # noqa: BLE001 - the upgrade says what is wrong, if anything is
            return [], False
        findings = [f for f in getattr(result, "findings", ()) if f.severity == "error" and not f.allowed]
        said = [f"{f.code} {f.name} in {f.revision}: {f.message}" for f in findings]
        return said, bool(result.blocking())

    def _execute(self, line: str) -> None:
        if self.busy:  # one action at a time; the front end disables its buttons meanwhile
            return
        self.busy = True
        self.error = ""
        try:
            result = self._run(line)
            render = getattr(result, "_repr_html_", None)
            self.result_html = render() if callable(render) else f"<pre>{esc(result)}</pre>"
        except Exception as exc:  # shown in the widget; a callback's traceback would be lost
            self.error = _error_text(exc)
        finally:
            self.busy = False
        # The database moved (or a failure left it somewhere): redraw either way.
        self.refresh()

    @traitlets.observe("selected")
    def _on_selected(self, change: dict[str, Any]) -> None:
        self._show_details(change["new"])

    def _show_details(self, rev: str) -> None:
        if not rev or self._graph is None or rev not in self._graph.nodes:
            self.details = {}
            return
        try:
            self.details = self._graph.details(rev)
        except Exception as exc:  # shown in the widget; a callback's traceback would be lost
            self.details = {}
            self.error = _error_text(exc)

    def _on_front_end_msg(self, _widget: object, content: dict[str, Any], _buffers: object) -> None:
        action = content.get("action") if isinstance(content, dict) else None
        rev = str(content.get("rev") or "") if isinstance(content, dict) else ""
        handlers: dict[str, Callable[[], None]] = {
            "upgrade": lambda: self.upgrade_to(rev),
            "downgrade": lambda: self.downgrade_to(rev),
            "confirm": self.confirm,
            "cancel": self.cancel,
            "expand": lambda: self.expand(rev),
            "refresh": self.refresh,
        }
        handler = handlers.get(str(action))
        if handler is None or (action in ("upgrade", "downgrade", "expand") and not rev):
            self.error = f"unknown widget request: {content!r}"
            return
        handler()

    def _ipython_display_(self, **kwargs: Any) -> None:
        """Show the widget; in a notebook, after a static copy of the graph.

        A notebook saved with its widget state (``jupyter nbconvert --execute``, ``jupyter execute
        --inplace``, JupyterLab's "save widget state") exports to HTML showing the widget view
        alone, which draws nothing without a kernel or a CDN. So the graph's SVG comes first as an
        output of its own, which every viewer shows, and the live view hides it (``graph.js``).
        A terminal gets the text listing only.
        """
        from IPython.display import publish_display_data

        bundle = self._repr_mimebundle_(**kwargs)
        if bundle is None:
            return
        data, metadata = bundle
        if not notebook_front_end():
            publish_display_data({"text/plain": data.get("text/plain", "")})
            return
        if self._graph is not None:
            publish_display_data({"text/html": graph_html(self._graph, self.svg, static=True)})
            data.pop("text/html", None)
            data["text/plain"] = ""  # the copy above says it all where the widget cannot run
        publish_display_data(data, metadata)

    def __str__(self) -> str:
        """The graph as text (what a terminal shows), or why it could not be drawn."""
        return mask(graph_text(self._graph)) if self._graph is not None else self.error  # a message may quote a URL

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # IPython's pretty printer (a widget inside a list, ``pretty()``) shows the text too.
        printer.text(str(self))

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        # anywidget gives the widget view only; add the static graph so a saved notebook shows
        # it on GitHub or nbviewer, where no kernel runs the widget.
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        data = dict(data)
        if self._graph is not None:
            data["text/html"] = graph_html(self._graph, self.svg)
            data["text/plain"] = graph_text(self._graph)
        elif self.error:
            data["text/plain"] = self.error
            data["text/html"] = f"<pre>{esc(self.error)}</pre>"
        return data, metadata
