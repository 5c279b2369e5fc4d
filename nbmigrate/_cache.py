"""A warm ``ScriptDirectory`` per project, rebuilt only when revision files or the config change.

Alembic builds a new ``ScriptDirectory`` and imports every revision file on each command. In a
long-lived kernel nbmigrate keeps one, and checks before each use whether any file in a version
location was added, removed or changed (name, mtime and size). When one was, the map is rebuilt:
files that did not change reuse their already-imported module (a fresh ``Script`` object, so
Alembic's revision map starts clean), and only new or changed files are imported again.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ._files import drop_bytecode
from ._internals import list_revision_files, load_script_file, map_is_built, version_locations

# The warm map's own walks, and the swap that serves it to Alembic's commands, live with the other
# uses of Alembic's private names (see nbmigrate._internals); named here as before.
from ._internals import applied, branch_heads, linear_revision_map, serving, topological_order
from ._watch import ChangeDetection, FolderWatch

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

Fingerprint = tuple[tuple[str, int, int], ...]

__all__ = ["ScriptCache", "applied", "branch_heads", "linear_revision_map", "serving", "topological_order"]


class ScriptCache:
    """Holds one project's ``ScriptDirectory`` and the fingerprint of its revision files."""

    def __init__(self) -> None:
        self._config: Config | None = None
        self._script: ScriptDirectory | None = None
        self._fingerprint: Fingerprint | None = None
        self._modules: dict[str, tuple[int, int, Any]] = {}
        self.loads = 0  # how many times the revision map was (re)built
        self.scans = 0  # how many times the revision files were looked at (a stat each)
        # What is wrong with the files as loaded (a revision id defined twice), said on every
        # command until fixed: Alembic warns only while it builds the map.
        self.problems: list[str] = []
        self._local = threading.local()
        self._watch = FolderWatch(())  # inactive until a ScriptDirectory is known
        self._dirty = False  # the watch saw a change the files were not read for yet
        self._detection: ChangeDetection = "auto"

    @property
    def change_detection(self) -> ChangeDetection:
        """Where the kernel's events are trusted (see :data:`nbmigrate._watch.CHANGE_DETECTION`)."""
        return self._detection

    @change_detection.setter
    def change_detection(self, value: ChangeDetection) -> None:
        if value != self._detection:
            self._detection = value
            self._watch.close()  # the next command looks at the files, and watches them anew

    @property
    def detection_in_effect(self) -> Literal["inotify", "stat"] | None:
        """How the next command learns of changed files; ``None`` until the files were read."""
        if self._script is None:
            return None
        return "inotify" if self._watch.active else "stat"

    def get(self, config: Config) -> ScriptDirectory:
        """The project's ``ScriptDirectory``, up to date with the files on disk.

        The files are looked at (a ``stat`` each) only when the kernel's watch of the version
        folders saw a change, or cannot watch them (see :mod:`nbmigrate._watch`).
        """
        from alembic.script import ScriptDirectory

        if self._unchanged(config):
            return self._script  # type: ignore[return-value]
        self._dirty = False
        if self._script is None or self._config is not config:
            script = ScriptDirectory.from_config(config)
        else:
            script = self._script
        # Watch before looking: a change made while the files are read shows next time.
        self._watch.close()
        self._watch = _watch_for(script, self._detection)
        fingerprint = file_fingerprint(script)
        self.scans += 1
        if not _plain_folders(script, fingerprint):
            self._watch.close()  # a symlinked file changes where no watch sees it
        if script is self._script and fingerprint == self._fingerprint:
            return script
        if script is self._script:
            script = ScriptDirectory.from_config(config)
        self._reuse_modules(script, fingerprint)
        self._config, self._script, self._fingerprint = config, script, fingerprint
        self.loads += 1
        return script

    def warm(self, config: Config) -> ScriptDirectory | None:
        """The ``ScriptDirectory`` with its map built, when no file can have changed; else ``None``.

        Nothing is read or imported, so a caller may use it without containing the call.
        """
        script = self._script
        if script is None or not self._unchanged(config) or not map_is_built(script.revision_map):
            return None
        return script

    def _unchanged(self, config: Config) -> bool:
        """True when the watch saw no change since the files were last read (a change seen is kept)."""
        if self._script is None or self._config is not config:
            return False
        if not self._dirty and self._watch.changed():
            self._dirty = True
        return not self._dirty

    def pinned(self) -> ScriptDirectory | None:
        """The ``ScriptDirectory`` a command running on this thread has pinned, if any (see :meth:`pin`)."""
        return getattr(self._local, "pinned", None)

    @contextlib.contextmanager
    def pin(self, script: ScriptDirectory) -> Iterator[ScriptDirectory]:
        """Within one command, let later steps use ``script`` without looking at the files again.

        Alembic reads the revision files once per command; an nbmigrate command that needs the
        map in several steps (``history``: the walk, then the database's state) checks the
        files once too. Only the calling thread sees the pin, and only inside the block.
        """
        local = self._local
        saved = getattr(local, "pinned", None)
        local.pinned = script
        try:
            yield script
        finally:
            local.pinned = saved

    def clear(self) -> None:
        """Forget everything; the next :meth:`get` imports every file again."""
        self._watch.close()
        self._config = self._script = self._fingerprint = None
        self._modules.clear()
        self.problems = []

    def _reuse_modules(self, script: ScriptDirectory, fingerprint: Fingerprint) -> None:
        """Make ``script`` build its revision map from cached modules where files did not change.

        A module is reused when its file's mtime and size are those of ``fingerprint``, taken
        before anything is imported: a file that changes while the map builds differs from the
        fingerprint the next time, and is imported again then.
        """
        from alembic.script import Script

        cache = self._modules
        fresh: dict[str, tuple[int, int, Any]] = {}
        defined: dict[str, list[str]] = {}

        def load() -> Iterator[Script]:
            defined.clear()
            for loaded in _load(script):
                defined.setdefault(loaded.revision, []).append(Path(loaded.path).name)
                yield loaded
            self.problems = [
                f"Revision id {rev} is defined by {len(names)} files ({', '.join(names)}): Alembic uses "
                "only the last one. Give each revision its own id."
                for rev, names in defined.items()
                if len(names) > 1
            ]

        def _load(script: ScriptDirectory) -> Iterator[Script]:
            for key, mtime, size in fingerprint:
                path = Path(key)
                cached = cache.get(key)
                if cached is not None and cached[:2] == (mtime, size):
                    module = cached[2]
                    fresh[key] = cached
                    yield Script(module, module.revision, path)
                    continue
                if cache:  # changed or new since the last load: its .pyc may be stale
                    drop_bytecode(path)
                loaded = load_script_file(script, path)
                if loaded is None:
                    continue
                if hasattr(loaded.module, "revision") and mtime >= 0:
                    fresh[key] = (mtime, size, loaded.module)
                yield loaded
            cache.clear()
            cache.update(fresh)

        script.revision_map = linear_revision_map(load)


