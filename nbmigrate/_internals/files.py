"""Revision files: the version locations, listing and loading the files, the path of a new one, the "(current)" mark."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .versions import _fast, alembic_private

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory


def version_locations(script: ScriptDirectory) -> list[Path]:
    """The script's version locations as absolute paths, as Alembic lists them.

    From the public ``version_locations`` (the config option, package resources resolved), else
    ``versions`` in the script folder; remembered on the instance (asked before every command).
    """
    found = script.__dict__.get("_nbm_version_locations")
    if found is None or found[0] is not script.version_locations:
        from alembic.util import coerce_resource_to_filename

        if script.version_locations:
            paths = [Path(coerce_resource_to_filename(os.fspath(loc))).absolute() for loc in script.version_locations]
        else:
            paths = [Path(script.dir, "versions").absolute()]
        found = (script.version_locations, paths)
        script.__dict__["_nbm_version_locations"] = found
    return list(found[1])


def load_script_file(script: ScriptDirectory, path: str | os.PathLike[str], *, fast: bool | None = None) -> Script | None:
    """The revision file at ``path`` as Alembic loads it, or ``None`` for a file Alembic skips.

    ``Script._from_path`` (checked versions); else a plainer load: a ``.py`` file (not an
    editor's ``.#`` lock), imported with ``alembic.util.load_python_file``, its ``revision`` read.
    """
    from alembic.script import Script

    if _fast(fast, Script, "_from_path"):
        return Script._from_path(script, path)
    from alembic.util import CommandError, load_python_file

    path = Path(path)
    if not path.name.endswith(".py") or path.name.startswith(".#"):
        return None
    module = load_python_file(str(path.parent), path.name)
    if not hasattr(module, "revision"):
        raise CommandError(f"Could not determine revision id from filename {path.name}.")
    return Script(module, module.revision, path)


def list_revision_files(script: ScriptDirectory, location: Path, *, fast: bool | None = None) -> list[Path]:
    """The candidate files of one version location in Alembic's order (``Script._list_py_dir``).

    The fallback lists sorted names top-down, into subfolders only with
    ``recursive_version_locations``, and no sourceless ``__pycache__`` files.
    """
    from alembic.script import Script

    if _fast(fast, Script, "_list_py_dir"):
        return Script._list_py_dir(script, location)
    paths: list[Path] = []
    for root, dirs, files in os.walk(location, topdown=True):
        if os.path.basename(root).endswith("__pycache__"):
            continue
        paths.extend(Path(root, name) for name in sorted(files))
        if not script.recursive_version_locations:
            break
        dirs.sort()
    return paths


@contextlib.contextmanager
def checking_destination(script: ScriptDirectory, check: Callable[[Path], None]) -> Iterator[None]:
    """While inside, ``check(path)`` sees the path of each new revision file before Alembic writes it.

    Alembic has no public hook between naming the file and writing it: ``generate_revision``
    calls ``self._rev_path(...)`` (checked versions), then makes the folder and writes the file;
    that method is wrapped on this instance, for this block only. Elsewhere nothing is checked
    beforehand (the caller's undo on failure still applies).
    """
    if not alembic_private(script, "_rev_path"):
        yield
        return
    original = script._rev_path

    def rev_path(*args: Any, **kwargs: Any) -> Path:
        path = Path(original(*args, **kwargs))
        check(path)
        return path

    saved = script.__dict__.get("_rev_path")
    script._rev_path = rev_path  # type: ignore[method-assign]
    try:
        yield
    finally:
        if saved is None:
            del script._rev_path  # the class's method again
        else:
            script._rev_path = saved  # type: ignore[method-assign]


@contextlib.contextmanager
def marked_current(scripts: Iterable[Script], current: Iterable[str]) -> Iterator[None]:
    """While inside, Alembic's own lines for ``scripts`` say "(current)" for the revisions in ``current``.

    ``alembic history -i`` sets ``Script._db_current_indicator`` (checked versions); elsewhere
    the lines are Alembic's without the mark.
    """
    from alembic.script import Script

    if not alembic_private(Script, "_db_current_indicator"):
        yield
        return
    wanted = set(current)
    marked = [sc for sc in scripts if sc.revision in wanted]
    try:
        for sc in marked:
            sc._db_current_indicator = True
        yield
    finally:
        for sc in marked:
            sc._db_current_indicator = None
