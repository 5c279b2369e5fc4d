"""The revision graph model, its DOT and SVG: in-memory revisions, real files, real databases."""

from __future__ import annotations

import io
import os
import random
import re
import shutil
import subprocess
import sys
import sysconfig
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import Revision, RevisionMap

from nbmigrate.graph import (
    Edge,
    GraphvizError,
    GraphvizNotFound,
    RevisionGraph,
    RevisionRangeError,
    render_svg,
)
from nbmigrate.render.graph import graph_html, graph_text, legend_html

SVG_NS = "{http://www.w3.org/2000/svg}"


def rev(rid: str, down=None, *, deps=None, labels=None, doc: str = "") -> Revision:
    """An in-memory Alembic revision carrying a message, as a Script would."""
    r = Revision(rid, down, dependencies=deps, branch_labels=labels)
    r.doc = doc or f"message {rid}"  # type: ignore[attr-defined]
    return r


def svg_ids(svg: str) -> set[str]:
    """The ``id`` attributes of the SVG's node groups, entities decoded."""
    root = ET.fromstring(svg)
    return {g.get("id", "") for g in root.iter(f"{SVG_NS}g") if "node" in g.get("class", "")}


def node_line(dot: str, name: str) -> str:
    """The DOT statement that declares node ``name`` (with attributes)."""
    bare = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+", name)
    quoted = re.escape(name if bare else f'"{name}"')
    match = re.search(rf"^\t+{quoted} \[.*\]$", dot, re.MULTILINE)
    assert match, f"no node {name} in DOT"
    return match.group(0)


# -- in-memory graphs ---------------------------------------------------------------------------


def test_linear_history_states_and_kinds() -> None:
    revs = [rev("a"), rev("b", "a"), rev("c", "b"), rev("d", "c")]
    g = RevisionGraph.from_revisions(revs, current=["b"])
    assert g.order == ("a", "b", "c", "d")
    assert g.heads == ("d",) and g.bases == ("a",)
    assert g.branch_points == () and g.merge_points == ()
    assert {r: n.state for r, n in g.nodes.items()} == {
        "a": "applied",
        "b": "current",
        "c": "pending",
        "d": "pending",
    }
    assert g.edges == (Edge("a", "b"), Edge("b", "c"), Edge("c", "d"))
    assert g.counts() == {"current": 1, "applied": 1, "pending": 2, "missing": 0}


def test_empty_database_is_all_pending() -> None:
    g = RevisionGraph.from_revisions([rev("a"), rev("b", "a")])
    assert {n.state for n in g.nodes.values()} == {"pending"}


def test_branches_and_three_parent_merge() -> None:
    revs = [rev("a"), rev("b", "a"), rev("c", "a"), rev("d", "a"), rev("e", ("b", "c", "d")), rev("f", "e")]
    g = RevisionGraph.from_revisions(revs, current=["c", "d"])
    assert g.branch_points == ("a",)
    assert g.merge_points == ("e",)
    assert g.nodes["e"].down_revisions == ("b", "c", "d")
    assert g.nodes["a"].children == ("b", "c", "d")
    states = {r: n.state for r, n in g.nodes.items()}
    assert states == {
        "a": "applied",
        "b": "pending",
        "c": "current",
        "d": "current",
        "e": "pending",
        "f": "pending",
    }
    dot = g.to_dot()
    assert "shape=hexagon" in node_line(dot, "a") and "(branch point)" in node_line(dot, "a")
    assert "shape=octagon" in node_line(dot, "e") and "(merge point)" in node_line(dot, "e")
    for parent in "bcd":
        assert f"\t{parent} -> e\n" in dot


def test_depends_on_edges_are_dashed_and_count_as_applied() -> None:
    revs = [
        rev("a"),
        rev("b", "a"),
        rev("x", labels="other"),
        rev("y", "x", deps="b"),
        rev("z", "y", deps="other"),  # depends_on may name a branch label
    ]
    g = RevisionGraph.from_revisions(revs, current=["y"])
    assert g.nodes["y"].dependencies == ("b",)
    assert g.nodes["z"].dependencies == ("x",)
    assert Edge("b", "y", "depends") in g.edges and Edge("x", "z", "depends") in g.edges
    # reaching y applies what it depends on, as Alembic's upgrade does
    assert g.nodes["a"].state == g.nodes["b"].state == g.nodes["x"].state == "applied"
    assert g.nodes["z"].state == "pending"
    dot = g.to_dot()
    dashed = re.search(r"^\tb -> y \[(.*)\]$", dot, re.MULTILINE)
    assert dashed and "style=dashed" in dashed.group(1) and "arrowhead=empty" in dashed.group(1)
    assert re.search(r"^\ta -> b$", dot, re.MULTILINE)  # an ordinary edge stays solid


