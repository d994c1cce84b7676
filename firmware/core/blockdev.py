"""Block devices with NOR-flash semantics, for the journal on the simulator and in tests.

Both devices speak MicroPython's extended block-device protocol (the one `esp32.Partition`
implements): `readblocks(n, buf, offset)`, `writeblocks(n, buf, offset)` and `ioctl(op, arg)`
with op 4 = block count, 5 = block size, 6 = erase block `arg`.

They behave like NOR flash so a journal that forgets to erase fails here instead of on a board:
a write can only clear bits (new = old AND data) and, by default, writing a 1 over a 0 raises
`FlashError`. Erased bytes read 0xFF.

Power cuts: `arm(ops, tear)` lets `ops` more write/erase operations complete, then the next
one is cut part-way (only `tear`/1000 of its bytes reach the flash; 1000 = it finished but the
caller never heard back) and `PowerCut` is raised. Every later operation raises `PowerCut` too
until `power_on()`, as on a board whose power is gone. Operations can be logged (`log`) and
replayed on another device (`apply`), which is how the fault-injection tests reach thousands of
cut points cheaply.
"""

from token_spec.compat import const

IOCTL_INIT = const(1)
IOCTL_DEINIT = const(2)
IOCTL_SYNC = const(3)
IOCTL_BLOCK_COUNT = const(4)
IOCTL_BLOCK_SIZE = const(5)
IOCTL_ERASE = const(6)

OP_WRITE = const(0)
OP_ERASE = const(1)
TEAR_FULL = const(1000)


class PowerCut(Exception):
    """The device lost power; its contents stay as the cut left them."""


class FlashError(Exception):
    """A write tried to set a bit that only an erase can set (NOR flash would corrupt it)."""


# Bytes compared, erased or copied at a time. A meter's heap is small: copies of whole 4 KiB
# blocks (old contents, a blank pattern, big ints) cost more RAM than the app's own state.
_CHUNK = const(256)
_BLANK = b"\xff" * _CHUNK


def _blank(n):
    """`n` (<= _CHUNK) erased bytes, without a new object when n is a whole chunk."""
    return _BLANK if n == _CHUNK else _BLANK[:n]


def _fits(old, data):
    """True when NOR can program `data` over `old` (programming only clears bits)."""
    # Big-int AND runs in C on both interpreters; a chunk keeps the ints small.
    d = int.from_bytes(data, "little")
    return int.from_bytes(old, "little") & d == d


