"""STS token acceptance (STS.md §5.1): decrypt -> CRC -> class -> KEN -> TID memory -> range ->
apply, for a meter provisioned with `"format": "sts"` (docs/sts.md, Meter side).

tokens.py checks the lockout, records the event and calls `accept` for STS meters; the effects
on the registers are tokens.py's (`apply_effect`, the same core operations as v1), so an STS
credit or management token changes the meter exactly as its v1 counterpart does. This module,
the codec and the cipher are imported only by STS meters.
"""

import token_spec.errors as te
import token_spec.types as tt
from firmware.core import events as ev
from firmware.core.tokens import TEST_RELAY_SECONDS, apply_effect, end_wrong_entries, wrong_entry
from token_spec.compat import const
from token_spec.sts import token
from token_spec.sts.tid import ken_allows

# Event token types for STS: 16 + class * 16 + subclass (v1 types are 0..15).
_TYPE_BASE = const(16)
_MAX_POWER_LIMIT_W = const(10000000)  # config.py's bound for power.limit_w
_ALL_REGISTERS = const(0xFFFF)
_KWH_REGISTER = const(0)  # ClearCredit register codes: 0 electricity (0.1 kWh) ...
_CURRENCY_REGISTER = const(4)  # ... 4 electricity currency
_KCT_SLOT = {token.KCT_1ST: 0, token.KCT_2ND: 1, token.KCT_3RD: 2, token.KCT_4TH: 3}
_M32 = const(0xFFFFFFFF)
_TEST_ALL = const(0xFF)  # a control field whose first byte is 0xFF: every test
_TEST_RELAY_BIT = const(0)  # class 1 control bit 0 opens the load switch (STS.md §4.2)


def accept(m, digits, now):
    """(result, event token type or -1, event value) of 20 digits on STS meter m."""
    st = m.sts
    try:
        cls, block = token.decode_block(digits, st.key, st.ea)
    except ValueError:
        return te.RESULT_REJECT, -1, 0  # not a token at all (above 2**66): a typing slip
    if not token.crc_ok(cls, block):
        wrong_entry(m, now)  # a wrong key or a guess: counts towards the lockout
        return te.RESULT_REJECT, -1, m.fail_count
    subclass, tid, value, _rnd, _ok = token.fields(cls, block)
    kind = _TYPE_BASE + cls * 16 + subclass
    if cls == token.CLASS_TEST:
        return _test(m, subclass, block, now), kind, value
    if cls == token.CLASS_MANAGEMENT and subclass in _KCT_SLOT:
        return _key_part(m, subclass, block, now), kind, st.krn
    if tid is None or cls not in (token.CLASS_CREDIT, token.CLASS_MANAGEMENT):
        return te.RESULT_UNSUPPORTED, kind, 0  # class 3, reserved subclasses
    if cls == token.CLASS_CREDIT and st.ddtk:
        return te.RESULT_UNSUPPORTED, kind, value  # DDTK error: no credit under a default key
    if not ken_allows(tid, st.ken):
        return te.RESULT_REJECT, kind, tid  # key expired: authentic, so not a guess
    seen = st.tid_seen(tid)
    if seen is not None:
        return seen, kind, value
    result = _apply(m, cls, subclass, value, now)
    if result == te.RESULT_ACCEPTED:
        st.remember_tid(tid)  # made durable with the result (m.urgent) before it is shown
        m.urgent = True
        end_wrong_entries(m)
    return result, kind, value


