"""``ensure_alembic``: ``import alembic`` gives the installed Alembic, even past a folder named ``alembic``."""

from __future__ import annotations

import sys
from typing import Any

from ..errors import NbmigrateError
from ..paths import relative_path



_alembic_checked: Any = None  # the ``alembic`` module ensure_alembic found to be Alembic


def ensure_alembic() -> None:
    """Make ``import alembic`` give the installed Alembic, even past a folder named ``alembic``.

    ``alembic init --package alembic`` makes a package ``alembic/`` (with ``__init__.py``). A
    kernel's ``sys.path`` starts with its working folder, so there ``import alembic`` would find
    that folder, and ``alembic.config`` in it no more; the ``alembic`` command line, whose path
    starts elsewhere, finds Alembic. Before nbmigrate first imports Alembic, this imports the
    installed one from the first ``sys.path`` entry that has it, and then every import of it (the
    user's too) gets that. Costs one dictionary look-up once done; nothing is imported while
    nothing hides Alembic.
    """
    global _alembic_checked
    import importlib.machinery
    import importlib.util

    module = sys.modules.get("alembic")
    if module is not None and module is _alembic_checked:
        return
    if module is not None:
        if _is_alembic(getattr(module, "__path__", None)):
            _alembic_checked = module
            return
        raise NbmigrateError(
            f"`alembic` in this kernel is {relative_path(getattr(module, '__file__', None) or str(module))}, "
            "a folder that hides the installed Alembic (it was imported before nbmigrate could look past it): "
            "restart the kernel and use nbmigrate before importing `alembic`, or rename the folder."
        )
    spec = importlib.util.find_spec("alembic")
    if spec is None or _is_alembic(spec.submodule_search_locations):
        return  # not installed (the import says so), or found as it should be
    for entry in sys.path:
        real = importlib.machinery.PathFinder.find_spec("alembic", [entry])
        if real is not None and real.loader is not None and _is_alembic(real.submodule_search_locations):
            break
    else:
        raise NbmigrateError(
            f"`import alembic` finds {relative_path(spec.origin or 'alembic')}, not Alembic, which is not installed "
            "anywhere else on sys.path: install it (`pip install alembic`), or rename the folder."
        )
    imported = importlib.util.module_from_spec(real)
    sys.modules["alembic"] = imported
    try:
        real.loader.exec_module(imported)
    except BaseException:
        sys.modules.pop("alembic", None)
        raise
    _alembic_checked = imported


def _is_alembic(locations: Any) -> bool:
    """Whether a package found at ``locations`` is Alembic (it has ``alembic.command``), without importing it."""
    import importlib.machinery

    if not locations:
        return False
    return importlib.machinery.PathFinder.find_spec("alembic.command", list(locations)) is not None
