"""The board side of `deploy`: file operations over mpremote's raw-REPL transport.

`MpremoteBoard` is the real implementation of the few methods `deploy.deploy` uses; hashing,
listing and the journal checks run on the board (small helpers sent once per session), so a
deploy costs a handful of round trips besides the file writes.
"""

import contextlib

from host_tools.device.deploy import JOURNAL_PARTITION, STATE_FILES, DeployError

# Board-side helpers, sent once per session over the raw REPL. They print Python literals
# that the host reads back with ast.literal_eval (mpremote's eval does the parsing).
_BOARD_HELPERS = """
import os, sys, hashlib, binascii
def _pp_hash(p):
    try:
        f = open(p, 'rb')
    except OSError:
        return None
    h = hashlib.sha256()
    b = bytearray(512)
    mv = memoryview(b)
    while True:
        n = f.readinto(b)
        if not n:
            break
        h.update(mv[:n])
    f.close()
    return binascii.hexlify(h.digest()).decode()
def _pp_journal():
    try:
        import esp32
        return esp32.Partition.find(esp32.Partition.TYPE_DATA, label=%r)
    except (ImportError, AttributeError):
        return []
def _pp_partition_used(p):
    # An erased journal block reads all 0xFF; any written record leaves other bytes.
    buf = bytearray(64)
    for b in range(p.ioctl(4, 0)):
        p.readblocks(b, buf)
        if buf != b'\\xff' * 64:
            return True
    return False
def _pp_partition_erase(p):
    for b in range(p.ioctl(4, 0)):
        p.ioctl(6, b)
def _pp_walk(d, out):
    try:
        entries = list(os.ilistdir(d))
    except OSError:
        return out
    for e in entries:
        p = d + '/' + e[0]
        if e[1] & 0x4000:
            _pp_walk(p, out)
        else:
            out.append(p)
    return out
""" % (JOURNAL_PARTITION,)


class MpremoteBoard:
    """`Board` over mpremote's SerialTransport (raw REPL): the real thing for `deploy`.

    `root` is the folder on the board that stands for "/" (always "" on a board; tests point
    it at a temporary folder when the "board" is the MicroPython unix port behind a pty).
    """

    def __init__(self, transport, root=""):
        self._t = transport
        self._root = root
        self._t.exec(_BOARD_HELPERS)

    @classmethod
    def open(cls, port, soft_reset=True, timeout=10, root=""):
        """Open `port`, stop whatever runs, enter the raw REPL; DeployError if impossible."""
        from mpremote.transport import TransportError
        from mpremote.transport_serial import SerialTransport

        try:
            # A read timeout keeps every wait bounded (mpremote blocks forever on a pty without).
            transport = SerialTransport(port, baudrate=115200, timeout=1)
        except TransportError:
            raise DeployError(f"cannot open {port}") from None
        try:
            # A soft reset inside the raw REPL skips main.py, so the meter app stays stopped.
            transport.enter_raw_repl(soft_reset=soft_reset, timeout_overall=timeout)
            return cls(transport, root)
        except TransportError:
            transport.close()
            raise DeployError(
                f"no MicroPython REPL answered on {port}: a production meter build disables "
                "Ctrl-C, so flash MicroPython again first (`prepay device flash`)"
            ) from None

    def close(self):
        with contextlib.suppress(Exception):
            self._t.exit_raw_repl()
        self._t.close()

    def _on_board(self, paths):
        return [self._root + p for p in paths]

    def _eval(self, expr):
        return self._t.eval(expr)

    def mpy_abi(self):
        return self._eval("getattr(sys.implementation, '_mpy', None)")

    def hashes(self, paths):
        found = self._eval(f"[_pp_hash(p) for p in {self._on_board(paths)!r}]")
        return dict(zip(paths, found, strict=True))

    def list_files(self, roots):
        folders = self._on_board("/" + r for r in roots)
        found = self._eval(f"[p for r in {folders!r} for p in _pp_walk(r, [])]")
        return [p[len(self._root) :] for p in found]

    def makedirs(self, path):
        self._t.exec(f"try:\n os.mkdir({self._root + path!r})\nexcept OSError:\n pass")

    def write(self, path, data):
        self._t.fs_writefile(self._root + path, data, chunk_size=1024)

    def remove(self, path):
        self._t.fs_rmfile(self._root + path)

    def meter_state(self):
        """Where the board keeps a meter journal: file paths and/or `partition:journal`."""
        paths = self._on_board(STATE_FILES)
        files = self._eval(f"[p for p in {paths!r} if _pp_hash(p)]")
        found = [p[len(self._root) :] for p in files]
        if self._eval("[1 for p in _pp_journal() if _pp_partition_used(p)]"):
            found.append(f"partition:{JOURNAL_PARTITION}")
        return found

    def wipe_meter_state(self):
        gone = self.meter_state()
        for path in gone:
            if path.startswith("partition:"):
                self._t.exec("for p in _pp_journal():\n _pp_partition_erase(p)")
            else:
                self.remove(path)
        return gone

    def reset(self):
        # machine.reset() never answers: send it without waiting for the raw REPL's reply.
        self._t.exec_raw_no_follow("import machine\nmachine.reset()")