def _watch_for(script: ScriptDirectory, detection: ChangeDetection = "auto") -> FolderWatch:
    """A watch of the script's version folders, inactive where a watch could miss a change."""
    if script.sourceless or script.recursive_version_locations:
        return FolderWatch(())  # .pyc files, or folders within folders: look at the files each time
    return FolderWatch((os.fspath(location) for location in version_locations(script)), detection)


def _plain_folders(script: ScriptDirectory, fingerprint: Fingerprint) -> bool:
    """True when every revision file lies directly in a version folder (none reached by a symlink)."""
    folders = {os.path.realpath(location) for location in version_locations(script)}
    return all(os.path.dirname(path) in folders for path, _, _ in fingerprint)


def revision_files(script: ScriptDirectory) -> list[Path]:
    """The files Alembic would read, in its order, once each (as ``_load_revisions`` does)."""
    return [Path(path) for path, _, _ in file_fingerprint(script)]


def file_fingerprint(script: ScriptDirectory) -> Fingerprint:
    """``(real path, mtime_ns, size)`` of each file Alembic would read, in its order, once each.

    This runs before every command, so it lists each version location with one ``scandir`` and
    one ``stat`` per file (what ``Script._list_py_dir`` + ``Path.resolve`` find, at a fraction of
    their cost: 3,000 files in a few milliseconds). A file that cannot be stat'ed (a broken
    symlink) is listed with ``-1`` so that loading it fails as it does in Alembic.
    """
    if script.sourceless:  # rare: .pyc files without sources; Alembic's own listing
        return file_fingerprint_slow(script)
    seen: set[str] = set()
    entries: list[tuple[str, int, int]] = []
    for location in version_locations(script):
        _scan(os.fspath(location), bool(script.recursive_version_locations), seen, entries)
    return tuple(entries)


