"""Each lint rule's risky form and safe recipe, as the upgrade bodies of revisions (see tests/test_lint.py).

Every case runs on a project whose base revision ``b0`` (applied, with rows) holds::

    orders (id INTEGER PK, n INTEGER, s VARCHAR(20), c INTEGER indexed by ix_orders_c, t INTEGER)   50 rows
    items  (id BIGINT NOT NULL, order_id INTEGER)                                                 50 rows

``risky`` and ``safe`` are one upgrade body, a list of bodies (a chain of revisions, each deployed
on its own), or a dict of either by dialect. Where a rule has no safe SQL (a column must go some
day), the safe form is the risky one with the marker comment that allows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

Body = Union[str, list]

BASE = '''op.create_table("orders", sa.Column("id", sa.Integer, primary_key=True), sa.Column("n", sa.Integer),
                sa.Column("s", sa.String(20)), sa.Column("c", sa.Integer), sa.Column("t", sa.Integer))
op.create_index("ix_orders_c", "orders", ["c"])
op.create_table("items", sa.Column("id", sa.BigInteger, nullable=False), sa.Column("order_id", sa.Integer))
op.bulk_insert(sa.table("orders", sa.column("n"), sa.column("s"), sa.column("c")),
               [{"n": i, "s": "x", "c": i} for i in range(1, 51)])
op.bulk_insert(sa.table("items", sa.column("id"), sa.column("order_id")), [{"id": i, "order_id": i} for i in range(1, 51)])
if op.get_bind().dialect.name == "mysql":
    op.execute("ANALYZE TABLE orders, items")  # InnoDB's row estimates, for the sizes'''

ALL = ("postgresql", "mysql", "sqlite")
SERVERS = ("postgresql", "mysql")
PG = ("postgresql",)
CONCURRENT = 'with op.get_context().autocommit_block():\n    {}'


def allow(code: str, body: str) -> str:
    return f"# nbmigrate: allow {code} -- the application no longer needs it\n{body}"


@dataclass
class Case:
    """A rule's risky form and safe recipe on some dialects."""

    code: str
    dialects: tuple[str, ...]
    risky: Body | dict
    safe: Body | dict
    notes: str = ""
    extra: dict = field(default_factory=dict)

    def body(self, which: str, dialect: str) -> list[str]:
        value = getattr(self, which)
        if isinstance(value, dict):
            value = value[dialect]
        return value if isinstance(value, list) else [value]


