"""The protocol's byte channel: stdin/stdout (USB serial on a board, the pty on the simulator).

Reading never blocks the loop: `select.poll` says whether bytes wait. On the simulator stdin is
non-blocking, so one `readinto` takes everything waiting; a board's stdin is read a byte at a
time while poll reports more (its USB/UART buffer is small, so this is not slower there).
"""

import select
import sys

from token_spec.compat import const

_CHUNK = const(1024)


class StdioPort:
    """Non-blocking line transport on the interpreter's stdin and stdout."""

    def __init__(self, chunked=False):
        self._in = getattr(sys.stdin, "buffer", sys.stdin)
        self._out = getattr(sys.stdout, "buffer", sys.stdout)
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)
        self._chunked = chunked
        self._buf = bytearray(_CHUNK)
        self.closed = False

    def read(self):
        """Bytes received since the last call (b"" if none); sets `closed` on end of input."""
        ready = self._poll.poll(0)
        if not ready:
            return b""
        if ready[0][1] & (select.POLLHUP | select.POLLERR) and not ready[0][1] & select.POLLIN:
            self.closed = True
            return b""
        if self._chunked:
            try:
                n = self._in.readinto(self._buf)
            except OSError:  # EIO: the other end of the pty is gone
                self.closed = True
                return b""
            if n is None:
                return b""
            if n == 0:
                self.closed = True
            return bytes(self._buf[:n])
        out = bytearray()
        while len(out) < _CHUNK and self._poll.poll(0):
            b = self._in.read(1)
            if not b:
                break
            out += b
        return bytes(out)

    def write(self, data):
        """Write a whole line (blocking until the driver took it)."""
        self._out.write(data)
