"""Void tokens on the meter (SPEC.md §5.8, docs/core.md "Void tokens").

A void token names the token with the TID one below its own. If that token was never entered,
its TID is remembered, so it answers `used` from now on and gives nothing. If it was entered,
the voided amount is added to the debt register: exactly the value that token added, never
more, recovered only from later top-ups by the meter's debt rules, so credit bought by the
customer's other payments is never taken. The void's own TID is checked and remembered by
tokens.py like any token's, so entering a void twice answers `used`.
"""

import token_spec.errors as te
from firmware.core import events as ev
from token_spec.tid import remember_tid, tid_status
from token_spec.void import voided_tid

DEBT_ADDED_BY_VOID = 1  # a DEBT event's `a` when a void put the amount on the debt register
_DEBT_MAX = 0x3FFFFFFF


def apply_void(m, void_full_tid, amount, now):
    """The result of a void token (full TID already checked as unused) on meter m."""
    target = voided_tid(void_full_tid)
    seen = tid_status(target, m.tids)
    if seen == te.RESULT_OLD:
        return te.RESULT_OLD  # older than the TID memory: it can no longer be entered anyway
    if seen == te.RESULT_USED:
        if m.debt + amount > _DEBT_MAX:
            return te.RESULT_OVERFLOW
        m.debt += amount
        m.events.record(now, ev.DEBT, DEBT_ADDED_BY_VOID, amount)
    else:
        remember_tid(target, m.tids)  # never entered: it can no longer be
    return te.RESULT_ACCEPTED
