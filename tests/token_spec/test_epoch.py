"""token_spec.epoch against the standard library's calendar (CPython only: datetime)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from host_tools.vending.clock import Stamp
from token_spec.epoch import EPOCH_UNIX, meter_time


def test_epoch_is_2020_01_01_utc():
    assert datetime(2020, 1, 1, tzinfo=UTC).timestamp() == EPOCH_UNIX


@given(st.integers(0, 2**32), st.integers(-12 * 60, 14 * 60))
def test_datetime_and_unix_time_give_the_same_meter_time(seconds, offset_minutes):
    when = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    local = when.astimezone(timezone(timedelta(minutes=offset_minutes)))
    assert meter_time(local) == seconds == meter_time(EPOCH_UNIX + seconds)


def test_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        meter_time(datetime(2024, 1, 1))


def test_station_stamp_tid_is_minutes_since_the_epoch():
    stamp = Stamp(UTC, datetime(2024, 11, 24, 0, 1, 30, tzinfo=UTC))
    assert stamp.tid == 1789 * 1440 + 1
