"""Calendar facts checked on both interpreters (values from a printed calendar, not the code)."""

import support

from firmware.core import calendar as cal


def test_known_days():
    assert cal.days_from_civil(2020, 1, 1) == 0
    assert cal.weekday(0) == 2  # 2020-01-01 was a Wednesday
    assert cal.days_from_civil(2020, 12, 31) == 365  # 2020 is a leap year
    assert cal.days_from_civil(2021, 1, 1) == 366
    assert cal.weekday(cal.days_from_civil(2026, 3, 2)) == 0  # a Monday
    assert cal.weekday(cal.days_from_civil(2054, 1, 1)) == 3  # a Thursday
    assert cal.date(cal.days_from_civil(2024, 2, 29)) == (2024, 2, 29)
    assert cal.date(cal.days_from_civil(2100, 2, 28) + 1) == (2100, 3, 1)  # 2100: no leap day
    assert cal.date(-1) == (2019, 12, 31)


def test_month_starts_and_dates():
    day = cal.days_from_civil(2026, 12, 31)
    assert cal.date(cal.month_start(day)) == (2026, 12, 1)
    assert cal.date(cal.next_month_start(day)) == (2027, 1, 1)
    feb = cal.days_from_civil(2028, 2, 29)
    assert cal.date(cal.next_month_start(feb)) == (2028, 3, 1)
    assert cal.format_date(feb) == "2028-02-29"
    assert cal.parse_date("2028-02-29") == feb
    for bad in ("2027-02-29", "2026-13-01", "26-1-1x", "yesterday"):
        support.raises(ValueError, cal.parse_date, bad)


def test_minutes_of_day():
    assert cal.minute_of_day(cal.DAY * 10 + 18 * 3600 + 59) == 18 * 60
    assert cal.day_number(cal.DAY * 10 - 1) == 9
