"""The block-device protocol the journal speaks, and the plain file device a board falls back to.

MicroPython's extended block-device protocol (the one `esp32.Partition` implements):
`readblocks(n, buf, offset)`, `writeblocks(n, buf, offset)` and `ioctl(op, arg)` with op 4 =
block count, 5 = block size, 6 = erase block `arg` (IOCTL_* below).

`FileBlockDevice` keeps the journal in a file, for a board without a `journal` data partition
(docs/hal_esp32.md): erased bytes read 0xFF, an erase writes 0xFF, a write stores its bytes.
NOR-flash rules and power-cut injection, for the simulator and the tests, build on `BlockDevice`
in firmware/hal/sim_flash.py; a board never loads them.
"""

from token_spec.compat import const

_IOCTL_INIT = const(1)
_IOCTL_DEINIT = const(2)
_IOCTL_SYNC = const(3)
IOCTL_BLOCK_COUNT = const(4)
IOCTL_BLOCK_SIZE = const(5)
IOCTL_ERASE = const(6)

# Bytes erased or copied at a time. A meter's heap is small: copies of whole 4 KiB blocks (old
# contents, a blank pattern, big ints) cost more RAM than the app's own state.
CHUNK = const(256)
_BLANK = b"\xff" * CHUNK


def blank(n):
    """`n` (<= CHUNK) erased bytes, without a new object when n is a whole chunk."""
    return _BLANK if n == CHUNK else _BLANK[:n]


class BlockDevice:
    """The block protocol over byte storage: a subclass gives `read_at(addr, size)`,
    `write_at(addr, data)` (the storage) and may change `_program` and `_erase` (the rules)."""

    def __init__(self, block_size, block_count):
        self.block_size = block_size
        self.block_count = block_count

    def readblocks(self, n, buf, offset=0):
        addr = self._addr(n, offset, len(buf))
        buf[0 : len(buf)] = self.read_at(addr, len(buf))

    def writeblocks(self, n, buf, offset=None):
        if offset is None:  # the simple protocol erases whole blocks first, like esp32.Partition
            count = len(buf) // self.block_size
            for i in range(count):
                self.ioctl(IOCTL_ERASE, n + i)
            offset = 0
        self._program(self._addr(n, offset, len(buf)), buf)

    def ioctl(self, op, arg):
        if op == IOCTL_BLOCK_COUNT:
            return self.block_count
        if op == IOCTL_BLOCK_SIZE:
            return self.block_size
        if op == IOCTL_ERASE:
            if not 0 <= arg < self.block_count:
                raise ValueError("erase outside the device: block %d" % arg)
            self._erase(arg)
            return 0
        if op in (_IOCTL_INIT, _IOCTL_DEINIT, _IOCTL_SYNC):
            return 0
        return None

    def _program(self, addr, data):
        self.write_at(addr, data)

    def _erase(self, block):
        self._fill_blank(block * self.block_size, self.block_size)

    def _fill_blank(self, addr, size):
        for at in range(0, size, CHUNK):
            n = min(CHUNK, size - at)
            self.write_at(addr + at, blank(n))

    def _addr(self, n, offset, size):
        addr = n * self.block_size + offset
        if n < 0 or offset < 0 or addr + size > self.block_size * self.block_count:
            raise ValueError("access outside the device: block %d offset %d" % (n, offset))
        return addr


class FileBlockDevice(BlockDevice):
    """Block storage kept in a file. A missing or short file is blank (0xFF)."""

    def __init__(self, path, block_size=4096, block_count=16):
        super().__init__(block_size, block_count)
        size = block_size * block_count
        try:
            self._file = open(path, "r+b")
        except OSError:
            self._file = open(path, "w+b")
        self._file.seek(0, 2)
        have = self._file.tell()
        if have < size:  # new flash is erased: pad with 0xFF
            while have < size:
                n = min(CHUNK, size - have)
                self._file.write(blank(n))
                have += n
            self._file.flush()

    def close(self):
        """Close the backing file."""
        self._file.close()

    def read_at(self, addr, size):
        self._file.seek(addr)
        return self._file.read(size)

    def write_at(self, addr, data):
        # Flushed at once: a reset (or a killed simulator) must leave what was written.
        self._file.seek(addr)
        self._file.write(data)
        self._file.flush()