def test_several_roots() -> None:
    revs = [rev("a"), rev("b", "a"), rev("m"), rev("n", "m"), rev("q")]
    g = RevisionGraph.from_revisions(revs)
    assert g.bases == ("a", "m", "q")
    assert g.heads == ("b", "n", "q")
    dot = g.to_dot()
    for base in g.bases:
        assert "(base)" in node_line(dot, base)
    assert "shape=house" in node_line(dot, "a")
    assert "peripheries=2" in node_line(dot, "b")  # heads get a double border


def test_branch_labels_only_where_written() -> None:
    revs = [rev("a"), rev("b", "a", labels="feature"), rev("c", "b"), rev("d", "a", labels=("x", "y"))]
    # Alembic's RevisionMap copies labels down the branch; the graph shows where they are written.
    RevisionMap(lambda: revs).heads
    assert revs[2].branch_labels == {"feature"}
    g = RevisionGraph.from_revisions(revs)
    assert g.nodes["b"].branch_labels == ("feature",)
    assert g.nodes["c"].branch_labels == ()
    assert g.nodes["d"].branch_labels == ("x", "y")
    dot = g.to_dot()
    label_node = node_line(dot, "@label-b-0")
    assert "shape=cds" in label_node and "label=feature" in label_node
    assert 'id="label-b-feature"' in label_node
    assert '"@label-b-0" -> b [' in dot and "rank=same" in dot


def test_missing_current_revision() -> None:
    revs = [rev("a"), rev("b", "a")]
    g = RevisionGraph.from_revisions(revs, current=["b", "gone1234"])
    assert g.missing == ("gone1234",)
    node = g.nodes["gone1234"]
    assert node.state == "missing" and node.kinds == ("missing",)
    assert g.nodes["b"].state == "current" and g.nodes["a"].state == "applied"
    line = node_line(g.to_dot(), "gone1234")
    assert "(missing)" in line and "filled,dashed" in line and "#cf222e" in line
    assert g.details("gone1234")["state"] == "missing"


def test_applied_given_explicitly() -> None:
    revs = [rev("a"), rev("b", "a"), rev("c", "b")]
    g = RevisionGraph.from_revisions(revs, current=["c"], applied=["c"])
    assert [g.nodes[r].state for r in "abc"] == ["pending", "pending", "current"]


def test_every_state_has_its_own_style() -> None:
    revs = [rev("a"), rev("b", "a"), rev("c", "b")]
    dot = RevisionGraph.from_revisions(revs, current=["b", "lost"]).to_dot()
    fills = {
        r: re.search(r'fillcolor="([^"]+)"', node_line(dot, r)).group(1)  # type: ignore[union-attr]
        for r in ("a", "b", "c", "lost")
    }
    assert len(set(fills.values())) == 4
    for rid, state in (("a", "applied"), ("b", "current"), ("c", "pending"), ("lost", "missing")):
        assert f"nbm-{state}" in node_line(dot, rid)


def test_collapse_long_linear_runs() -> None:
    ids = [f"r{i:02d}" for i in range(12)]
    revs = [rev(ids[0])] + [rev(ids[i], ids[i - 1]) for i in range(1, 12)]
    revs[6] = rev(ids[6], ids[5], labels="mid")  # a label breaks a run
    g = RevisionGraph.from_revisions(revs, current=[ids[3]], collapse=2)
    # r00 base; r01-r02 applied (2: not > 2); r03 current; r04-r05 (2); r06 labelled;
    # r07-r10 pending run of 4; r11 head
    assert g.runs == {"r07": ("r07", "r08", "r09", "r10")}
    dot = g.to_dot()
    run_line = node_line(dot, "@run-r07")
    assert "4 revisions" in run_line and "r07…r10" in run_line and 'id="run-r07"' in run_line
    assert '\tr06 -> "@run-r07"\n' in dot and '\t"@run-r07" -> r11\n' in dot
    assert "\tr08 [" not in dot
    # every revision is still in the model; only the drawing folds them
    assert set(ids) <= set(g.nodes)

    g1 = RevisionGraph.from_revisions(revs, current=[ids[3]], collapse=1)
    assert g1.runs == {"r01": ("r01", "r02"), "r04": ("r04", "r05"), "r07": ("r07", "r08", "r09", "r10")}
    expanded = RevisionGraph.from_revisions(revs, current=[ids[3]], collapse=1, expand={"r09"})
    assert "r07" not in expanded.runs and "r01" in expanded.runs
    assert RevisionGraph.from_revisions(revs, current=[ids[3]]).runs == {}


