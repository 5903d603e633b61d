"""JIT build locks of DeepSpeed's ops left by killed starts: removed before DeepSpeed builds or loads an op.

torch.utils.cpp_extension guards each op's build directory with a bare file ``lock`` (``FileBaton``): the process
that builds or loads the op creates it with O_EXCL, keeps it open until done, then closes and removes it; every
other process polls until it is gone, silently and without limit. A start killed during the build (SIGKILL, out of
memory, scancel) leaves the file, and every later start would wait on it forever.

The rule: the holder of a lock is the process that has it open, which /proc shows on this machine. A lock on a
local filesystem that no process holds (twice, POLL_SECONDS apart, so a baton being released is not taken for one)
was left by a process that no longer exists: it is removed, with a note. A held lock is a build in progress; a
lock on a network filesystem (or of another user, or without /proc) may be held by a process this machine cannot
see, such as a start on another node sharing the directory. Either is waited for WAIT_SECONDS, then one line says
what the start waits for and how to clear it, and torch's own wait goes on.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

LOCK_NAME = "lock"  # torch.utils.cpp_extension: FileBaton(os.path.join(build_directory, "lock"))
WAIT_SECONDS = 5.0
POLL_SECONDS = 0.2
# filesystems no other machine can write to; any other type (nfs, lustre, gpfs, cifs, fuse ...) may be shared
LOCAL_FILESYSTEMS = frozenset(
    {"ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "f2fs", "bcachefs", "jfs", "reiserfs", "tmpfs", "overlay"}
)


def clear_stale_locks(
    root: Path, notify: Callable[[str], None] = lambda line: print(line, flush=True), wait_seconds: float = WAIT_SECONDS
) -> None:
    """Remove the stale ``lock`` of every op directory under ``root`` (a TORCH_EXTENSIONS_DIR); for a lock that
    may be live, wait up to ``wait_seconds`` for it to go, then ``notify`` what the start waits for."""
    for lock in sorted(root.glob(f"*/{LOCK_NAME}")):
        _settle(lock, notify, time.monotonic() + wait_seconds)


def _settle(lock: Path, notify: Callable[[str], None], deadline: float) -> None:
    local = _local_filesystem(lock)
    unheld = None  # the identity of the lock when no process held it, at the previous poll
    while (identity := _identity(lock)) is not None:
        holders = _holders(lock)
        if local and holders == []:
            if identity == unheld and _remove_if_unheld(lock, identity):
                notify(f"removed {lock}: the JIT build lock of {lock.parent.name}, left by a start killed building it")
                return
            unheld = identity
        else:
            unheld = None
        if time.monotonic() >= deadline:
            notify(_waiting(lock, holders))
            return
        time.sleep(POLL_SECONDS)


def _waiting(lock: Path, holders: list[int] | None) -> str:
    if holders:
        return (
            f"waiting for process {', '.join(map(str, holders))}, which holds {lock} while it builds or loads "
            f"{lock.parent.name}"
        )
    return (
        f"waiting for {lock}: no process this machine can see holds it, but one elsewhere may (another node "
        f"sharing the directory, another user); if no start is building {lock.parent.name}, remove that file"
    )


def _identity(lock: Path) -> tuple[int, int, int] | None:
    try:
        status = lock.stat()
    except FileNotFoundError:
        return None
    return status.st_dev, status.st_ino, status.st_mtime_ns


def _holders(lock: Path) -> list[int] | None:
    """The processes on this machine that have ``lock`` open; None where they cannot all be seen (no /proc, or a
    lock of another user while this process is not root)."""
    try:
        status = lock.stat()
    except FileNotFoundError:
        return []
    if not Path("/proc/self/fd").is_dir() or os.geteuid() not in (0, status.st_uid):
        return None
    holders = []
    for descriptors in Path("/proc").glob("[0-9]*/fd"):
        try:
            for descriptor in descriptors.iterdir():
                if os.readlink(descriptor).endswith(f"/{LOCK_NAME}") and os.path.samestat(os.stat(descriptor), status):
                    holders.append(int(descriptors.parent.name))
                    break
        except OSError:  # the process ended, or its descriptors are not ours to read
            continue
    return holders


def _remove_if_unheld(lock: Path, identity: tuple[int, int, int]) -> bool:
    """Unlink ``lock`` if it is still the file of ``identity`` and unheld; starts clearing the same lock take turns
    (a flock on its directory), so none removes the lock another took right after removing the stale one."""
    directory = os.open(lock.parent, os.O_RDONLY)
    try:
        fcntl.flock(directory, fcntl.LOCK_EX)
        if _identity(lock) != identity or _holders(lock) != []:
            return False
        lock.unlink()
        return True
    finally:
        os.close(directory)  # releases the flock


def _local_filesystem(path: Path) -> bool:
    """Whether ``path`` lies on a filesystem of LOCAL_FILESYSTEMS (the mount in /proc/self/mountinfo that holds it)."""
    try:
        mounts = Path("/proc/self/mountinfo").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return False
    target = os.path.realpath(path)
    best, kind = "", ""
    for line in mounts:
        fields = line.split()
        mount_point = re.sub(r"\\([0-7]{3})", lambda match: chr(int(match[1], 8)), fields[4])
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best):
            best, kind = mount_point, fields[fields.index("-") + 1]
    return kind in LOCAL_FILESYSTEMS
