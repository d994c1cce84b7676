"""The registers of a Meter: the one list of them, their provisioning values and the snapshot.

`reset` gives every register its value at provisioning; `pack` / `unpack` write and read them
all in one fixed struct layout (docs/core.md, Registers). A new register is added here, in
`reset` and in the snapshot, and nowhere else; meter.py and the modules it calls (power.py,
policy.py, tokens.py, report.py) use the attributes.

Byte 0 of the snapshot is the format version. The layout only ever grows by a new version;
`unpack` refuses versions it does not know rather than guessing. Version 1 is a v1 meter's
(unchanged since before STS); version 2 is version 1 followed by the STS tail of an STS meter
(sts_state.py: key registers and waiting KCTs; its TIDs go in version 1's TID memory slots).
"""

import struct

from firmware.core import policy
from token_spec.compat import const
from token_spec.key_change import pack_key_parts, unpack_key_parts
from token_spec.tid import TID_MEMORY_SIZE

VERSION = const(1)
STS_VERSION = const(2)
UNKNOWN_TIME = const(-1)  # `local_day` before the first day starts
HISTORY_DAYS = const(7)  # days of spend kept for days-remaining


def reset(m, now):
    """Every register of meter m at its provisioning value (`now` = provisioning time)."""
    # Money (register units; credit is signed).
    m.credit = 0
    m.debt = 0
    m.ec_granted = 0  # emergency credit granted at activation, 0 when not in use
    # Exact consumption: numerator of the unit not yet debited, 0 <= cost_rem < ppk.
    m.cost_rem = 0
    m.energy_wh = 0
    m.wh_rem = 0  # numerator of the Wh not yet counted, 0 <= wh_rem < ppk
    m.month_pulses = 0  # inclining blocks: pulses this calendar month
    m.local_day = UNKNOWN_TIME  # local day number of the last pulse / tick
    m.month_next = 0  # first local day of the next month (month_pulses resets)
    m.price = 0  # current price, register units per kWh (cached, recomputed, not persisted)
    # 7-day spend history for days-remaining.
    m.spent_today = 0
    m.spend_hist = [0] * HISTORY_DAYS
    m.spend_hist_i = 0
    m.spend_hist_days = 0
    # Standing charge accrual, and the time the pulse path last charged up to.
    m.sc_rem = 0
    m.sc_time = now
    m.pulse_time = now
    # Zone / relay as last evaluated by tick().
    m.zone = policy.NORMAL
    m.relay_reason_code = policy.NO_CREDIT
    m.relay = False
    # Tamper and power limit (power.py).
    m.tamper_open = False
    m.tamper_latched = False
    m.power_trips = 0
    m.power_retry_at = 0
    m.power_w = 0  # last measured power (not persisted)
    m.power_last_trip = 0
    # Test tokens.
    m.test_until = 0
    m.last_test = -1  # not persisted
    # Token acceptance.
    m.fail_count = 0
    m.lock_until = 0
    m.tids = []
    m.tid_high_water = now // 60 if now > 0 else 0  # TIDs extend near provisioning
    m.key_parts = [None, None, None, None]
    # STS meters only (sts_state.py, imported only for them): key registers and TID memory.
    m.sts = None
    if getattr(m, "settings", {}).get("format") == "sts":
        from firmware.core.sts_state import StsState

        m.sts = StsState(m.settings["sts"])
    # Energy at the last journal save (write policy).
    m.saved_wh = 0


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
    "cost_rem",
    "energy_wh",
    "wh_rem",
    "month_pulses",
    "spent_today",
    "local_day",
    "month_next",
)
_INTS_AFTER_HIST = (
    "sc_rem",
    "tid_high_water",
    "sc_time",
    "pulse_time",
    "power_retry_at",
    "power_last_trip",
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
    sts = m.sts
    tid_list = m.tids if sts is None else sts.tid_list()
    head = struct.pack(
        _HEAD,
        VERSION if sts is None else STS_VERSION,
        flags,
        m.zone,
        m.relay_reason_code,
        m.power_trips,
        m.fail_count,
        m.spend_hist_days,
        m.spend_hist_i,
        m.key_revision,
        len(tid_list),
    )
    ints = (
        _get(m, _INTS_BEFORE_SEQ)
        + [m.events.next_seq]
        + list(m.spend_hist)
        + _get(m, _INTS_AFTER_HIST)
        + [m.config.counter]
        + _get(m, _INTS_AFTER_COUNTER)
    )
    key = struct.pack(_KEY, m.decoder_key, pack_key_parts(m.key_parts))
    tids = list(tid_list) + [0] * (TID_MEMORY_SIZE - len(tid_list))
    blob = head + struct.pack(_INTS, *ints) + key + struct.pack(_TIDS, *tids)
    return blob if sts is None else blob + sts.pack()


def unpack(m, blob):
    """Load snapshot bytes into meter m; ValueError (m unchanged) if the blob is not a known
    snapshot or belongs to another config counter."""
    blob = bytes(blob)
    sts = m.sts
    if sts is None and (len(blob) != SIZE or blob[0] != VERSION):
        raise ValueError("not a version %d meter snapshot of %d bytes" % (VERSION, SIZE))
    if sts is not None:
        from firmware.core.sts_state import TAIL_SIZE

        # An STS meter restores its own snapshots, or a version 1 one (the key registers then
        # keep their provisioning values).
        if (blob[:1], len(blob)) not in ((b"\x02", SIZE + TAIL_SIZE), (b"\x01", SIZE)):
            raise ValueError("not a meter snapshot of an STS meter (version 1 or 2)")
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
    if sts is not None and blob[0] == STS_VERSION:
        sts.unpack(blob, SIZE)  # first: a bad tail leaves m unchanged
    flags = head[1]
    m.tamper_open = bool(flags & _TAMPER_OPEN)
    m.tamper_latched = bool(flags & _TAMPER_LATCHED)
    m.relay = bool(flags & _RELAY)
    m.zone, m.relay_reason_code, m.power_trips, m.fail_count = head[2], head[3], head[4], head[5]
    m.spend_hist_days, m.spend_hist_i, m.key_revision = head[6], head[7], head[8]
    if sts is None:
        m.tids = list(tids[: head[9]])
    else:
        sts.load_tids(tids[: head[9]])
    _set(m, _INTS_BEFORE_SEQ, ints, 0)
    m.events.next_seq = max(m.events.next_seq, ints[_SEQ_AT])
    m.spend_hist = list(ints[_HIST_AT:_AFTER_HIST_AT])
    _set(m, _INTS_AFTER_HIST, ints, _AFTER_HIST_AT)
    _set(m, _INTS_AFTER_COUNTER, ints, _COUNTER_AT + 1)
    m.decoder_key = bytes(key)
    m.key_parts = unpack_key_parts(parts)
