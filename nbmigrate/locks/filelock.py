"""The OS lock on the file beside an SQLite database (``flock``; ``msvcrt.locking`` on Windows)."""

from __future__ import annotations

import contextlib
import errno
import os


class _FileLock:
    """An OS lock on a file, taken without waiting, that the path's file is removed with.

    Removing the file as the lock is let go leaves no file behind between runs. A waiter may
    have opened the file just before: once it holds the lock it checks that the path still
    names that file, and opens the path anew if not, so two runs never hold two files.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: int | None = None
        self.unsupported = False  # no file here, or no locks on this filesystem: nothing to hold

    @property
    def held(self) -> bool:
        return self.fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if it is free (or cannot be had here at all); False while another holds it."""
        while self.fd is None and not self.unsupported:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError:
                self.unsupported = True  # e.g. a read-only folder: SQLite's write lock is all there is
                break
            try:
                taken = _lock_file(fd)
                if taken and _names(self.path, fd):
                    os.ftruncate(fd, 0)
                    os.write(fd, f"{os.getpid()}\n".encode())
                    self.fd = fd
                    break
            except OSError:
                self.unsupported = True  # a filesystem without locks
                taken = False
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)
            if not taken:
                return self.unsupported
            # Taken, but its holder removed the file as it let go: try the file now at the path.
        return True

    def holder(self) -> str | None:
        """The process id the holder wrote, if it can be read."""
        try:
            with open(self.path, encoding="ascii") as file:
                text = file.read(32).strip()
        except (OSError, ValueError):
            return None
        return text if text.isdigit() else None

    def release(self) -> None:
        fd, self.fd = self.fd, None
        if fd is None:
            return
        try:
            if _names(self.path, fd):
                os.unlink(self.path)  # while still held: see the class docstring
        except OSError:
            pass  # a file that cannot be removed (Windows keeps open files) is reused next time
        finally:
            _unlock_file(fd)
            os.close(fd)


def _lock_file(fd: int) -> bool:
    """Lock ``fd``'s file without waiting: True if taken, False if another holds it."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EDEADLK):
                return False
            raise
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def _unlock_file(fd: int) -> None:
    try:
        import fcntl
    except ImportError:
        import msvcrt

        with contextlib.suppress(OSError):
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
        return
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_UN)


def _names(path: str, fd: int) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        here, there = os.stat(path), os.fstat(fd)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)
