"""The revision graph as Graphviz DOT: nodes by state and kind, folded runs, branch labels, folders as clusters.

The palette and the layout to SVG live with the other renderers, in :mod:`nbmigrate.render._dot`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import graphviz

from ..render._dot import DEPENDS_STYLE, FONT, KIND_SHAPE, LABEL_STYLE, STATE_STYLE, dot_text
from .nodes import _short

if TYPE_CHECKING:
    from .nodes import Edge, RevisionNode

_MESSAGE_WIDTH = 48  # label text beyond this is cut; the tooltip and details keep it whole


class Drawing:
    """The drawing half of :class:`~nbmigrate.graph.RevisionGraph`: reads its nodes, edges, order, runs and folders."""

    nodes: dict[str, RevisionNode]
    edges: tuple[Edge, ...]
    order: tuple[str, ...]
    runs: dict[str, tuple[str, ...]]
    folders: tuple[str, ...]

    def to_dot(self) -> str:
        """The graph as Graphviz DOT source (deterministic: same graph, same bytes)."""
        dot = graphviz.Digraph(
            "revisions",
            graph_attr={
                "rankdir": "BT",  # newest on top, like ``alembic history``
                "nodesep": "0.25",
                "ranksep": "0.3",
                "fontname": FONT,
                "fontsize": "11",
            },
            node_attr={
                "shape": "box",
                "style": "rounded,filled",
                "fontname": FONT,
                "fontsize": "10",
                "height": "0.3",
                "margin": "0.1,0.04",
            },
            edge_attr={"color": "#57606a", "arrowsize": "0.6"},
        )
        run_of = {rid: first for first, ids in self.runs.items() for rid in ids}

        def name(rid: str) -> str:
            # '@' cannot occur in an Alembic revision id, so run names never collide with one
            return f"@run-{run_of[rid]}" if rid in run_of else rid

        groups: dict[str | None, list[str]] = {}
        for rid in self.order:
            if rid in run_of and run_of[rid] != rid:
                continue
            groups.setdefault(self.nodes[rid].folder, []).append(rid)

        for index, folder in enumerate(sorted(groups, key=lambda f: (f is not None, f or ""))):
            if folder is None:
                self._add_nodes(dot, groups[folder], name)
                continue
            with dot.subgraph(name=f"cluster_{index}") as sub:
                sub.attr(
                    label=dot_text(_folder_label(folder, self.folders)),
                    style="rounded,dashed",
                    color="#8c959f",
                    fontcolor="#57606a",
                    labeljust="l",
                    labelloc="b",  # with rankdir=BT "b" puts the folder's name on top
                    id=dot_text(f"folder-{index}"),
                )
                self._add_nodes(sub, groups[folder], name)

        seen: set[tuple[str, str]] = set()
        for edge in self.edges:
            tail, head = name(edge.parent), name(edge.child)
            if tail == head or (tail, head) in seen:
                continue
            seen.add((tail, head))
            if edge.kind == "depends":
                tip = dot_text(f"{edge.child} depends on {edge.parent}")
                dot.edge(tail, head, **DEPENDS_STYLE, tooltip=tip)
            else:
                dot.edge(tail, head)
        return dot.source

    def _add_nodes(
        self, dot: graphviz.Digraph, ids: list[str], name: Callable[[str], str]
    ) -> None:
        for rid in ids:
            node = self.nodes[rid]
            run = self.runs.get(rid)
            if run is not None:
                last = run[-1]
                text = f"{len(run)} revisions\n{_short(rid)}…{_short(last)}"
                tip = f"{len(run)} {node.state} revisions {rid}…{last} (click to expand)"
                dot.node(
                    name(rid),
                    label=dot_text(text),
                    id=dot_text(f"run-{rid}"),
                    tooltip=dot_text(tip),
                    style="rounded,filled,dashed",
                    **{"class": f"nbm-run nbm-{node.state}"},
                    **STATE_STYLE[node.state],
                )
                continue
            kinds = node.kinds
            title = node.short_id + "".join(f" ({k})" for k in kinds)
            attrs = dict(STATE_STYLE[node.state])
            # one shape per node: a merge outranks a branch point, which outranks a base
            shape = next(
                (KIND_SHAPE[k] for k in ("merge point", "branch point", "base") if k in kinds), None
            )
            if shape:
                attrs["shape"] = shape
                attrs["style"] = "filled"  # rounded corners turn polygons into blobs
            if node.is_missing:
                attrs["style"] = "filled,dashed"
            if node.is_head:
                attrs["peripheries"] = "2"
            # CSS hooks for the widget; dict.fromkeys drops the repeated "missing"
            classes = dict.fromkeys(
                ["nbm-rev", f"nbm-{node.state}"] + [f"nbm-{k.replace(' ', '-')}" for k in kinds]
            )
            text = f"{title}\n{_clip(node.message)}" if node.message else title
            tip = f"{rid} [{node.state}]" + (f"\n{node.message}" if node.message else "")
            dot.node(
                rid,
                label=dot_text(text),
                id=dot_text(f"rev-{rid}"),
                tooltip=dot_text(tip),
                **{"class": " ".join(classes)},
                **attrs,
            )
            for index, label in enumerate(node.branch_labels):
                label_name = f"@label-{rid}-{index}"
                with dot.subgraph() as same:
                    same.attr(rank="same")
                    same.node(
                        label_name,
                        label=dot_text(label),
                        id=dot_text(f"label-{rid}-{label}"),
                        tooltip=dot_text(f"branch label {label} on {rid}"),
                        shape="cds",
                        style="filled",
                        **{"class": "nbm-branch-label"},
                        **LABEL_STYLE,
                    )
                    same.node(rid)
                dot.edge(
                    label_name, rid, style="dotted", arrowhead="none", color=LABEL_STYLE["color"]
                )


def _clip(text: str) -> str:
    return text if len(text) <= _MESSAGE_WIDTH else text[: _MESSAGE_WIDTH - 1] + "…"


def _folder_label(folder: str, folders: tuple[str, ...]) -> str:
    # Relative to the parent of the folders' common directory: short and free of absolute paths.
    if len(folders) < 2:
        return os.path.basename(folder) or folder
    common = os.path.commonpath(folders)
    return os.path.relpath(folder, os.path.dirname(common))
