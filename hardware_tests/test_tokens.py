"""Token results as a customer sees them: accepted, reject, used, old, locked (and the lockout
surviving a reset)."""

from hardware_tests.bench import METER
from token_spec import LOCKOUT_FREE_TRIES, TID_MEMORY_SIZE, encode_token
from token_spec.types import TYPE_CREDIT


def test_accepted_token_adds_its_credit(meter):
    start = meter.start_from_zero()
    assert start["credit"] == 0
    assert meter.enter(meter.token(250)) == "accepted"  # 2.50
    st = meter.status()
    assert st["credit"] == 250 and st["credit_text"] == "2.50"


def test_token_for_another_key_is_rejected(meter):
    meter.start_from_zero()
    wrong = encode_token(bytes(16), METER, TYPE_CREDIT, 500, meter.next_tid())
    assert meter.enter(wrong) == "reject"
    assert meter.status()["credit"] == 0
    assert meter.status()["lockout"]["failures"] == 1
    assert meter.enter(meter.token(1)) == "accepted"  # an authentic token ends the run
    assert meter.status()["lockout"]["failures"] == 0


def test_token_entered_twice_is_used(meter):
    meter.start_from_zero()
    token = meter.token(100)
    assert meter.enter(token) == "accepted"
    assert meter.enter(token) == "used"
    assert meter.status()["credit"] == 100


def test_token_older_than_the_memory_is_old(meter):
    meter.start_from_zero()
    first = meter.next_tid()
    # Fill the TID memory with newer tokens; `first - 1` is then older than all it holds.
    for i in range(TID_MEMORY_SIZE):
        assert meter.enter(meter.token(1, tid=first + i)) == "accepted"
    assert meter.enter(meter.token(1, tid=first - 1)) == "old"
    assert meter.status()["credit"] == TID_MEMORY_SIZE


def test_lockout_after_wrong_entries_survives_a_reset(meter):
    meter.start_from_zero()
    # The free tries, then the one wrong entry that starts the lock (token_spec SPEC §8.3).
    wrong_entries = LOCKOUT_FREE_TRIES + 1
    results = []
    for _ in range(wrong_entries):
        wrong = encode_token(bytes(16), METER, TYPE_CREDIT, 100, meter.next_tid())
        results.append(meter.enter(wrong))
    assert results == ["reject"] * wrong_entries
    good = meter.token(100)
    assert meter.enter(good) == "locked"
    locked = meter.status()["lockout"]
    assert locked["seconds_left"] > 0 and locked["failures"] == wrong_entries

    meter.reset()
    after = meter.status()["lockout"]
    assert after["failures"] == wrong_entries and after["until"] == locked["until"]
    assert meter.enter(good) == "locked"

    meter.advance(after["seconds_left"] + 1)
    assert meter.enter(good) == "accepted"
    assert meter.status()["lockout"]["failures"] == 0
    assert meter.status()["credit"] == 100
