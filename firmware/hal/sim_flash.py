"""NOR flash for the simulator and the tests: flash rules, power-cut injection, log and replay.

Not a board module (deploy leaves it out, like sim.py): a board's journal is on `esp32.Partition`
or the plain firmware/core/blockdev.FileBlockDevice. These devices speak the same protocol
(`blockdev.BlockDevice`) but behave like NOR flash, so a journal that forgets to erase fails
here instead of on a board: a write can only clear bits (new = old AND data) and, by default,
writing a 1 over a 0 raises `FlashError`. Erased bytes read 0xFF.

Power cuts: `arm(ops, tear)` lets `ops` more write/erase operations complete, then the next
one is cut part-way (only `tear`/1000 of its bytes reach the flash; 1000 = it finished but the
caller never heard back) and `PowerCut` is raised. Every later operation raises `PowerCut` too
until `power_on()`, as on a board whose power is gone. Operations can be logged (`log`) and
replayed on another device (`apply`), which is how the fault-injection tests reach thousands of
cut points cheaply.
"""

from firmware.core.blockdev import CHUNK, BlockDevice, FileBlockDevice
from token_spec.compat import const

_OP_WRITE = const(0)
OP_ERASE = const(1)
TEAR_FULL = const(1000)


class PowerCut(Exception):
    """The device lost power; its contents stay as the cut left them."""


class FlashError(Exception):
    """A write tried to set a bit that only an erase can set (NOR flash would corrupt it)."""


def _fits(old, data):
    """True when NOR can program `data` over `old` (programming only clears bits)."""
    # Big-int AND runs in C on both interpreters; a chunk keeps the ints small.
    d = int.from_bytes(data, "little")
    return int.from_bytes(old, "little") & d == d


class _NorDevice(BlockDevice):
    """NOR rules, counters and fault injection over the block protocol; storage is the
    subclass's (`read_at`, `write_at`)."""

    def __init__(self, block_size, block_count, strict=True):
        super().__init__(block_size, block_count)
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

    # -- block protocol: every write and erase is one operation ----------------------------
    def readblocks(self, n, buf, offset=0):
        if self.dead:
            raise PowerCut("read after power cut")
        super().readblocks(n, buf, offset)

    def _program(self, addr, data):
        # A logged op outlives the caller's buffer; an unlogged one is done before we return.
        self._do((_OP_WRITE, addr, bytes(data) if self.log is not None else data))

    def _erase(self, block):
        self._do((OP_ERASE, block * self.block_size, None))

    # -- replay ----------------------------------------------------------------------------
    def apply(self, op, tear=TEAR_FULL):
        """Carry out one logged operation; with tear < 1000 only that share of it lands."""
        kind, addr, data = op
        if kind == OP_ERASE:
            self.erase_counts[addr // self.block_size] += 1
            self._fill_blank(addr, self.block_size * tear // TEAR_FULL)
            return
        size = len(data) * tear // TEAR_FULL
        view = memoryview(data)
        if self.strict:  # check it all first: a refused write changes nothing
            for at in range(0, size, CHUNK):
                n = min(CHUNK, size - at)
                if not _fits(self.read_at(addr + at, n), view[at : at + n]):
                    raise FlashError("write over unerased flash at 0x%x" % (addr + at))
        for at in range(0, size, CHUNK):
            n = min(CHUNK, size - at)
            new = view[at : at + n]
            if not self.strict:  # what NOR really does: new = old AND data
                old = self.read_at(addr + at, n)
                new = bytes(old[i] & new[i] for i in range(n))
            self.write_at(addr + at, new)
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


class RamBlockDevice(_NorDevice):
    """NOR flash in RAM: starts erased (blank), or from `image` (bytes of a previous device)."""

    def __init__(self, block_size=4096, block_count=16, image=None, strict=True):
        super().__init__(block_size, block_count, strict)
        size = block_size * block_count
        if image is not None and len(image) != size:
            raise ValueError("image is %d bytes, device is %d" % (len(image), size))
        self.mem = bytearray(size)  # one allocation: MicroPython's heap may be fragmented
        if image is None:
            self._fill_blank(0, size)
        else:
            self.mem[0:size] = image

    def image(self):
        """The whole contents as bytes (to start another device from the same state)."""
        return bytes(self.mem)

    def load(self, image):
        """Overwrite the whole contents in place with `image` (a fresh, powered device)."""
        self.mem[0 : len(self.mem)] = image
        self.power_on()

    def read_at(self, addr, size):
        return self.mem[addr : addr + size]

    def write_at(self, addr, data):
        self.mem[addr : addr + len(data)] = data


class NorFileDevice(_NorDevice):
    """NOR flash kept in a file (the simulator's journal): the board's file device underneath,
    so the bytes on disk are laid out exactly as a board's fallback file would be."""

    def __init__(self, path, block_size=4096, block_count=16, strict=True):
        super().__init__(block_size, block_count, strict)
        self._file = FileBlockDevice(path, block_size, block_count)

    def close(self):
        """Close the backing file."""
        self._file.close()

    def read_at(self, addr, size):
        return self._file.read_at(addr, size)

    def write_at(self, addr, data):
        self._file.write_at(addr, data)
