"""Power-safe journal of the meter's registers, config blob and events (see docs/journal.md).

Pure: it talks only to a block device with MicroPython's extended protocol
(`readblocks(n, buf, offset)`, `writeblocks(n, buf, offset)`, `ioctl(op, arg)`).

Layout (blocks of the device, in order):
    config     2 blocks, one record per block: the newest signed config blob (A/B)
    events     `event_blocks` blocks of 32-byte records: one core event each, and now and
               then the upload cursor (a record of its own tag: the newest seq the
               head-end has acknowledged, docs/online.md)
    registers  every other block, `register_record`-byte records: the meter snapshot

Every record: magic 0x70, tag, sequence u32, payload length u16, payload, ..., CRC32 in the
last 4 bytes. The CRC covers header and payload and is seeded with the record size, so a record
is trusted only in the layout that wrote it. Records go round-robin through their region; a
block is erased when the writer enters it, which only ever destroys the region's oldest records.

A commit writes new events, then the config (if it changed), then one register record. The
register record is the commit point: it names the last committed event and config sequence, and
anything written after it (a save cut short) is ignored at boot and superseded later.

What the records hold (settings, snapshot, events) is meter_store.py's business, not this one's.
"""

import struct
from binascii import crc32

from firmware.core.blockdev import IOCTL_BLOCK_COUNT, IOCTL_BLOCK_SIZE, IOCTL_ERASE
from token_spec.compat import const

_MAGIC = const(0x70)
_HEADER = const(8)  # magic u8, tag u8, seq u32, length u16
_CRC = const(4)
_EVENT_RECORD = const(32)
_EVENT_BYTES = const(16)
_CONFIG_BLOCKS = const(2)
_COMMIT = "<II"  # committed event seq, committed config seq: prefix of every register payload
_COMMIT_SIZE = const(8)
_PROBE = const(32)  # bytes read at a time when checking that flash is erased
_UNIT = const(16)  # flash encryption's write unit: every record write covers whole units
_ERASED = b"\xff" * _PROBE

_TAG_CONFIG = const(0x11)
_TAG_EVENTS = const(0x21)
_TAG_CURSOR = const(0x22)  # in the event ring: the upload cursor, u32
_TAG_REGISTERS = const(0x31)

# Boot outcomes (the app logs one as a boot event).
RESTORED = "restored"  # a valid register record was found
BLANK = "blank"  # the register region was erased flash: a new meter
CORRUPT = "corrupt"  # something was written there but no record is valid: started fresh

DEFAULT_EVENT_BLOCKS = const(4)
_DEFAULT_REGISTER_RECORD = const(512)


