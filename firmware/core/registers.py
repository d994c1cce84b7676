"""The snapshot: every register of a Meter in one fixed struct layout (docs/core.md).

Byte 0 is the format version. The layout only ever grows by a new version; `unpack` refuses
versions it does not know rather than guessing.
"""

import struct

from token_spec.compat import const
from token_spec.key_change import pack_key_parts, unpack_key_parts
from token_spec.tid import TID_MEMORY_SIZE

VERSION = const(1)
_HEAD = (
    "<10B"  # version, flags, zone, reason, trips, failures, hist days, hist index, key rev, tids
)
# credit, 7 counters, day, next month, next event seq, 7 days of spend, 2 counters,
# 6 times (signed: a meter clock before 2020 must not break the snapshot), 3 counters.
_INTS = "<i7I2ii7i2I6i3I"
_KEY = "<16s24s"
_TIDS = "<%dI" % TID_MEMORY_SIZE
SIZE = (
    struct.calcsize(_HEAD) + struct.calcsize(_INTS) + struct.calcsize(_KEY) + 4 * (TID_MEMORY_SIZE)
)

_TAMPER_OPEN = const(1)
_TAMPER_LATCHED = const(2)
_RELAY = const(4)


def pack(m):
    """The snapshot bytes of meter m."""
    flags = (_TAMPER_OPEN if m.tamper_open else 0) | (_TAMPER_LATCHED if m.tamper_latched else 0)
    flags |= _RELAY if m.relay else 0
    head = struct.pack(
        _HEAD,
        VERSION,
        flags,
        m.zone,
        m.relay_reason_code,
        m.power_trips,
        m.fail_count,
        m._hist_days,
        m._hist_i,
        m.key_revision,
        len(m.tids),
    )
    ints = struct.pack(
        _INTS,
        m.credit,
        m.debt,
        m.ec_granted,
        m._cost_rem,
        m.energy_wh,
        m._wh_rem,
        m.month_pulses,
        m._today,
        m._day,
        m._month_next,
        m.events.next_seq,
        *(
            tuple(m._hist)
            + (
                m._sc_rem,
                m.tid_high_water,
                m._sc_time,
                m._pulse_time,
                m.power_retry_at,
                m._last_trip,
                m.lock_until,
                m.test_until,
                m.config.counter,
                m.config_version,
                m.saved_wh,
            )
        ),
    )
    key = struct.pack(_KEY, m.decoder_key, pack_key_parts(m.key_parts))
    tids = list(m.tids) + [0] * (TID_MEMORY_SIZE - len(m.tids))
    return head + ints + key + struct.pack(_TIDS, *tids)


def unpack(m, blob):
    """Load snapshot bytes into meter m; ValueError if the blob is not a known snapshot."""
    blob = bytes(blob)
    if len(blob) != SIZE or blob[0] != VERSION:
        raise ValueError("not a version %d meter snapshot of %d bytes" % (VERSION, SIZE))
    at = 0
    head = struct.unpack_from(_HEAD, blob, at)
    at += struct.calcsize(_HEAD)
    ints = struct.unpack_from(_INTS, blob, at)
    at += struct.calcsize(_INTS)
    key, parts = struct.unpack_from(_KEY, blob, at)
    at += struct.calcsize(_KEY)
    tids = struct.unpack_from(_TIDS, blob, at)
    flags = head[1]
    m.tamper_open = bool(flags & _TAMPER_OPEN)
    m.tamper_latched = bool(flags & _TAMPER_LATCHED)
    m.relay = bool(flags & _RELAY)
    m.zone, m.relay_reason_code, m.power_trips, m.fail_count = head[2], head[3], head[4], head[5]
    m._hist_days, m._hist_i, m.key_revision = head[6], head[7], head[8]
    m.tids = list(tids[: head[9]])
    m.credit, m.debt, m.ec_granted, m._cost_rem = ints[0], ints[1], ints[2], ints[3]
    m.energy_wh, m._wh_rem, m.month_pulses, m._today = ints[4], ints[5], ints[6], ints[7]
    m._day, m._month_next = ints[8], ints[9]
    m.events.next_seq = max(m.events.next_seq, ints[10])
    m._hist = list(ints[11:18])
    (
        m._sc_rem,
        m.tid_high_water,
        m._sc_time,
        m._pulse_time,
        m.power_retry_at,
        m._last_trip,
        m.lock_until,
        m.test_until,
        counter,
        m.config_version,
        m.saved_wh,
    ) = ints[18:29]
    if counter != m.config.counter:
        raise ValueError(
            "snapshot is for config counter %d, config has %d" % (counter, m.config.counter)
        )
    m.decoder_key = bytes(key)
    m.key_parts = unpack_key_parts(parts)
