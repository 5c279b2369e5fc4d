"""ER diagrams of real schemas on SQLite, PostgreSQL and MariaDB/MySQL: DOT, SVG, result renderings."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
import sqlalchemy as sa
from IPython.lib.pretty import pretty

from nbmigrate.render import _erd_dot
from nbmigrate.erd import ErdResult, column_port, diagram, erd, erd_dot, node_id
from nbmigrate.errors import BadArguments
from nbmigrate.graph import render_svg
from nbmigrate.schema import diff, snapshot
from support import ops

SVG = "{http://www.w3.org/2000/svg}"
ADDED, REMOVED, CHANGED = (_erd_dot.STATUS_STYLE[s] for s in ("added", "removed", "changed"))


def create_library(url: str) -> None:
    """Tables with a plain, a one-to-one, a composite and a self-referencing foreign key."""
    meta = sa.MetaData()
    sa.Table(
        "authors", meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), nullable=False),
        sa.UniqueConstraint("name", name="uq_authors_name"),
    )
    sa.Table(
        "profiles", meta,
        sa.Column("author_id", sa.Integer, sa.ForeignKey("authors.id", name="fk_profiles_author"), primary_key=True),
        sa.Column("bio", sa.Text),
    )
    sa.Table(
        "books", meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("author_id", sa.Integer, sa.ForeignKey("authors.id", name="fk_books_author"), nullable=False),
        sa.Column("translator_id", sa.Integer),
        sa.Column("title", sa.String(100), index=True),
        sa.Column("subtitle", sa.String(100)),
    )
    sa.Table(
        "editions", meta,
        sa.Column("book_id", sa.Integer, sa.ForeignKey("books.id", name="fk_editions_book"), primary_key=True),
        sa.Column("number", sa.Integer, primary_key=True, autoincrement=False),
    )
    sa.Table(
        "reviews", meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("edition_book", sa.Integer),
        sa.Column("edition_number", sa.Integer),
        sa.ForeignKeyConstraint(["edition_book", "edition_number"], ["editions.book_id", "editions.number"],
                                name="fk_reviews_edition"),
    )
    sa.Table(
        "categories", meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("categories.id", name="fk_categories_parent")),
    )
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        meta.create_all(engine)
    finally:
        engine.dispose()


def edge_line(dot: str, tail: str, head: str) -> str:
    """The DOT statement of the edge ``tail -> head`` (``node:port:compass`` each)."""
    match = re.search(rf"^\t{re.escape(tail)} -> {re.escape(head)} \[.*\]$", dot, re.MULTILINE)
    assert match, f"no edge {tail} -> {head} in DOT:\n{dot}"
    return match.group(0)


def edges(dot: str) -> list[str]:
    """Every edge statement, ``tail -> head`` only."""
    return re.findall(r"^\t(\S+ -> \S+) \[", dot, re.MULTILINE)


def node_label(dot: str, node: str) -> str:
    """The HTML-like label of ``node``."""
    match = re.search(rf"^\t{re.escape(node)} \[label=<(.*)> ", dot, re.MULTILINE)
    assert match, f"no node {node} in DOT"
    return match.group(1)


def row(dot: str, node: str, column: str) -> str:
    """The ``<tr>`` of ``column`` in ``node``'s label."""
    label = node_label(dot, node)
    match = re.search(rf'<tr><td port="{column_port(column, "w")}".*?</tr>', label)
    assert match, f"no row {column} in {node}"
    return match.group(0)


def svg_texts(svg: str) -> list[str]:
    """The texts drawn in the SVG, entities decoded."""
    return [t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}text")]


def marks(snap, table: str, column: str) -> list[str]:
    shown = diagram(snap)
    return [mark for mark, _ in next(c for c in shown.table(table).columns if c.name == column).marks]


# -- one snapshot ----------------------------------------------------------------------------------


