"""`time.ticks_diff` / `time.ticks_add` arithmetic: the one copy for app, HAL and simulator.

MicroPython's `time.ticks_ms()` wraps at 2**30 on every port; code that takes tick values as
arguments (real ticks on the board, plain ints in tests, `time.monotonic()` milliseconds on
CPython) does the wrap-safe arithmetic here, so it runs the same on CPython, which has no
`time.ticks_*`. Differences must stay within +-2**29 ms (about 6 days), as on a board.
"""

from token_spec.compat import const

_PERIOD = const(1 << 30)
_HALF = const(1 << 29)


def ticks_diff(end, start):
    """Signed `end - start` in ticks, correct across the wrap (like time.ticks_diff)."""
    return ((end - start + _HALF) & (_PERIOD - 1)) - _HALF


def ticks_add(ticks, delta):
    """`ticks + delta` wrapped like time.ticks_add."""
    return (ticks + delta) & (_PERIOD - 1)