def test_collapse_splits_runs_by_state() -> None:
    ids = [f"s{i}" for i in range(10)]
    revs = [rev(ids[0])] + [rev(ids[i], ids[i - 1]) for i in range(1, 10)]
    g = RevisionGraph.from_revisions(revs, current=["s5"], applied=[f"s{i}" for i in range(6)], collapse=2)
    assert g.runs == {"s1": ("s1", "s2", "s3", "s4"), "s6": ("s6", "s7", "s8")}


def test_range_restricts_with_alembic_grammar() -> None:
    ids = ["1a1a", "2b2b", "3c3c", "4d4d", "5e5e"]
    revs = [rev(ids[0])] + [rev(ids[i], ids[i - 1]) for i in range(1, 5)]
    between = RevisionGraph.from_revisions(revs, rev_range="2b2b:4d4d")
    assert set(between.nodes) == {"2b2b", "3c3c", "4d4d"}
    assert between.edges == (Edge("2b2b", "3c3c"), Edge("3c3c", "4d4d"))
    assert between.rev_range == "2b2b:4d4d"
    # kinds describe the whole history, not the window
    assert between.heads == () and between.bases == ()
    assert set(RevisionGraph.from_revisions(revs, rev_range=":2b").nodes) == {"1a1a", "2b2b"}
    assert set(RevisionGraph.from_revisions(revs, rev_range="4d:").nodes) == {"4d4d", "5e5e"}
    assert len(RevisionGraph.from_revisions(revs, rev_range="base:head").nodes) == 5
    current = RevisionGraph.from_revisions(revs, current=["3c3c"], rev_range="current:")
    assert set(current.nodes) == {"3c3c", "4d4d", "5e5e"}
    upto = RevisionGraph.from_revisions(revs, current=["3c3c"], rev_range=":current")
    assert set(upto.nodes) == {"1a1a", "2b2b", "3c3c"}


def test_range_errors_are_clear() -> None:
    revs = [rev("aa"), rev("bb", "aa"), rev("cc", "aa")]
    with pytest.raises(RevisionRangeError, match=r"\[start\]:\[end\]"):
        RevisionGraph.from_revisions(revs, rev_range="aa")
    with pytest.raises(RevisionRangeError, match="No such revision or branch 'zz'"):
        RevisionGraph.from_revisions(revs, rev_range="zz:")
    with pytest.raises(RevisionRangeError, match=r"Multiple heads are present \(bb, cc\); use a revision"):
        RevisionGraph.from_revisions(revs, rev_range=":head")
    assert issubclass(RevisionRangeError, ValueError)


def test_range_keeps_missing_current() -> None:
    revs = [rev("aa"), rev("bb", "aa"), rev("cc", "bb")]
    g = RevisionGraph.from_revisions(revs, current=["nope"], rev_range="bb:")
    assert set(g.nodes) == {"bb", "cc", "nope"}


def test_labels_escape_quotes_markup_newlines_unicode() -> None:
    nasty = 'say "hi" <b>bold</b> & back\\slash\nsecond line — ünïcode 漢字'
    revs = [rev("a", doc=nasty), rev("b", "a", doc="<init>"), rev("c", "b", doc="ends with \\")]
    g = RevisionGraph.from_revisions(revs)
    assert g.nodes["a"].message == 'say "hi" <b>bold</b> & back\\slash'
    dot = g.to_dot()
    line_a = node_line(dot, "a")
    assert 'say \\"hi\\" <b>bold</b> & back\\\\slash' in line_a
    assert 'label=<' not in dot  # never an HTML-like label
    svg = render_svg(dot)
    root = ET.fromstring(svg)  # well-formed despite the markup in messages
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG_NS}text")]
    assert 'say "hi" <b>bold</b> & back\\slash' in texts
    assert "<init>" in texts and "ends with \\" in texts
    long = rev("d", doc="x" * 200)
    assert "…" in node_line(RevisionGraph.from_revisions([long]).to_dot(), "d")