def test_nodes_rows_and_key_marks(db_url: str) -> None:
    create_library(db_url)
    snap = snapshot(db_url)
    dot = erd_dot(snap)
    nodes = re.findall(r"^\t(t_\w+) \[label=<", dot, re.MULTILINE)
    assert nodes == sorted(nodes) == [node_id(n) for n in sorted(snap.tables)]
    assert "<b>authors</b>" in node_label(dot, "t_authors")
    # a row: name cell (port in), type, marks cell (port out), in the database's column order
    assert re.fullmatch(r'<tr><td port="wc_id" align="left">id</td><td align="left"><font color="#\w+">'
                        r'[A-Z()0-9]+</font></td><td port="ec_id" align="left">PK</td></tr>', row(dot, "t_authors", "id"))
    assert re.findall(r'port="w(c_\w+)"', node_label(dot, "t_books")) == [
        "c_id", "c_author_id", "c_translator_id", "c_title", "c_subtitle"]
    assert marks(snap, "authors", "id") == ["PK"]
    assert marks(snap, "authors", "name") == ["UQ"]  # MariaDB's unique index counts as unique too
    assert marks(snap, "books", "title") == ["IX"]
    assert marks(snap, "books", "author_id")[0] == "FK"  # MariaDB adds an index (IX) for it
    assert marks(snap, "profiles", "author_id")[:2] == ["PK", "FK"]
    assert marks(snap, "editions", "number") == ["PK"]
    assert marks(snap, "books", "subtitle") == []
    assert "legend" not in dot


def test_foreign_keys_are_edges_between_column_ports(db_url: str) -> None:
    create_library(db_url)
    snap = snapshot(db_url)
    dot = erd_dot(snap)
    plain = edge_line(dot, "t_books:ec_author_id:e", "t_authors:wc_id:w")
    assert "arrowtail=crow" in plain and "arrowhead=tee " in plain  # many books, exactly one author
    assert 'tooltip="fk_books_author: books.author_id → authors.id"' in plain
    one_to_one = edge_line(dot, "t_profiles:ec_author_id:e", "t_authors:wc_id:w")
    assert "arrowtail=tee" in one_to_one  # its columns are the primary key
    # a composite key: one edge per column pair, both ends on their columns
    first = edge_line(dot, "t_reviews:ec_edition_book:e", "t_editions:wc_book_id:w")
    second = edge_line(dot, "t_reviews:ec_edition_number:e", "t_editions:wc_number:w")
    assert "arrowhead=teeodot" in first and "arrowhead=teeodot" in second  # nullable: zero or one
    # a self-reference loops on the table's own east side
    edge_line(dot, "t_categories:ec_parent_id:e", "t_categories:ec_id:e")
    edge_line(dot, "t_editions:ec_book_id:e", "t_books:wc_id:w")
    assert len(edges(dot)) == 6
    assert dot == erd_dot(snapshot(db_url))  # same schema, same bytes

    svg = render_svg(dot)
    root = ET.fromstring(svg)
    groups = {g.get("id") for g in root.iter(f"{SVG}g")}
    assert {f"table-{node_id(n)}" for n in snap.tables} <= groups
    assert {f"fk-{i}" for i in range(1, 7)} <= groups
    assert set(snap.tables) <= set(svg_texts(svg))


def test_table_filter_draws_referred_tables_as_stubs(db_url: str) -> None:
    create_library(db_url)
    snap = snapshot(db_url)
    shown = diagram(snap, tables=["reviews", "categories"])
    assert [(t.name, t.stub) for t in shown.tables] == [("categories", False), ("reviews", False), ("editions", True)]
    stub = shown.table("editions")
    assert [c.name for c in stub.columns] == ["book_id", "number"]  # only the referred columns, in table order
    assert all(c.type and not c.marks for c in stub.columns)
    dot = shown.to_dot()
    assert 'style="dashed"' in node_label(dot, "t_editions")
    assert "t_books" not in dot and "t_authors" not in dot  # neither drawn nor referred to
    assert sorted(edges(dot)) == [
        "t_categories:ec_parent_id:e -> t_categories:ec_id:e",
        "t_reviews:ec_edition_book:e -> t_editions:wc_book_id:w",
        "t_reviews:ec_edition_number:e -> t_editions:wc_number:w",
    ]
    # a snapshot of some tables only: the referred table is not in it, its column types unknown
    part = diagram(snapshot(db_url, tables=["books"]))
    assert [(t.name, t.stub, [c.name for c in t.columns]) for t in part.tables] == [
        ("books", False, ["id", "author_id", "translator_id", "title", "subtitle"]), ("authors", True, ["id"])]
    assert "editions" not in part.to_dot()  # it refers to books, but is outside the selection

    with pytest.raises(BadArguments, match=r"No table 'nope' in the schema; its tables: authors, books, "):
        diagram(snap, tables=["books", "nope"])

    result = erd(snap, tables="reviews")  # one name needs no list
    assert result.tables == ("reviews",) and "t_categories" not in result.dot
    assert str(result).splitlines()[:2] == [
        "ER diagram: 1 table, 2 foreign key edges, 1 referred to outside the selection",
        "  table reviews  [0 rows]",
    ]
    assert "  table editions (referred to, outside the selection)" in str(result)
    assert {"reviews", "editions"} <= set(svg_texts(result.svg))
    assert ErdResult(snap, result.dot, result.svg, tables=("reviews",)).diagram == result.diagram