CASES = [
    Case("NBM001", ALL, 'op.execute("UPDATE orders SET n = 1")', 'op.add_column("orders", sa.Column("q", sa.Integer))'),
    Case("NBM002", ALL, 'sa.inspect(op.get_bind()).get_table_names()',
         'from alembic import context\nif not context.is_offline_mode():\n    sa.inspect(op.get_bind()).get_table_names()'),
    Case("NBM003", SERVERS, 'op.add_column("orders", sa.Column("q", sa.Integer))',
         {"postgresql": 'op.execute("SET lock_timeout = \'5s\'")\nop.add_column("orders", sa.Column("q", sa.Integer))',
          "mysql": 'op.execute("SET SESSION lock_wait_timeout = 5")\nop.add_column("orders", sa.Column("q", sa.Integer))'}),
    Case("NBM004", ALL, 'op.execute("COMMIT")', CONCURRENT.format('op.execute("UPDATE orders SET n = 2 WHERE id = 1")')),
    Case("NBM101", ALL, 'op.add_column("orders", sa.Column("q", sa.Integer, nullable=False))',
         ['op.add_column("orders", sa.Column("q", sa.Integer, nullable=True))',
          'op.add_column("orders", sa.Column("r", sa.Integer, nullable=False, server_default="0"))']),
    Case("NBM102", SERVERS,
         {"postgresql": 'op.add_column("orders", sa.Column("u", sa.Uuid, server_default=sa.text("gen_random_uuid()")))',
          "mysql": 'op.add_column("orders", sa.Column("u", sa.String(36), server_default=sa.text("(uuid())")))'},
         {"postgresql": ['op.add_column("orders", sa.Column("u", sa.Uuid, nullable=True))',
                         'op.alter_column("orders", "u", server_default=sa.text("gen_random_uuid()"))',
                         'op.add_column("orders", sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()")))'],
          "mysql": 'op.add_column("orders", sa.Column("u", sa.String(36), server_default="none"))'}),
    Case("NBM103", SERVERS,
         {"postgresql": 'op.add_column("orders", sa.Column("sid", sa.BigInteger, sa.Identity()))',
          "mysql": 'op.execute("ALTER TABLE items ADD COLUMN q INTEGER AUTO_INCREMENT UNIQUE")'},
         'op.add_column("items", sa.Column("q", sa.BigInteger, nullable=True))'),
    Case("NBM104", SERVERS, 'op.add_column("orders", sa.Column("g", sa.Integer, sa.Computed("n * 2", persisted=True)))',
         {"postgresql": 'op.add_column("orders", sa.Column("g", sa.Integer, nullable=True))',
          "mysql": 'op.add_column("orders", sa.Column("g", sa.Integer, sa.Computed("n * 2", persisted=False)))'}),
    Case("NBM105", SERVERS, 'op.alter_column("orders", "n", type_=sa.BigInteger, existing_type=sa.Integer)',
         'op.alter_column("orders", "s", type_=sa.String(40), existing_type=sa.String(20))'),
    Case("NBM106", SERVERS, 'op.alter_column("orders", "n", nullable=False, existing_type=sa.Integer)',
         {"postgresql": ['op.create_check_constraint("orders_n_not_null", "orders", "n IS NOT NULL", postgresql_not_valid=True)',
                         'op.execute("ALTER TABLE orders VALIDATE CONSTRAINT orders_n_not_null")',
                         'op.alter_column("orders", "n", nullable=False, existing_type=sa.Integer)\n'
                         'op.drop_constraint("orders_n_not_null", "orders", type_="check")'],
          "mysql": allow("NBM106", 'op.alter_column("orders", "n", nullable=False, existing_type=sa.Integer)')}),
    Case("NBM107", ALL, 'op.alter_column("orders", "s", new_column_name="s2", existing_type=sa.String(20))',
         'op.add_column("orders", sa.Column("s2", sa.String(20)))'),
    Case("NBM108", ALL, 'op.drop_column("orders", "t")', allow("NBM108", 'op.drop_column("orders", "t")')),
    Case("NBM109", SERVERS, 'op.alter_column("items", "id", nullable=True, existing_type=sa.BigInteger)',
         allow("NBM109", 'op.alter_column("items", "id", nullable=True, existing_type=sa.BigInteger)')),
    Case("NBM201", PG, 'op.create_index("ix_orders_n", "orders", ["n"])',
         CONCURRENT.format('op.create_index("ix_orders_n", "orders", ["n"], postgresql_concurrently=True, if_not_exists=True)')),
    Case("NBM202", PG, 'op.create_index("ix_orders_n", "orders", ["n"], postgresql_concurrently=True, if_not_exists=True)',
         CONCURRENT.format('op.create_index("ix_orders_n", "orders", ["n"], postgresql_concurrently=True, if_not_exists=True)')),
    Case("NBM203", PG, 'op.drop_index("ix_orders_c", table_name="orders")',
         CONCURRENT.format('op.drop_index("ix_orders_c", table_name="orders", postgresql_concurrently=True, if_exists=True)')),
    Case("NBM204", PG, CONCURRENT.format('op.create_index("ix_orders_n", "orders", ["n"], postgresql_concurrently=True)'),
         CONCURRENT.format('op.drop_index("ix_orders_n", table_name="orders", postgresql_concurrently=True, if_exists=True)\n'
                           '    op.create_index("ix_orders_n", "orders", ["n"], postgresql_concurrently=True)')),
    Case("NBM205", SERVERS, 'op.create_foreign_key("fk_items_order", "items", "orders", ["order_id"], ["id"])',
         {"postgresql": ['op.create_foreign_key("fk_items_order", "items", "orders", ["order_id"], ["id"], postgresql_not_valid=True)',
                         'op.execute("ALTER TABLE items VALIDATE CONSTRAINT fk_items_order")'],
          "mysql": 'op.create_table("lines", sa.Column("id", sa.BigInteger, primary_key=True), sa.Column("order_id", sa.Integer),\n'
                   '                sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_lines_order"))'}),
    Case("NBM206", SERVERS, 'op.create_check_constraint("ck_orders_n", "orders", "n > 0")',
         {"postgresql": ['op.create_check_constraint("ck_orders_n", "orders", "n > 0", postgresql_not_valid=True)',
                         'op.execute("ALTER TABLE orders VALIDATE CONSTRAINT ck_orders_n")'],
          "mysql": allow("NBM206", 'op.create_check_constraint("ck_orders_n", "orders", "n > 0")')}),
    Case("NBM207", PG, 'op.create_check_constraint("ck_orders_n", "orders", "n > 0", postgresql_not_valid=True)\n'
                       'op.execute("ALTER TABLE orders VALIDATE CONSTRAINT ck_orders_n")',
         ['op.create_check_constraint("ck_orders_n", "orders", "n > 0", postgresql_not_valid=True)',
          'op.execute("ALTER TABLE orders VALIDATE CONSTRAINT ck_orders_n")']),
    Case("NBM208", PG, 'op.create_unique_constraint("uq_orders_n", "orders", ["n"])',
         CONCURRENT.format('op.create_index("uq_orders_n", "orders", ["n"], unique=True, postgresql_concurrently=True, if_not_exists=True)')
         + '\nop.execute("ALTER TABLE orders ADD CONSTRAINT uq_orders_n UNIQUE USING INDEX uq_orders_n")'),
    Case("NBM209", SERVERS, 'op.create_primary_key("pk_items", "items", ["id"])',
         {"postgresql": CONCURRENT.format('op.create_index("pk_items", "items", ["id"], unique=True, postgresql_concurrently=True, if_not_exists=True)')
                        + '\nop.execute("ALTER TABLE items ADD CONSTRAINT pk_items PRIMARY KEY USING INDEX pk_items")',
          "mysql": allow("NBM209", 'op.create_primary_key("pk_items", "items", ["id"])')}),
    Case("NBM301", ALL, 'op.rename_table("orders", "purchases")', 'op.execute("CREATE VIEW purchases AS SELECT * FROM orders")'),
    Case("NBM302", ALL, 'op.drop_table("items")', allow("NBM302", 'op.drop_table("items")')),
    Case("NBM303", SERVERS, 'op.execute("TRUNCATE items")', 'op.execute("DELETE FROM items WHERE id < 10")'),
    Case("NBM401", ("sqlite",), 'with op.batch_alter_table("orders") as batch_op:\n    batch_op.alter_column("n", type_=sa.BigInteger)',
         'with op.batch_alter_table("orders") as batch_op:\n    batch_op.add_column(sa.Column("q", sa.Integer))'),
    Case("NBM402", ("sqlite",), 'op.alter_column("orders", "n", type_=sa.BigInteger)',
         'with op.batch_alter_table("orders") as batch_op:\n    batch_op.alter_column("n", type_=sa.BigInteger)'),
    Case("NBM601", SERVERS, 'op.create_table("notes", sa.Column("id", sa.Integer, primary_key=True))',
         'op.create_table("notes", sa.Column("id", sa.BigInteger, primary_key=True))'),
    Case("NBM602", PG, 'op.add_column("orders", sa.Column("at", sa.DateTime))',
         'op.add_column("orders", sa.Column("at", sa.DateTime(timezone=True)))'),
    Case("NBM603", PG, 'op.add_column("orders", sa.Column("doc", sa.JSON))',
         'from sqlalchemy.dialects.postgresql import JSONB\nop.add_column("orders", sa.Column("doc", JSONB))'),
    Case("NBM604", PG, 'op.add_column("orders", sa.Column("code", sa.CHAR(3)))',
         'op.add_column("orders", sa.Column("code", sa.String(3)))'),
]
