"""STS token identifiers (STS.md §1.2, §5.3): minutes since a base date, in 24 bits.

Base dates are 1993-01-01, 2014-01-01 and 2035-01-01 00:00, naive local time like the issue
time (the vectors use one local clock for both). Integers only; no time module, so the meter
and the host compute the same minute.
"""

from token_spec.compat import const

BASE_YEARS = (1993, 2014, 2035)
TID_MAX = const(0xFFFFFF)  # 2**24 - 1 minutes, about 31.9 years


def _days(year, month, day):
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    return era * 146097 + (yoe * 365 + yoe // 4 - yoe // 100 + doy) - 719468


def _civil(days):
    """(year, month, day) of a day count since 1970-01-01; the inverse of _days."""
    days += 719468
    era = days // 146097
    doe = days - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (month <= 2), month, day


def check_base(base_year):
    if base_year not in BASE_YEARS:
        raise ValueError("base date must be one of 1993, 2014, 2035")
    return base_year


def check_date(year, month, day, hour, minute):
    if not (1 <= month <= 12 and 0 <= hour <= 23 and 0 <= minute <= 59 and day >= 1):
        raise ValueError("not a valid date and time")
    if _civil(_days(year, month, day)) != (year, month, day):
        raise ValueError("not a valid date and time")


def tid_from_time(year, month, day, hour, minute, base_year):
    """The TID of a local issue time; ValueError outside the base date's 24 bits."""
    check_base(base_year)
    check_date(year, month, day, hour, minute)
    minutes = (_days(year, month, day) - _days(base_year, 1, 1)) * 1440 + hour * 60 + minute
    if not 0 <= minutes <= TID_MAX:
        raise ValueError(
            "TID %d is outside the 24 bits of base date %d (%d-01-01 00:00 .. %d minutes later)"
            % (minutes, base_year, base_year, TID_MAX)
        )
    return minutes


def time_from_tid(tid, base_year):
    """(year, month, day, hour, minute) of a TID, local time like the base date."""
    check_base(base_year)
    day, minute = divmod(_days(base_year, 1, 1) * 1440 + tid, 1440)
    return _civil(day) + (minute // 60, minute % 60)


def check_tid(tid):
    if not isinstance(tid, int) or isinstance(tid, bool) or not 0 <= tid <= TID_MAX:
        raise ValueError("TID must be 0..%d (24 bits of minutes)" % TID_MAX)
    return tid


def ken_allows(tid, ken):
    """True if a key with Key Expiry Number `ken` may carry `tid` (STS.md §5.3): the top
    8 bits of the TID must not exceed KEN. KEN 255 never expires within the epoch."""
    return tid >> 16 <= ken
