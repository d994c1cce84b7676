"""Token acceptance: every type, every result code, key change (lockout: test_lockout.py)."""

from core_fixtures import KEY, METER_NUMBER, MONDAY, kinds, meter, settings, token

import token_spec as ts
from firmware.core import events as ev
from firmware.core.meter import MAX_CREDIT, Meter
from token_spec import codec, ff1

T = MONDAY + 600


def reserved_token(token_type=12):
    """An authentic token of a type format v1 reserves (encode_token refuses to make one)."""
    plain = codec._pack(token_type, (T // 60) % ts.TID_MODULUS, 0)
    digits = str(ff1.context(KEY, METER_NUMBER.encode()).encrypt_int(plain))
    return "0" * (20 - len(digits)) + digits


def test_credit_accepted_then_used():
    m = meter()
    tok = token(ts.TYPE_CREDIT, 500, T)
    assert m.enter_token(tok, T) == ts.RESULT_ACCEPTED
    assert m.credit == 500
    assert m.enter_token(ts.format_token(tok), T + 1) == ts.RESULT_USED
    assert m.credit == 500
    last = kinds(m, ev.TOKEN)[-1]
    assert last[3] == ts.TYPE_CREDIT * 16 + ts.RESULT_CODES.index(ts.RESULT_USED)


def test_old_token_refused_when_memory_is_full_of_newer_ones():
    m = meter()
    first = T // 60 + 1000
    early = token(ts.TYPE_CREDIT, 1, T, tid=first - 1)
    for i in range(ts.TID_MEMORY_SIZE):
        assert m.enter_token(token(ts.TYPE_CREDIT, 1, T, tid=first + i), T) == "accepted"
    assert m.enter_token(early, T) == ts.RESULT_OLD
    assert m.credit == ts.TID_MEMORY_SIZE
    assert len(m.tids) == ts.TID_MEMORY_SIZE
    assert m.tid_high_water == first + ts.TID_MEMORY_SIZE - 1


def test_overflow_changes_nothing_and_token_stays_usable():
    m = meter()
    m.credit = MAX_CREDIT - 5
    tok = token(ts.TYPE_CREDIT, 10, T)
    assert m.enter_token(tok, T) == ts.RESULT_OVERFLOW
    assert m.credit == MAX_CREDIT - 5
    m.credit = 0
    assert m.enter_token(tok, T) == ts.RESULT_ACCEPTED
    assert m.credit == 10


def test_unsupported_reserved_type_and_set_price_on_kwh_meter():
    m = meter(credit=100)
    assert m.enter_token(reserved_token(12), T) == ts.RESULT_UNSUPPORTED
    assert m.enter_token(reserved_token(13), T) == ts.RESULT_UNSUPPORTED
    assert m.fail_count == 0  # authentic tokens are not guesses
    k = meter(unit="kwh", scale=1000)
    tok = token(ts.TYPE_SET_PRICE, 20, T)
    assert k.enter_token(tok, T) == ts.RESULT_UNSUPPORTED
    assert k.config.flat_price == 1000


def test_management_tokens_apply_their_effects():
    m = meter(credit=1000)
    assert m.enter_token(token(ts.TYPE_POWER_LIMIT, 3000, T), T) == "accepted"
    assert m.config.power_limit == 3000
    assert m.enter_token(token(ts.TYPE_SET_PRICE, 2000, T), T) == "accepted"
    m.add_pulses(100, T + 1)
    assert m.credit == 800  # 100 pulses at 2000 per kWh
    assert m.enter_token(token(ts.TYPE_LOW_CREDIT, 900, T), T) == "accepted"
    m.tick(T + 2)
    assert m.config.low_credit == 900 and m.status(T + 2)["zone"] == "low"
    assert m.enter_token(token(ts.TYPE_ADD_DEBT, 400, T), T) == "accepted"
    assert m.enter_token(token(ts.TYPE_DEBT_RECOVERY, 25, T), T) == "accepted"
    assert m.enter_token(token(ts.TYPE_CREDIT, 400, T), T) == "accepted"
    assert (m.credit, m.debt) == (1100, 300)
    assert m.enter_token(token(ts.TYPE_CLEAR_CREDIT, 0, T), T) == "accepted"
    assert m.credit == 0 and m.debt == 300
    assert m.config_version == 4  # power limit, price, low credit, debt percentage
    assert m.enter_token(token(ts.TYPE_SET_PRICE, 2098000, T), T) == ts.RESULT_OVERFLOW


def test_tamper_cleared_by_token():
    m = meter(credit=100, config={"tamper_disconnect": True})
    m.set_tamper(True, T)
    m.set_tamper(False, T + 1)
    m.tick(T + 1)
    assert not m.relay_closed(T + 1) and m.status(T + 1)["relay_reason"] == "tamper"
    assert m.enter_token(token(ts.TYPE_CLEAR_TAMPER, 0, T), T + 2) == "accepted"
    assert m.relay_closed(T + 2)
    assert [e[3] for e in kinds(m, ev.TAMPER)] == [1, 0, 2]


def test_meter_test_tokens_relay_and_display():
    m = meter(credit=100)
    assert m.enter_token(token(ts.TYPE_TEST, ts.TEST_RELAY, T), T) == "accepted"
    assert not m.relay_closed(T + 4) and m.status(T + 4)["relay_reason"] == "test"
    assert m.relay_closed(T + 5)
    assert m.enter_token(token(ts.TYPE_TEST, ts.TEST_SHOW_METER, T), T) == "accepted"
    assert m.status(T)["last_test"] == ts.TEST_SHOW_METER


def test_public_test_tokens_only_display():
    m = meter(credit=100)
    before = (m.credit, list(m.tids), m.tid_high_water, m.fail_count, m.test_until)
    other_key = bytes(16 * [7])
    public = ts.encode_token(other_key, METER_NUMBER, ts.TYPE_PUBLIC_TEST, ts.TEST_SHOW_VERSION, 0)
    assert m.enter_token(public, T) == "accepted"
    assert m.enter_token(public, T + 1) == "accepted"  # no TID memory for public tests
    assert m.last_test == ts.TEST_SHOW_VERSION
    assert (m.credit, m.tids, m.tid_high_water, m.fail_count, m.test_until) == before
    assert m.relay_closed(T + 1)


def test_key_change_in_any_order_survives_reboot_and_switches_key():
    m = meter(credit=100)
    new_key = bytes(range(100, 116))
    parts = ts.key_change_tokens(KEY, METER_NUMBER, new_key, 2)
    assert m.enter_token(parts[3], T) == ts.RESULT_KEY_PART_STORED
    assert m.enter_token(parts[1], T) == ts.RESULT_KEY_PART_STORED
    m = Meter.restore(settings(), m.snapshot(), m.snapshot_config())
    assert m.status(T)["key_parts_stored"] == 2
    assert m.enter_token(parts[0], T) == ts.RESULT_KEY_PART_STORED
    assert m.decoder_key == KEY
    assert m.enter_token(parts[2], T) == ts.RESULT_ACCEPTED
    assert (m.decoder_key, m.key_revision) == (new_key, 2)
    assert m.enter_token(token(ts.TYPE_CREDIT, 5, T), T) == ts.RESULT_REJECT
    assert m.enter_token(token(ts.TYPE_CREDIT, 5, T, key=new_key), T) == "accepted"
    assert [e[3] for e in kinds(m, ev.KEY_CHANGE)] == [2]
    restored = Meter.restore(settings(), m.snapshot(), m.snapshot_config())
    assert restored.decoder_key == new_key


def test_key_change_old_revision_and_mismatched_parts():
    m = meter(credit=100)
    stale = ts.key_change_tokens(KEY, METER_NUMBER, bytes(16), 1)  # meter is at revision 1
    for part in stale[:3]:
        assert m.enter_token(part, T) == ts.RESULT_KEY_PART_STORED
    assert m.enter_token(stale[3], T) == ts.RESULT_OLD
    assert m.decoder_key == KEY and m.status(T)["key_parts_stored"] == 0
    a = ts.key_change_tokens(KEY, METER_NUMBER, bytes(range(16, 32)), 3)
    b = ts.key_change_tokens(KEY, METER_NUMBER, bytes(range(32, 48)), 3)
    for part in a[:3] + b[3:]:
        m.enter_token(part, T)
    assert m.decoder_key == KEY  # key check failed: nothing swapped
    assert m.fail_count == 0
    assert m.enter_token(a[3], T) == ts.RESULT_ACCEPTED
    assert m.decoder_key == bytes(range(16, 32))


def test_tids_cross_the_24_bit_boundary_without_rollover():
    now = (ts.TID_MODULUS - 10) * 60  # 2051-11-24 20:06, ten minutes before TID 2**24
    m = meter(now=now)
    before = token(ts.TYPE_CREDIT, 10, now, tid=ts.TID_MODULUS - 5)
    after = token(ts.TYPE_CREDIT, 20, now, tid=ts.TID_MODULUS + 3)  # carried as TID 3
    assert m.enter_token(before, now) == "accepted"
    assert m.enter_token(after, now + 600) == "accepted"
    assert m.tid_high_water == ts.TID_MODULUS + 3
    assert m.enter_token(after, now + 660) == ts.RESULT_USED
    assert m.enter_token(before, now + 660) == ts.RESULT_USED
    assert m.credit == 30
    copy = Meter.restore(settings(), m.snapshot(), m.snapshot_config())
    assert copy.tid_high_water == ts.TID_MODULUS + 3 and copy.tids == m.tids


# TID extension window (SPEC.md 7.2): at most 2**20 minutes ahead of the reference, the later of
# the high-water mark and the meter clock; everything else is the past (used or old).
AHEAD = 1 << 20
YEAR = 525960  # minutes in 365.25 days


def _fill_memory(m, first, now):
    # 50 accepted tokens: from now on a TID below `first` is `old`.
    for i in range(ts.TID_MEMORY_SIZE):
        assert m.enter_token(token(ts.TYPE_CREDIT, 1, now, tid=first + i), now) == "accepted"


def test_credit_token_replayed_after_sixteen_years_is_old():
    sold = T // 60
    m = meter(now=T)
    first = token(ts.TYPE_CREDIT, 700, T, tid=sold)
    assert m.enter_token(first, T) == "accepted"
    minute = sold
    for month in range(1, 16 * 12 + 6):  # a token a month for 16.5 years
        minute = sold + month * YEAR // 12
        tok = token(ts.TYPE_CREDIT, 1, minute * 60, tid=minute)
        assert m.enter_token(tok, minute * 60) == "accepted", month
    assert minute - sold > 1 << 23
    credit = m.credit
    assert m.enter_token(first, minute * 60 + 60) == ts.RESULT_OLD
    assert m.enter_token(first, 0) == ts.RESULT_OLD  # clock lost: the high-water mark rules
    assert m.credit == credit and m.tid_high_water == minute
    # The token sold with the same 24-bit TID 2**24 minutes later is still fresh.
    later = sold + ts.TID_MODULUS
    tok = token(ts.TYPE_CREDIT, 3, later * 60, tid=later)
    assert m.enter_token(tok, later * 60) == "accepted"


def test_token_just_over_half_an_epoch_behind_is_old_not_future():
    ref = 2 * ts.TID_MODULUS + 5000
    m = meter(now=ref * 60)
    _fill_memory(m, ref - 100, ref * 60)
    behind = token(ts.TYPE_CREDIT, 9, ref * 60, tid=ref - (1 << 23) - 1)
    assert m.enter_token(behind, ref * 60) == ts.RESULT_OLD
    assert m.tid_high_water == ref  # provisioned at `ref`, the filling tokens are older


def test_token_more_than_the_window_ahead_is_treated_as_past():
    ref = 2 * ts.TID_MODULUS + 5000
    m = meter(now=ref * 60)
    _fill_memory(m, ref - 100, ref * 60)
    high = m.tid_high_water
    far = token(ts.TYPE_CREDIT, 9, ref * 60, tid=high + AHEAD + 1)
    near = token(ts.TYPE_CREDIT, 9, ref * 60, tid=high + AHEAD)
    assert m.enter_token(far, 60) == ts.RESULT_OLD  # clock not set: reference = high-water
    assert m.enter_token(near, 60) == "accepted"
    assert m.tid_high_water == high + AHEAD


def test_genuine_token_across_a_24_bit_boundary_is_accepted_without_and_with_clock():
    start = ts.TID_MODULUS - 1000
    for clock in (0, (ts.TID_MODULUS + 50000) * 60):
        m = meter(now=start * 60)
        assert m.enter_token(token(ts.TYPE_CREDIT, 1, 0, tid=start), start * 60) == "accepted"
        after = token(ts.TYPE_CREDIT, 2, 0, tid=ts.TID_MODULUS + 50000)  # carried as 50000
        assert m.enter_token(after, clock) == "accepted"
        assert m.tid_high_water == ts.TID_MODULUS + 50000
        assert m.enter_token(after, clock) == ts.RESULT_USED


def test_meter_clock_ahead_of_high_water_moves_the_window():
    # A meter left unused for 17 years with a valid clock: the high-water mark alone would read
    # a fresh token as 2**24 minutes in the past.
    start = 2 * ts.TID_MODULUS + 5000  # far from the epoch, where no TID is moved up by 2**24
    m = meter(now=start * 60)
    _fill_memory(m, start, start * 60)
    fresh_tid = start + 17 * YEAR
    fresh = token(ts.TYPE_CREDIT, 40, 0, tid=fresh_tid)
    assert m.enter_token(fresh, 60) == ts.RESULT_OLD  # no clock: more than 2 years ahead
    assert m.enter_token(fresh, fresh_tid * 60 + 120) == "accepted"
    assert m.tid_high_water == fresh_tid
