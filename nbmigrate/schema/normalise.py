"""What the inspector reports for one table, normalised into a :class:`~.model.Table`.

Each dialect reports in its own way: types as dialect objects, SQLite's autoincrement and rowid
alias not at all, MariaDB/MySQL unique indexes twice, PostgreSQL the index behind each unique
constraint, foreign key actions every database applies anyway by some dialects only. Here they
become the same sorted names and strings, so snapshots of different databases compare.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from .model import CheckConstraint, Column, ForeignKey, Index, Table, UniqueConstraint

# Foreign key actions every database applies when none is given; reported by some dialects only.
_DEFAULT_FK_ACTIONS = {"NO ACTION"}


def _type_string(type_: Any, dialect: sa.Dialect) -> str:
    try:
        return str(type_.compile(dialect=dialect))
    except Exception:  # an unknown type (NullType) cannot be compiled; its class name still says what it is
        return type(type_).__name__


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _fk_action(value: Any) -> str | None:
    if not value:
        return None
    action = str(value).upper()
    return None if action in _DEFAULT_FK_ACTIONS else action


def _referred_schema(reported: str | None, own: str | None, default: str | None) -> str | None:
    """None for a target in the snapshot's own schema, else the target's schema name."""
    # Dialects report None for the connection's default schema (PostgreSQL: the search path),
    # and some name the reflected schema explicitly; both mean "here" only when it is the own one.
    resolved = reported if reported is not None else default
    return None if resolved == own else resolved


def _build_table(
    name: str,
    dialect: sa.Dialect,
    own_schema: str | None,
    default_schema: str | None,
    columns: list[dict[str, Any]],
    pk: Mapping[str, Any] | None,
    fks: list[dict[str, Any]],
    indexes: list[dict[str, Any]],
    uniques: list[dict[str, Any]],
    checks: list[dict[str, Any]],
    comment: Mapping[str, Any] | None,
) -> Table:
    """Normalise what the inspector reported for one table into a :class:`Table`."""
    pk_cols = tuple((pk or {}).get("constrained_columns") or ())
    single_integer_pk = False
    if len(pk_cols) == 1:
        # SQLite does not report autoincrement; a one-column INTEGER primary key is its rowid alias.
        single_integer_pk = dialect.name == "sqlite" and any(
            c["name"] == pk_cols[0] and _type_string(c["type"], dialect) == "INTEGER" for c in columns
        )
    cols = []
    for c in columns:
        # PostgreSQL always reports autoincrement, MariaDB/MySQL only for integer columns, SQLite
        # never (its rowid alias is the one autoincrementing column); a missing report means no.
        auto = c.get("autoincrement")
        if c.get("identity"):
            auto = True
        if auto is None and dialect.name == "sqlite":
            auto = single_integer_pk and c["name"] in pk_cols
        cols.append(
            Column(
                name=c["name"],
                type=_type_string(c["type"], dialect),
                # SQLite reports its rowid alias as nullable, yet it can never hold NULL.
                nullable=bool(c["nullable"]) and not (single_integer_pk and c["name"] in pk_cols),
                default=_text(c.get("default")),
                primary_key=c["name"] in pk_cols,
                autoincrement=auto is True,
                comment=c.get("comment"),
            )
        )

    foreign_keys = sorted(
        (
            ForeignKey(
                name=fk.get("name"),
                columns=tuple(fk["constrained_columns"]),
                referred_table=fk["referred_table"],
                referred_columns=tuple(fk["referred_columns"]),
                referred_schema=_referred_schema(fk.get("referred_schema"), own_schema, default_schema),
                ondelete=_fk_action((fk.get("options") or {}).get("ondelete")),
                onupdate=_fk_action((fk.get("options") or {}).get("onupdate")),
            )
            for fk in fks
        ),
        key=lambda f: (f.columns, f.referred_table, f.referred_columns, f.name or ""),
    )

    idx = []
    for ix in indexes:
        # PostgreSQL also lists the index behind each unique constraint; it is shown as the constraint.
        if ix.get("duplicates_constraint"):
            continue
        exprs = ix.get("expressions") or []
        names = [
            (col if col is not None else (exprs[i] if i < len(exprs) else "?"))
            for i, col in enumerate(ix.get("column_names") or [])
        ]
        idx.append(Index(name=ix.get("name"), columns=tuple(str(n) for n in names), unique=bool(ix.get("unique"))))

    # MariaDB/MySQL report every unique index as a unique constraint too; keep it once, as the index.
    uqs = [
        UniqueConstraint(name=u.get("name"), columns=tuple(u["column_names"]))
        for u in uniques
        if not u.get("duplicates_index")
    ]
    cks = [CheckConstraint(name=ck.get("name"), sqltext=str(ck["sqltext"])) for ck in checks]

    return Table(
        name=name,
        columns=tuple(cols),
        primary_key=pk_cols,
        primary_key_name=(pk or {}).get("name") if pk_cols else None,
        foreign_keys=tuple(foreign_keys),
        indexes=tuple(sorted(idx, key=lambda i: (i.name or "", i.columns))),
        unique_constraints=tuple(sorted(uqs, key=lambda u: (u.name or "", u.columns))),
        check_constraints=tuple(sorted(cks, key=lambda c: (c.name or "", c.sqltext))),
        comment=(comment or {}).get("text"),
    )
