"""The token epoch, 2020-01-01T00:00:00Z: meter time and TIDs count from it (SPEC.md §7).

The one definition for the station, the CLI and the simulated meter's clock. A board's clock
converts its RTC with firmware/core/calendar.py, whose day 0 is this same date.
"""

from token_spec.compat import const

# The token epoch in Unix seconds (datetime(2020, 1, 1, tzinfo=UTC).timestamp()).
EPOCH_UNIX = const(1577836800)


def meter_time(when=None):
    """Meter time (whole seconds since the token epoch) for a Unix time in seconds, an aware
    datetime, or None for now."""
    if when is None:
        import time

        when = time.time()
    elif hasattr(when, "timestamp"):  # a datetime (host only: MicroPython has none)
        if when.tzinfo is None:
            raise ValueError("when must be timezone-aware")
        when = when.timestamp()
    return int(when - EPOCH_UNIX)
