"""An STS meter's key registers and TID memory (docs/sts.md, Meter side; STS.md §3, §5.2).

Imported only by meters provisioned with `"format": "sts"`, so a v1 meter's heap is unchanged.
`check(settings["sts"])` validates the provisioning object; `StsState` holds what a key change
may alter (decoder key, EA, KT, KRN, TI, KEN, SGC, base date), the KCT halves waiting for their
partners and the TID memory, and packs them into the snapshot's STS tail (registers.py).
"""

import struct
from array import array

from firmware.core.config import ConfigError
from token_spec.compat import const
from token_spec.errors import RESULT_OLD, RESULT_USED

TID_SLOTS = const(50)  # STS.md §5.2: the firmware it cites keeps 20; we keep v1's 50
_BASES = (1993, 2014, 2035)
_KCT_SLOTS = const(4)  # 1st, 2nd, 3rd, 4th section KCT (3rd and 4th: EA11 only)
# key, ea, kt, krn, ti, ken, ddtk, base year, sgc, 4 pending KCT blocks
TAIL = "<16s6BHI4Q"
TAIL_SIZE = struct.calcsize(TAIL)


def _int(sts, name, low, high, default=None):
    value = sts.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError("sts.%s must be an integer in %d..%d" % (name, low, high))
    return value


def check(sts):
    """A normalised copy of the provisioning `sts` object (JSON-able: dk stays hex)."""
    if not isinstance(sts, dict):
        raise ConfigError('format "sts" needs an "sts" object with the decoder key')
    out = {}
    ea = sts.get("ea")
    if ea not in (7, 11) or isinstance(ea, bool):
        raise ConfigError("sts.ea must be 7 (STA) or 11 (MISTY1)")
    out["ea"] = ea
    size = 16 if ea == 7 else 32
    dk = sts.get("dk")
    try:
        if not isinstance(dk, str) or len(dk) != size:
            raise ValueError
        bytes.fromhex(dk)
    except ValueError:
        raise ConfigError(
            "sts.dk must be %d hex digits for EA%02d (natural, MSB first)" % (size, ea)
        ) from None
    out["dk"] = dk.lower()
    out["kt"] = _int(sts, "kt", 0, 3)
    out["krn"] = _int(sts, "krn", 1, 15)
    out["ti"] = _int(sts, "ti", 0, 255)
    out["ken"] = _int(sts, "ken", 0, 255, 255)
    sgc = sts.get("sgc")
    if not isinstance(sgc, str) or len(sgc) != 6 or not sgc.isdigit():
        raise ConfigError("sts.sgc must be 6 digits")
    out["sgc"] = sgc
    base = sts.get("base")
    if base not in _BASES or isinstance(base, bool):
        raise ConfigError("sts.base must be 1993, 2014 or 2035")
    out["base"] = base
    out["mfr"] = _int(sts, "mfr", 0, 9999, 0)
    ddtk = sts.get("ddtk", False)
    if ddtk is not True and ddtk is not False:
        raise ConfigError("sts.ddtk must be true or false")
    out["ddtk"] = ddtk
    return out


class StsState:
    """The STS registers of one meter (set from provisioning, changed by KCTs)."""

    def __init__(self, sts):
        self.key = bytes.fromhex(sts["dk"])
        self.ea = sts["ea"]
        self.kt = sts["kt"]
        self.krn = sts["krn"]
        self.ti = sts["ti"]
        self.ken = sts["ken"]
        self.ddtk = sts["ddtk"] or sts["kt"] == 1  # KT 1 is the default key (DDTK)
        self.base = sts["base"]
        self.sgc = int(sts["sgc"])
        self.mfr = sts["mfr"]  # fixed at manufacture: not a register
        self.kct = [0, 0, 0, 0]  # plain KCT blocks waiting for their partners (0 = none)
        # TID memory: preallocated, updated in place (no allocation per token).
        self.tids = array("I", bytes(4 * TID_SLOTS))
        self.tid_count = 0

    # ---- TID memory (STS.md §5.2) --------------------------------------------------------
    def tid_seen(self, tid):
        """ "used", "old" or None: USED if remembered, OLD if the memory is full and `tid` is
        below every entry (the memory starts empty rather than filled with the manufacture
        time: the meter's clock is not the vending system's local time)."""
        tids = self.tids
        count = self.tid_count
        low = 0x1000000
        for i in range(count):
            t = tids[i]
            if t == tid:
                return RESULT_USED
            if t < low:
                low = t
        if count >= TID_SLOTS and tid < low:
            return RESULT_OLD
        return None

    def remember_tid(self, tid):
        """Store an accepted TID, replacing the lowest entry when the memory is full."""
        tids = self.tids
        if self.tid_count < TID_SLOTS:
            tids[self.tid_count] = tid
            self.tid_count += 1
            return
        at = 0
        for i in range(1, TID_SLOTS):
            if tids[i] < tids[at]:
                at = i
        tids[at] = tid

    def clear_tids(self):
        self.tid_count = 0

    def tid_list(self):
        return list(self.tids[: self.tid_count])

    def load_tids(self, tids):
        n = len(tids) if len(tids) < TID_SLOTS else TID_SLOTS
        for i in range(n):
            self.tids[i] = tids[i]
        self.tid_count = n

    # ---- key change ------------------------------------------------------------------------
    def parts_needed(self):
        return 2 if self.ea == 7 else 4

    def next_base(self):
        """The base date after a rollover (RO = 1): the next of 1993, 2014, 2035."""
        i = _BASES.index(self.base)
        return _BASES[i + 1] if i + 1 < len(_BASES) else self.base

    # ---- snapshot tail and report ------------------------------------------------------------
    def pack(self):
        key = self.key + bytes(16 - len(self.key))
        values = (key, self.ea, self.kt, self.krn, self.ti, self.ken, 1 if self.ddtk else 0)
        values += (self.base, self.sgc) + tuple(self.kct)
        return struct.pack(TAIL, *values)

    def unpack(self, blob, at):
        v = struct.unpack_from(TAIL, blob, at)
        if v[1] not in (7, 11) or v[7] not in _BASES:
            raise ValueError("snapshot holds no usable STS key")  # checked before any change
        self.ea, self.kt, self.krn, self.ti, self.ken = v[1], v[2], v[3], v[4], v[5]
        self.key = bytes(v[0][: 8 if self.ea == 7 else 16])
        self.ddtk = bool(v[6])
        self.base, self.sgc = v[7], v[8]
        self.kct = list(v[9:13])

    def report(self):
        """For the `status` command: no key material."""
        return {
            "ea": self.ea,
            "kt": self.kt,
            "krn": self.krn,
            "ti": self.ti,
            "ken": self.ken,
            "sgc": "%06d" % self.sgc,
            "base": self.base,
            "ddtk": self.ddtk,
            "kct_parts_stored": _KCT_SLOTS - self.kct.count(0),
            "tids_stored": self.tid_count,
        }
