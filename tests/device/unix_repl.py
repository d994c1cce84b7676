"""The MicroPython unix port's REPL behind a pseudo-terminal: a stand-in "board" for mpremote.

The interpreter owns one pty; a relay thread copies bytes to a second pty whose path is the
"serial port" the host opens, exactly as a USB serial device would be opened.
"""

import os
import pty
import select
import subprocess
import threading
import tty
from contextlib import contextmanager


def _relay(a, b, stop):
    while not stop.is_set():
        ready, _, _ = select.select([a, b], [], [], 0.1)
        for fd in ready:
            try:
                data = os.read(fd, 4096)
            except OSError:
                return
            os.write(b if fd == a else a, data)


@contextmanager
def micropython_repl(micropython_bin):
    """Yields the path of a serial port with a MicroPython REPL on the other end."""
    board_side, board_tty = pty.openpty()
    host_side, host_tty = pty.openpty()
    for fd in (board_tty, host_tty):
        tty.setraw(fd)
    proc = subprocess.Popen(
        [micropython_bin, "-i"], stdin=board_tty, stdout=board_tty, stderr=board_tty
    )
    stop = threading.Event()
    thread = threading.Thread(target=_relay, args=(board_side, host_side, stop), daemon=True)
    thread.start()
    try:
        yield os.ttyname(host_tty)
    finally:
        stop.set()
        proc.kill()
        proc.wait(timeout=10)
        thread.join(timeout=5)
        for fd in (board_side, board_tty, host_side, host_tty):
            os.close(fd)
