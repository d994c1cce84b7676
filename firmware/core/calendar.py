"""Calendar arithmetic on meter time (seconds since 2020-01-01T00:00:00Z), integers only.

Everything here is pure and allocation-free except `date()` and `parse_date()` (they build a
tuple / parse text, so they stay off the pulse path). Day numbers count days since 2020-01-01,
so day 0 is a Wednesday. Local time is meter time plus the configured UTC offset; callers pass
local seconds where a function says so.
"""

from token_spec.compat import const

DAY = const(86400)
# 2020-01-01 was a Wednesday; weekdays are 0 = Monday ... 6 = Sunday.
_EPOCH_WEEKDAY = const(2)
# Days from 0000-03-01 (proleptic Gregorian) to 2020-01-01, for Hinnant's civil algorithms.
_EPOCH_SHIFT = const(737730)


def day_number(local_seconds):
    """Day number (days since 2020-01-01) of a local time."""
    return local_seconds // DAY


def weekday(day):
    """Weekday of a day number: 0 = Monday ... 6 = Sunday."""
    return (day + _EPOCH_WEEKDAY) % 7


def minute_of_day(local_seconds):
    """Minutes since local midnight (0..1439)."""
    return (local_seconds % DAY) // 60


def days_from_civil(year, month, day):
    """Day number of a Gregorian date (inverse of `ymd`)."""
    if month <= 2:
        year -= 1
    era = year // 400
    yoe = year - era * 400
    mp = month - 3 if month > 2 else month + 9
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - _EPOCH_SHIFT


def ymd(day):
    """The date of a day number packed as one int: year * 10000 + month * 100 + day.

    Packed so the pulse path can find month boundaries without building a tuple.
    """
    z = day + _EPOCH_SHIFT
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y = yoe + era * 400 + (1 if m <= 2 else 0)
    return y * 10000 + m * 100 + d


def date(day):
    """(year, month, day) of a day number."""
    packed = ymd(day)
    return packed // 10000, packed // 100 % 100, packed % 100


def month_start(day):
    """Day number of the 1st of the month containing `day`."""
    return day - ymd(day) % 100 + 1


def next_month_start(day):
    """Day number of the 1st of the month after the one containing `day`."""
    first = month_start(day)
    # Every month has at least 28 days, so 1st + 31 is always in the next month.
    return month_start(first + 31)


def parse_date(text):
    """Day number of an ISO date "YYYY-MM-DD"; ValueError saying what is wrong otherwise."""
    from token_spec.config_schema import check_date

    return days_from_civil(*check_date(text))


def format_date(day):
    """ISO "YYYY-MM-DD" of a day number."""
    y, m, d = date(day)
    return "%04d-%02d-%02d" % (y, m, d)
