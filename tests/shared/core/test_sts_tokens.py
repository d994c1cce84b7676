"""STS acceptance on the meter core: credit units, TID memory, KEN, DDTK, management tokens,
class 1 tests, lockout (docs/sts.md, Meter side; STS.md §5)."""

from core_fixtures import MONDAY, kinds
from sts_core_fixtures import DK, MFR, TID, credit, management, restored, sts_meter

import token_spec as ts
from firmware.core import events as ev
from firmware.core.sts_state import TID_SLOTS
from token_spec.sts import token

T = MONDAY + 600
RELAY_TEST = "00000000000150997584"  # the L+G voucher: control bit 0, opens the load switch
DISPLAY_TEST = "00000000000167774880"  # control bit 1: display test


def test_kwh_credit_in_tenths_then_used():
    m = sts_meter(scale=1000)  # 1000 register units per kWh
    assert m.enter_token(credit(125), T) == ts.RESULT_ACCEPTED  # 12.5 kWh
    assert m.credit == 12500
    assert m.enter_token(credit(125), T + 1) == ts.RESULT_USED
    assert m.credit == 12500
    last = kinds(m, ev.TOKEN)[-1]
    assert last[3] == (16 + 0) * 16 + ts.RESULT_CODES.index(ts.RESULT_USED)
    assert m.status(T)["sts"]["tids_stored"] == 1


def test_credit_floors_to_whole_register_units():
    # A register coarser than the token (whole kWh): the fraction is dropped, never rounded up.
    m = sts_meter(scale=1)
    assert m.enter_token(credit(15), T) == ts.RESULT_ACCEPTED  # 1.5 kWh
    assert m.credit == 1 and m.fail_count == 0
    assert m.enter_token(credit(20, tid=TID + 1), T) == ts.RESULT_ACCEPTED
    assert m.credit == 3
    # Worth less than one register unit: refused and left unused (no TID burnt for nothing).
    assert m.enter_token(credit(9, tid=TID + 2), T) == ts.RESULT_UNSUPPORTED
    assert m.credit == 3 and m.status(T)["sts"]["tids_stored"] == 2
    # A register finer than the token: exact (12.5 kWh at 1000 per kWh).
    fine = sts_meter(scale=1000)
    assert fine.enter_token(credit(125), T) == ts.RESULT_ACCEPTED
    assert fine.credit == 12500


def test_currency_tokens_floor_to_the_register_on_currency_meters_only():
    # Above 16383 * 10**-5 the currency encoding carries odd amounts (12.34 -> 12.34024): a
    # cents register takes 12.34 (the 0.00024 is dropped, the station charged 12.34); a 10**-5
    # register takes it all.
    m = sts_meter(unit="currency", scale=100000)
    assert m.enter_token(credit(1234000, subclass=4), T) == ts.RESULT_ACCEPTED
    assert m.credit == 1234024
    cents = sts_meter(unit="currency", scale=100)
    assert cents.enter_token(credit(1234000, subclass=4), T) == ts.RESULT_ACCEPTED
    assert cents.credit == 1234
    assert cents.enter_token(credit(15000, tid=TID + 1, subclass=4), T) == ts.RESULT_ACCEPTED
    assert cents.credit == 1234 + 15  # 0.15 is carried exactly
    assert cents.enter_token(credit(999, tid=TID + 2, subclass=4), T) == "unsupported"
    # The unit must match: a kWh token on a currency meter is a rejection, not a conversion.
    assert cents.enter_token(credit(100, tid=TID + 3), T) == ts.RESULT_UNSUPPORTED  # 0.1 kWh
    assert cents.credit == 1234 + 15 and cents.fail_count == 0
    k = sts_meter()
    assert k.enter_token(credit(100000, subclass=4), T) == ts.RESULT_UNSUPPORTED
    assert k.enter_token(credit(10, subclass=1), T) == ts.RESULT_UNSUPPORTED  # water
    assert k.credit == 0 and k.fail_count == 0


def test_old_after_the_memory_fills_with_newer_tokens():
    m = sts_meter(scale=10)
    early = credit(1, tid=TID - 1)
    for i in range(TID_SLOTS):
        assert m.enter_token(credit(1, tid=TID + i), T) == ts.RESULT_ACCEPTED
    assert m.enter_token(early, T) == ts.RESULT_OLD
    assert m.credit == TID_SLOTS
    # a newer token between stored ones replaces the lowest entry
    assert m.enter_token(credit(1, tid=TID + 1000), T) == ts.RESULT_ACCEPTED
    assert m.enter_token(credit(1, tid=TID), T) == ts.RESULT_OLD
    assert m.enter_token(credit(1, tid=TID + 1), T) == ts.RESULT_USED


def test_tid_memory_survives_a_power_cut():
    m = sts_meter(scale=10)
    tok = credit(7)
    assert m.enter_token(tok, T) == ts.RESULT_ACCEPTED
    again = restored(m)
    assert again.credit == 7
    assert again.enter_token(tok, T + 5) == ts.RESULT_USED
    assert again.snapshot()[0] == 2  # an STS meter writes snapshot version 2


def test_expired_key_refuses_without_counting_a_guess():
    m = sts_meter(ken=TID >> 16)
    late = credit(10, tid=((TID >> 16) + 1) << 16)
    assert m.enter_token(late, T) == ts.RESULT_REJECT
    assert m.credit == 0 and m.fail_count == 0
    assert m.enter_token(credit(10), T) == ts.RESULT_ACCEPTED


def test_ddtk_refuses_credit_but_takes_management():
    m = sts_meter(kt=1)
    assert m.enter_token(credit(10), T) == ts.RESULT_UNSUPPORTED
    assert m.credit == 0
    assert m.enter_token(management(token.SET_POWER_LIMIT, 2000), T) == ts.RESULT_ACCEPTED
    assert m.config.power_limit == 2000
    assert sts_meter(ddtk=True).enter_token(credit(10), T) == ts.RESULT_UNSUPPORTED


def test_management_tokens_map_to_core_operations():
    m = sts_meter(unit="currency", scale=100)
    assert m.enter_token(credit(16000, subclass=4), T) == "accepted"
    assert m.enter_token(management(token.SET_TARIFF_RATE, 20, tid=TID + 1), T) == "accepted"
    m.add_pulses(100, T + 1)
    assert m.credit == 16 - 2  # 100 pulses at 20 per kWh
    assert m.enter_token(management(token.CLEAR_CREDIT, 0, tid=TID + 2), T) == "unsupported"
    assert m.enter_token(management(token.CLEAR_CREDIT, 4, tid=TID + 3), T) == "accepted"
    assert m.credit == 0
    m.tamper_latched = True
    assert m.enter_token(management(token.CLEAR_TAMPER, 0, tid=TID + 4), T) == "accepted"
    assert not m.tamper_latched
    big = management(token.SET_POWER_LIMIT, 18000000, tid=TID + 5)
    assert m.enter_token(big, T) == ts.RESULT_OVERFLOW
    assert m.enter_token(management(6, 10, tid=TID + 6), T) == ts.RESULT_UNSUPPORTED
    k = sts_meter()
    assert k.enter_token(management(token.SET_TARIFF_RATE, 20), T) == "unsupported"
    assert k.enter_token(credit(10, tid=TID + 1), T) == "accepted"
    assert k.enter_token(management(token.CLEAR_CREDIT, 0xFFFF, tid=TID + 2), T) == "accepted"
    assert k.credit == 0


def test_class1_display_always_relay_only_when_the_config_allows():
    m = sts_meter()
    assert m.enter_token(DISPLAY_TEST, T) == ts.RESULT_ACCEPTED
    assert m.last_test == 1
    assert m.enter_token(RELAY_TEST, T) == ts.RESULT_UNSUPPORTED
    assert m.test_until == 0 and m.relay_closed(T) == m.relay
    own = token.encode_test(1, 1 << 3, MFR)
    other = token.encode_test(1, 1 << 3, MFR + 1)
    assert m.enter_token(own, T) == ts.RESULT_ACCEPTED
    assert m.enter_token(other, T) == ts.RESULT_REJECT
    assert m.fail_count == 0
    allowed = sts_meter(config={"sts_relay_test": True})
    allowed.enter_token(credit(100), T)
    assert allowed.relay_closed(T)
    assert allowed.enter_token(RELAY_TEST, T) == ts.RESULT_ACCEPTED
    assert not allowed.relay_closed(T + 1)
    assert allowed.relay_closed(T + 6)


def test_wrong_tokens_lock_out_and_the_lock_survives_a_power_cut():
    m = sts_meter()
    other_key = bytes.fromhex("0abc12def3456789")
    for i in range(ts.LOCKOUT_FREE_TRIES + 1):
        assert m.enter_token(credit(10, tid=TID + i, key=other_key), T) == ts.RESULT_REJECT
    assert m.lock_until == T + 10
    again = restored(m)
    assert again.enter_token(credit(10), T + 1) == ts.RESULT_LOCKED
    assert again.enter_token(credit(10), T + 11) == ts.RESULT_ACCEPTED
    assert again.fail_count == 0
    assert m.enter_token("9" * 20, T + 20) == ts.RESULT_REJECT  # above 2**66: a slip


def test_v1_meter_keeps_snapshot_version_1_and_no_sts_registers():
    from core_fixtures import meter

    m = meter()
    assert m.sts is None
    assert m.snapshot()[0] == 1
    assert "sts" not in m.status(T)


def test_sts_settings_are_checked():
    from sts_core_fixtures import sts_settings

    from firmware.core.config import ConfigError
    from firmware.core.meter import Meter

    bad = (
        {"dk": DK.hex()[:-1]},
        {"ea": 9},
        {"ea": 11, "dk": DK.hex()},  # an EA07 key for EA11
        {"sgc": "12345"},
        {"base": 2000},
        {"krn": 0},
        {"ddtk": 1},
    )
    for fields in bad:
        try:
            Meter(sts_settings(**fields), T)
        except ConfigError as exc:
            assert str(exc).startswith("sts.") and DK.hex() not in str(exc)
        else:
            raise AssertionError("accepted %r" % (fields,))
    s = sts_settings()
    s["format"] = "sts2"
    try:
        Meter(s, T)
    except ConfigError as exc:
        assert "format" in str(exc)
    else:
        raise AssertionError("accepted format sts2")
