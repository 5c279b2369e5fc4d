"""A warm ``ScriptDirectory`` per project, rebuilt only when revision files or the config change.

Alembic builds a new ``ScriptDirectory`` and imports every revision file on each command. In a
long-lived kernel nbmigrate keeps one, and checks before each use whether any file in a version
location was added, removed or changed (name, mtime and size). When one was, the map is rebuilt:
files that did not change reuse their already-imported module (a fresh ``Script`` object, so
Alembic's revision map starts clean), and only new or changed files are imported again.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ._files import drop_bytecode
from ._watch import ChangeDetection, FolderWatch

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from alembic.script.revision import RevisionMap

Fingerprint = tuple[tuple[str, int, int], ...]


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
        if script is None or not self._unchanged(config) or "_revision_map" not in vars(script.revision_map):
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
                loaded = Script._from_path(script, path)
                if loaded is None:
                    continue
                if hasattr(loaded.module, "revision") and mtime >= 0:
                    fresh[key] = (mtime, size, loaded.module)
                yield loaded
            cache.clear()
            cache.update(fresh)

        script.revision_map = linear_revision_map(load)


# -- the revision map: Alembic's, with its quadratic walks made linear ----------------------------


def linear_revision_map(generator: Callable[[], Iterable[Any]]) -> RevisionMap:
    """A ``RevisionMap`` that answers exactly as Alembic's, without its superlinear bookkeeping.

    Alembic's ``_topological_sort`` (behind ``walk_revisions``, ``iterate_revisions``,
    ``_upgrade_revs`` and ``_downgrade_revs``, so behind ``history``, the graph and every plan)
    recomputes a head's whole ancestry at each merge and branch point, and
    ``_filter_into_branch_heads`` (behind ``get_all_current`` and relative downgrades) walks all
    descendants of every revision it is given. Both are replaced by linear versions that give
    the same result, element for element; see :func:`topological_order`.
    """
    return _linear_map_class()(generator)


@functools.cache
def _linear_map_class() -> type[RevisionMap]:
    from alembic.script.revision import RevisionMap

    class LinearRevisionMap(RevisionMap):
        def _links(self) -> tuple[dict[str, tuple[str, ...]], dict[str, int]]:
            """Each revision's ``_normalized_down_revisions`` and each key's place in the map.

            Both are Alembic properties recomputed on every access; they are read once per map
            (and again if ``add_revision`` grew it, as ``revision`` does under ``serving``).
            """
            links = self._nbm_state()
            return links.parents, links.position

        def _nbm_state(self) -> _Links:
            rmap = self._revision_map
            links: _Links | None = self.__dict__.get("_nbm_links")
            if links is None or links.rmap is not rmap or links.size != len(rmap):
                links = _Links(rmap)
                self.__dict__["_nbm_links"] = links
            return links

        def iterate_revisions(self, upper: Any, lower: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
            # A pure function of the map and the arguments: remembered, so that the plan
            # nbmigrate makes before a run is the one Alembic's own command asks for inside it,
            # and ``history`` asked twice walks once.
            key = (upper, lower, args, tuple(sorted(kwargs.items())))
            try:
                hash(key)
            except TypeError:
                yield from super().iterate_revisions(upper, lower, *args, **kwargs)
                return
            walks = self._nbm_state().walks
            found = walks.get(key)
            if found is None:
                found, warned = _warning_aware(lambda: list(super(LinearRevisionMap, self).iterate_revisions(upper, lower, *args, **kwargs)))
                if not warned:  # a walk that warns ("downgrade -1 from multiple heads") warns every time
                    if len(walks) >= 16:
                        walks.clear()
                    walks[key] = found
            yield from found

        def _topological_sort(self, revisions: Any, heads: Any) -> list[str]:
            parents, position = self._links()
            order = topological_order(self._revision_map, revisions, heads, parents, position)
            if order is None:  # a shape the linear walk does not cover: Alembic's own
                return super()._topological_sort(revisions, heads)
            return order

        def _filter_into_branch_heads(self, targets: Any) -> set[Any]:
            targets = set(targets)
            if not all(getattr(t, "revision", None) for t in targets):
                return super()._filter_into_branch_heads(targets)
            return branch_heads(self._revision_map, targets)

    LinearRevisionMap.__name__ = LinearRevisionMap.__qualname__ = "LinearRevisionMap"
    return LinearRevisionMap


def _warning_aware(fn: Callable[[], Any]) -> tuple[Any, bool]:
    """``fn()``, and whether it warned; its warnings (also when it raises) pass on as Alembic raised them."""
    seen: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                value = fn()
            finally:
                seen = list(caught)
    finally:
        for w in seen:
            module = next((m for m in list(sys.modules.values()) if getattr(m, "__file__", None) == w.filename), None)
            registry = module.__dict__.setdefault("__warningregistry__", {}) if module is not None else None
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, registry=registry)
    return value, bool(seen)


class _Links:
    """What the linear walks read of one state of a revision map (rebuilt when the map grows)."""

    def __init__(self, rmap: Mapping[str, Any]) -> None:
        self.rmap = rmap
        self.size = len(rmap)
        revisions = [(key, rev) for key, rev in rmap.items() if rev is not None and key == rev.revision]
        # What Alembic's topological sort follows.
        self.parents = {key: rev._normalized_down_revisions for key, rev in revisions}
        # What makes a revision applied: its down revisions and all its dependencies.
        self.below = {key: rev._normalized_down_revisions + tuple(rev._resolved_dependencies) for key, rev in revisions}
        self.position = {key: i for i, key in enumerate(rmap)}
        self.walks: dict[Any, list[Any]] = {}
        self.applied: tuple[tuple[str, ...], frozenset[str]] | None = None


def applied(rmap: RevisionMap, heads: Sequence[str]) -> set[str]:
    """Every revision at or below ``heads`` (down revisions and dependencies), in linear time.

    On a map made by :func:`linear_revision_map` the answer for the last ``heads`` asked is
    remembered (the database rarely moves between two commands).
    """
    id_to_rev = rmap._revision_map
    state = getattr(rmap, "_nbm_state", None)
    links: _Links | None = state() if state is not None else None
    key = tuple(heads)
    if links is not None and links.applied is not None and links.applied[0] == key:
        return set(links.applied[1])
    seen: set[str] = set()
    todo = [h for h in heads if h in id_to_rev]
    while todo:
        rev_id = todo.pop()
        if rev_id in seen:
            continue
        seen.add(rev_id)
        ups = links.below.get(rev_id) if links is not None else None
        if ups is None:
            rev = id_to_rev.get(rev_id)
            if rev is None:
                continue
            ups = rev._normalized_down_revisions + tuple(rev._resolved_dependencies)
        todo.extend(ups)
    if links is not None:
        links.applied = (key, frozenset(seen))
    return seen


def topological_order(
    id_to_rev: Mapping[str, Any],
    revisions: Iterable[Any],
    heads: Iterable[Any],
    parents: Mapping[str, tuple[str, ...]] | None = None,
    position: Mapping[str, int] | None = None,
) -> list[str] | None:
    """Alembic's ``RevisionMap._topological_sort(revisions, heads)``, in time linear in the history.

    Alembic walks down from the heads (in revision-map order), emitting the current head unless
    another head still has it as an ancestor, in which case it switches to the first such head;
    to know that, it keeps every head's full set of ancestors and rebuilds it at each merge and
    branch point. When the revisions to sort are *convex* (no path from a head to one of them
    leaves the set and comes back) and every one lies below a head, which holds for each set
    Alembic sorts for ``history``, upgrades and downgrades, "another head has the candidate as
    an ancestor" is the same as "the candidate has a child still to emit", a counter; and which
    head that is, is found by looking up from the candidate through the children still to emit.
    Returns ``None`` (use Alembic's own) for any other input. ``parents`` (each revision's
    ``_normalized_down_revisions``) and ``position`` (each key's index in the map) may be given
    precomputed.
    """
    if parents is None:
        parents = {k: r._normalized_down_revisions for k, r in id_to_rev.items() if r is not None and k == r.revision}
    if position is None:
        position = {key: i for i, key in enumerate(id_to_rev)}
    todo: set[str] = set()
    for rev in revisions:
        rev_id = getattr(rev, "revision", None)
        if rev_id is None or id_to_rev.get(rev_id) is not rev:
            return None
        todo.add(rev_id)
    start = {getattr(h, "revision", None) for h in heads}
    start = {h for h in start if h in todo}
    current = sorted(start, key=position.__getitem__)

    children: dict[str, list[str]] = {rev_id: [] for rev_id in todo}
    for rev_id in todo:
        for up in parents[rev_id]:
            if up in todo:
                children[up].append(rev_id)
    if not _convex(parents, todo, current):
        return None

    pending = set(todo)
    waiting = {rev_id: len(kids) for rev_id, kids in children.items()}  # children not yet emitted
    in_current = set(current)
    output: list[str] = []
    index = 0
    while current:
        candidate = current[index]
        if waiting[candidate]:
            above = _pending_above(candidate, children, pending)
            found = next((i for i, head in enumerate(current) if i != index and head in above), None)
            if found is None:  # cannot happen for a convex set; never guess
                return None
            index = found
            continue
        output.append(candidate)
        pending.discard(candidate)
        in_current.discard(candidate)
        ups = parents[candidate]
        for up in ups:
            if up in todo:
                waiting[up] -= 1
        add = [up for up in ups if up in pending and up not in in_current]
        if not add:
            del current[index]
            index = max(index - 1, 0)
        else:
            current[index] = add[0]
            current.extend(add[1:])
            in_current.update(add)
    return output if not pending else None


def _convex(parents: Mapping[str, tuple[str, ...]], todo: set[str], heads: list[str]) -> bool:
    """Every revision of ``todo`` lies below ``heads``, and no path from them leaves ``todo`` and re-enters."""
    inside: set[str] = set()
    outside: set[str] = set()
    stack = [(h, True) for h in heads]
    while stack:
        rev_id, is_inside = stack.pop()
        seen = inside if is_inside else outside
        if rev_id in seen:
            continue
        seen.add(rev_id)
        ups = parents.get(rev_id)
        if ups is None:
            return False
        for up in ups:
            if up in todo:
                if not is_inside:
                    return False
                stack.append((up, True))
            else:
                stack.append((up, False))
    return len(inside) == len(todo)


def _pending_above(rev_id: str, children: Mapping[str, list[str]], pending: set[str]) -> set[str]:
    """The revisions still to emit that have ``rev_id`` as an ancestor (through others still to emit)."""
    found: set[str] = set()
    stack = [kid for kid in children[rev_id] if kid in pending]
    while stack:
        kid = stack.pop()
        if kid in found:
            continue
        found.add(kid)
        stack.extend(k for k in children[kid] if k in pending)
    return found


def branch_heads(id_to_rev: Mapping[str, Any], targets: set[Any]) -> set[Any]:
    """Alembic's ``_filter_into_branch_heads``: the targets no other target descends from, in linear time.

    Alembic drops each target that has another target among its descendants (through
    ``down_revision`` only); what remains are the targets that are not a strict ancestor of
    another one, whatever order it checks them in.
    """
    below: set[str] = set()
    stack = [up for t in targets for up in t._versioned_down_revisions]
    while stack:
        rev_id = stack.pop()
        if rev_id in below:
            continue
        below.add(rev_id)
        rev = id_to_rev.get(rev_id)
        if rev is not None:
            stack.extend(rev._versioned_down_revisions)
    return {t for t in targets if t.revision not in below}


def _watch_for(script: ScriptDirectory, detection: ChangeDetection = "auto") -> FolderWatch:
    """A watch of the script's version folders, inactive where a watch could miss a change."""
    if script.sourceless or script.recursive_version_locations:
        return FolderWatch(())  # .pyc files, or folders within folders: look at the files each time
    return FolderWatch((os.fspath(location) for location in script._version_locations), detection)


def _plain_folders(script: ScriptDirectory, fingerprint: Fingerprint) -> bool:
    """True when every revision file lies directly in a version folder (none reached by a symlink)."""
    folders = {os.path.realpath(location) for location in script._version_locations}
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
    for location in script._version_locations:
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
    """What :func:`file_fingerprint` answers, from Alembic's own listing (``Script._list_py_dir``)."""
    from alembic.script import Script

    seen: set[Path] = set()
    entries = []
    for location in script._version_locations:
        if not location.exists():
            continue
        for path in Script._list_py_dir(script, location):
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
