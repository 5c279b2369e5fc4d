"""Schema snapshots and diffs on SQLite, PostgreSQL and MariaDB/MySQL, through real DDL."""

from __future__ import annotations

import dataclasses

import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations

from nbmigrate.render.schema import (
    diff_section_html,
    render_diff_html,
    render_diff_text,
    render_snapshot_html,
    render_snapshot_text,
    snapshot_section_html,
)
from nbmigrate.schema import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    SchemaDiff,
    Snapshot,
    Table,
    UniqueConstraint,
    diff,
    snapshot,
)
from support import ops

# How each database spells the same SQLAlchemy types and check constraints.
INT = {"sqlite": "INTEGER", "postgresql": "INTEGER", "mysql": "INTEGER(11)"}
BIGINT = {"sqlite": "BIGINT", "postgresql": "BIGINT", "mysql": "BIGINT(20)"}
NUMERIC = {"sqlite": "NUMERIC(10, 2)", "postgresql": "NUMERIC(10, 2)", "mysql": "DECIMAL(10, 2)"}
CHECK_SCORE = {"sqlite": "score > 0", "postgresql": "score > 0::numeric", "mysql": "`score` > 0"}
CHECK_N = {"sqlite": "n > 0", "postgresql": "n > 0", "mysql": "`n` > 0"}


def backend(url: str) -> str:
    """``sqlite``, ``postgresql`` or ``mysql`` (MariaDB included) for a test database URL."""
    return sa.make_url(url).get_backend_name()


