"""Database-level locks that serialise migration runs across kernels and processes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def migration_lock(project: Any, conn: Any) -> Iterator[None]:
    """Hold the database's migration lock while the block runs."""
    yield