COLUMN = "a&b<c>"


def test_names_with_markup_characters_are_escaped(db_url: str) -> None:
    create_library(db_url)
    with ops(db_url) as op:
        op.create_table(
            "we<ird&t",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column(COLUMN, sa.Integer, sa.ForeignKey("authors.id", name="fk_weird")),
            sa.Column('say "hi"', sa.Integer),  # not in the key: SQLite's parser of foreign keys trips on quotes
        )
    snap = snapshot(db_url)
    dot = erd_dot(snap)
    node = node_id("we<ird&t")
    assert node == "h_" + "we<ird&t".encode().hex()
    label = node_label(dot, node)
    assert "<b>we&lt;ird&amp;t</b>" in label
    assert "a&amp;b&lt;c&gt;" in label and "say &quot;hi&quot;" in label
    without_tooltips = re.sub(r' tooltip="(\\.|[^"\\])*"', "", dot)
    assert "<ird" not in without_tooltips and "<c>" not in without_tooltips and '"hi' not in without_tooltips
    edge_line(dot, f"{node}:{column_port(COLUMN, 'e')}:e", "t_authors:wc_id:w")
    svg = render_svg(dot)
    texts = svg_texts(svg)
    assert {"we<ird&t", COLUMN, 'say "hi"'} <= set(texts)


# -- a diff ---------------------------------------------------------------------------------------


def change_library(url: str) -> None:
    """An added table, a removed table, a removed column, a changed type and an added foreign key."""
    with ops(url) as op:
        op.create_table(
            "loans",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("book_id", sa.Integer, sa.ForeignKey("books.id", name="fk_loans_book")),
        )
        op.drop_table("profiles")
        with op.batch_alter_table("books") as batch:
            batch.drop_column("subtitle")
            batch.create_foreign_key("fk_books_translator", "authors", ["translator_id"], ["id"])
        with op.batch_alter_table("authors") as batch:
            batch.alter_column("name", type_=sa.String(200), existing_type=sa.String(50), existing_nullable=False)


def test_diff_marks_added_removed_and_changed_items(db_url: str) -> None:
    create_library(db_url)
    before = snapshot(db_url)
    change_library(db_url)
    after = snapshot(db_url)
    changes = diff(before, after)
    dot = erd_dot(after, diff=changes)

    loans = node_label(dot, "t_loans")
    assert f'color="{ADDED["line"]}"' in loans and f'bgcolor="{ADDED["fill"]}" align="center"><b>+ loans</b>' in loans
    gone = node_label(dot, "t_profiles")  # a removed table is drawn from the before snapshot
    assert f'color="{REMOVED["line"]}"' in gone and "<b>− profiles</b>" in gone
    assert f'bgcolor="{REMOVED["fill"]}">− subtitle</td>' in row(dot, "t_books", "subtitle")
    changed = row(dot, "t_authors", "name")
    assert f'bgcolor="{CHANGED["fill"]}">~ name</td>' in changed and "VARCHAR(50) → VARCHAR(200)" in changed
    # the new foreign key on an existing column: a "+" mark in its row and a green "+" edge
    assert f'<font color="{ADDED["text"]}">+FK</font>' in row(dot, "t_books", "translator_id")
    added_fk = edge_line(dot, "t_books:ec_translator_id:e", "t_authors:wc_id:w")
    assert 'label="+"' in added_fk and f'color="{ADDED["line"]}"' in added_fk
    removed_fk = edge_line(dot, "t_profiles:ec_author_id:e", "t_authors:wc_id:w")
    assert 'label="−"' in removed_fk and "style=dashed" in removed_fk and f'color="{REMOVED["line"]}"' in removed_fk
    assert 'label="+"' in edge_line(dot, "t_loans:ec_book_id:e", "t_books:wc_id:w")
    plain = edge_line(dot, "t_books:ec_author_id:e", "t_authors:wc_id:w")
    assert "label=" not in plain
    assert "legend [label=<" in dot

    svg = render_svg(dot)
    texts = svg_texts(svg)
    for text in ("+ loans", "− profiles", "− subtitle", "~ name", "+FK", "+", "−", "+ added", "− removed", "~ changed"):
        assert text in texts, text

    result = erd(after, before=before)
    assert isinstance(result, ErdResult) and result.diff == changes and result.dot == dot
    listing = str(result)
    assert listing.startswith("ER diagram: 7 tables, ")
    assert "+ table loans" in listing and "− table profiles" in listing
    assert re.search(r"^−\s+subtitle\s+VARCHAR\(100\)$", listing, re.MULTILINE)
    assert re.search(r"^~\s+name\s+VARCHAR\(50\) → VARCHAR\(200\)\s+UQ$", listing, re.MULTILINE)
    assert "+   books.translator_id → authors.id" in listing
    assert "−   profiles.author_id → authors.id" in listing
    assert pretty(result) == listing
    html = result._repr_html_()
    assert html.startswith('<div class="nbm">') and "<svg" in html and "ER diagram" in html and "<script" not in html
    with pytest.raises(ValueError, match="diff must be the diff of the drawn snapshot"):
        erd_dot(before, diff=changes)