def execute(url: str, *statements: str) -> None:
    """Run SQL statements on ``url`` in one transaction."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def create_shop(url: str) -> None:
    """A parent/child pair with every kind of constraint, and some rows."""
    with ops(url) as op:
        op.create_table(
            "parent",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("name", sa.String(50), nullable=False, server_default="x"),
            sa.Column("score", sa.Numeric(10, 2)),
            sa.UniqueConstraint("name", name="uq_parent_name"),
            sa.CheckConstraint("score > 0", name="ck_score"),
        )
        op.create_table(
            "child",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("pid", sa.Integer),
            sa.Column("note", sa.String(20)),
            sa.ForeignKeyConstraint(["pid"], ["parent.id"], name="fk_child_parent", ondelete="CASCADE"),
        )
        op.create_index("ix_child_note", "child", ["note", "pid"])
    execute(
        url,
        "INSERT INTO parent (id, name, score) VALUES (1, 'a', 1.5), (2, 'b', NULL), (3, 'c', 2)",
        "INSERT INTO child (id, pid, note) VALUES (1, 1, 'n1'), (2, 1, NULL), (3, NULL, NULL), (4, 2, 'n4')",
    )


# --------------------------------------------------------------------------------------------
# Snapshot
# --------------------------------------------------------------------------------------------


def test_snapshot_reports_columns_constraints_and_counts(db_url: str) -> None:
    create_shop(db_url)
    kind = backend(db_url)
    snap = snapshot(db_url)

    assert snap.dialect == kind
    assert snap.schema is None
    assert list(snap.tables) == ["child", "parent"]
    assert snap.version_table is None

    parent = snap.tables["parent"]
    assert parent.row_count == 3
    assert parent.primary_key == ("id",)
    assert [(c.name, c.type, c.nullable, c.primary_key, c.non_null) for c in parent.columns] == [
        ("id", INT[kind], False, True, 3),
        ("name", "VARCHAR(50)", False, False, 3),
        ("score", NUMERIC[kind], True, False, 2),
    ]
    assert parent.column("id").autoincrement is True
    assert parent.column("name").autoincrement is False
    assert parent.column("name").default == {"postgresql": "'x'::character varying"}.get(kind, "'x'")
    assert parent.check_constraints == (CheckConstraint("ck_score", CHECK_SCORE[kind]),)
    if kind == "mysql":
        # MariaDB has no unique constraint apart from its unique index.
        assert parent.unique_constraints == ()
        assert parent.indexes == (Index("uq_parent_name", ("name",), unique=True),)
    else:
        assert parent.unique_constraints == (UniqueConstraint("uq_parent_name", ("name",)),)
        assert parent.indexes == ()

    child = snap.tables["child"]
    assert child.row_count == 4
    assert [(c.name, c.non_null) for c in child.columns] == [("id", 4), ("pid", 3), ("note", 2)]
    assert child.foreign_keys == (
        ForeignKey("fk_child_parent", ("pid",), "parent", ("id",), None, ondelete="CASCADE"),
    )
    expected_indexes = [Index("ix_child_note", ("note", "pid"))]
    if kind == "mysql":
        # InnoDB gives every foreign key an index, named after the constraint.
        expected_indexes.insert(0, Index("fk_child_parent", ("pid",)))
    assert list(child.indexes) == expected_indexes


def test_snapshot_is_frozen_and_sorted(sqlite_url: str) -> None:
    execute(sqlite_url, "CREATE TABLE zeta (id INTEGER PRIMARY KEY)", "CREATE TABLE alpha (id INTEGER PRIMARY KEY)")
    snap = snapshot(sqlite_url)
    assert list(snap.tables) == ["alpha", "zeta"]
    assert snap["alpha"] is snap.tables["alpha"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.dialect = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.tables["alpha"].columns[0].name = "x"  # type: ignore[misc]
    assert isinstance(snap.tables["alpha"], Table)
    assert isinstance(snap.tables["alpha"].columns[0], Column)
    assert repr(snap) == "<Snapshot sqlite: 2 tables, version=None>"


def test_snapshot_without_row_counts(db_url: str) -> None:
    create_shop(db_url)
    snap = snapshot(db_url, row_counts=False)
    assert snap.row_counts is False
    assert snap.tables["parent"].row_count is None
    assert {c.non_null for t in snap.tables.values() for c in t.columns} == {None}
    assert "rows not counted" in render_snapshot_text(snap)


def test_version_table_kept_apart(db_url: str) -> None:
    create_shop(db_url)
    with ops(db_url) as op:
        op.create_table("alembic_version", sa.Column("version_num", sa.String(32), primary_key=True))
        op.create_table("my_versions", sa.Column("version_num", sa.String(32), primary_key=True))
    execute(
        db_url,
        "INSERT INTO alembic_version (version_num) VALUES ('ae1027a6acf')",
        "INSERT INTO my_versions (version_num) VALUES ('b2'), ('a1')",
    )

    snap = snapshot(db_url)
    assert list(snap.tables) == ["child", "my_versions", "parent"]
    assert snap.version_table == ("ae1027a6acf",)
    assert snap.version_table_name == "alembic_version"

    custom = snapshot(db_url, version_table="my_versions")
    assert list(custom.tables) == ["alembic_version", "child", "parent"]
    assert custom.version_table == ("a1", "b2")

    # The version table stays apart even when asked for by name.
    only = snapshot(db_url, tables=["alembic_version", "parent"])
    assert list(only.tables) == ["parent"]
    assert only.version_table == ("ae1027a6acf",)

    text = render_snapshot_text(snap)
    assert text.splitlines()[-1] == "alembic_version: ae1027a6acf"
    assert "alembic_version: ae1027a6acf" in render_snapshot_html(snap)

    execute(db_url, "DELETE FROM alembic_version")
    emptied = snapshot(db_url)
    assert emptied.version_table == ()
    d = diff(snap, emptied)
    # The version table is no part of the comparison, but the change is shown.
    assert d.is_empty and not d
    assert d.version_changed is True
    assert "alembic_version: ae1027a6acf → (empty)" in render_diff_text(d)


def test_tables_restriction(db_url: str) -> None:
    create_shop(db_url)
    snap = snapshot(db_url, tables=["parent", "nope"])
    assert list(snap.tables) == ["parent"]
    assert snap.requested == ("parent", "nope")
    assert snap.missing == ["nope"]
    assert snap.tables["parent"] == snapshot(db_url).tables["parent"]
    assert "not in the database: nope" in render_snapshot_text(snap)
    assert snapshot(db_url, tables=[]).tables == {}


def _statements(url: str, **kwargs: object) -> list[str]:
    """The SQL statements one snapshot runs."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    seen: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def record(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        seen.append(statement)

    try:
        snapshot(engine, **kwargs)  # type: ignore[arg-type]
    finally:
        engine.dispose()
    return seen


def test_tables_restriction_cost_is_bounded(db_url: str) -> None:
    with ops(db_url) as op:
        for i in range(3):
            op.create_table(f"t{i}", sa.Column("id", sa.Integer, primary_key=True))
    few = _statements(db_url, tables=["t0"])
    with ops(db_url) as op:
        for i in range(3, 30):
            op.create_table(f"t{i}", sa.Column("id", sa.Integer, primary_key=True))
    many = _statements(db_url, tables=["t0"])
    # The same queries however many other tables exist, and none of them counts another table.
    assert len(many) == len(few)
    assert not [s for s in many if "t1" in s or "t2" in s]
    # Unrestricted, every table is counted, in one statement per hundred tables (MySQL reflects each table on its own).
    everything = _statements(db_url)
    counts = [s for s in everything if "COUNT(*)" in s]
    assert len(counts) == 1 and "t29" in counts[0] and len(everything) >= len(many)