def _scan(top: str, recursive: bool, seen: set[str], entries: list[tuple[str, int, int]]) -> None:
    """One directory as ``os.walk`` (top-down, sorted, no symlinked directories) shows it to Alembic."""
    fd = None
    try:
        if _BY_FD:  # stat by name relative to the open directory: no path walk per file
            fd = os.open(top, os.O_RDONLY)
            with os.scandir(fd) as it:
                listed = list(it)
        else:
            with os.scandir(top) as it:
                listed = list(it)
    except OSError:  # missing, or not a directory: Alembic skips it too
        if fd is not None:
            os.close(fd)
        return
    try:
        files: list[str] = []
        links: set[str] = set()  # files that are symlinks: named by their target
        dirs: list[str] = []  # subfolders that are not symlinks (os.walk does not follow those)
        for entry in listed:
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                if not entry.is_symlink():
                    dirs.append(entry.name)
            else:
                files.append(entry.name)
                if entry.is_symlink():
                    links.add(entry.name)
        if not os.path.basename(top).endswith("__pycache__"):
            files.sort()
            prefix = os.path.join(os.path.realpath(top), "")
            stat = os.stat
            if not links:
                # The usual folder (plain files only, not seen in another location): one stat per
                # file in one comprehension; any surprise (a file gone since the listing, a
                # folder listed twice) takes the careful loop below instead.
                reals = [prefix + name for name in files]
                if seen.isdisjoint(reals):
                    try:
                        stats = [stat(name, dir_fd=fd) for name in files] if fd is not None else [stat(r) for r in reals]
                    except OSError:
                        pass
                    else:
                        seen.update(reals)
                        entries.extend([(r, st.st_mtime_ns, st.st_size) for r, st in zip(reals, stats)])
                        files = []
            for name in files:
                real = os.path.realpath(os.path.join(top, name)) if name in links else prefix + name
                if real in seen:
                    continue
                seen.add(real)
                try:
                    st = stat(name, dir_fd=fd) if fd is not None else stat(real)
                except OSError:
                    entries.append((real, -1, -1))
                    continue
                entries.append((real, st.st_mtime_ns, st.st_size))
    finally:
        if fd is not None:
            os.close(fd)
    if recursive:
        for name in sorted(dirs):
            _scan(os.path.join(top, name), recursive, seen, entries)


_BY_FD = os.stat in os.supports_dir_fd and os.scandir in os.supports_fd


def file_fingerprint_slow(script: ScriptDirectory) -> Fingerprint:
    """What :func:`file_fingerprint` answers, from Alembic's own listing of revision files."""
    seen: set[Path] = set()
    entries = []
    for location in version_locations(script):
        if not location.exists():
            continue
        for path in list_revision_files(script, location):
            real = path.resolve()
            if real in seen:
                continue
            seen.add(real)
            try:
                st = real.stat()
            except OSError:
                entries.append((str(real), -1, -1))
                continue
            entries.append((str(real), st.st_mtime_ns, st.st_size))
    return tuple(entries)
