"""Void tokens on the meter (SPEC.md §5.8), under both interpreters."""

from core_fixtures import MONDAY, kinds, meter, token

import token_spec as ts
from firmware.core import events as ev
from firmware.core.void import DEBT_ADDED_BY_VOID

T = MONDAY + 600
SALE_TID = T // 60 + 10


def _sale(amount=500):
    return token(ts.TYPE_CREDIT, amount, T, tid=SALE_TID)


def _void(amount=500, target=SALE_TID):
    return token(ts.TYPE_VOID, amount, T, tid=ts.void_tid(target))


def test_void_before_entry_makes_the_token_used_and_gives_nothing():
    m = meter()
    assert m.enter_token(_void(), T) == ts.RESULT_ACCEPTED
    assert m.credit == 0 and m.debt == 0
    assert m.enter_token(_sale(), T + 1) == ts.RESULT_USED
    assert m.credit == 0 and m.debt == 0


def test_void_after_entry_puts_exactly_the_amount_on_the_debt():
    m = meter(credit=200)
    assert m.enter_token(_sale(), T) == ts.RESULT_ACCEPTED
    assert m.credit == 700
    assert m.enter_token(_void(), T + 1) == ts.RESULT_ACCEPTED
    assert m.debt == 500 and m.credit == 700  # credit untouched: debt rules recover it
    assert [(e[3], e[4]) for e in kinds(m, ev.DEBT)] == [(DEBT_ADDED_BY_VOID, 500)]


def test_a_void_entered_twice_is_used_and_changes_nothing():
    for entered in (False, True):
        m = meter()
        if entered:
            m.enter_token(_sale(), T)
        assert m.enter_token(_void(), T + 1) == ts.RESULT_ACCEPTED
        before = (m.credit, m.debt)
        assert m.enter_token(_void(), T + 2) == ts.RESULT_USED
        assert (m.credit, m.debt) == before


def test_void_of_a_token_older_than_the_memory_is_old_and_changes_nothing():
    m = meter()
    first = SALE_TID + 100
    for i in range(ts.TID_MEMORY_SIZE):
        assert m.enter_token(token(ts.TYPE_CREDIT, 1, T, tid=first + 2 * i), T) == "accepted"
    tids = list(m.tids)
    assert m.enter_token(_void(1, SALE_TID + 50), T) == ts.RESULT_OLD
    assert m.debt == 0 and m.tids == tids


def test_void_overflowing_the_debt_register_is_refused():
    m = meter()
    m.enter_token(_sale(16383000), T)
    m.debt = 0x3FFFFFFF - 100
    assert m.enter_token(_void(16383000), T + 1) == ts.RESULT_OVERFLOW
    assert m.debt == 0x3FFFFFFF - 100


def test_void_for_amount_zero_is_not_a_token():
    try:
        ts.encode_token(b"k" * 16, "01234567897", ts.TYPE_VOID, 0, 100)
    except ValueError:
        pass
    else:
        raise AssertionError("a void for 0 was encoded")
