"""Numbered crash points for the kill test: PREPAY_VEND_CRASH_AT=N makes the process die
(os._exit, no cleanup, like SIGKILL) when it reaches point N. Unset in production: a no-op."""

import os

CRASH_EXIT = 86
CRASH_POINTS = 6  # numbered 1..6 along the vend path (see vend.sell)


def crash_point(number):
    """Die here if the environment asks for it."""
    wanted = os.environ.get("PREPAY_VEND_CRASH_AT")
    if wanted is not None and wanted == str(number):
        os._exit(CRASH_EXIT)
