"""Helpers for the meter-core tests (both interpreters): settings, meters, tokens, times."""

from firmware.core.calendar import DAY, days_from_civil
from firmware.core.meter import Meter
from token_spec import encode_token, make_meter_number

METER_NUMBER = make_meter_number("0412345678")
KEY = bytes(range(16))
# 2026-03-02 00:00 UTC is a Monday.
MONDAY = days_from_civil(2026, 3, 2) * DAY
HOUR = 3600

TOU_EIGHT = {
    "type": "tou",
    "weekday": [
        ["00:00", 10],
        ["06:00", 20],
        ["07:30", 25],
        ["09:00", 18],
        ["12:00", 17],
        ["17:00", 30],
        ["20:00", 22],
        ["22:00", 12],
    ],
    "weekend": [["00:00", 9], ["08:00", 14], ["23:00", 9]],
    "holiday": [["00:00", 5]],
}


# Weekday evenings and weekends friendly, a holiday, emergency credit and a friendly floor.
FRIENDLY_TEST_CONFIG = {
    "friendly": {
        "windows": [
            {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "18:00", "end": "08:00"},
            {"days": ["sat", "sun"], "start": "00:00", "end": "24:00"},
        ],
        "holiday_until": "09:00",
    },
    "holidays": ["2026-03-04"],
    "friendly_floor": 100,
    "emergency": {"limit": 50, "offer_below": 20},
    "low_credit": 30,
    "debt": {"percent": 25},
    "tamper_disconnect": True,
}


def settings(tariff=None, config=None, unit="currency", scale=100, ppk=1000):
    """Provisioning settings for the test meter."""
    out = {
        "meter_number": METER_NUMBER,
        "decoder_key": KEY,
        "key_revision": 1,
        "unit": unit,
        "scale": scale,
        "pulses_per_kwh": ppk,
        "tariff": tariff or {"type": "flat", "price": 15},
    }
    if config is not None:
        out["config"] = config
    return out


def meter(now=MONDAY, credit=0, **kwargs):
    """A booted meter at `now`, optionally topped up with `credit` by a real token."""
    m = Meter(settings(**kwargs), now)
    m.boot(now)
    if credit:
        assert m.enter_token(token(0, credit, now), now) == "accepted"
    return m


_last_tid = [0]


def token(token_type, value, now, key=KEY, tid=None):
    """A token for the test meter; successive calls get increasing TIDs near `now`."""
    if tid is None:
        tid = max(now // 60, _last_tid[0] + 1)
        _last_tid[0] = tid
    return encode_token(key, METER_NUMBER, token_type, value, tid)


def kinds(m, kind, after=0):
    """The events of one kind recorded after sequence number `after`."""
    return [e for e in m.events.since(after) if e[2] == kind]
