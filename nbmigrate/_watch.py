"""Whether anything in a few folders changed since the last look, without looking at every file.

The warm revision map (:mod:`nbmigrate._cache`) must notice every revision file added, removed or
changed. Checking means one ``stat`` per file: 10 ms for 3,000 files, before every command. On
Linux the kernel can tell instead (inotify): :class:`FolderWatch` asks it to note every change
in the version folders, and a look is one non-blocking ``read``. Where that is not available
(another system, no inotify watches left, a version location that is not a plain folder),
:attr:`FolderWatch.active` is false and the caller stats every file as before.

The kernel queues an event when the change happens (the writer's ``write`` or ``rename`` has not
returned before the event is queued), so a look after a change always sees it. A look that sees
anything, including a queue overflow, answers "changed"; the caller then compares the files'
names, mtimes and sizes as it would without a watch, so a watch can only save work, never
change an answer.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import sys
from collections.abc import Iterable

# inotify(7): what changes a folder's revision files.
_IN_MODIFY = 0x002
_IN_ATTRIB = 0x004
_IN_CLOSE_WRITE = 0x008
_IN_MOVED_FROM = 0x040
_IN_MOVED_TO = 0x080
_IN_CREATE = 0x100
_IN_DELETE = 0x200
_IN_DELETE_SELF = 0x400
_IN_MOVE_SELF = 0x800
_IN_ONLYDIR = 0x01000000
_MASK = (
    _IN_MODIFY | _IN_ATTRIB | _IN_CLOSE_WRITE | _IN_MOVED_FROM | _IN_MOVED_TO | _IN_CREATE
    | _IN_DELETE | _IN_DELETE_SELF | _IN_MOVE_SELF | _IN_ONLYDIR
)
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = getattr(os, "O_CLOEXEC", 0o2000000)


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.inotify_init1  # noqa: B018 - present in glibc and musl since 2.9 / 2008
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()


class FolderWatch:
    """The kernel's note of changes in ``folders`` (inotify), read without blocking."""

    def __init__(self, folders: Iterable[str]) -> None:
        self._fd: int | None = None
        folders = list(folders)
        if _LIBC is None or not folders:  # nothing to watch is no watch: the caller looks itself
            return
        fd = _LIBC.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if fd < 0:
            return
        try:
            for folder in folders:
                if os.path.islink(folder) or _LIBC.inotify_add_watch(fd, os.fsencode(folder), _MASK) < 0:
                    raise OSError(ctypes.get_errno(), folder)
        except OSError:
            os.close(fd)
            return
        self._fd = fd

    @property
    def active(self) -> bool:
        """True when the kernel watches every folder (else the caller must look at the files)."""
        return self._fd is not None

    def changed(self) -> bool:
        """Whether anything changed since the last call (always true without an active watch)."""
        if self._fd is None:
            return True
        seen = False
        while True:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                return seen
            except OSError:
                self.close()
                return True
            if not data:
                return seen
            seen = True

    def close(self) -> None:
        """Stop watching."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.close()