class _NorDevice:
    """The block protocol, NOR rules, counters and fault injection; storage is the subclass's."""

    def __init__(self, block_size, block_count, strict=True):
        self.block_size = block_size
        self.block_count = block_count
        self.strict = strict
        self.ops = 0  # completed write + erase operations
        self.erase_counts = [0] * block_count
        self.bytes_written = 0
        self.log = None  # a list of (op, addr, data) when recording
        self._left = -1  # operations still allowed before the cut; -1 = never cut
        self._tear = TEAR_FULL
        self.dead = False

    # -- fault injection -------------------------------------------------------------------
    def arm(self, ops, tear=TEAR_FULL):
        """Cut power after `ops` more operations; the next one writes `tear`/1000 of its bytes."""
        self._left = ops
        self._tear = tear

    def disarm(self):
        """Cancel a pending cut."""
        self._left = -1

    def power_on(self):
        """Power is back: the contents stay, the device works again (a reboot follows)."""
        self.dead = False
        self._left = -1

    def record(self):
        """Start logging every operation into `self.log` (for `apply` on another device)."""
        self.log = []
        return self.log

    # -- block protocol --------------------------------------------------------------------
    def readblocks(self, n, buf, offset=0):
        if self.dead:
            raise PowerCut("read after power cut")
        addr = self._addr(n, offset, len(buf))
        buf[0 : len(buf)] = self._read(addr, len(buf))

    def writeblocks(self, n, buf, offset=None):
        if offset is None:  # the simple protocol erases whole blocks first, like esp32.Partition
            count = len(buf) // self.block_size
            for i in range(count):
                self.ioctl(IOCTL_ERASE, n + i)
            offset = 0
        addr = self._addr(n, offset, len(buf))
        # A logged op outlives the caller's buffer; an unlogged one is done before we return.
        self._do((OP_WRITE, addr, bytes(buf) if self.log is not None else buf))

    def ioctl(self, op, arg):
        if op == IOCTL_BLOCK_COUNT:
            return self.block_count
        if op == IOCTL_BLOCK_SIZE:
            return self.block_size
        if op == IOCTL_ERASE:
            if not 0 <= arg < self.block_count:
                raise ValueError("erase outside the device: block %d" % arg)
            self._do((OP_ERASE, arg * self.block_size, None))
            return 0
        if op in (IOCTL_INIT, IOCTL_DEINIT, IOCTL_SYNC):
            return 0
        return None

    # -- replay ----------------------------------------------------------------------------
    def apply(self, op, tear=TEAR_FULL):
        """Carry out one logged operation; with tear < 1000 only that share of it lands."""
        kind, addr, data = op
        if kind == OP_ERASE:
            size = self.block_size * tear // TEAR_FULL
            self.erase_counts[addr // self.block_size] += 1
            for at in range(0, size, _CHUNK):
                n = min(_CHUNK, size - at)
                self._write(addr + at, _blank(n))
            return
        size = len(data) * tear // TEAR_FULL
        view = memoryview(data)
        if self.strict:  # check it all first: a refused write changes nothing
            for at in range(0, size, _CHUNK):
                n = min(_CHUNK, size - at)
                if not _fits(self._read(addr + at, n), view[at : at + n]):
                    raise FlashError("write over unerased flash at 0x%x" % (addr + at))
        for at in range(0, size, _CHUNK):
            n = min(_CHUNK, size - at)
            new = view[at : at + n]
            if not self.strict:  # what NOR really does: new = old AND data
                old = self._read(addr + at, n)
                new = bytes(old[i] & new[i] for i in range(n))
            self._write(addr + at, new)
        self.bytes_written += size

    def _do(self, op):
        if self.dead:
            raise PowerCut("write after power cut")
        if self._left == 0:
            self.dead = True
            self.apply(op, self._tear)
            raise PowerCut("power cut during write")
        self.apply(op)
        self.ops += 1
        if self._left > 0:
            self._left -= 1
        if self.log is not None:
            self.log.append(op)

    def _addr(self, n, offset, size):
        addr = n * self.block_size + offset
        if n < 0 or offset < 0 or addr + size > self.block_size * self.block_count:
            raise ValueError("access outside the device: block %d offset %d" % (n, offset))
        return addr


class RamBlockDevice(_NorDevice):
    """NOR flash in RAM: starts erased (blank), or from `image` (bytes of a previous device)."""

    def __init__(self, block_size=4096, block_count=16, image=None, strict=True):
        super().__init__(block_size, block_count, strict)
        size = block_size * block_count
        if image is not None and len(image) != size:
            raise ValueError("image is %d bytes, device is %d" % (len(image), size))
        self.mem = bytearray(size)  # one allocation: MicroPython's heap may be fragmented
        if image is None:
            for at in range(0, size, _CHUNK):
                n = min(_CHUNK, size - at)
                self.mem[at : at + n] = _blank(n)
        else:
            self.mem[0:size] = image

    def image(self):
        """The whole contents as bytes (to start another device from the same state)."""
        return bytes(self.mem)

    def load(self, image):
        """Overwrite the whole contents in place with `image` (a fresh, powered device)."""
        self.mem[0 : len(self.mem)] = image
        self.power_on()

    def _read(self, addr, size):
        return self.mem[addr : addr + size]

    def _write(self, addr, data):
        self.mem[addr : addr + len(data)] = data


class FileBlockDevice(_NorDevice):
    """NOR flash kept in a file (the simulator's journal). A missing or short file is blank."""

    def __init__(self, path, block_size=4096, block_count=16, strict=True):
        super().__init__(block_size, block_count, strict)
        size = block_size * block_count
        try:
            self._file = open(path, "r+b")
        except OSError:
            self._file = open(path, "w+b")
        self._file.seek(0, 2)
        have = self._file.tell()
        if have < size:  # new flash is erased: pad with 0xFF
            while have < size:
                n = min(_CHUNK, size - have)
                self._file.write(_blank(n))
                have += n
            self._file.flush()

    def close(self):
        """Close the backing file."""
        self._file.close()

    def _read(self, addr, size):
        self._file.seek(addr)
        return self._file.read(size)

    def _write(self, addr, data):
        # Flushed at once: a killed simulator process must leave what a board would have.
        self._file.seek(addr)
        self._file.write(data)
        self._file.flush()
