"""A warm ``ScriptDirectory`` per project, rebuilt only when revision files or the config change.

Alembic builds a new ``ScriptDirectory`` and imports every revision file on each command. In a
long-lived kernel nbmigrate keeps one, and checks before each use whether any file in a version
location was added, removed or changed (name, mtime and size). When one was, the map is rebuilt:
files that did not change reuse their already-imported module (a fresh ``Script`` object, so
Alembic's revision map starts clean), and only new or changed files are imported again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

Fingerprint = tuple[tuple[str, int, int], ...]


class ScriptCache:
    """Holds one project's ``ScriptDirectory`` and the fingerprint of its revision files."""

    def __init__(self) -> None:
        self._config: Config | None = None
        self._script: ScriptDirectory | None = None
        self._fingerprint: Fingerprint | None = None
        self._modules: dict[str, tuple[int, int, Any]] = {}
        self.loads = 0  # how many times the revision map was (re)built; tests read it

    def get(self, config: Config) -> ScriptDirectory:
        """The project's ``ScriptDirectory``, up to date with the files on disk."""
        from alembic.script import ScriptDirectory

        if self._script is None or self._config is not config:
            script = ScriptDirectory.from_config(config)
        else:
            script = self._script
        fingerprint = _fingerprint(script)
        if script is self._script and fingerprint == self._fingerprint:
            return script
        if script is self._script:
            script = ScriptDirectory.from_config(config)
        self._reuse_modules(script)
        self._config, self._script, self._fingerprint = config, script, fingerprint
        self.loads += 1
        return script

    def clear(self) -> None:
        """Forget everything; the next :meth:`get` imports every file again."""
        self._config = self._script = self._fingerprint = None
        self._modules.clear()

    def _reuse_modules(self, script: ScriptDirectory) -> None:
        """Make ``script`` build its revision map from cached modules where files did not change."""
        from alembic.script import Script
        from alembic.script.revision import RevisionMap

        cache = self._modules
        fresh: dict[str, tuple[int, int, Any]] = {}

        def load() -> Iterator[Script]:
            for path in _revision_files(script):
                key = str(path)
                st = path.stat()
                cached = cache.get(key)
                if cached is not None and cached[:2] == (st.st_mtime_ns, st.st_size):
                    module = cached[2]
                    fresh[key] = cached
                    yield Script(module, module.revision, path)
                    continue
                loaded = Script._from_path(script, path)
                if loaded is None:
                    continue
                if hasattr(loaded.module, "revision"):
                    fresh[key] = (st.st_mtime_ns, st.st_size, loaded.module)
                yield loaded
            cache.clear()
            cache.update(fresh)

        script.revision_map = RevisionMap(load)


def _revision_files(script: ScriptDirectory) -> list[Path]:
    """The files Alembic would read, in its order, once each (as ``_load_revisions`` does)."""
    from alembic.script import Script

    seen: set[Path] = set()
    files = []
    for location in script._version_locations:
        if not location.exists():
            continue
        for path in Script._list_py_dir(script, location):
            real = path.resolve()
            if real not in seen:
                seen.add(real)
                files.append(real)
    return files


def _fingerprint(script: ScriptDirectory) -> Fingerprint:
    entries = []
    for path in _revision_files(script):
        try:
            st = path.stat()
        except OSError:
            continue
        entries.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(entries)


@contextlib.contextmanager
def serving(script: ScriptDirectory) -> Iterator[None]:
    """Let ``alembic.command`` functions use ``script`` instead of building their own.

    Alembic's commands start with ``ScriptDirectory.from_config(config)``; while this is active
    that name in ``alembic.command`` returns the warm instance. nbmigrate runs one command at a
    time (see :mod:`nbmigrate._runtime`), so the swap cannot leak into another call.
    """
    import alembic.command as command
    from alembic.script import ScriptDirectory

    class _Warm:
        def __getattr__(self, name: str) -> Any:
            return getattr(ScriptDirectory, name)

        @staticmethod
        def from_config(config: Config) -> ScriptDirectory:
            return script

    saved = command.ScriptDirectory
    command.ScriptDirectory = _Warm()  # type: ignore[assignment, misc]
    try:
        yield
    finally:
        command.ScriptDirectory = saved  # type: ignore[misc]
