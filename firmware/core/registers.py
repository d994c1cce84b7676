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

# The integer registers in snapshot order (_INTS), named once for pack and unpack. Three
# groups of plain attributes, with the event sequence, the 7-day history and the config
# counter between them.
_INTS_BEFORE_SEQ = (
    "credit",
    "debt",
    "ec_granted",
    "_cost_rem",
    "energy_wh",
    "_wh_rem",
    "month_pulses",
    "_today",
    "_day",
    "_month_next",
)
_INTS_AFTER_HIST = (
    "_sc_rem",
    "tid_high_water",
    "_sc_time",
    "_pulse_time",
    "power_retry_at",
    "_last_trip",
    "lock_until",
    "test_until",
)
_INTS_AFTER_COUNTER = ("config_version", "saved_wh")
_SEQ_AT = len(_INTS_BEFORE_SEQ)
_HIST_AT = _SEQ_AT + 1
_AFTER_HIST_AT = _HIST_AT + 7
_COUNTER_AT = _AFTER_HIST_AT + len(_INTS_AFTER_HIST)

_TAMPER_OPEN = const(1)
_TAMPER_LATCHED = const(2)
_RELAY = const(4)


def _get(m, names):
    return [getattr(m, name) for name in names]


def _set(m, names, values, at):
    for i in range(len(names)):
        setattr(m, names[i], values[at + i])


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
    ints = (
        _get(m, _INTS_BEFORE_SEQ)
        + [m.events.next_seq]
        + list(m._hist)
        + _get(m, _INTS_AFTER_HIST)
        + [m.config.counter]
        + _get(m, _INTS_AFTER_COUNTER)
    )
    key = struct.pack(_KEY, m.decoder_key, pack_key_parts(m.key_parts))
    tids = list(m.tids) + [0] * (TID_MEMORY_SIZE - len(m.tids))
    return head + struct.pack(_INTS, *ints) + key + struct.pack(_TIDS, *tids)


def unpack(m, blob):
    """Load snapshot bytes into meter m; ValueError (m unchanged) if the blob is not a known
    snapshot or belongs to another config counter."""
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
    counter = ints[_COUNTER_AT]
    if counter != m.config.counter:
        raise ValueError(
            "snapshot is for config counter %d, config has %d" % (counter, m.config.counter)
        )
    flags = head[1]
    m.tamper_open = bool(flags & _TAMPER_OPEN)
    m.tamper_latched = bool(flags & _TAMPER_LATCHED)
    m.relay = bool(flags & _RELAY)
    m.zone, m.relay_reason_code, m.power_trips, m.fail_count = head[2], head[3], head[4], head[5]
    m._hist_days, m._hist_i, m.key_revision = head[6], head[7], head[8]
    m.tids = list(tids[: head[9]])
    _set(m, _INTS_BEFORE_SEQ, ints, 0)
    m.events.next_seq = max(m.events.next_seq, ints[_SEQ_AT])
    m._hist = list(ints[_HIST_AT:_AFTER_HIST_AT])
    _set(m, _INTS_AFTER_HIST, ints, _AFTER_HIST_AT)
    _set(m, _INTS_AFTER_COUNTER, ints, _COUNTER_AT + 1)
    m.decoder_key = bytes(key)
    m.key_parts = unpack_key_parts(parts)
