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

That holds only for changes made through this machine's kernel: inotify reports what passes
through the kernel it runs in. A file changed by another machine or kernel raises no event here,
and a warm kernel would then run a revision's old code. That is what happens on network
filesystems (NFS and SMB homes on JupyterHub, CephFS, Lustre, GPFS, AFS), on FUSE filesystems
(sshfs, rclone, gluster: the server behind them changes files without telling this kernel), and
on folders a virtual machine shares with its host (WSL2's ``/mnt/c`` is 9p, drvfs on WSL1;
virtiofs, VirtualBox's vboxsf, Docker Desktop's fakeowner). So with the ``auto`` choice of
:data:`CHANGE_DETECTION` a folder is watched only when ``/proc/self/mountinfo`` says its
filesystem is local (:func:`events_trusted`); the mount that holds it is the one whose mount
point is the longest prefix of the folder's real path. ``inotify`` trusts the kernel on any
filesystem (for a share that only this machine writes); ``stat`` never does.

What is and is not covered:

- A bind mount of a local filesystem (``mount --bind``, a container's volume from its host's
  disk, a Kubernetes ``subPath``; mountinfo's root field is then not ``/``) shows the same
  inodes at another path, in the same kernel: a change made through any path raises the event,
  so it is watched. A bind mount of a network folder has the network filesystem's type and is
  not. The choice reads the type only, not the root field (btrfs subvolumes have one too).
- overlay (a container's own root) is treated as local: changes made through it are made by
  this kernel, and overlayfs does not support changing its layers behind its back. An overlay
  whose layers lie on a network filesystem would be taken for local.
- Where the mount table cannot be read (no ``/proc`` in a chroot), the filesystem's ``statfs``
  magic number decides; where neither answers, the files are looked at. Looking costs one
  ``stat`` per file; a missed change runs the wrong code.
- A mount made over a version folder after it is watched is not seen: the watch stays on the
  folder underneath until the next change it reports.
- Off Linux there is no inotify, and every file is looked at anyway.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

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


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """The C library, loaded on first use (not at ``%load_ext``); ``None`` off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        # The process's own symbols include the C library's: no search (ctypes.util.find_library
        # runs ldconfig or a compiler, tens of milliseconds).
        libc = ctypes.CDLL(None, use_errno=True)
        libc.inotify_init1  # noqa: B018 - present in glibc and musl since 2.9 / 2008
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    except (OSError, AttributeError):
        return None
    return libc


ChangeDetection = Literal["auto", "inotify", "stat"]
#: How a warm kernel learns that revision files changed: ``auto`` (the kernel's events where the
#: filesystem is local, else a look at every file), ``inotify`` (the kernel's events wherever it
#: can watch), ``stat`` (a look at every file before every command).
CHANGE_DETECTION: tuple[ChangeDetection, ...] = ("auto", "inotify", "stat")

# Filesystems where a file can change without this kernel seeing it: network filesystems, FUSE
# (its server changes files behind the kernel's back), and a virtual machine's share of its
# host's folders. Any "fuse.<name>" type is FUSE too (fuse.sshfs, fuse.rclone, fuse.glusterfs).
_EVENTLESS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smb2", "smbfs", "ncpfs", "coda", "afs",  # file servers
    "ceph", "glusterfs", "lustre", "gpfs", "beegfs", "panfs", "ocfs2", "gfs2",  # clusters
    "fuse", "fuseblk", "virtiofs", "9p", "drvfs", "vboxsf", "vmhgfs", "prl_fs",  # FUSE, VM shares
    "fakeowner",  # Docker Desktop's bind mount of a host folder (over virtiofs)
})

# statfs(2)'s f_type for the same filesystems (linux/magic.h), for when the mount table cannot
# be read. virtiofs reports FUSE's number, WSL2's drvfs 9p's.
_EVENTLESS_MAGIC = {
    0x6969: "nfs", 0xFF534D42: "cifs", 0xFE534D42: "smb2", 0x517B: "smbfs", 0x564C: "ncpfs",
    0x73757245: "coda", 0x5346414F: "afs", 0x6B414653: "afs", 0x00C36400: "ceph",
    0x0BD00BD0: "lustre", 0x47504653: "gpfs", 0x19830326: "beegfs", 0xAAD7AAEA: "panfs",
    0x7461636F: "ocfs2", 0x01161970: "gfs2", 0x65735546: "fuse", 0x01021997: "9p",
    0x786F4256: "vboxsf", 0xBACBACBC: "vmhgfs", 0x7C7C6673: "prl_fs",
}

# The mount table filesystem_of reads (the tests point it at one of their own).
MOUNTINFO = "/proc/self/mountinfo"
_ESCAPE = re.compile(r"\\([0-7]{3})")


@dataclass(frozen=True)
class Mount:
    """One line of ``/proc/self/mountinfo``, the fields the choice needs, escapes undone."""

    mount_id: int
    parent_id: int
    root: str  # the filesystem's folder seen at mount_point: not "/" for a bind mount or subvolume
    mount_point: str
    fstype: str
    source: str


def parse_mountinfo(text: str) -> list[Mount]:
    """The mounts in ``text`` (proc(5)'s format), in the kernel's order; other lines are skipped.

    A line is: mount id, parent id, major:minor, root, mount point, options, any number of
    optional fields, ``-``, type, source, superblock options. The kernel writes a space, tab,
    newline or backslash in a field as ``\\040``, ``\\011``, ``\\012``, ``\\134``.
    """
    mounts = []
    for line in text.splitlines():
        fields = line.split(" ")
        try:
            dash = fields.index("-", 6)
            mounts.append(Mount(
                mount_id=int(fields[0]), parent_id=int(fields[1]), root=_unescape(fields[3]),
                mount_point=_unescape(fields[4]), fstype=_unescape(fields[dash + 1]),
                source=_unescape(fields[dash + 2]),
            ))
        except (ValueError, IndexError):
            continue
    return mounts


def _unescape(field: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m[1], 8)), field)


def mount_containing(mountinfo: str, path: str) -> Mount | None:
    """The mount that holds ``path`` (absolute, symlinks already resolved), per ``mountinfo``.

    It is the mount with the longest mount point that is ``path`` or a folder above it. When
    several share that mount point (an NFS mount on an autofs trigger), the one on top is the
    one no other of them is mounted on.
    """
    path = os.path.normpath(path)
    best: list[Mount] = []
    for mount in parse_mountinfo(mountinfo):
        point = mount.mount_point
        if path != point and not path.startswith(point.rstrip("/") + "/"):
            continue
        if best and len(point) < len(best[0].mount_point):
            continue
        if best and len(point) > len(best[0].mount_point):
            best = []
        best.append(mount)
    if not best:
        return None
    below = {m.parent_id for m in best}
    on_top = [m for m in best if m.mount_id not in below]
    return (on_top or best)[-1]


def may_miss_changes(fstype: str) -> bool:
    """True for a filesystem whose files can change without an event in this kernel."""
    return fstype in _EVENTLESS or fstype.startswith("fuse.")


def filesystem_of(folder: str) -> str | None:
    """The type of the filesystem holding ``folder``: mountinfo's name, else ``statfs`` magic.

    ``None`` when neither answers. A magic number of no filesystem known to miss changes is
    named ``"statfs 0x<magic>"``.
    """
    path = os.path.realpath(folder)
    try:
        with open(MOUNTINFO, "rb") as file:
            mountinfo = os.fsdecode(file.read())
    except OSError:
        mountinfo = ""
    mount = mount_containing(mountinfo, path)
    if mount is not None:
        return mount.fstype
    magic = statfs_magic(path)
    return None if magic is None else magic_name(magic)


def events_trusted(folder: str) -> bool:
    """True when the kernel's events can be trusted to report every change in ``folder``."""
    fstype = filesystem_of(folder)
    return fstype is not None and not may_miss_changes(fstype)


def magic_name(magic: int) -> str:
    """The filesystem a ``statfs`` magic number names, when it may miss changes; else ``"statfs 0x<magic>"``."""
    return _EVENTLESS_MAGIC.get(magic, f"statfs 0x{magic:x}")


def statfs_magic(path: str) -> int | None:
    """statfs(2)'s ``f_type`` for ``path``, or ``None`` where it cannot be had."""
    statfs = getattr(_libc(), "statfs", None)
    if statfs is None:
        return None
    # f_type is the struct's first field: a long everywhere but s390x, where it is an unsigned int.
    kind = ctypes.c_uint if os.uname().machine.startswith("s390") else ctypes.c_long
    buffer = ctypes.create_string_buffer(512)  # struct statfs is 120 bytes on 64-bit Linux
    if statfs(os.fsencode(path), buffer) != 0:
        return None
    return kind.from_buffer(buffer).value & 0xFFFFFFFF


class FolderWatch:
    """The kernel's note of changes in ``folders`` (inotify), read without blocking.

    ``detection`` (see :data:`CHANGE_DETECTION`) says where the kernel is trusted: with
    ``auto`` a folder on a filesystem that may miss changes leaves the watch inactive.
    """

    def __init__(self, folders: Iterable[str], detection: ChangeDetection = "auto") -> None:
        self._fd: int | None = None
        folders = list(folders)
        libc = _libc()
        if libc is None or not folders or detection == "stat":  # no watch: the caller looks itself
            return
        if detection == "auto" and not all(events_trusted(folder) for folder in folders):
            return
        fd = libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if fd < 0:
            return
        try:
            for folder in folders:
                if os.path.islink(folder) or libc.inotify_add_watch(fd, os.fsencode(folder), _MASK) < 0:
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