def test_dot_and_svg_are_deterministic() -> None:
    revs = [rev("a"), rev("b", "a"), rev("c", "a"), rev("d", ("b", "c")), rev("e", "d", labels="L")]
    shuffled = revs[:]
    random.Random(4).shuffle(shuffled)
    one = RevisionGraph.from_revisions(revs, current=["b"]).to_dot()
    two = RevisionGraph.from_revisions(shuffled, current=["b"]).to_dot()
    assert one == two
    svg1, svg2 = render_svg(one), render_svg(two)
    assert svg1 == svg2
    assert svg1.startswith("<svg") and "<?xml" not in svg1 and "<!--" not in svg1
    assert "graphviz" not in svg1.lower()  # no program name or version


def test_svg_maps_nodes_back_to_revisions() -> None:
    revs = [rev("a"), rev("b", "a", labels="lbl"), rev("c", "b")]
    ids = [f"r{i:03d}" for i in range(8)]
    revs += [rev(ids[0], "c")] + [rev(ids[i], ids[i - 1]) for i in range(1, 8)]
    g = RevisionGraph.from_revisions(revs, current=["b", "lost"], collapse=3)
    svg = render_svg(g.to_dot())
    found = svg_ids(svg)
    drawn = set(g.nodes) - {r for run in g.runs.values() for r in run}
    assert {f"rev-{r}" for r in drawn} <= found
    assert {f"run-{first}" for first in g.runs} <= found
    assert "label-b-lbl" in found


def test_render_uses_graphviz_pure_without_dot_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert shutil.which("dot") is None
    revs = [rev("a"), rev("b", "a")]
    svg = render_svg(RevisionGraph.from_revisions(revs).to_dot())
    assert {"rev-a", "rev-b"} <= svg_ids(svg)
    with pytest.raises(GraphvizNotFound, match="install Graphviz"):
        render_svg("digraph {}", engine="dot")


def test_missing_graphviz_pure_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setattr(sysconfig, "get_path", lambda name: str(tmp_path))
    with pytest.raises(GraphvizNotFound, match="pip install graphviz-pure") as info:
        render_svg("digraph {}")
    assert isinstance(info.value, RuntimeError)


def test_render_errors() -> None:
    with pytest.raises(GraphvizNotFound, match="Unknown graph engine 'neato'"):
        render_svg("digraph {}", engine="neato")
    with pytest.raises(GraphvizError, match="failed"):
        render_svg("digraph { a -> }")


def test_details_without_files() -> None:
    g = RevisionGraph.from_revisions([rev("a", doc="first\n\nlonger text")])
    info = g.details("a")
    assert info["id"] == "a" and info["message"] == "first"
    assert info["upgrade"] is None and info["downgrade"] is None and info["path"] is None
    with pytest.raises(KeyError):
        g.details("nope")


