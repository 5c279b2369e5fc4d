"""Which folders the kernel's change events can be trusted for, and the setting that overrides it.

The detection is tested on real mount tables: this machine's own ``/proc/self/mountinfo``, a real
bind mount where the machine allows one, and lines in the exact shape the kernel writes them for
the filesystems that drop events (an NFS home on JupyterHub, WSL2's ``/mnt/c``, sshfs, bind mounts,
a mount point with a space). The end-to-end tests check what a project uses through
``Project.change_detection_in_effect``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nbmigrate import _watch
from nbmigrate._watch import (
    Mount,
    events_trusted,
    filesystem_of,
    may_miss_changes,
    mount_containing,
    parse_mountinfo,
)
from nbmigrate.errors import BadArguments
from nbmigrate import Project
from support import revision_source

LINUX = sys.platform.startswith("linux")

# What the kernel writes, one line per mount (proc(5)): mount id, parent id, major:minor, root,
# mount point, options, optional fields ("shared:N", "master:N", any number), "-", type, source,
# superblock options. Spaces, tabs, newlines and backslashes in paths are written as \040 etc.
JUPYTERHUB_NFS_HOME = r"""
1410 1380 0:355 / / rw,relatime master:497 - overlay overlay rw,lowerdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/88/fs,upperdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/91/fs,workdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/91/work
1411 1410 0:358 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
1412 1410 0:359 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
1420 1410 0:62 /export/home/jovyan /home/jovyan rw,relatime - nfs4 10.100.0.2:/export/home rw,vers=4.1,rsize=1048576,wsize=1048576,namlen=255,hard,proto=tcp,timeo=600,retrans=2,sec=sys,clientaddr=10.4.1.7,local_lock=none,addr=10.100.0.2
1421 1410 259:1 /var/lib/kubelet/pods/5e1c/etc-hosts /etc/hosts rw,relatime - ext4 /dev/nvme0n1p1 rw
"""

WSL2 = r"""
61 66 8:48 / / rw,relatime - ext4 /dev/sdd rw,discard,errors=remount-ro,data=ordered
62 61 0:54 / /mnt/wsl rw,relatime shared:1 - tmpfs none rw
84 61 0:58 / /mnt/c rw,noatime - 9p drvfs rw,dirsync,aname=drvfs;path=C:\;uid=1000;gid=1000;symlinkroot=/mnt/,mmap,access=client,msize=262144,trans=virtio
85 61 0:59 / /mnt/d rw,noatime - 9p drvfs rw,dirsync,aname=drvfs;path=D:\;uid=1000;gid=1000;symlinkroot=/mnt/,mmap,access=client,msize=262144,trans=virtio
"""

# WSL1 names the filesystem drvfs and escapes the backslash of "C:\" as \134.
WSL1 = r"""
2 0 0:2 / / rw,noatime - lxfs rootfs rw
7 2 0:4 / /mnt/c rw,noatime - drvfs C:\134 rw
"""

SSHFS = r"""
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro
41 22 0:52 / /home/pat/remote rw,nosuid,nodev,relatime shared:30 - fuse.sshfs pat@build.example.org:/srv/app rw,user_id=1000,group_id=1000
"""

# /srv/project is /home/pat/project bound there (root field: the folder of the filesystem that
# shows at the mount point); /srv/shared is a folder of an NFS export bound there (how a
# Kubernetes volume's subPath appears in a container).
BIND = r"""
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro
36 22 0:45 / /mnt/nas rw,relatime shared:2 - nfs4 nas:/export rw,vers=4.2
50 22 8:1 /home/pat/project /srv/project rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro
51 22 0:45 /team/app /srv/shared rw,relatime shared:2 - nfs4 nas:/export rw,vers=4.2
"""

SPACE = r"""
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
40 22 0:50 / /mnt/My\040Projects rw,relatime shared:9 master:3 - nfs 192.168.1.10:/volume1/My\040Projects rw,vers=3
"""

# autofs holds the mount point until first use; the NFS mount then sits on top of it.
AUTOFS = r"""
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 22 0:40 / /net/home rw,relatime shared:5 - autofs /etc/auto.home rw,fd=7,pgrp=1,timeout=300,minproto=5,maxproto=5,indirect
31 30 0:41 / /net/home rw,relatime shared:6 - nfs4 fs1:/home rw,vers=4.2
"""


@pytest.mark.parametrize(
    "mountinfo, path, fstype, mount_point, root",
    [
        (JUPYTERHUB_NFS_HOME, "/home/jovyan/project/migrations/versions", "nfs4", "/home/jovyan", "/export/home/jovyan"),
        (JUPYTERHUB_NFS_HOME, "/home/jovyan", "nfs4", "/home/jovyan", "/export/home/jovyan"),
        (JUPYTERHUB_NFS_HOME, "/home/jovyanx/versions", "overlay", "/", "/"),  # a mount point ends at a "/"
        (JUPYTERHUB_NFS_HOME, "/tmp/versions", "overlay", "/", "/"),
        (WSL2, "/mnt/c/Users/Pat/project/migrations/versions", "9p", "/mnt/c", "/"),
        (WSL2, "/mnt/cdrive/versions", "ext4", "/", "/"),
        (WSL2, "/home/pat/project/migrations/versions", "ext4", "/", "/"),
        (WSL1, "/mnt/c/Users/Pat/versions", "drvfs", "/mnt/c", "/"),
        (SSHFS, "/home/pat/remote/migrations/versions", "fuse.sshfs", "/home/pat/remote", "/"),
        (SSHFS, "/home/pat/migrations/versions", "ext4", "/", "/"),
        (BIND, "/srv/project/migrations/versions", "ext4", "/srv/project", "/home/pat/project"),
        (BIND, "/srv/shared/migrations/versions", "nfs4", "/srv/shared", "/team/app"),
        (SPACE, "/mnt/My Projects/app/migrations/versions", "nfs", "/mnt/My Projects", "/"),
        (SPACE, r"/mnt/My\040Projects/app", "ext4", "/", "/"),  # the escape is the kernel's, not a path
        (AUTOFS, "/net/home/pat/versions", "nfs4", "/net/home", "/"),
    ],
)
def test_the_mount_holding_a_folder_is_found_in_real_mount_tables(
    mountinfo: str, path: str, fstype: str, mount_point: str, root: str
) -> None:
    mount = mount_containing(mountinfo, path)
    assert mount is not None
    assert (mount.fstype, mount.mount_point, mount.root) == (fstype, mount_point, root)


def test_escapes_are_undone_in_every_field() -> None:
    wsl1 = parse_mountinfo(WSL1)[1]
    assert wsl1 == Mount(mount_id=7, parent_id=2, root="/", mount_point="/mnt/c", fstype="drvfs", source="C:\\")
    space = parse_mountinfo(SPACE)[1]
    assert (space.mount_point, space.source) == ("/mnt/My Projects", "192.168.1.10:/volume1/My Projects")
    tab = parse_mountinfo(r"90 22 0:70 /a\134b /mnt/x\011y\012z rw - ext4 /dev/sdb1 rw")[0]
    assert (tab.root, tab.mount_point) == ("/a\\b", "/mnt/x\ty\nz")


def test_lines_that_are_not_mounts_are_left_out() -> None:
    text = "\n22 1 8:1 / / rw - ext4 /dev/sda1 rw\nnot a mount line\n23 22 0:5 / /proc rw\n"
    assert [m.mount_point for m in parse_mountinfo(text)] == ["/"]
    assert mount_containing("", "/home/pat") is None
    assert mount_containing("23 22 0:5 / /proc rw - proc proc rw\n", "/home/pat") is None


@pytest.mark.parametrize(
    "fstype",
    ["nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "drvfs", "fuse", "fuseblk", "fuse.sshfs", "fuse.rclone",
     "fuse.glusterfs", "glusterfs", "virtiofs", "vboxsf", "ceph", "lustre", "gpfs", "afs", "fakeowner"],
)
def test_network_fuse_and_host_share_filesystems_may_miss_changes(fstype: str) -> None:
    assert may_miss_changes(fstype)


@pytest.mark.parametrize("fstype", ["ext4", "xfs", "btrfs", "zfs", "tmpfs", "overlay", "f2fs", "lxfs"])
def test_local_filesystems_deliver_every_change(fstype: str) -> None:
    assert not may_miss_changes(fstype)


def test_this_machines_own_mount_table_says_a_temporary_folder_is_local(tmp_path: Path) -> None:
    """This machine's /proc/self/mountinfo, read as the watch reads it, agrees with findmnt."""
    if not LINUX:
        pytest.skip("/proc/self/mountinfo is Linux's")
    folder = os.path.realpath(tmp_path)
    mount = mount_containing(Path("/proc/self/mountinfo").read_text(), folder)
    assert mount is not None
    if shutil.which("findmnt"):
        found = subprocess.run(
            ["findmnt", "-n", "-o", "FSTYPE,TARGET", "-T", folder], check=True, capture_output=True, text=True
        ).stdout.split()
        assert [mount.fstype, mount.mount_point] == found
    assert filesystem_of(folder) == mount.fstype
    assert not may_miss_changes(mount.fstype) and events_trusted(folder)


