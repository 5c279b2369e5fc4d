"""The revision files nbmigrate has Alembic write: what may go into them, where, and undoing a failed write.

A revision's message becomes its file's docstring (and, slugged by Alembic, part of its name), so
it is checked before anything is written. A write then either leaves a new file that loads, inside
one of the project's version locations, or leaves the version folders exactly as they were:
``%migrate revision``, ``merge`` and ``%%revision`` all write through :func:`undone_on_failure`.

Symlinks. Alembic opens the file it writes with ``open(path, "wb")``, which follows a symlink
and overwrites whatever file it names. So the name Alembic is about to write (``file_template``
applied) is checked before any folder or file is made: refused when it is a symlink, wherever the
link points (out of the project, or at another file of the versions folder: no link there is ever
what a user means to overwrite); when it leads outside the version locations (``file_template =
../x``, or a linked folder inside ``versions/`` that leads elsewhere); and when a file already
stands there, unless it is the very file a ``%%revision`` re-run rewrites. A version location
that is itself a symlink to a real folder (``versions -> ../shared/versions``) is that folder.
A ``%%revision`` re-run neither rewrites nor removes a file reached through a symlink
(:func:`check_replaceable`). An undo removes the entries a failed write added to the version
folders, a link itself and never the file it names, and says what it could not remove.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ._internals import checking_destination, version_locations
from .errors import BadArguments, MigrationFailed, NbmigrateError

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


# -- where a revision file may be ---------------------------------------------------------------


def locations(script: ScriptDirectory) -> list[Path]:
    """The version locations as the real folders they are (a symlinked ``versions`` is what it names)."""
    return [Path(os.path.realpath(p)) for p in version_locations(script)]


def _inside(real: Path, folders: list[Path]) -> bool:
    return any(real == folder or folder in real.parents for folder in folders)


def _shown(path: Path) -> str:
    """A path as a user reads it: relative to the working directory when it lies below it."""
    absolute = Path(os.path.abspath(path))
    with contextlib.suppress(ValueError):
        return str(absolute.relative_to(Path.cwd()))
    return str(absolute)


def version_files(script: ScriptDirectory) -> set[Path]:
    """Every ``.py`` entry of the project's version locations, as listed: a symlink is not followed.

    A failed write's undo removes what appeared here, so a link is removed as the link, never the
    file it names; folders named ``*.py`` are listed too (a hook may leave one).
    """
    files: set[Path] = set()
    for location in version_locations(script):
        top = os.path.abspath(location)
        for folder, dirs, names in os.walk(top):  # followlinks=False: a linked folder is not entered
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            files.update(Path(folder, name) for name in (*names, *dirs) if name.endswith(".py"))
    return files


def check_destination(script: ScriptDirectory, path: Path, replacing: Path | None = None) -> None:
    """Refuse to have Alembic write ``path`` (see the module docstring); called before it writes anything."""
    folders = locations(script)
    shown = _shown(path)
    if path.is_symlink():
        target = Path(os.path.realpath(path))
        where = "inside" if _inside(target, folders) else "outside"
        raise NbmigrateError(
            f"{shown}, the file this revision would be written to, is a symlink to {target} ({where} the versions "
            "folder); nbmigrate never writes through a link. Remove the link, or use another --rev-id or message. "
            "Nothing was written."
        )
    real = Path(os.path.realpath(path))
    if not _inside(real, folders):
        listed = ", ".join(str(folder) for folder in folders)
        raise NbmigrateError(
            f"This revision would be written to {real}, outside the project's version locations ({listed}): "
            "check file_template in the config (and any symlinked folder inside the versions folder). "
            "Nothing was written."
        )
    if os.path.lexists(path) and (replacing is None or real != Path(os.path.realpath(replacing))):
        raise NbmigrateError(
            f"{shown} already exists; nbmigrate does not write a revision over another file. Use another --rev-id "
            "or message (or put the revision id in file_template). Nothing was written."
        )


def check_replaceable(script: ScriptDirectory, path: Path) -> None:
    """Refuse to rewrite or remove ``path`` (a revision a cell made) when a symlink leads to it, or it lies outside.

    Alembic reads a revision through a link and knows it by the link's target, so ``path`` is
    that target: rewriting it changes a file the project only links to, and removing it (a new
    message renames the file) deletes it. The cell is refused before anything is run or written.
    """
    real = Path(os.path.realpath(path))
    links = [entry for entry in sorted(version_files(script)) if entry.is_symlink() and Path(os.path.realpath(entry)) == real]
    outside = not _inside(real, locations(script))
    if not links and not outside:
        return
    where = "outside the versions folder" if outside else "inside the versions folder"
    through = f"{_shown(links[0])} is a symlink to {real} ({where})" if links else f"{real} lies outside the versions folder"
    raise NbmigrateError(
        f"This cell's revision file {through}; nbmigrate neither rewrites nor removes a file reached through a "
        "link. Replace the link with a copy of the file to let the cell rewrite it, or put the change in a new "
        "revision (a new cell). Nothing was written."
    )


def check_inside(script: ScriptDirectory, path: Path) -> None:
    """Refuse a file Alembic reports outside the version locations (:func:`check_destination` stops that first)."""
    if not _inside(Path(os.path.realpath(path)), locations(script)):
        raise NbmigrateError(
            f"Alembic wrote {path}, outside the project's version locations. nbmigrate leaves files outside them "
            "alone: check that file and delete it by hand."
        )


def drop_bytecode(path: Path) -> None:
    """Remove a file's cached bytecode before it is imported again.

    Python trusts a ``.pyc`` whose recorded source mtime (whole seconds) and size match, so a
    revision rewritten within the same second at the same size (a re-run ``%%revision`` cell
    changing ``String(50)`` to ``String(60)``) would otherwise import its old code.
    """
    with contextlib.suppress(OSError, NotImplementedError, ValueError):
        Path(importlib.util.cache_from_source(str(path))).unlink()


# -- writing and undoing -------------------------------------------------------------------------


@contextlib.contextmanager
def _destination_checked(script: ScriptDirectory, replacing: Path | None) -> Iterator[None]:
    """Check the path Alembic computes for the new file, before it makes any folder or file.

    Alembic has no public hook between naming the file and writing it; see
    :func:`nbmigrate._internals.checking_destination`, which sees exactly the name Alembic writes.
    """
    with checking_destination(script, lambda path: check_destination(script, path, replacing)):
        yield


@contextlib.contextmanager
def undone_on_failure(
    script: ScriptDirectory, forget: Callable[[], None], replacing: Path | None = None
) -> Iterator[None]:
    """Run a write; if it raises, remove the files it added and restore ``replacing``'s bytes.

    ``forget`` drops the warm revision map: Alembic adds the new revision to it before it fails.
    What could not be undone is added to the error's message, checked on disk, never assumed.
    """
    if replacing is not None:
        check_replaceable(script, replacing)
    before = version_files(script)
    old = replacing.read_bytes() if replacing is not None and replacing.is_file() else None
    try:
        with _destination_checked(script, replacing):
            yield
    except BaseException as exc:
        forget()
        left = _undo(script, before, replacing, old)
        if left:
            note = f"The failed write was not fully undone, so fix this by hand: {'; '.join(left)}."
            if isinstance(exc, NbmigrateError) and not isinstance(exc, MigrationFailed):
                raise type(exc)(f"{exc} {note}") from exc
            if hasattr(exc, "add_note"):  # Python 3.11+: shown with the traceback of a bug or an interrupt
                exc.add_note(note)
        raise


def _undo(script: ScriptDirectory, before: set[Path], replacing: Path | None, old: bytes | None) -> list[str]:
    """Remove the entries a failed write added and restore ``replacing``; what is still wrong, as checked."""
    left = []
    for path in sorted(version_files(script) - before):
        with contextlib.suppress(OSError):
            path.unlink()  # a symlink is removed itself, never what it names
        drop_bytecode(path)
        if os.path.lexists(path):
            left.append(f"{_shown(path)} is still there: remove it")
    if replacing is not None and old is not None:
        try:
            if replacing.is_symlink():  # put there during the write: restore the file, not the link's target
                replacing.unlink()
            replacing.write_bytes(old)
        except OSError:
            pass
        drop_bytecode(replacing)
        try:
            restored = replacing.read_bytes() == old and not replacing.is_symlink()
        except OSError:
            restored = False
        if not restored:
            left.append(f"{_shown(replacing)} lost its old content: restore it")
    return left
