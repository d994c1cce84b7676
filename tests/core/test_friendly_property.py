"""policy.in_friendly against a reference written with datetime, for random windows."""

import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware.core import policy
from firmware.core.config import compile_config
from tests.shared.core_fixtures import MONDAY
from tests.shared.core_fixtures import settings as meter_settings

EPOCH = datetime.datetime(2020, 1, 1)

windows = st.lists(
    st.fixed_dictionaries(
        {
            "days": st.lists(st.integers(0, 6), max_size=7),
            "start": st.integers(0, 1439),
            "end": st.integers(1, 1440),
        }
    ),
    max_size=4,
)


def reference(config, t):
    moment = EPOCH + datetime.timedelta(seconds=t + config["utc_offset_min"] * 60)
    minute = moment.hour * 60 + moment.minute
    holidays = {datetime.date.fromisoformat(d) for d in config["holidays"]}
    if moment.date() in holidays:
        return True
    until = config["friendly"]["holiday_until"]
    if minute < until and moment.date() - datetime.timedelta(days=1) in holidays:
        return True
    wd = moment.weekday()
    for w in config["friendly"]["windows"]:
        if w["start"] < w["end"]:
            if wd in w["days"] and w["start"] <= minute < w["end"]:
                return True
        elif (wd in w["days"] and minute >= w["start"]) or (
            (wd - 1) % 7 in w["days"] and minute < w["end"]
        ):
            return True
    return False


@settings(max_examples=400, deadline=None)
@given(
    windows=windows,
    holidays=st.lists(st.integers(0, 20), max_size=3),
    until=st.integers(0, 1440),
    offset=st.integers(-720, 840),
    times=st.lists(st.integers(-3 * 86400, 20 * 86400), min_size=1, max_size=30),
)
def test_in_friendly_matches_reference(windows, holidays, until, offset, times):
    dates = [(EPOCH + datetime.timedelta(seconds=MONDAY, days=d)).date() for d in holidays]
    config = {
        "utc_offset_min": offset,
        "holidays": [d.isoformat() for d in dates],
        "friendly": {"windows": windows, "holiday_until": until},
    }
    cfg = compile_config(config, meter_settings())
    for dt in times:
        t = MONDAY + dt
        assert policy.in_friendly(cfg, t) == reference(config, t)
