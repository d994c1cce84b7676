"""Keypad/serial lockout (SPEC.md 8.3): token_spec's schedule, what counts, what ends a run.

An attacker guessing tokens must be slowed down whatever else they type in between: public
test tokens (printed in SPEC.md 5.7), tokens already used, too old, unsupported or overflowing
must never reset the count of wrong entries.
"""

from core_fixtures import KEY, METER_NUMBER, MONDAY, kinds, meter, settings, token

import token_spec as ts
from firmware.core import events as ev
from firmware.core.meter import MAX_CREDIT, Meter

T = MONDAY + 600
FREE = ts.LOCKOUT_FREE_TRIES
# SPEC.md 5.7 prints the four public test tokens: anyone can type them.
PUBLIC_TESTS = (
    "8724 4239 1689 3481 1077",
    "4431 4647 0974 2791 1891",
    "6271 1069 7520 0768 1206",
    "7232 1308 7159 0702 8356",
)


def wrong_token(i=0):
    """20 digits that are not a token for this meter (a token for another meter number)."""
    return ts.encode_token(KEY, ts.make_meter_number("0499999999"), 0, 10 + i, T // 60 + i)


def _restored(m):
    return Meter.restore(settings(), m.snapshot(), m.snapshot_config())


def test_reject_and_format_errors():
    m = meter(credit=100)
    assert m.enter_token(wrong_token(), T) == ts.RESULT_REJECT
    assert m.fail_count == 1
    assert m.enter_token("1234", T) == ts.RESULT_REJECT  # typing slip: not counted
    assert m.enter_token("1234 5678 abcd 3456 7890", T) == ts.RESULT_REJECT
    assert m.fail_count == 1
    assert m.credit == 100


def test_schedule_is_token_spec_lockout_seconds():
    m = meter()
    now = T
    locks = []
    for i in range(14):
        if locks and locks[-1]:
            assert m.enter_token(wrong_token(99), now - 1) == ts.RESULT_LOCKED
        assert m.enter_token(wrong_token(i), now) == ts.RESULT_REJECT
        locks.append(m.lock_until - now if m.lock_until > now else 0)
        now = max(now, m.lock_until)  # the next guess the moment the lock ends
    assert locks == [ts.lockout_seconds(k) for k in range(1, 15)]
    # The numbers SPEC.md 8.3 prints: 3 free, 10 s doubling, 1280 s from the 11th on.
    assert locks == [0, 0, 0, 10, 20, 40, 80, 160, 320, 640, 1280, 1280, 1280, 1280]
    logged = [(e[3], e[4]) for e in kinds(m, ev.LOCKOUT)]
    assert logged == [(k, ts.lockout_seconds(k)) for k in range(FREE + 1, 15)]
    assert m.fail_count == 14


def test_public_test_tokens_between_guesses_do_not_reset_the_count():
    m = meter(credit=100)
    results = []
    for i in range(FREE + 1):
        assert m.enter_token(PUBLIC_TESTS[i % 4], T) == ts.RESULT_ACCEPTED
        assert m.last_test == i % 4  # they really are the public display tests
        results.append(m.enter_token(wrong_token(i), T))
    assert results == [ts.RESULT_REJECT] * (FREE + 1)
    assert m.fail_count == FREE + 1
    assert m.lock_until == T + ts.lockout_seconds(FREE + 1)
    assert m.enter_token(PUBLIC_TESTS[0], T + 1) == ts.RESULT_LOCKED
    assert m.enter_token(token(ts.TYPE_CREDIT, 5, T), T + 1) == ts.RESULT_LOCKED
    assert m.credit == 100


def _alternate_with(m, repeat, expected):
    """Alternate guesses with an authentic entry answered `expected`; it must still lock."""
    for i in range(FREE + 1):
        assert m.enter_token(repeat, T) == expected
        assert m.enter_token(wrong_token(i), T) == ts.RESULT_REJECT
    assert m.fail_count == FREE + 1, expected
    assert m.enter_token(repeat, T + 1) == ts.RESULT_LOCKED


def test_used_token_between_guesses_does_not_reset_the_count():
    m = meter(credit=100)
    used = token(ts.TYPE_CREDIT, 5, T)
    assert m.enter_token(used, T) == ts.RESULT_ACCEPTED
    _alternate_with(m, used, ts.RESULT_USED)
    assert m.credit == 105


def test_old_token_between_guesses_does_not_reset_the_count():
    m = meter()
    first = T // 60 + 1000
    for i in range(ts.TID_MEMORY_SIZE):
        assert m.enter_token(token(ts.TYPE_CREDIT, 1, T, tid=first + i), T) == "accepted"
    _alternate_with(m, token(ts.TYPE_CREDIT, 1, T, tid=first - 1), ts.RESULT_OLD)


def test_unsupported_and_overflow_between_guesses_do_not_reset_the_count():
    kwh = meter(unit="kwh", scale=1000)
    _alternate_with(kwh, token(ts.TYPE_SET_PRICE, 20, T), ts.RESULT_UNSUPPORTED)
    full = meter()
    full.credit = MAX_CREDIT - 5
    _alternate_with(full, token(ts.TYPE_CREDIT, 10, T), ts.RESULT_OVERFLOW)


def test_only_meter_specific_acceptance_and_key_parts_end_a_run():
    m = meter()
    for i in range(FREE):
        m.enter_token(wrong_token(i), T)
    assert m.enter_token(token(ts.TYPE_CREDIT, 5, T), T) == ts.RESULT_ACCEPTED
    assert m.fail_count == 0 and m.urgent
    parts = ts.key_change_tokens(KEY, METER_NUMBER, bytes(range(100, 116)), 2)
    for i in range(FREE):
        m.enter_token(wrong_token(i), T)
    m.urgent = False
    assert m.enter_token(parts[0], T) == ts.RESULT_KEY_PART_STORED
    assert m.fail_count == 0 and m.urgent
    for i in range(FREE):
        m.enter_token(wrong_token(i), T)
    for part in parts[1:]:
        m.enter_token(part, T)
    assert m.key_revision == 2 and m.fail_count == 0  # the last part: `accepted`
    assert m.lock_until == 0  # every run stayed within the free tries


def test_lockout_survives_snapshot_and_restore():
    m = meter(credit=10)
    for i in range(FREE + 1):
        m.enter_token(wrong_token(i), T)
    first_lock = ts.lockout_seconds(FREE + 1)
    rebooted = _restored(m)
    rebooted.boot(T + 2)
    assert (rebooted.fail_count, rebooted.lock_until) == (FREE + 1, T + first_lock)
    good = token(ts.TYPE_CREDIT, 50, T)
    assert rebooted.enter_token(good, T + first_lock - 1) == ts.RESULT_LOCKED
    assert rebooted.enter_token(PUBLIC_TESTS[0], T + first_lock) == ts.RESULT_ACCEPTED
    again = _restored(rebooted)  # the count carries on from where it was
    now = T + first_lock
    assert again.enter_token(wrong_token(9), now) == ts.RESULT_REJECT
    assert (again.fail_count, again.lock_until) == (FREE + 2, now + ts.lockout_seconds(FREE + 2))
    # A clock set far back does not stretch the lock beyond token_spec's cap; the cut deadline
    # is stored (urgent) so the next boot sees it too.
    back = _restored(again)
    earlier = T - 100000
    assert back.enter_token(good, earlier) == ts.RESULT_LOCKED
    assert back.lock_until == earlier + ts.LOCKOUT_MAX_SECONDS and back.urgent
    assert _restored(back).enter_token(good, earlier + ts.LOCKOUT_MAX_SECONDS - 1) == "locked"
    assert back.enter_token(good, earlier + ts.LOCKOUT_MAX_SECONDS) == ts.RESULT_ACCEPTED
    assert back.fail_count == 0


def test_replayed_key_part_between_guesses_does_not_reset_the_count():
    # One part of an incomplete key change is no proof of anything once stored: re-entering it
    # after every lock must not hold the lockout at 10 s.
    m = meter()
    part = ts.key_change_tokens(KEY, METER_NUMBER, bytes(range(100, 116)), 2)[1]
    assert m.enter_token(part, T) == ts.RESULT_KEY_PART_STORED
    now = T
    locks = []
    for i in range(14):
        assert m.enter_token(part, now) == ts.RESULT_KEY_PART_STORED
        assert m.enter_token(wrong_token(i), now) == ts.RESULT_REJECT
        locks.append(m.lock_until - now if m.lock_until > now else 0)
        now = max(now, m.lock_until)
    assert locks == [ts.lockout_seconds(k) for k in range(1, 15)]
    assert m.fail_count == 14 and m.status(now)["key_parts_stored"] == 1


def test_replayed_key_part_changes_nothing_and_needs_no_write():
    m = meter(credit=100)
    parts = ts.key_change_tokens(KEY, METER_NUMBER, bytes(range(100, 116)), 2)
    for i in range(FREE - 1):
        m.enter_token(wrong_token(i), T)
    assert m.enter_token(parts[2], T) == ts.RESULT_KEY_PART_STORED  # new: ends the run
    assert m.fail_count == 0
    m.enter_token(wrong_token(7), T)
    m.saved(T)
    before, seq = m.snapshot(), m.events.next_seq
    for k in range(20):
        assert m.enter_token(parts[2], T + k) == ts.RESULT_KEY_PART_STORED
        assert not m.urgent  # nothing for the journal to write
    assert _unchanged_but_events(m, before, seq)
    assert m.fail_count == 1
    logged = [e[3] for e in kinds(m, ev.TOKEN, seq - 1)]
    assert len(logged) == 20  # every entry is still in the event log


def _unchanged_but_events(m, before, seq):
    """m.snapshot() equals `before` byte for byte once the event sequence counter is put back
    (every entry is logged, a replayed used token too; the log is not token state)."""
    now_seq = m.events.next_seq
    m.events.next_seq = seq
    same = m.snapshot() == before
    m.events.next_seq = now_seq
    return same


def test_replayed_part_of_a_set_that_failed_its_check_changes_nothing():
    m = meter()
    a = ts.key_change_tokens(KEY, METER_NUMBER, bytes(range(16, 32)), 3)
    b = ts.key_change_tokens(KEY, METER_NUMBER, bytes(range(32, 48)), 3)
    for part in a[:3]:
        assert m.enter_token(part, T) == ts.RESULT_KEY_PART_STORED
    assert m.enter_token(b[3], T) == ts.RESULT_REJECT  # key check failed, parts kept
    m.saved(T)
    before, seq = m.snapshot(), m.events.next_seq
    assert m.enter_token(b[3], T) == ts.RESULT_REJECT
    assert m.enter_token(a[0], T) == ts.RESULT_REJECT
    assert _unchanged_but_events(m, before, seq) and not m.urgent and m.fail_count == 0
    assert m.enter_token(a[3], T) == ts.RESULT_ACCEPTED  # the right part still completes it