def _apply(m, cls, subclass, value, now):
    # Range checks and the unit, then the v1 core operation; anything refused changes nothing.
    kwh = m.config.kwh_meter
    if cls == token.CLASS_CREDIT:
        if kwh and subclass == 0:
            per = 10  # 0.1 kWh
        elif not kwh and subclass == 4 and value >= 0:
            per = 100000  # 10**-5 currency
        else:
            return te.RESULT_UNSUPPORTED  # another unit: a rejection, never a conversion
        # Floored to whole register units: the fraction below one register unit is dropped,
        # never charged for (the station prices a token at what it floors to on a register of
        # the token's own kind, docs/sts.md "Units"). A token worth less than one register unit
        # is refused and stays unused (accepting it would burn its TID for nothing).
        units = value * m.settings["scale"] // per
        if units <= 0:
            return te.RESULT_UNSUPPORTED
        return apply_effect(m, tt.TYPE_CREDIT, units, now)
    if subclass == token.SET_POWER_LIMIT:
        if value > _MAX_POWER_LIMIT_W:
            return te.RESULT_OVERFLOW
        return apply_effect(m, tt.TYPE_POWER_LIMIT, value, now)
    if subclass == token.CLEAR_CREDIT:
        if value not in (_ALL_REGISTERS, _KWH_REGISTER if kwh else _CURRENCY_REGISTER):
            return te.RESULT_UNSUPPORTED  # a water, gas or time register: not on this meter
        return apply_effect(m, tt.TYPE_CLEAR_CREDIT, 0, now)
    if subclass == token.SET_TARIFF_RATE:
        return apply_effect(m, tt.TYPE_SET_PRICE, value, now)  # register units per kWh
    if subclass == token.CLEAR_TAMPER:
        return apply_effect(m, tt.TYPE_CLEAR_TAMPER, 0, now)
    return te.RESULT_UNSUPPORTED  # phase unbalance, water meter factor


def _test(m, subclass, block, now):
    # Class 1 is unauthenticated: display tests always run, opening the relay only when the
    # signed config allows it. No TID, no lockout reset (anyone can type a published voucher).
    if subclass > 1:
        return te.RESULT_UNSUPPORTED
    control, mfr = token.test_fields(block)
    if mfr and mfr != m.sts.mfr:
        return te.RESULT_REJECT  # Mfr code error
    width = 36 if subclass == 0 else 28
    if control >> (width - 8) == _TEST_ALL:
        if m.config.sts_relay_test:
            m.test_until = now + TEST_RELAY_SECONDS
        m.last_test = _TEST_ALL
        return te.RESULT_ACCEPTED
    if control == 0:
        return te.RESULT_UNSUPPORTED
    bit = 0
    while not (control >> bit) & 1:
        bit += 1
    if bit == _TEST_RELAY_BIT:
        if not m.config.sts_relay_test:
            return te.RESULT_UNSUPPORTED  # a public voucher must not cut the supply
        m.test_until = now + TEST_RELAY_SECONDS
    m.last_test = bit
    return te.RESULT_ACCEPTED


def _key_part(m, subclass, block, now):
    # KCTs in any order: each half waits in the snapshot (the journal) for its partners.
    st = m.sts
    slot = _KCT_SLOT[subclass]
    need = st.parts_needed()
    if slot >= need:
        return te.RESULT_UNSUPPORTED  # 3rd/4th section KCT on an EA07 meter
    if st.kct[slot] == block:
        return te.RESULT_KEY_PART_STORED  # a replay: no change, no lockout reset
    st.kct[slot] = block
    m.urgent = True
    end_wrong_entries(m)
    for i in range(need):
        if not st.kct[i]:
            return te.RESULT_KEY_PART_STORED
    _change_key(st)
    m.events.record(now, ev.KEY_CHANGE, st.krn, st.base)
    return te.RESULT_ACCEPTED


def _change_key(st):
    first, second = st.kct[0], st.kct[1]
    ken_hi, krn, ro, _res, kt = token.kct_fields(first)
    ken_lo, ti = token.kct_fields(second)
    words = [(first >> 16) & _M32]
    if st.ea == token.EA11:
        words.append((st.kct[2] >> 16) & _M32)  # NKMO2
        words.append((st.kct[3] >> 16) & _M32)  # NKMO1
        sgc_lo = token.kct_fields(st.kct[2])[0]
        st.sgc = (token.kct_fields(st.kct[3])[0] << 12) | sgc_lo
    words.append((second >> 16) & _M32)
    key = b""
    for w in words:
        key += w.to_bytes(4, "big")
    st.key = key
    st.ken = (ken_hi << 4) | ken_lo
    st.krn, st.kt, st.ti = krn, kt, ti
    st.ddtk = kt == 1
    if ro:
        st.clear_tids()  # TID rollover: the new base date restarts the minutes
        st.base = st.next_base()
    st.kct = [0, 0, 0, 0]
