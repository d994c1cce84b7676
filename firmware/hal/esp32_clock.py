"""RTC date-time tuples ↔ meter time (seconds since 2020-01-01T00:00:00Z), pure.

`machine.RTC().datetime()` returns (year, month, day, weekday, hours, minutes, seconds,
subseconds), weekday 0 = Monday. The meter never uses `time.time()`: its epoch is
port-specific (2000-01-01 on bare-metal ports, 1970 on unix), so the conversion goes through
the calendar date with integer arithmetic instead, and is the same on every interpreter.
The RTC runs in UTC; local time is the core's business (a configured offset).
"""

from firmware.core.calendar import DAY, date, days_from_civil, weekday

# Before this the RTC has not been set since it lost power (the ESP32 RTC restarts at
# 2000-01-01 without a backup supply). Meter time is never negative.
MIN_YEAR = 2020


def rtc_to_seconds(datetime_tuple):
    """Meter seconds of an RTC tuple; ValueError for a date before 2020 (clock not set)."""
    year, month, day = datetime_tuple[0], datetime_tuple[1], datetime_tuple[2]
    if year < MIN_YEAR:
        raise ValueError("RTC not set: it reads year %d" % year)
    hours, minutes, seconds = datetime_tuple[4], datetime_tuple[5], datetime_tuple[6]
    return days_from_civil(year, month, day) * DAY + hours * 3600 + minutes * 60 + seconds


def seconds_to_rtc(seconds):
    """The RTC tuple for meter seconds (subseconds 0), ready for `RTC.datetime(...)`."""
    if seconds < 0:
        raise ValueError("meter time cannot be negative")
    day, rest = divmod(seconds, DAY)
    year, month, mday = date(day)
    return (year, month, mday, weekday(day), rest // 3600, rest // 60 % 60, rest % 60, 0)
