"""calendar.py against datetime over the whole range a meter will see."""

import datetime

from hypothesis import given
from hypothesis import strategies as st

from firmware.core import calendar as cal

EPOCH = datetime.date(2020, 1, 1)


@given(st.integers(-800, 60000))
def test_matches_datetime(day):
    d = EPOCH + datetime.timedelta(days=day)
    assert cal.date(day) == (d.year, d.month, d.day)
    assert cal.days_from_civil(d.year, d.month, d.day) == day
    assert cal.weekday(day) == d.weekday()
    nxt = (d.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)
    assert cal.next_month_start(day) == (nxt - EPOCH).days
    assert cal.parse_date(d.isoformat()) == day