def test_thousands_of_revisions_with_forks_and_merges() -> None:
    # How fast this is, is measured in benchmarks/bench_graph.py; here, that the shape is right.
    n = 3000
    ids = [f"{i:012x}" for i in range(n)]
    revs = [rev(ids[0])] + [rev(ids[i], ids[i - 1]) for i in range(1, n)]
    # a fork and merge every 50 revisions
    for i in range(50, n - 2, 50):
        revs[i + 1] = rev(ids[i + 1], ids[i - 1])
        revs[i + 2] = rev(ids[i + 2], (ids[i], ids[i + 1]))
    g = RevisionGraph.from_revisions(revs, current=[ids[n // 2]])
    dot = g.to_dot()
    assert len(g.nodes) == n and len(g.merge_points) == len(range(50, n - 2, 50))
    assert dot.count(" -> ") >= n - 1 and all(f'id="rev-{i}"' in dot for i in (ids[0], ids[-1], ids[n // 2]))


def test_empty_history_draws() -> None:
    g = RevisionGraph.from_revisions([])
    assert g.nodes == {} and g.heads == () and g.order == ()
    assert render_svg(g.to_dot()).startswith("<svg")
    assert graph_text(g).startswith("Revision graph: 0 revisions: none")


def test_model_does_not_import_ipython() -> None:
    code = "import sys, nbmigrate.graph; print(sorted(m for m in ('IPython', 'ipywidgets') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- static renderings --------------------------------------------------------------------------


def test_graph_text_lists_every_revision_with_state() -> None:
    revs = [rev("a", doc="create"), rev("b", "a", labels="main"), rev("c", "b"), rev("d", "b", deps="a")]
    g = RevisionGraph.from_revisions(revs, current=["c", "lost"])
    text = graph_text(g)
    lines = text.splitlines()
    assert lines[0].startswith("Revision graph: 4 revisions: 1 current, 2 applied, 1 pending, 1 missing")
    assert "@ current  b -> c (head), message c" in text
    assert "* applied  a -> b (branch point) (main), message b" in text
    assert "* applied  <base> -> a (base), create" in text
    assert "o pending  b -> d (head) (depends on a), message d" in text
    assert "! missing  ? -> lost" in text
    # newest first, like alembic history
    assert lines.index(next(line for line in lines if "-> a " in line)) == len(lines) - 1


def test_graph_html_is_self_contained() -> None:
    g = RevisionGraph.from_revisions([rev("a", doc="<script>alert(1)</script>"), rev("b", "a")], current=["a"])
    svg = render_svg(g.to_dot())
    html = graph_html(g, svg)
    assert html.startswith('<div class="nbm nbm-graph">') and "<svg" in html
    assert "<script>" not in html
    assert "2 revisions: 1 current, 1 pending" in html
    for word in ("current", "applied", "pending", "missing", "head", "base", "branch point",
                 "merge point", "branch label", "depends_on", "collapsed run"):
        assert f"</svg>{word}</span>" in legend_html()


# -- real revision files ------------------------------------------------------------------------


UPGRADE_BODY = '''def upgrade() -> None:
    """Upgrade schema."""
    op.create_table("t_{rid}", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("t_{rid}")
'''


def make_project(root: Path, url: str = "sqlite://") -> Config:
    """An Alembic project made by ``alembic init``, with its config pointed at ``url``."""
    ini = root / "alembic.ini"
    command.init(Config(str(ini), stdout=io.StringIO()), str(root / "migrations"))
    env = root / "migrations" / "env.py"
    # alembic's env.py reconfigures logging from the ini; leave pytest's logging alone
    env.write_text(env.read_text().replace("fileConfig(config.config_file_name)", "pass"))
    (root / "migrations" / "extra").mkdir()
    cfg = Config(str(ini), stdout=io.StringIO())
    cfg.set_main_option(
        "version_locations",
        os.pathsep.join([str(root / "migrations" / "versions"), str(root / "migrations" / "extra")]),
    )
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def add_revision(cfg: Config, rid: str, message: str, **kwargs) -> Path:
    """``alembic revision`` with a fixed id, then give it a body that creates a table."""
    script = command.revision(cfg, message=message, rev_id=rid, **kwargs)
    path = Path(script.path)  # type: ignore[union-attr]
    text = path.read_text()
    start = text.index("def upgrade()")
    path.write_text(text[:start] + UPGRADE_BODY.format(rid=rid))
    return path


def build_history(cfg: Config) -> None:
    """0001 -> 0002 -> {0003 (label feature), 0004} -> 0005 (merge); e001 -> e002 (extra folder)."""
    root = Path(cfg.config_file_name).parent / "migrations"  # type: ignore[arg-type]
    add_revision(cfg, "0001", "create user table", version_path=str(root / "versions"))
    add_revision(cfg, "0002", 'add "email" <unique>')
    add_revision(cfg, "0003", "feature work", branch_label="feature")
    add_revision(cfg, "0004", "other work", head="0002", splice=True)
    command.merge(cfg, ["0003", "0004"], message="merge branches", rev_id="0005")
    extra = str(root / "extra")
    add_revision(cfg, "e001", "extra root", head="base", branch_label="extra", version_path=extra)
    add_revision(cfg, "e002", "needs email", head="extra@head", depends_on="0002")


@pytest.fixture
def project(tmp_path: Path) -> Config:
    cfg = make_project(tmp_path)
    build_history(cfg)
    return cfg


ALL_IDS = ("0001", "0002", "0003", "0004", "0005", "e001", "e002")


def test_real_files_every_kind_in_dot_and_svg(project: Config, tmp_path: Path) -> None:
    script = ScriptDirectory.from_config(project)
    g = RevisionGraph.from_script_directory(script)
    assert set(g.nodes) == set(ALL_IDS)
    assert g.heads == ("0005", "e002")
    assert g.bases == ("0001", "e001")
    assert g.branch_points == ("0002",)
    assert g.merge_points == ("0005",)
    assert g.nodes["0003"].branch_labels == ("feature",)
    assert g.nodes["0005"].branch_labels == ()  # inherited labels are not drawn again
    assert g.nodes["e002"].dependencies == ("0002",)
    assert g.nodes["0002"].message == 'add "email" <unique>'
    dot = g.to_dot()
    assert "shape=house" in node_line(dot, "0001")
    assert "shape=hexagon" in node_line(dot, "0002")
    assert "shape=octagon" in node_line(dot, "0005")
    assert "peripheries=2" in node_line(dot, "e002")
    assert "shape=cds" in node_line(dot, "@label-0003-0")
    assert re.search(r'^\t"?0002"? -> "?e002"? \[.*style=dashed', dot, re.MULTILINE)
    # two version folders: one cluster each, named without absolute paths
    assert dot.count("subgraph cluster_") == 2
    assert "label=\"migrations/extra\"" in dot and "label=\"migrations/versions\"" in dot
    assert str(tmp_path) not in dot
    svg = render_svg(dot)
    assert {f"rev-{r}" for r in ALL_IDS} <= svg_ids(svg)
    for rid in ALL_IDS:
        assert rid in svg


def test_real_files_details_with_source(project: Config) -> None:
    g = RevisionGraph.from_script_directory(ScriptDirectory.from_config(project))
    info = g.details("0003")
    assert info["message"] == "feature work"
    assert info["branch_labels"] == ["feature"]
    assert info["path"].endswith("0003_feature_work.py")
    assert "Revision ID: 0003" in info["doc"]
    assert info["upgrade"].startswith("def upgrade() -> None:")
    assert 'op.create_table("t_0003"' in info["upgrade"]
    assert info["downgrade"].startswith("def downgrade() -> None:")
    assert 'op.drop_table("t_0003")' in info["downgrade"]
    merge = g.details("0005")  # written by `alembic merge`: template bodies
    assert merge["down_revisions"] == ["0003", "0004"] and "pass" in merge["upgrade"]


def test_real_files_range_uses_script_directory(project: Config) -> None:
    script = ScriptDirectory.from_config(project)
    g = RevisionGraph.from_script_directory(script, rev_range="0002:0003")
    assert set(g.nodes) == {"0002", "0003"}
    # the merge inherits the label, so feature@head is 0005, as `alembic history` resolves it
    g = RevisionGraph.from_script_directory(script, rev_range="0002:feature@head")
    assert set(g.nodes) == {"0002", "0003", "0004", "0005"}
    labelled = RevisionGraph.from_script_directory(script, rev_range="extra@base:extra@head")
    # e002 depends on 0002, so Alembic's walk (and `alembic history`) brings its ancestors along
    assert set(labelled.nodes) == {"e001", "e002", "0001", "0002"}


def _current_heads(url: str) -> tuple[str, ...]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return tuple(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()


def test_states_after_real_upgrade_and_downgrade(tmp_path: Path, db_url: str) -> None:
    cfg = make_project(tmp_path, db_url)
    build_history(cfg)
    script = ScriptDirectory.from_config(cfg)

    def states() -> dict[str, str]:
        g = RevisionGraph.from_script_directory(script, current=_current_heads(db_url))
        return {r: n.state for r, n in g.nodes.items()}

    assert set(states().values()) == {"pending"}

    command.upgrade(cfg, "0003")
    assert states() == {
        "0001": "applied",
        "0002": "applied",
        "0003": "current",
        "0004": "pending",
        "0005": "pending",
        "e001": "pending",
        "e002": "pending",
    }

    command.upgrade(cfg, "heads")
    after = states()
    assert after["0005"] == after["e002"] == "current"
    assert {after[r] for r in ("0001", "0002", "0003", "0004", "e001")} == {"applied"}

    command.downgrade(cfg, "e001")
    after = states()
    assert after["e001"] == "current" and after["e002"] == "pending"
    assert after["0005"] == "current"

    command.downgrade(cfg, "base")
    assert set(states().values()) == {"pending"}


def test_database_recording_an_unknown_revision(tmp_path: Path, sqlite_url: str) -> None:
    cfg = make_project(tmp_path, sqlite_url)
    build_history(cfg)
    command.upgrade(cfg, "0002")
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'f00dcafe'"))
    engine.dispose()
    g = RevisionGraph.from_script_directory(ScriptDirectory.from_config(cfg), current=_current_heads(sqlite_url))
    assert g.missing == ("f00dcafe",)
    assert {n.state for r, n in g.nodes.items() if r != "f00dcafe"} == {"pending"}
    assert "rev-f00dcafe" in svg_ids(render_svg(g.to_dot()))


# -- the graph command: a saved SVG file, a text form for terminals ----------------------------


@pytest.fixture
def branched(here: Path) -> Any:
    """A project (in ``here``) at 0002 of 0001 -> {0002, 0003} -> 0004 (merge)."""
    import nbmigrate

    project = nbmigrate.Project()
    project.init("migrations")
    project.revision("create", rev_id="0001")
    project.revision("feature a", rev_id="0002")
    project.revision("feature b", rev_id="0003", head="0001", splice=True)
    project.merge(["0002", "0003"], message="merge", rev_id="0004")
    project.upgrade("0002")
    return project


def test_graph_save_writes_the_svg_a_saved_notebook_shows(shell: Any, branched: Any, here: Path) -> None:
    widget = shell.run_line_magic("migrate", "graph --save graph.svg")
    text = (here / "graph.svg").read_text(encoding="utf-8")
    assert text == widget.svg
    assert text in graph_html(widget.graph, widget.svg, static=True)  # the notebook's static copy
    root = ET.fromstring(text)  # a well-formed SVG document on its own
    assert root.tag == f"{SVG_NS}svg"
    assert {"rev-0001", "rev-0002", "rev-0003", "rev-0004"} <= svg_ids(text)

    (here / "out").mkdir()
    again = branched.graph(save=here / "out" / "revisions.svg")  # the Python equivalent
    assert (here / "out" / "revisions.svg").read_text(encoding="utf-8") == again.svg == widget.svg


def test_graph_save_refuses_a_folder_that_does_not_exist(shell: Any, branched: Any, here: Path) -> None:
    from IPython.core.error import UsageError

    import nbmigrate

    error = shell.run_cell("%migrate graph --save nowhere/graph.svg").error_in_exec
    assert type(error) is UsageError
    assert str(error) == (
        "Cannot save the graph to nowhere/graph.svg: there is no folder 'nowhere'. "
        "Create it first, or give a path in an existing folder."
    )
    error = shell.run_cell("%migrate graph --save graph.png").error_in_exec
    assert type(error) is UsageError
    assert str(error) == "--save writes an SVG file: give a path ending in .svg, e.g. `--save graph.svg`."
    with pytest.raises(nbmigrate.BadArguments, match="there is no folder"):
        branched.graph(save=here / "nowhere" / "graph.svg")
    assert sorted(p.name for p in here.iterdir()) == ["alembic.ini", "migrations", "migrations.db"]
    (here / "taken.svg").mkdir()  # a folder in the way: the system's reason, in one line
    error = shell.run_cell("%migrate graph --save taken.svg").error_in_exec
    assert type(error) is UsageError and str(error) == "Cannot save the graph to taken.svg: Is a directory."


BRANCHED_TEXT = """\
Revision graph: 4 revisions: 1 current, 1 applied, 2 pending
  marks: @ current, * applied, o pending, ! missing
o pending  0002, 0003 -> 0004 (head) (merge point), merge
o pending  0001 -> 0003, feature b
@ current  0001 -> 0002, feature a
* applied  <base> -> 0001 (base) (branch point), create"""


def test_graph_in_a_terminal_is_text(branched: Any) -> None:
    from IPython.lib.pretty import pretty

    widget = branched.graph()
    assert str(widget) == BRANCHED_TEXT
    assert pretty(widget) == BRANCHED_TEXT  # what terminal IPython shows for it, e.g. in a list
