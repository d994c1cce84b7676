"""Meter events: typed, time-stamped, sequence-numbered, kept in a bounded ring.

An event is the integer tuple `(seq, time, kind, a, b)`. `a` is a signed 16-bit detail and `b`
a signed 32-bit detail; what they hold depends on the kind (see docs/core.md, "Events").
`pack_event` / `unpack_event` turn one event into the fixed 16-byte record the journal stores.
The ring is preallocated so recording an event allocates nothing.
"""

import struct

from token_spec.compat import const

# Kinds (stable numbers: they are stored in the journal).
BOOT = const(1)  # a = snapshot format version, b = boot status (BOOT_* below)
TOKEN = const(2)  # a = token type * 16 + result index (types < 0 when unknown), b = value
ZONE = const(3)  # a = old zone, b = new zone
RELAY = const(4)  # a = 1 closed / 0 open, b = reason code (policy.REASON_*)
EMERGENCY = const(5)  # a = 1 activated / 0 repaid / -1 refused, b = amount granted
POWER_TRIP = const(6)  # a = consecutive trips, b = measured power in W
TAMPER = const(7)  # a = 1 opened / 0 closed / 2 cleared by token, b = 1 if disconnect latched
CONFIG = const(8)  # a = 1 applied / 0 refused, b = config counter (applied or offered)
LOCKOUT = const(9)  # a = failed attempts, b = seconds locked
KEY_CHANGE = const(10)  # a = new key revision, b = 0
DEBT = const(11)  # a = 0 recovered from a top-up, b = amount recovered
POWER_RESTORE = const(12)  # a = consecutive trips, b = 0: relay retried after a trip
# Logged at every boot whose journal is not on its flash partition (a board flashed without
# `prepay device flash`: the littlefs file wears out in about two years). a = 0, b = 0.
JOURNAL_FALLBACK = const(13)

# How the meter's registers came up, in a BOOT event's `b` (the journal's boot status).
BOOT_UNKNOWN = const(0)  # not told (Meter.boot(now) on a new meter; also every pre-status log)
BOOT_RESTORED = const(1)  # registers read back from the journal (or a snapshot)
BOOT_BLANK = const(2)  # erased flash: a new meter started from zero
BOOT_CORRUPT = const(3)  # flash held data but no valid record: started from zero
# Index = code; the names are the journal's boot status strings (journal.RESTORED, ...).
BOOT_STATUS_NAMES = ("unknown", "restored", "blank", "corrupt")

KIND_NAMES = {
    BOOT: "boot",
    TOKEN: "token",
    ZONE: "zone",
    RELAY: "relay",
    EMERGENCY: "emergency",
    POWER_TRIP: "power_trip",
    TAMPER: "tamper",
    CONFIG: "config",
    LOCKOUT: "lockout",
    KEY_CHANGE: "key_change",
    DEBT: "debt",
    POWER_RESTORE: "power_restore",
    JOURNAL_FALLBACK: "journal_fallback",
}

_RECORD_SIZE = const(16)
# seq u32, time i32, kind u16, a i16, b i32 = 16 bytes, little-endian.
_FORMAT = "<IiHhi"
_CAPACITY = const(256)


def pack_event(event):
    """The 16-byte record of an event tuple (seq, time, kind, a, b)."""
    seq, time, kind, a, b = event
    return struct.pack(_FORMAT, seq, time, kind, a, b)


def unpack_event(record):
    """The event tuple stored in a 16-byte record."""
    return struct.unpack(_FORMAT, bytes(record[:_RECORD_SIZE]))


def clamp16(value):
    """Clamp to the signed 16-bit range of the `a` field."""
    return -32768 if value < -32768 else 32767 if value > 32767 else value


def clamp32(value):
    """Clamp to the signed 32-bit range of the `b` field."""
    return -(1 << 31) if value < -(1 << 31) else (1 << 31) - 1 if value > (1 << 31) - 1 else value


class EventRing:
    """The newest `capacity` events; `seq` numbers every event ever recorded (1, 2, ...)."""

    def __init__(self, capacity=_CAPACITY, next_seq=1):
        self.capacity = capacity
        self.next_seq = next_seq
        self._count = 0
        self._seq = [0] * capacity
        self._time = [0] * capacity
        self._kind = [0] * capacity
        self._a = [0] * capacity
        self._b = [0] * capacity

    def __len__(self):
        return self._count

    def record(self, time, kind, a=0, b=0):
        """Append an event (oldest dropped when full) and return its sequence number."""
        seq = self.next_seq
        i = seq % self.capacity
        self._seq[i] = seq
        self._time[i] = time
        self._kind[i] = kind
        self._a[i] = clamp16(a)
        self._b[i] = clamp32(b)
        self.next_seq = seq + 1
        if self._count < self.capacity:
            self._count += 1
        return seq

    def since(self, seq=0):
        """Events with a sequence number greater than `seq`, oldest first, as tuples."""
        first = max(seq + 1, self.next_seq - self._count)
        out = []
        for s in range(first, self.next_seq):
            i = s % self.capacity
            if self._seq[i] == s:  # slots never filled after a `load` with gaps are skipped
                out.append((s, self._time[i], self._kind[i], self._a[i], self._b[i]))
        return out

    def latest(self, n):
        """The newest `n` events, oldest first."""
        return self.since(max(0, self.next_seq - 1 - n))

    def load(self, events, next_seq=0):
        """Replace the ring's content with stored events (e.g. read back from the journal).

        `events` is iterated once (a generator is fine: a meter's boot never lists them all);
        of several events for one slot the newest wins, and only the newest `capacity` stay.
        Numbering continues after the newest loaded event, or at `next_seq` if that is later.
        """
        cap = self.capacity
        seqs = self._seq
        for i in range(cap):
            seqs[i] = 0
        newest = 0
        for seq, time, kind, a, b in events:
            i = seq % cap
            if seq > seqs[i]:
                seqs[i], self._time[i], self._kind[i] = seq, time, kind
                self._a[i], self._b[i] = a, b
            if seq > newest:
                newest = seq
        for i in range(cap):  # events older than the newest `capacity` (gaps let them stay)
            if seqs[i] <= newest - cap:
                seqs[i] = 0
        self.next_seq = max(newest + 1, next_seq, 1)
        self._count = min(cap, newest)


def boot_status_code(status):
    """The BOOT event code of a boot status: a journal status string or a BOOT_* code.

    None means BOOT_UNKNOWN. Raises ValueError for anything else."""
    if status is None:
        return BOOT_UNKNOWN
    if status in BOOT_STATUS_NAMES:
        return BOOT_STATUS_NAMES.index(status)
    if isinstance(status, int) and 0 <= status < len(BOOT_STATUS_NAMES):
        return status
    raise ValueError("unknown boot status %r" % (status,))


def describe(event):
    """A dict for the protocol / CLI: {"seq", "time", "kind", "a", "b"} with the kind named."""
    seq, time, kind, a, b = event
    return {"seq": seq, "time": time, "kind": KIND_NAMES.get(kind, str(kind)), "a": a, "b": b}