class Ring:
    """Fixed-size records written round-robin over `blocks` consecutive device blocks."""

    def __init__(self, dev, first_block, blocks, record_size, tag, block_size, extra_tag=-1):
        self.dev = dev
        self.first_block = first_block
        self.blocks = blocks
        self.record_size = record_size
        self.tag = tag
        # A second record kind sharing the ring (the event ring's cursor): scans do not hand
        # these to `visit` but remember the newest one, `newest_extra` (slot, -1 if none).
        self.extra_tag = extra_tag
        self.newest_extra = -1
        self.block_size = block_size
        self.per_block = block_size // record_size
        self.slots = blocks * self.per_block
        self.next_seq = 1
        self.newest_slot = -1
        self.valid = 0
        self.invalid = 0  # written (not blank) but not a valid record: torn or corrupt
        self._next_slot = 0
        self.scanned = False  # where to write next is known only after a scan

    def capacity(self):
        """Largest payload one record can hold."""
        return self.record_size - _HEADER - _CRC

    def scan(self, buf, visit=None):
        """Read every record; call visit(seq, slot, payload) for each valid one, any order.

        `buf` is one block of scratch space (bytearray), lent by the caller for the scan only.
        """
        self.newest_slot = self.newest_extra = -1
        self.valid = self.invalid = 0
        newest = newest_extra = 0
        view = memoryview(buf)
        size = self.record_size
        for b in range(self.blocks):
            self.dev.readblocks(self.first_block + b, buf, 0)
            for i in range(self.per_block):
                off = i * size
                magic, tag, seq, length = struct.unpack_from("<BBIH", buf, off)
                if magic == 0xFF and tag == 0xFF and seq == 0xFFFFFFFF and length == 0xFFFF:
                    continue  # blank slot
                end = off + _HEADER + length
                if (
                    magic != _MAGIC
                    or (tag != self.tag and tag != self.extra_tag)
                    or length > size - _HEADER - _CRC
                    or struct.unpack_from("<I", buf, off + size - _CRC)[0]
                    != crc32(view[off:end], size)
                ):
                    self.invalid += 1
                    continue
                self.valid += 1
                slot = b * self.per_block + i
                if seq >= newest:
                    newest = seq
                    self.newest_slot = slot
                if tag != self.tag:
                    if seq >= newest_extra:
                        newest_extra = seq
                        self.newest_extra = slot
                elif visit is not None:
                    visit(seq, slot, view[off + _HEADER : end])
        self.next_seq = newest + 1
        self._next_slot = 0 if self.newest_slot < 0 else self.newest_slot + 1
        self.scanned = True

    def payload(self, slot):
        """The payload of the record in `slot` (which `scan` found valid), as bytes."""
        block, offset = self._where(slot)
        head = bytearray(_HEADER)
        self.dev.readblocks(block, head, offset)
        (length,) = struct.unpack_from("<H", head, 6)
        out = bytearray(length)
        self.dev.readblocks(block, out, offset + _HEADER)
        return bytes(out)

    def append(self, payload, keep_slot=-1, tag=-1):
        """Write one record after the newest; returns (seq, slot). Never erases `keep_slot`.

        Usually two writes: header and payload, then the 16 bytes that end in the CRC. The
        bytes between stay erased (0xFF), so no record-sized buffer is built (a config record is
        a whole block), and a cut between the two leaves a record without its CRC: invalid,
        like any torn write, so the previous commit stays in force. Every write covers whole
        16-byte units and none overlaps another, as an encrypted partition requires. A payload
        that reaches the last unit (an event record) goes out as one whole-record write.
        """
        size = self.record_size
        n = len(payload)
        if n > self.capacity():
            raise ValueError("record payload of %d bytes > %d" % (n, self.capacity()))
        if not self.scanned:  # e.g. the event ring, whose boot-time read is iter_events'
            self.scan(bytearray(self.block_size))
        if tag < 0:
            tag = self.tag
        head = struct.pack("<BBIH", _MAGIC, tag, self.next_seq, n)
        crc = struct.pack("<I", crc32(payload, crc32(head, size)))
        body = -(-(_HEADER + n) // _UNIT) * _UNIT  # header + payload, in whole units
        slot = self._claim(keep_slot)
        block, offset = self._where(slot)
        if body > size - _UNIT:
            pad = _ERASED[: size - _HEADER - n - _CRC]
            self.dev.writeblocks(block, head + payload + pad + crc, offset)
        else:
            pad = _ERASED[: body - _HEADER - n]
            self.dev.writeblocks(block, head + payload + pad, offset)
            self.dev.writeblocks(block, _ERASED[: _UNIT - _CRC] + crc, offset + size - _UNIT)
        seq = self.next_seq
        self.newest_slot = slot
        if tag != self.tag:
            self.newest_extra = slot
        self.next_seq = seq + 1
        self._next_slot = slot + 1
        return seq, slot

    def _where(self, slot):
        return (
            self.first_block + slot // self.per_block,
            (slot % self.per_block) * self.record_size,
        )

    def _claim(self, keep_slot):
        """The next writable slot: erase a block on entering it, skip torn leftovers."""
        for _ in range(self.slots + self.per_block):
            slot = self._next_slot % self.slots
            block = slot // self.per_block
            if keep_slot >= 0 and block == keep_slot // self.per_block:
                self._next_slot = (block + 1) * self.per_block
                continue
            if slot % self.per_block == 0:
                if not self._is_blank(self.first_block + block, 0, self.block_size):
                    if self.newest_extra // self.per_block == block:
                        self.newest_extra = -1  # the ring's oldest records go, that one too
                    self.dev.ioctl(IOCTL_ERASE, self.first_block + block)
                return slot
            b, off = self._where(slot)
            if self._is_blank(b, off, self.record_size):
                return slot
            self._next_slot = slot + 1  # a torn write from before a cut: leave it alone
        raise ValueError("journal ring has no writable slot")

    def _is_blank(self, block, offset, size):
        # A few bytes at a time: a whole block (and a blank one to compare) is 8 KiB of heap.
        probe = bytearray(_PROBE)
        for at in range(0, size, _PROBE):
            if size - at < _PROBE:
                probe = bytearray(size - at)
            self.dev.readblocks(block, probe, offset + at)
            if probe != _ERASED[: len(probe)]:
                return False
        return True


class Journal:
    """The meter's persistent state on one block device: registers, config blob, events."""

    def __init__(
        self, dev, event_blocks=DEFAULT_EVENT_BLOCKS, register_record=_DEFAULT_REGISTER_RECORD
    ):
        block_size = dev.ioctl(IOCTL_BLOCK_SIZE, 0)
        count = dev.ioctl(IOCTL_BLOCK_COUNT, 0)
        register_blocks = count - _CONFIG_BLOCKS - event_blocks
        if event_blocks < 2 or register_blocks < 2:
            raise ValueError("journal needs >= 2 event and >= 2 register blocks, has %d" % count)
        if block_size % register_record or block_size % _EVENT_RECORD:
            raise ValueError("block size %d does not hold whole records" % block_size)
        if register_record % _UNIT:
            raise ValueError("register record size %d is not a multiple of 16" % register_record)
        self.config_ring = Ring(dev, 0, _CONFIG_BLOCKS, block_size, _TAG_CONFIG, block_size)
        self.event_ring = Ring(
            dev, _CONFIG_BLOCKS, event_blocks, _EVENT_RECORD, _TAG_EVENTS, block_size, _TAG_CURSOR
        )
        self.register_ring = Ring(
            dev,
            _CONFIG_BLOCKS + event_blocks,
            register_blocks,
            register_record,
            _TAG_REGISTERS,
            block_size,
        )
        self.status = BLANK
        self.registers = None  # the committed register payload (bytes) or None
        self.config = None  # the committed config blob (bytes) or None
        self.event_seq = 0  # seq of the newest committed event
        self._config_seq = 0
        self._config_slot = -1

    def register_capacity(self):
        """Largest register payload (meter snapshot) a record can hold."""
        return self.register_ring.capacity() - _COMMIT_SIZE

    def boot(self):
        """Find the newest committed state; returns the status (RESTORED, BLANK or CORRUPT)."""
        ring = self.register_ring
        buf = bytearray(ring.block_size)  # scratch for the scans below, garbage after boot
        ring.scan(buf)
        self.registers = None
        self.event_seq = self._config_seq = 0
        if ring.newest_slot >= 0:
            payload = ring.payload(ring.newest_slot)
            self.event_seq, self._config_seq = struct.unpack_from(_COMMIT, payload, 0)
            self.registers = payload[_COMMIT_SIZE:]
            self.status = RESTORED
        elif self.register_ring.invalid:
            self.status = CORRUPT
        else:
            self.status = BLANK
        self._boot_config(buf)
        # The event ring is scanned once, by iter_events (a restored meter reads its events)
        # or else by its first append: not here as well.
        self.event_ring.scanned = False
        return self.status

    def _boot_config(self, buf):
        found = [None, -1]
        wanted = self._config_seq

        def keep_committed(seq, slot, payload):
            if seq == wanted:
                found[0] = bytes(payload)
                found[1] = slot

        self.config_ring.scan(buf, keep_committed)
        self.config, self._config_slot = found
        if self.config is None:
            self._config_seq = 0  # the committed config was lost (bit rot): run without it

    def read_events(self, keep=None):
        """The committed events as 16-byte records, oldest first: the newest `keep` of them,
        or every one the ring still holds."""
        return list(self.iter_events(keep))

    def iter_events(self, keep=None):
        """Like read_events, one record at a time (a meter's boot never holds them all).

        An event rewritten after a cut (same event seq) is read from its newest record. Memory:
        one scan buffer and two lists of `keep` ints, however full the ring is.
        """
        ring = self.event_ring
        window = ring.slots if keep is None else min(keep, ring.slots)
        if window <= 0:
            return
        committed = self.event_seq
        low = committed - window  # the wanted events are low+1 .. committed
        ring_seq = [0] * window  # indexed by event seq % window: one wanted event per index
        slot_of = [-1] * window

        def newest(seq, slot, payload):
            (event_seq,) = struct.unpack_from("<I", payload, 0)
            if low < event_seq <= committed:
                i = event_seq % window
                if slot_of[i] < 0 or ring_seq[i] < seq:
                    ring_seq[i] = seq
                    slot_of[i] = slot

        ring.scan(bytearray(ring.block_size), newest)
        for event_seq in range(max(low + 1, 1), committed + 1):
            slot = slot_of[event_seq % window]
            if slot >= 0:
                yield ring.payload(slot)[4:]

    def commit(self, registers, events=(), config=None):
        """Make `registers` durable with new `events` [(seq, 16 bytes)] and maybe a new config.

        Returns only when the register record is on flash: after that the state survives any
        power cut. A cut before that leaves the previous commit in force.
        """
        if len(registers) > self.register_capacity():
            raise ValueError(
                "register snapshot of %d bytes > %d" % (len(registers), self.register_capacity())
            )
        event_seq = self.event_seq
        for seq, record in events:
            if len(record) != _EVENT_BYTES:
                raise ValueError("event record must be 16 bytes")
            self.event_ring.append(struct.pack("<I", seq) + record)
            event_seq = seq
        config_seq = self._config_seq
        config_slot = self._config_slot
        if config is not None:
            config_seq, config_slot = self.config_ring.append(config, self._config_slot)
        payload = struct.pack(_COMMIT, event_seq, config_seq) + registers
        self.register_ring.append(payload)
        self.registers = bytes(registers)
        self.event_seq = event_seq
        self._config_seq, self._config_slot = config_seq, config_slot
        if config is not None:
            self.config = bytes(config)

    def upload_cursor(self):
        """The newest upload cursor on flash (never past the committed events), or None when
        the ring holds none: never written, or its block recycled after the ring wrapped with
        no acknowledgement in between (then every event after it is gone from flash too)."""
        ring = self.event_ring
        if not ring.scanned:
            ring.scan(bytearray(ring.block_size))
        if ring.newest_extra < 0:
            return None
        (seq,) = struct.unpack_from("<I", ring.payload(ring.newest_extra), 0)
        return min(seq, self.event_seq)

    def save_cursor(self, seq):
        """Keep the upload cursor: one 32-byte record in the event ring, standing on its own
        (no commit): a cut while it is written leaves the previous cursor in force."""
        self.event_ring.append(struct.pack("<I", seq), -1, _TAG_CURSOR)
