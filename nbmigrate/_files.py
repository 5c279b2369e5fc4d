"""The revision files nbmigrate has Alembic write: what may go into them, and undoing a failed write.

A revision's message becomes its file's docstring (and, slugged by Alembic, part of its name), so
it is checked before anything is written. A write then either leaves a file that loads, inside
one of the project's version locations, or leaves the version folders exactly as they were:
``%migrate revision``, ``merge`` and ``%%revision`` all write through :func:`undone_on_failure`.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import BadArguments, NbmigrateError

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory


def check_message(message: str | None, *, required: bool) -> str | None:
    """The message, stripped, once it can stand in a docstring; :class:`BadArguments` if not."""
    if message is None or not message.strip():
        if required:
            raise BadArguments('A revision needs a message: `%%revision -m "what it does"`. Nothing was written.')
        return message
    message = message.strip()
    controls = sorted({f"U+{ord(c):04X}" for c in message if ord(c) < 32 and c not in "\n\t"})
    if controls:
        raise BadArguments(
            f"The message {message!r} holds control characters ({', '.join(controls)}); use plain text. "
            "Nothing was written."
        )
    if '"""' in message or message.endswith('"') or "\\" in message:
        raise BadArguments(
            f"The message {message!r} cannot stand in the revision's docstring (no triple quotes, closing "
            "quote or backslashes). Nothing was written."
        )
    return message


def version_files(script: ScriptDirectory) -> set[Path]:
    """Every ``.py`` file in the project's version locations (resolved paths)."""
    files: set[Path] = set()
    for location in script._version_locations:
        folder = Path(location)
        if folder.is_dir():
            files.update(p.resolve() for p in folder.rglob("*.py") if "__pycache__" not in p.parts)
    return files


def check_inside(script: ScriptDirectory, path: Path) -> None:
    """Refuse a file outside the version locations (a hook or template that put it elsewhere)."""
    locations = [Path(p).resolve() for p in script._version_locations]
    if not any(path == loc or loc in path.parents for loc in locations):
        raise NbmigrateError(f"Alembic wrote {path}, outside the project's version locations; it was removed.")


def drop_bytecode(path: Path) -> None:
    """Remove a file's cached bytecode before it is imported again.

    Python trusts a ``.pyc`` whose recorded source mtime (whole seconds) and size match, so a
    revision rewritten within the same second at the same size (a re-run ``%%revision`` cell
    changing ``String(50)`` to ``String(60)``) would otherwise import its old code.
    """
    with contextlib.suppress(OSError, NotImplementedError, ValueError):
        Path(importlib.util.cache_from_source(str(path))).unlink()


@contextlib.contextmanager
def undone_on_failure(
    script: ScriptDirectory, forget: Callable[[], None], replacing: Path | None = None
) -> Iterator[None]:
    """Run a write; if it raises, remove the files it added and restore ``replacing``'s bytes.

    ``forget`` drops the warm revision map: Alembic adds the new revision to it before it fails.
    """
    before = version_files(script)
    old = replacing.read_bytes() if replacing is not None and replacing.is_file() else None
    try:
        yield
    except BaseException:
        forget()
        for path in version_files(script) - before:
            with contextlib.suppress(OSError):
                path.unlink()
            drop_bytecode(path)
        if replacing is not None and old is not None:
            replacing.write_bytes(old)
            drop_bytecode(replacing)
        raise
