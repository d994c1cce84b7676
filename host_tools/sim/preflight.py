"""What `prepay sim` checks before it starts a firmware: its options and its state folder.

A board has one flash; two simulators on one state folder would be two meters sharing it, and
both would accept the same token (a double spend no board can do). So the supervisor holds an
exclusive `fcntl` lock on `<state>/sim.lock` for as long as it runs; the kernel drops it when
the process ends, however it ends, so a crashed simulator never leaves a stale lock behind.
"""

import fcntl
import os
import re
from pathlib import Path

LOCK_FILE = "sim.lock"
# What the MicroPython unix port's `-X heapsize=` takes: bytes, optionally scaled by the word
# size (w) and K or M. Anything else makes it exit at once, which the supervisor would restart.
_HEAP = re.compile(r"^[1-9][0-9]*w?[KkMm]?$")


def check_heap(heap):
    """Refuse a heap size micropython would not take, with one line (None: its default)."""
    if heap is not None and not _HEAP.match(str(heap)):
        return "--heap %r is not a size: give bytes, or a number with K or M (e.g. 256K)" % heap
    return None


def lock_state(state_dir):
    """Create `state_dir` if needed and lock it for this process.

    Returns (fd of the held lock, None), or (None, a one-line reason it cannot be used).
    """
    path = Path(state_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(path / LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        return None, "cannot use %s as the state folder: %s" % (state_dir, exc.strerror or exc)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
        os.close(fd)
        return None, (
            "state folder %s is in use by another simulator (pid %s); "
            "stop it or give another --state" % (state_dir, holder)
        )
    os.ftruncate(fd, 0)
    os.pwrite(fd, b"%d\n" % os.getpid(), 0)
    return fd, None


def unlock_state(fd):
    """Release the lock taken by `lock_state` (closing the file releases it)."""
    if fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass
