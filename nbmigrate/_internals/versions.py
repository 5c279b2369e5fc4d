"""The Alembic and SQLAlchemy versions the private names were checked on, and the gates every private use passes."""

from __future__ import annotations

import functools
import re
from typing import Any


# [oldest checked, first version not checked): the private names below were read in Alembic
# 1.16.0 and 1.20.1 (the same code for each of them) and SQLAlchemy 2.0.0 and 2.1.9.
ALEMBIC_CHECKED = ((1, 16, 0), (1, 21))
SQLALCHEMY_CHECKED = ((2, 0, 0), (2, 2))


def parse_version(text: str) -> tuple[int, ...]:
    parts = []
    for part in text.split("."):
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        parts.append(int(digits.group()))
    return tuple(parts)


@functools.cache
def alembic_checked() -> bool:
    """True when the installed Alembic is one whose private names this module was checked on."""
    import alembic

    low, high = ALEMBIC_CHECKED
    return low <= parse_version(alembic.__version__) < high


@functools.cache
def sqlalchemy_checked() -> bool:
    """True when the installed SQLAlchemy is one whose private names this module was checked on."""
    import sqlalchemy

    low, high = SQLALCHEMY_CHECKED
    return low <= parse_version(sqlalchemy.__version__) < high


def alembic_private(obj: Any, name: str) -> bool:
    """May ``obj.name`` (a private name of Alembic) be used: a checked version, and the name is there."""
    return alembic_checked() and hasattr(obj, name)


def sqlalchemy_private(obj: Any, name: str) -> bool:
    """May ``obj.name`` (a private name of SQLAlchemy) be used: a checked version, and the name is there."""
    return sqlalchemy_checked() and hasattr(obj, name)


def _fast(fast: bool | None, obj: Any, *names: str) -> bool:
    if fast is None:
        return all(alembic_private(obj, name) for name in names)
    return fast