def test_without_a_mount_table_the_filesystem_magic_decides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where /proc is not mounted, statfs's f_type (what ``stat -f`` prints) names the filesystem."""
    if not LINUX:
        pytest.skip("statfs magic numbers are Linux's")
    monkeypatch.setattr(_watch, "MOUNTINFO", str(tmp_path / "no-such-mountinfo"))
    magic = subprocess.run(["stat", "-f", "-c", "%t", str(tmp_path)], check=True, capture_output=True, text=True)
    assert _watch.statfs_magic(str(tmp_path)) == int(magic.stdout, 16)
    assert filesystem_of(str(tmp_path)) == f"statfs 0x{int(magic.stdout, 16):x}"
    assert events_trusted(str(tmp_path))
    assert _watch.magic_name(0x6969) == "nfs" and _watch.magic_name(0x65735546) == "fuse"
    assert _watch.magic_name(0xFF534D42) == "cifs" and _watch.magic_name(0x01021997) == "9p"


def test_a_folder_nothing_can_be_learned_about_is_looked_at(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No mount table and no statfs answer: the safe side, one stat per file."""
    monkeypatch.setattr(_watch, "MOUNTINFO", str(tmp_path / "no-such-mountinfo"))
    assert filesystem_of(str(tmp_path / "gone")) is None
    assert not events_trusted(str(tmp_path / "gone"))


# -- the setting, end to end -------------------------------------------------------------------

_clock = [0]


def write(path: Path, text: str) -> None:
    """Write a file and give it an mtime later than any before (2 s steps, see test_cache)."""
    path.write_text(textwrap.dedent(text))
    st = path.stat()
    _clock[0] = max(_clock[0], st.st_mtime_ns) + 2_000_000_000
    os.utime(path, ns=(_clock[0], _clock[0]))


def make_project() -> Project:
    """A project in the working folder, with one revision, on SQLite."""
    project = Project()
    project.init()
    project.connect(f"sqlite:///{Path.cwd() / 'test.db'}")
    write(Path("migrations/versions/0001_first.py"), revision_source("0001", None, "first"))
    return project


@pytest.fixture
def project(here: Path) -> Iterator[Project]:
    project = make_project()
    yield project
    project.close()


def as_network_mount(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, folder: Path, fstype: str = "nfs4") -> None:
    """Make the mount table the watch reads say ``folder`` is a network mount (the rest is real)."""
    real = Path("/proc/self/mountinfo").read_text() if Path("/proc/self/mountinfo").exists() else ""
    point = os.path.realpath(folder).replace("\\", "\\134").replace(" ", "\\040")
    table = tmp_path / "mountinfo"
    table.write_text(real + f"9999 1 0:999 / {point} rw,relatime - {fstype} fileserver:/export rw,vers=4.1\n")
    monkeypatch.setattr(_watch, "MOUNTINFO", str(table))


def edit(message: str) -> None:
    """Change the revision's message (its file's size and mtime change too)."""
    write(Path("migrations/versions/0001_first.py"), revision_source("0001", None, message))


def test_stat_mode_looks_at_the_files_every_time(project: Project) -> None:
    assert project.change_detection == "auto"
    project.change_detection = "stat"
    assert project.change_detection_in_effect is None  # nothing read yet
    project.heads()
    assert project.change_detection_in_effect == "stat"
    scans = project.cache_info().scans
    project.heads()
    project.heads()
    assert project.cache_info().scans == scans + 2
    edit("first, edited")
    assert project.history().revisions[0].message == "first, edited"


def test_auto_uses_the_kernel_on_a_local_folder(project: Project) -> None:
    project.heads()
    assert project.change_detection_in_effect == ("inotify" if LINUX else "stat")


def test_auto_looks_at_the_files_on_a_network_folder(
    project: Project, here: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_network_mount(monkeypatch, tmp_path_factory.mktemp("table"), here / "migrations")
    project.heads()
    assert project.change_detection_in_effect == "stat"
    edit("first, edited on the file server")  # no event would tell a watch
    assert project.history().revisions[0].message == "first, edited on the file server"


@pytest.mark.parametrize("fstype", ["fuse.sshfs", "9p", "cifs"])
def test_auto_looks_at_the_files_on_other_eventless_folders(
    project: Project, here: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, fstype: str
) -> None:
    as_network_mount(monkeypatch, tmp_path_factory.mktemp("table"), here, fstype)
    project.heads()
    assert project.change_detection_in_effect == "stat"


def test_inotify_mode_trusts_the_kernel_even_on_a_network_folder(
    project: Project, here: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_network_mount(monkeypatch, tmp_path_factory.mktemp("table"), here / "migrations")
    project.change_detection = "inotify"
    project.heads()
    assert project.change_detection_in_effect == ("inotify" if LINUX else "stat")


def test_a_new_setting_applies_to_the_next_command_of_a_warm_project(project: Project) -> None:
    project.heads()
    before = project.change_detection_in_effect
    project.change_detection = "stat"
    project.heads()
    assert project.change_detection_in_effect == "stat"
    project.change_detection = "auto"
    project.heads()
    assert project.change_detection_in_effect == before
    edit("first, after switching back")
    assert project.history().revisions[0].message == "first, after switching back"


def test_a_wrong_value_says_what_the_values_are(project: Project) -> None:
    with pytest.raises(BadArguments, match="'auto', 'inotify' or 'stat'"):
        project.change_detection = "poll"
    assert project.change_detection == "auto"


def test_the_magics_setting_reaches_the_project(shell: Any, here: Path) -> None:
    from traitlets import TraitError

    make_project().close()
    magics = shell.magics_manager.registry["MigrateMagics"]
    assert magics.traits()["change_detection"].metadata.get("config")
    magics.forget_projects()
    try:
        shell.run_line_magic("config", 'MigrateMagics.change_detection = "stat"')
        shell.run_line_magic("migrate", "heads")
        assert magics.project.change_detection == "stat"
        assert magics.project.change_detection_in_effect == "stat"
        shell.run_line_magic("config", 'MigrateMagics.change_detection = "auto"')
        shell.run_line_magic("migrate", "heads")
        assert magics.project.change_detection_in_effect == ("inotify" if LINUX else "stat")
        with pytest.raises(TraitError):
            magics.change_detection = "poll"
    finally:
        magics.change_detection = "auto"
        magics.forget_projects()


# -- a real bind mount -------------------------------------------------------------------------


@pytest.fixture
def bind_mount(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """``tmp_path/source`` bound at ``tmp_path/bound``, for this test only (needs root on Linux)."""
    if not LINUX or shutil.which("mount") is None:
        pytest.skip("bind mounts are made with Linux's mount(8)")
    source, bound = tmp_path / "source", tmp_path / "bound"
    source.mkdir()
    bound.mkdir()
    made = subprocess.run(["mount", "--bind", str(source), str(bound)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"this machine does not let the tests mount (mount --bind: {made.stderr.strip()})")
    try:
        yield source, bound
    finally:
        if subprocess.run(["umount", str(bound)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(bound)], check=True)


def test_a_real_bind_mount_is_found_and_sees_changes_made_through_its_source(
    bind_mount: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bind mount of a local filesystem: one set of inodes, so a change by either path raises
    the event; the kernel is trusted there, and a change made through the other path is seen."""
    source, bound = bind_mount
    mount = mount_containing(Path("/proc/self/mountinfo").read_text(), os.path.realpath(bound))
    assert mount is not None and mount.mount_point == os.path.realpath(bound)
    below = mount_containing(Path("/proc/self/mountinfo").read_text(), os.path.realpath(source))
    assert below is not None and mount.fstype == below.fstype and not may_miss_changes(mount.fstype)
    inside = os.path.realpath(source)[len(below.mount_point.rstrip("/")):]  # the source, within its mount
    assert mount.root == os.path.normpath(below.root.rstrip("/") + inside)

    monkeypatch.chdir(bound)
    project = make_project()
    try:
        project.heads()
        assert project.change_detection_in_effect == "inotify"
        write(source / "migrations/versions/0001_first.py", revision_source("0001", None, "edited through the source"))
        assert project.history().revisions[0].message == "edited through the source"
    finally:
        project.close()
        monkeypatch.chdir(source)