def test_bind_kinds(db_url: str) -> None:
    create_shop(db_url)
    from_str = snapshot(db_url)
    assert snapshot(sa.make_url(db_url)) == from_str

    engine = sa.create_engine(db_url)
    try:
        assert snapshot(engine) == from_str
        # The caller's engine is used, not disposed: its pool has the connection back.
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]

        with engine.connect() as conn:
            assert snapshot(conn) == from_str
            # A connection without a transaction is left without one, and still open.
            assert not conn.in_transaction()
            assert not conn.closed

            with conn.begin() as trans:
                conn.execute(sa.text("INSERT INTO parent (id, name) VALUES (9, 'z')"))
                inside = snapshot(conn)
                # Uncommitted rows are seen through the caller's transaction, which stays open.
                assert inside.tables["parent"].row_count == 4
                assert conn.in_transaction()
                trans.rollback()
            assert snapshot(conn).tables["parent"].row_count == 3
    finally:
        engine.dispose()

    with pytest.raises(TypeError, match="URL, Engine or Connection"):
        snapshot(42)  # type: ignore[arg-type]


def test_connection_sees_uncommitted_ddl_postgresql(pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    try:
        with engine.connect() as conn:
            trans = conn.begin()
            Operations(MigrationContext.configure(conn)).create_table(
                "draft", sa.Column("id", sa.Integer, primary_key=True)
            )
            assert list(snapshot(conn).tables) == ["draft"]
            assert conn.in_transaction()
            trans.rollback()
            assert snapshot(conn).tables == {}
    finally:
        engine.dispose()


def test_postgresql_other_schema(pg_url: str) -> None:
    execute(
        pg_url,
        "CREATE SCHEMA sales",
        "CREATE TABLE public.outside (id integer PRIMARY KEY)",
        "CREATE TABLE sales.customer (id integer PRIMARY KEY, name varchar(20))",
        "CREATE TABLE sales.orders (id integer PRIMARY KEY, "
        "customer_id integer CONSTRAINT fk_orders_customer REFERENCES sales.customer (id), "
        "outside_id integer CONSTRAINT fk_orders_outside REFERENCES public.outside (id))",
        "CREATE TABLE public.inside (id integer PRIMARY KEY, "
        "customer_id integer CONSTRAINT fk_inside_customer REFERENCES sales.customer (id), "
        "outside_id integer CONSTRAINT fk_inside_outside REFERENCES public.outside (id))",
        "CREATE TABLE sales.alembic_version (version_num varchar(32) PRIMARY KEY)",
        "INSERT INTO sales.alembic_version VALUES ('c0ffee')",
        "INSERT INTO sales.customer VALUES (1, 'ann'), (2, NULL)",
    )
    snap = snapshot(pg_url, schema="sales")
    assert snap.schema == "sales"
    assert list(snap.tables) == ["customer", "orders"]
    assert snap.version_table == ("c0ffee",)
    assert snap.tables["customer"].row_count == 2
    assert [c.non_null for c in snap.tables["customer"].columns] == [2, 1]
    # A target in the reflected schema has no schema name; one elsewhere is named.
    assert snap.tables["orders"].foreign_keys == (
        ForeignKey("fk_orders_customer", ("customer_id",), "customer", ("id",), None),
        ForeignKey("fk_orders_outside", ("outside_id",), "outside", ("id",), "public"),
    )
    public = snapshot(pg_url)
    assert list(public.tables) == ["inside", "outside"]
    assert public.tables["inside"].foreign_keys == (
        ForeignKey("fk_inside_customer", ("customer_id",), "customer", ("id",), "sales"),
        ForeignKey("fk_inside_outside", ("outside_id",), "outside", ("id",), None),
    )
    assert snapshot(pg_url, schema="public") == dataclasses.replace(public, schema="public")
    assert "(outside_id) → public.outside(id)" in render_snapshot_text(snap)
    assert list(snapshot(pg_url, schema="sales", tables=["orders"]).tables) == ["orders"]
    assert "schema sales" in render_snapshot_text(snap).splitlines()[0]

    execute(pg_url, "DROP TABLE sales.orders")
    d = diff(snap, snapshot(pg_url, schema="sales"))
    assert d.removed_tables == ["orders"]
    assert d.data_loss == []


# --------------------------------------------------------------------------------------------
# Diff
# --------------------------------------------------------------------------------------------


def test_no_change_is_empty(db_url: str) -> None:
    create_shop(db_url)
    d = diff(snapshot(db_url), snapshot(db_url))
    assert isinstance(d, SchemaDiff)
    assert d.is_empty is True
    assert bool(d) is False
    assert d.unchanged == ("child", "parent")
    assert (d.added_tables, d.removed_tables, d.changed_tables, d.data_loss) == ([], [], [], [])
    assert render_diff_text(d) == "No schema changes\n2 tables unchanged: child, parent"
    assert '<div class="nbm-title">No schema changes</div>' in diff_section_html(d)


def test_add_and_drop_table_with_rows(db_url: str) -> None:
    create_shop(db_url)
    with ops(db_url) as op:
        op.create_table("log", sa.Column("id", sa.Integer, primary_key=True), sa.Column("msg", sa.Text))
    before = snapshot(db_url)
    with ops(db_url) as op:
        op.drop_table("child")
        op.drop_table("log")  # empty: no data-loss note
        op.create_table("tag", sa.Column("id", sa.Integer, primary_key=True), sa.Column("label", sa.String(10)))
    d = diff(before, snapshot(db_url))
    assert d.added_tables == ["tag"]
    assert d.removed_tables == ["child", "log"]
    assert d.changed_tables == []
    assert d.unchanged == ("parent",)
    assert d.data_loss == ["table `child` dropped with 4 rows"]
    assert bool(d) is True

    text = render_diff_text(d).splitlines()
    assert "DATA LOSS:" in text
    assert "  ! table `child` dropped with 4 rows" in text
    assert "- table child (4 rows)" in text
    assert "+ table tag" in text
    assert "    + column label VARCHAR(10) NULL" in text
    assert "1 table unchanged: parent" in text


def test_add_drop_alter_columns(db_url: str) -> None:
    create_shop(db_url)
    kind = backend(db_url)
    execute(db_url, "UPDATE child SET note = 'x' WHERE note IS NULL")  # every row has a value now
    with ops(db_url) as op:
        op.add_column("parent", sa.Column("n", sa.Integer))
    execute(db_url, "UPDATE parent SET n = id")
    before = snapshot(db_url)
    with ops(db_url) as op:
        with op.batch_alter_table("parent") as batch:
            batch.drop_constraint("ck_score", type_="check")
            batch.drop_column("score")  # 2 of 3 rows had values
            batch.add_column(sa.Column("mobile", sa.String(20)))
            batch.alter_column("n", type_=sa.BigInteger, nullable=False, existing_type=sa.Integer)
        with op.batch_alter_table("child") as batch:
            batch.alter_column("note", type_=sa.String(40), existing_type=sa.String(20), existing_nullable=True)
    after = snapshot(db_url)
    d = diff(before, after)

    assert d.changed_tables == ["child", "parent"]
    assert d.added_columns == [("parent", "mobile")]
    assert d.removed_columns == [("parent", "score")]
    assert d.changed_columns == [("child", "note"), ("parent", "n")]
    assert d.renamed_columns == []
    assert d.data_loss == ["column `parent.score` dropped, 2 of 3 rows had values"]
    assert d.table("parent").removed_check_constraints == (CheckConstraint("ck_score", CHECK_SCORE[kind]),)

    n = d.table("parent").changed_columns[0]
    assert n.fields == ("type", "nullable")
    assert (n.before.type, n.after.type) == (INT[kind], BIGINT[kind])
    assert (n.before.nullable, n.after.nullable) == (True, False)
    note = d.table("child").changed_columns[0]
    assert note.fields == ("type",)
    assert (note.before.type, note.after.type) == ("VARCHAR(20)", "VARCHAR(40)")

    text = render_diff_text(d).splitlines()
    assert "~ table parent" in text
    assert "    + column mobile VARCHAR(20) NULL" in text
    assert f"    - column score {NUMERIC[kind]} NULL (2 of 3 rows had values)" in text
    assert f"    ~ column n: type {INT[kind]} → {BIGINT[kind]}, nullable yes → no" in text
    assert "    ~ column note: type VARCHAR(20) → VARCHAR(40)" in text


def test_columns_of_added_and_removed_tables_are_listed_with_the_rest(db_url: str) -> None:
    create_shop(db_url)
    before = snapshot(db_url)
    with ops(db_url) as op:
        op.drop_table("child")
        op.create_table("tag", sa.Column("id", sa.Integer, primary_key=True), sa.Column("label", sa.String(10)))
        op.add_column("parent", sa.Column("mobile", sa.String(20)))
        op.create_table("audit", sa.Column("at", sa.Integer), sa.Column("who", sa.String(10)))
    d = diff(before, snapshot(db_url))
    # only the tables on both sides, as before
    assert d.added_columns == [("parent", "mobile")]
    assert d.removed_columns == []
    # every column that appeared or went, whichever table it belongs to; by table, then column order
    assert d.all_added_columns == [("audit", "at"), ("audit", "who"), ("parent", "mobile"), ("tag", "id"), ("tag", "label")]
    assert d.all_removed_columns == [("child", "id"), ("child", "pid"), ("child", "note")]


def test_drop_column_of_nulls_is_no_data_loss(db_url: str) -> None:
    create_shop(db_url)
    execute(db_url, "UPDATE child SET note = NULL")
    before = snapshot(db_url)
    with ops(db_url) as op:
        with op.batch_alter_table("child") as batch:
            batch.drop_index("ix_child_note")
            batch.drop_column("note")
    d = diff(before, snapshot(db_url))
    assert d.removed_columns == [("child", "note")]
    assert d.data_loss == []
    assert d.table("child").removed_indexes == (Index("ix_child_note", ("note", "pid")),)


def test_constraints_added_and_removed(db_url: str) -> None:
    kind = backend(db_url)
    with ops(db_url) as op:
        op.create_table("p", sa.Column("id", sa.Integer, primary_key=True))
        op.create_table(
            "t",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("pid", sa.Integer),
            sa.Column("n", sa.Integer),
            sa.Column("code", sa.String(10)),
        )
    empty = snapshot(db_url)
    with ops(db_url) as op:
        with op.batch_alter_table("t") as batch:
            batch.create_foreign_key("fk_t_p", "p", ["pid"], ["id"])
            batch.create_unique_constraint("uq_t_code", ["code"])
            batch.create_check_constraint("ck_t_n", "n > 0")
            batch.create_index("ix_t_n", ["n"])
    full = snapshot(db_url)

    d = diff(empty, full)
    assert d.changed_tables == ["t"]
    assert d.unchanged == ("p",)
    t = d.table("t")
    assert t.added_foreign_keys == (ForeignKey("fk_t_p", ("pid",), "p", ("id",)),)
    assert t.added_check_constraints == (CheckConstraint("ck_t_n", CHECK_N[kind]),)
    if kind == "mysql":
        assert t.added_unique_constraints == ()
        assert t.added_indexes == (
            Index("fk_t_p", ("pid",)),
            Index("ix_t_n", ("n",)),
            Index("uq_t_code", ("code",), unique=True),
        )
    else:
        assert t.added_unique_constraints == (UniqueConstraint("uq_t_code", ("code",)),)
        assert t.added_indexes == (Index("ix_t_n", ("n",)),)
    assert (t.removed_foreign_keys, t.removed_indexes, t.removed_unique_constraints, t.removed_check_constraints) == (
        (),
        (),
        (),
        (),
    )
    assert d.added_columns == d.removed_columns == d.changed_columns == []

    text = render_diff_text(d).splitlines()
    assert "    + foreign key fk_t_p (pid) → p(id)" in text
    assert f"    + check ck_t_n {CHECK_N[kind]}" in text
    assert "    + index ix_t_n (n)" in text

    # And back: each one removed.
    back = diff(full, empty)
    bt = back.table("t")
    assert bt.removed_foreign_keys == t.added_foreign_keys
    assert bt.removed_check_constraints == t.added_check_constraints
    assert bt.removed_indexes == t.added_indexes
    assert bt.removed_unique_constraints == t.added_unique_constraints
    assert "    - foreign key fk_t_p (pid) → p(id)" in render_diff_text(back).splitlines()


def test_primary_key_change(db_url: str) -> None:
    with ops(db_url) as op:
        op.create_table(
            "pair",
            sa.Column("a", sa.Integer, nullable=False, autoincrement=False),
            sa.Column("b", sa.Integer, nullable=False),
            sa.PrimaryKeyConstraint("a", name="pk_pair"),
        )
    before = snapshot(db_url)
    with ops(db_url) as op:
        if backend(db_url) == "sqlite":
            with op.batch_alter_table("pair", recreate="always") as batch:
                batch.drop_constraint("pk_pair", type_="primary")
                batch.create_primary_key("pk_pair", ["a", "b"])
        else:
            op.drop_constraint("pk_pair", "pair", type_="primary")
            op.create_primary_key("pk_pair", "pair", ["a", "b"])
    d = diff(before, snapshot(db_url))
    t = d.table("pair")
    assert t.primary_key_changed is True
    assert (t.before.primary_key, t.after.primary_key) == (("a",), ("a", "b"))
    assert d.changed_columns == [("pair", "b")]
    assert t.changed_columns[0].fields == ("primary_key",)
    assert "    ~ primary key (a) → (a, b)" in render_diff_text(d).splitlines()


def test_rename_column_detected(db_url: str) -> None:
    create_shop(db_url)
    before = snapshot(db_url)
    with ops(db_url) as op:
        with op.batch_alter_table("child") as batch:
            batch.alter_column("note", new_column_name="remark", existing_type=sa.String(20))
    after = snapshot(db_url)
    d = diff(before, after)
    assert d.renamed_columns == [("child", "note", "remark")]
    assert d.added_columns == d.removed_columns == d.changed_columns == []
    assert d.data_loss == []
    # The index follows the column: a rename alone is not an index change.
    t = d.table("child")
    assert after.tables["child"].indexes[-1] == Index("ix_child_note", ("remark", "pid"))
    assert (t.added_indexes, t.removed_indexes) == ((), ())
    assert "    → column note → remark" in render_diff_text(d).splitlines()
    html = render_diff_html(d)
    assert "<strong>→</strong>" in html
    assert "was note" in html


def test_rename_among_other_drops_and_adds_is_detected(db_url: str) -> None:
    create_shop(db_url)  # child.note: 2 of 4 rows have values; child.pid: 3 of 4
    before = snapshot(db_url)
    with ops(db_url) as op:
        with op.batch_alter_table("child") as batch:
            batch.alter_column("note", new_column_name="remark", existing_type=sa.String(20))
            batch.add_column(sa.Column("tag", sa.Integer))
    execute(db_url, "UPDATE child SET tag = 7 WHERE id = 1")
    with ops(db_url) as op:
        with op.batch_alter_table("child") as batch:
            batch.drop_index("ix_child_note")
            batch.drop_constraint("fk_child_parent", type_="foreignkey")
            batch.drop_column("pid")
    d = diff(before, snapshot(db_url))
    # remark is the only new String(20) column with 2 values: note renamed; tag is new, pid gone
    assert d.renamed_columns == [("child", "note", "remark")]
    assert d.removed_columns == [("child", "pid")] and d.added_columns == [("child", "tag")]
    assert d.data_loss == ["column `child.pid` dropped, 3 of 4 rows had values"]


def test_rename_table_is_no_data_loss(db_url: str) -> None:
    create_shop(db_url)
    before = snapshot(db_url)
    with ops(db_url) as op:
        op.rename_table("child", "kid")
    d = diff(before, snapshot(db_url))
    assert d.renamed_tables == [("child", "kid")]
    assert d.added_tables == d.removed_tables == [] and d.data_loss == []
    assert "~ table kid (renamed from child)" in render_diff_text(d)
    assert "renamed from child" in render_diff_html(d)


def test_drop_and_add_with_other_counts_is_not_a_rename(db_url: str) -> None:
    create_shop(db_url)  # child.note has values in 2 of 4 rows
    before = snapshot(db_url)
    with ops(db_url) as op:
        with op.batch_alter_table("child") as batch:
            batch.drop_index("ix_child_note")
            batch.drop_column("note")
            batch.add_column(sa.Column("remark", sa.String(20)))
    d = diff(before, snapshot(db_url))
    assert d.renamed_columns == []
    assert d.removed_columns == [("child", "note")]
    assert d.added_columns == [("child", "remark")]
    assert d.data_loss == ["column `child.note` dropped, 2 of 4 rows had values"]


def test_unknown_counts_give_cautious_notes(sqlite_url: str) -> None:
    create_shop(sqlite_url)
    before = snapshot(sqlite_url, row_counts=False)
    with ops(sqlite_url) as op:
        with op.batch_alter_table("child") as batch:
            batch.alter_column("note", new_column_name="remark", existing_type=sa.String(20))
        op.drop_table("parent")
    d = diff(before, snapshot(sqlite_url, row_counts=False))
    # Without counts a rename is not obvious: it shows as drop and add.
    assert d.renamed_columns == []
    assert d.data_loss == [
        "table `parent` dropped (rows not counted)",
        "column `child.note` dropped (values not counted)",
    ]


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def test_snapshot_renderings(sqlite_url: str) -> None:
    create_shop(sqlite_url)
    execute(
        sqlite_url,
        "CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)",
        "INSERT INTO alembic_version VALUES ('1975ea83b712')",
    )
    snap = snapshot(sqlite_url)
    assert render_snapshot_text(snap) == str(snap)
    assert str(snap).splitlines() == [
        "Schema (sqlite · 2 tables)",
        "",
        "child (4 rows)",
        "  column  type         nullable  default  pk",
        "  id      INTEGER      no                 PK",
        "  pid     INTEGER      yes",
        "  note    VARCHAR(20)  yes",
        "  foreign key fk_child_parent (pid) → parent(id) ON DELETE CASCADE",
        "  index ix_child_note (note, pid)",
        "",
        "parent (3 rows)",
        "  column  type            nullable  default  pk",
        "  id      INTEGER         no                 PK",
        "  name    VARCHAR(50)     no        'x'",
        "  score   NUMERIC(10, 2)  yes",
        "  unique uq_parent_name (name)",
        "  check ck_score score > 0",
        "",
        "alembic_version: 1975ea83b712",
    ]
    html = snap._repr_html_()
    assert html == render_snapshot_html(snap)
    assert html.startswith('<div class="nbm nbm-schema"><style>')
    section = snapshot_section_html(snap)
    assert section in html and "<style>" not in section
    assert '<div class="nbm-title">parent <span class="nbm-meta">3 rows</span></div>' in section
    assert "<td>NUMERIC(10, 2)</td>" in section
    assert "<td>&#x27;x&#x27;</td>" in section
    assert "<td>fk_child_parent</td><td>(pid) → parent(id) ON DELETE CASCADE</td>" in section
    assert "alembic_version: 1975ea83b712" in section


def test_diff_renderings_carry_markers(sqlite_url: str) -> None:
    create_shop(sqlite_url)
    execute(sqlite_url, "CREATE TABLE keep1 (id INTEGER PRIMARY KEY)", "CREATE TABLE keep2 (id INTEGER PRIMARY KEY)")
    before = snapshot(sqlite_url)
    with ops(sqlite_url) as op:
        with op.batch_alter_table("parent") as batch:
            batch.drop_constraint("ck_score", type_="check")
            batch.drop_column("score")
            batch.add_column(sa.Column("mobile", sa.String(20)))
            batch.alter_column("name", type_=sa.String(80), existing_type=sa.String(50))
        op.create_table("tag", sa.Column("id", sa.Integer, primary_key=True))
    d = diff(before, snapshot(sqlite_url))
    assert d.unchanged == ("child", "keep1", "keep2")

    assert str(d) == render_diff_text(d)
    assert str(d).splitlines() == [
        "Schema changes (tables: 1 added, 1 changed, 3 unchanged)",
        "DATA LOSS:",
        "  ! column `parent.score` dropped, 2 of 3 rows had values",
        "+ table tag",
        "    + column id INTEGER NOT NULL PK",
        "~ table parent",
        "    + column mobile VARCHAR(20) NULL",
        "    - column score NUMERIC(10, 2) NULL (2 of 3 rows had values)",
        "    ~ column name: type VARCHAR(50) → VARCHAR(80)",
        "    - check ck_score score > 0",
        "3 tables unchanged: child, keep1, keep2",
    ]

    html = d._repr_html_()
    assert html == render_diff_html(d)
    section = diff_section_html(d)
    assert section in html and "<style>" not in section
    # Symbols and colours together, for each kind of change.
    assert '<tr class="nbm-added"><td><strong>+</strong></td><td>mobile</td>' in section
    assert '<tr class="nbm-removed"><td><strong>-</strong></td><td>score</td>' in section
    assert '<tr class="nbm-changed"><td><strong>~</strong></td><td>name</td><td><strong>VARCHAR(80)</strong>' in section
    assert '<span class="nbm-added">+</span> table tag' in section
    assert '<span class="nbm-changed">~</span> table parent' in section
    assert "<th>before (3 rows)</th><th>after (3 rows)</th>" in section
    assert '<div class="nbm-err"><strong>⚠ Data loss</strong>' in section
    assert "column <code>parent.score</code> dropped, 2 of 3 rows had values" in section
    assert "3 tables unchanged: child, keep1, keep2" in section
    # The data-loss warning comes before the tables.
    assert section.index("Data loss") < section.index("table tag")


def test_removed_table_rendering_and_long_unchanged_list(sqlite_url: str) -> None:
    execute(sqlite_url, *[f"CREATE TABLE t{i:02d} (id INTEGER PRIMARY KEY)" for i in range(35)])
    execute(sqlite_url, "INSERT INTO t00 VALUES (1)")
    before = snapshot(sqlite_url)
    execute(sqlite_url, "DROP TABLE t00")
    d = diff(before, snapshot(sqlite_url))
    text = render_diff_text(d).splitlines()
    assert text[:5] == [
        "Schema changes (tables: 1 removed, 34 unchanged)",
        "DATA LOSS:",
        "  ! table `t00` dropped with 1 row",
        "- table t00 (1 row)",
        "    - column id INTEGER NOT NULL PK",
    ]
    names = ", ".join(f"t{i:02d}" for i in range(1, 31))
    assert text[5] == f"34 tables unchanged: {names} and 4 more"
    section = diff_section_html(d)
    assert '<tr class="nbm-removed"><td><strong>-</strong></td><td>id</td>' in section
    assert '<span class="nbm-removed">-</span> table t00' in section
    # A snapshot of many tables collapses each one; the diff's own only collapsible part is its diagram.
    assert section.count("<details") == 1 and "diagram (1 table changed)" in section
    assert snapshot_section_html(before).count("<details>") == 35


def test_html_escapes_names(sqlite_url: str) -> None:
    execute(sqlite_url, 'CREATE TABLE "a<b>" ("x&y" TEXT DEFAULT \'<i>\')')
    html = render_snapshot_html(snapshot(sqlite_url))
    assert "a&lt;b&gt;" in html and "x&amp;y" in html and "&lt;i&gt;" in html
    assert "<b>" not in html and "<i>" not in html


def test_snapshot_and_diff_are_importable_without_ipython() -> None:
    import subprocess
    import sys

    code = (
        "import sys, nbmigrate.schema, nbmigrate.render.schema; "
        "assert not [m for m in sys.modules if m == 'IPython' or m.startswith('IPython.')]"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_snapshot_types_are_dataclasses() -> None:
    for cls in (Snapshot, Table, Column, ForeignKey, Index, UniqueConstraint, CheckConstraint, SchemaDiff):
        assert dataclasses.is_dataclass(cls)
        assert cls.__dataclass_params__.frozen is True  # type: ignore[union-attr]


def test_awkward_names_are_quoted(db_url: str) -> None:
    with ops(db_url) as op:
        op.create_table(
            "Odd Table%",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("a:b", sa.String(10)),
            sa.Column('say "hi"', sa.String(10)),
            sa.Column("select", sa.Integer),
            sa.Column("100%", sa.Integer),
        )
    table = sa.table("Odd Table%", sa.column("id"), sa.column("a:b"), sa.column("100%"))
    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"id": 1, "a:b": "v", "100%": 5}, {"id": 2, "a:b": None, "100%": None}])
    engine.dispose()
    t = snapshot(db_url).tables["Odd Table%"]
    assert t.row_count == 2
    assert [(c.name, c.non_null) for c in t.columns] == [
        ("id", 2),
        ("a:b", 1),
        ('say "hi"', 0),
        ("select", 0),
        ("100%", 1),
    ]


def test_sqlite_bulk_reflection_gives_sqlalchemys_answer(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bulk PRAGMA reads serve SQLAlchemy's own parsing: the snapshot is the same as without them."""
    import contextlib

    from nbmigrate.schema import reflect

    create_shop(sqlite_url)
    with ops(sqlite_url) as op:
        op.create_table(
            "wide",
            sa.Column("a", sa.Integer, nullable=False),
            sa.Column("b", sa.String(10), server_default="z"),
            sa.Column("c", sa.Numeric(8, 3)),
            sa.PrimaryKeyConstraint("a", "b"),
            sa.UniqueConstraint("c", name="uq_wide_c"),
        )
        op.create_index("ix_wide_bc", "wide", ["b", "c"], unique=True)
    execute(sqlite_url, "CREATE VIEW v AS SELECT id FROM parent")
    fast = snapshot(sqlite_url)
    monkeypatch.setattr(reflect, "_sqlite_bulk_reflection", lambda conn, schema: contextlib.nullcontext())
    assert snapshot(sqlite_url) == fast
