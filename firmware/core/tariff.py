"""Price lookup for the pulse path: which price applies at a local time, and until when.

Every function returns one small int so the pulse path can call them without allocating.
Prices are register units per kWh; `cfg` is a compiled `config.Config`.
"""

from firmware.core.calendar import DAY, weekday
from token_spec.compat import const

_WEEKDAY = const(0)
_WEEKEND = const(1)
_HOLIDAY = const(2)


def day_type(cfg, day):
    """_WEEKDAY, _WEEKEND or _HOLIDAY for a local day number (a holiday wins over a weekend)."""
    if day in cfg.holidays:
        return _HOLIDAY
    if (cfg.weekend_mask >> weekday(day)) & 1:
        return _WEEKEND
    return _WEEKDAY


def _tou_slot(minutes, minute):
    # Index of the last switch point at or before `minute` (the first is always 00:00).
    i = len(minutes) - 1
    while minutes[i] > minute:
        i -= 1
    return i


def time_price(cfg, local):
    """The price at a local time for flat and TOU tariffs; a TOU-with-blocks tariff adds the
    block's price to it (meter._set_block); a plain block tariff's time price is 0."""
    if not cfg.has_tou:
        return cfg.flat_price
    kind = day_type(cfg, local // DAY)
    minutes = cfg.tou_minutes[kind]
    return cfg.tou_prices[kind][_tou_slot(minutes, (local % DAY) // 60)]


def price_until(cfg, local):
    """Local time at which the time-dependent price may next change (at the latest midnight)."""
    day = local // DAY
    midnight = (day + 1) * DAY
    if not cfg.has_tou:
        return midnight
    minutes = cfg.tou_minutes[day_type(cfg, day)]
    i = _tou_slot(minutes, (local % DAY) // 60)
    if i + 1 < len(minutes):
        return day * DAY + minutes[i + 1] * 60
    return midnight


def block_index(cfg, month_pulses):
    """Index of the inclining block that the next pulse of this month falls in."""
    ends = cfg.block_ends
    i = 0
    while month_pulses >= ends[i]:
        i += 1
    return i
