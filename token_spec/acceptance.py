"""Meter-side entry rules that are part of the format (SPEC.md §8): the lockout schedule.

The meter core keeps the counter and the deadline in its persisted registers; this module only
says how long a lockout lasts, so the keypad, the serial port and the tests share one rule.
"""

from token_spec.compat import const

LOCKOUT_FREE_TRIES = const(3)  # consecutive rejects without any lockout
_LOCKOUT_BASE_SECONDS = const(10)  # lockout after the first reject past the free tries
LOCKOUT_MAX_SECONDS = const(1280)  # cap: about 21 minutes


def lockout_seconds(consecutive_rejects):
    """Seconds of lockout that start when the `consecutive_rejects`-th reject in a row happens.

    0 for the free tries, then 10, 20, 40, ... doubling up to 1280 s."""
    excess = consecutive_rejects - LOCKOUT_FREE_TRIES
    if excess <= 0:
        return 0
    if excess > 8:
        return LOCKOUT_MAX_SECONDS
    return min(_LOCKOUT_BASE_SECONDS << (excess - 1), LOCKOUT_MAX_SECONDS)


def lockout_remaining(locked_until, now):
    """Seconds of lockout left at `now` (0 = entry allowed), never more than the cap: if the
    clock was set back, a stored deadline may lie further ahead, and the meter then stores
    now + the returned value as its new deadline."""
    left = locked_until - now
    if left <= 0:
        return 0
    return left if left < LOCKOUT_MAX_SECONDS else LOCKOUT_MAX_SECONDS