def test_renamed_table_and_column_keep_their_edges(sqlite_url: str) -> None:
    create_library(sqlite_url)
    before = snapshot(sqlite_url)
    with ops(sqlite_url) as op:
        op.rename_table("categories", "topics")
        op.alter_column("books", "title", new_column_name="name")
    after = snapshot(sqlite_url)
    changes = diff(before, after)
    assert changes.renamed_tables == [("categories", "topics")]
    assert changes.renamed_columns == [("books", "title", "name")]
    dot = erd_dot(after, diff=changes)
    assert "<b>→ topics <font" in node_label(dot, "t_topics") and "(was categories)" in node_label(dot, "t_topics")
    assert "→ name (was title)" in row(dot, "t_books", "name")
    assert "t_categories" not in dot
    assert "label=" not in edge_line(dot, "t_topics:ec_parent_id:e", "t_topics:ec_id:e")  # unchanged
    # names given before the rename select the renamed table
    assert [t.name for t in diagram(after, tables=["categories"], diff=changes).tables] == ["topics"]


def test_no_changes_draw_no_legend(sqlite_url: str) -> None:
    create_library(sqlite_url)
    snap = snapshot(sqlite_url)
    result = erd(snap, before=snap)
    assert "legend" not in result.dot and "+" not in result.dot.replace("penwidth", "")
    assert "no schema changes" in str(result)
    assert result.dot == erd(snap).dot


def test_empty_schema_draws(sqlite_url: str) -> None:
    result = erd(snapshot(sqlite_url))
    assert result.svg.startswith("<svg")
    assert str(result) == "ER diagram: 0 tables, 0 foreign key edges"


# -- colours and layering ---------------------------------------------------------------------------


def _luminance(colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(int(colour[i : i + 2], 16) / 255) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_colours_read_on_light_and_dark_pages() -> None:
    # Lines are drawn on the page itself: white, or JupyterLab's dark theme (#111111, #212121).
    lines = [_erd_dot.EDGE, _erd_dot.BORDER] + [s["line"] for s in _erd_dot.STATUS_STYLE.values()]
    for colour in lines:
        for page in ("#ffffff", "#111111", "#212121"):
            assert _contrast(colour, page) >= 3, (colour, page)
    # Text sits in filled cells, never on the page.
    fills = [_erd_dot.PAPER, _erd_dot.HEADER, _erd_dot.STUB_HEADER] + [s["fill"] for s in _erd_dot.STATUS_STYLE.values()]
    for fill in fills:
        assert _contrast(_erd_dot.TEXT, fill) >= 7, fill
        assert _contrast(_erd_dot.MUTED, fill) >= 4.5, fill
    for style in _erd_dot.STATUS_STYLE.values():
        assert _contrast(style["text"], style["fill"]) >= 4.5 and _contrast(style["text"], _erd_dot.PAPER) >= 4.5
    assert "bgcolor=transparent" in erd_dot(snapshot("sqlite://"))


def test_engine_does_not_import_ipython() -> None:
    code = "import sys, nbmigrate.erd; print(sorted(m for m in ('IPython', 'ipywidgets') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
