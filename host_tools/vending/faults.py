"""Numbered crash points for the kill test: PREPAY_VEND_CRASH_AT=N makes the process die
(os._exit, no cleanup, like SIGKILL) when it reaches point N. Unset in production: a no-op."""

import os

CRASH_EXIT = 86
CRASH_POINTS = 6  # numbered 1..6 along the vend path (see vend.sell)
VARIABLE = "PREPAY_VEND_CRASH_AT"


def _inert(_number):
    pass


def crash_points():
    """The crash function for one vend: `crash(N)` dies at point N if the environment asks
    for it. The variable is read once per vend, not at every point (it is on the hot path)."""
    wanted = os.environ.get(VARIABLE)
    if wanted is None:
        return _inert

    def crash(number):
        if str(number) == wanted:
            os._exit(CRASH_EXIT)

    return crash
