"""The one schema of a meter's configuration, shared by the station (before it signs) and the
meter (before it applies): every key, its type and its bounds, in one place.

`check_config(source, unit, pulses_per_kwh)` returns the configuration normalised (every
default filled in, times as minutes, weekdays as bit masks, holidays as (y, m, d)) or raises
ConfigSchemaError with one line naming the key. Unknown keys are refused at every level: a typo
(`never_disconect`) must never pass as "not set", because a config replaces the whole previous
one. The meter compiles the normalised dict into its pulse-path attributes (firmware/core/
config.py); the station signs the source only once this accepted it (host_tools/vending/
meter_config.py). Runs unchanged on MicroPython: no f-strings, no typing. Schema: docs/core.md.
"""

from token_spec.compat import const

SMALL = const(0x3FFFFFFF)  # 2**30 - 1: pulse-path values stay below it (docs/core.md)
MAX_PULSES_PER_KWH = const(100000)
MAX_PRICE = const(0x100000)  # 2**20 register units per kWh
MAX_STANDING = const(0x100000)  # register units per day
MAX_LIMIT = const(0x10000000)  # 2**28: thresholds, limits, floors
MAX_SWITCH_POINTS = const(24)
MAX_BLOCKS = const(8)
MAX_HOLIDAYS = const(64)
MAX_WINDOWS = const(16)

DAY_TYPES = ("weekday", "weekend", "holiday")
TARIFF_TYPES = ("flat", "tou", "blocks", "tou_blocks")
_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Plain integer keys: (key, default, low, high). A default of None means "another key's value"
# (emergency.offer_below defaults to low_credit), filled in by check_config.
_INTS = (
    ("counter", 0, 0, 0xFFFFFFFF),
    ("utc_offset_min", 0, -720, 840),
    ("standing_charge", 0, 0, MAX_STANDING),
    ("low_credit", 0, 0, MAX_LIMIT),
    ("low_days", 0, 0, 365),
    ("friendly_floor", 0, 0, MAX_LIMIT),
)
_GROUPS = (
    ("emergency", (("limit", 0, 0, MAX_LIMIT), ("offer_below", None, 0, MAX_LIMIT))),
    (
        "power",
        (
            ("limit_w", 0, 0, 10000000),
            ("window_s", 60, 1, 3600),
            ("trip_s", 60, 0, 86400),
            ("retry_s", 300, 1, 86400),
            ("backoff_max", 3, 0, 8),
            ("reset_s", 3600, 1, 7 * 86400),
        ),
    ),
    ("debt", (("percent", 0, 0, 100), ("cap", 0, 0, MAX_LIMIT))),
)
# sts_relay_test: an STS meter accepts relay-test vouchers (firmware/core/tokens.py).
BOOLS = ("never_disconnect", "tamper_disconnect", "sts_relay_test")
_STRUCTURED = ("tariff", "holidays", "friendly")
_TARIFF_KEYS = {
    "flat": ("type", "price"),
    "tou": ("type", "weekday", "weekend", "holiday", "weekend_days"),
    "blocks": ("type", "blocks"),
    "tou_blocks": ("type", "weekday", "weekend", "holiday", "weekend_days", "blocks"),
}


class ConfigSchemaError(ValueError):
    """A configuration the meter must not apply; the message names the key."""


def _keys():
    names = [k for k, _, _, _ in _INTS] + [g for g, _ in _GROUPS] + list(BOOLS)
    return tuple(names + list(_STRUCTURED))


KEYS = _keys()


def _refuse_unknown(d, allowed, where):
    for key in d:
        if key not in allowed:
            raise ConfigSchemaError(
                "unknown key %r%s (known: %s)" % (key, where, ", ".join(sorted(allowed)))
            )


def check_int(value, what, low, high):
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigSchemaError(
            "%s must be an integer in %d..%d, got %r" % (what, low, high, value)
        )
    return value


def _dict(value, what):
    if not isinstance(value, dict):
        raise ConfigSchemaError("%s must be an object" % what)
    return value


def _list(value, what, most):
    if not isinstance(value, (list, tuple)) or len(value) > most:
        raise ConfigSchemaError("%s must be a list of at most %d entries" % (what, most))
    return value


def minute(value, what):
    """Minutes since midnight from "HH:MM" or an int (1440 allowed as end of day)."""
    if isinstance(value, str):
        parts = value.split(":")
        if len(parts) != 2 or not parts[0].isdigit() or not parts[1].isdigit():
            raise ConfigSchemaError("%s must be HH:MM, got %r" % (what, value))
        if int(parts[1]) > 59:
            raise ConfigSchemaError("%s must be HH:MM, got %r" % (what, value))
        value = int(parts[0]) * 60 + int(parts[1])
    return check_int(value, what, 0, 1440)


def _weekday(value, what):
    if isinstance(value, str) and value[:3].lower() in _DAY_NAMES:
        return _DAY_NAMES.index(value[:3].lower())
    return check_int(value, what, 0, 6)


def day_mask(days, what):
    mask = 0
    for day in _list(days, what, 7):
        mask |= 1 << _weekday(day, what)
    return mask


def check_date(text):
    """(year, month, day) of an ISO date "YYYY-MM-DD"; ValueError saying what is wrong."""
    parts = str(text).split("-")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ConfigSchemaError("bad date %r: expected YYYY-MM-DD" % (text,))
    year, month, day = int(parts[0]), int(parts[1]), int(parts[2])
    if not 1 <= month <= 12:
        raise ConfigSchemaError("bad date %r: month or day out of range" % (text,))
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]
    if not 1 <= day <= 31:
        raise ConfigSchemaError("bad date %r: month or day out of range" % (text,))
    if day > days:
        raise ConfigSchemaError("bad date %r: no such day" % (text,))
    return year, month, day


def _ints(d, spec, prefix, fallback=0):
    out = {}
    for key, default, low, high in spec:
        value = d.get(key, fallback if default is None else default)
        out[key] = check_int(value, prefix + key, low, high)
    return out


def _tou_tables(tariff):
    """[(minutes tuple, prices tuple)] for weekday, weekend, holiday; and the weekend mask."""
    tables = []
    previous = None
    for name in DAY_TYPES:
        # weekend defaults to the weekday table, holiday to the weekend table.
        points = tariff.get(name, previous)
        previous = points
        what = "tariff." + name
        points = _list(points, what, MAX_SWITCH_POINTS)
        if not points:
            raise ConfigSchemaError(what + " needs at least one switch point")
        mins, prices = [], []
        for point in points:
            if not isinstance(point, (list, tuple)) or len(point) != 2:
                raise ConfigSchemaError(what + " switch points are [HH:MM, price]")
            m = minute(point[0], what + " time")
            if m >= 1440 or (mins and m <= mins[-1]) or (not mins and m != 0):
                raise ConfigSchemaError(what + " times must start at 00:00 and increase")
            mins.append(m)
            prices.append(check_int(point[1], what + " price", 0, MAX_PRICE))
        tables.append((tuple(mins), tuple(prices)))
    return tables, day_mask(tariff.get("weekend_days", [5, 6]), "tariff.weekend_days")


def _blocks(tariff, pulses_per_kwh):
    """[(block end in pulses, or None for the open last block; price)]."""
    blocks = _list(tariff.get("blocks"), "tariff.blocks", MAX_BLOCKS)
    if not blocks:
        raise ConfigSchemaError("tariff.blocks needs at least one block")
    out = []
    end_kwh = 0
    for i, block in enumerate(blocks):
        if not isinstance(block, (list, tuple)) or len(block) != 2:
            raise ConfigSchemaError("tariff.blocks entries are [kWh in block, price]")
        size, price = block
        price = check_int(price, "tariff.blocks price", 0, MAX_PRICE)
        if i == len(blocks) - 1:
            out.append((None, price))  # the last block has no end
            break
        end_kwh += check_int(size, "tariff.blocks size (kWh)", 1, SMALL)
        if end_kwh * pulses_per_kwh >= SMALL:
            raise ConfigSchemaError("tariff.blocks reach too far for pulses_per_kwh")
        out.append((end_kwh * pulses_per_kwh, price))
    return out


def check_tariff(tariff, pulses_per_kwh):
    """The normalised tariff: {"type", "price"} | {"type", "tables", "weekend_mask"} |
    {"type", "blocks"} | both for "tou_blocks" (a block's price is added to the time price)."""
    tariff = _dict(tariff, "tariff")
    kind = tariff.get("type", "flat")
    if kind not in TARIFF_TYPES:
        raise ConfigSchemaError(
            "tariff.type must be one of %s, got %r" % (", ".join(TARIFF_TYPES), kind)
        )
    _refuse_unknown(tariff, _TARIFF_KEYS[kind], " in tariff (type %s)" % kind)
    out = {"type": kind}
    if kind == "flat":
        out["price"] = check_int(tariff.get("price"), "tariff.price", 0, MAX_PRICE)
    if kind in ("tou", "tou_blocks"):
        out["tables"], out["weekend_mask"] = _tou_tables(tariff)
    if kind in ("blocks", "tou_blocks"):
        out["blocks"] = _blocks(tariff, pulses_per_kwh)
    if kind == "tou_blocks":
        top = max(max(p) for _, p in out["tables"]) + max(p for _, p in out["blocks"])
        if top > MAX_PRICE:
            raise ConfigSchemaError("tariff: time price plus block price exceeds %d" % MAX_PRICE)
    return out


def _friendly(friendly):
    friendly = _dict(friendly, "friendly")
    _refuse_unknown(friendly, ("windows", "holiday_until"), " in friendly")
    windows = []
    for w in _list(friendly.get("windows", []), "friendly.windows", MAX_WINDOWS):
        if not isinstance(w, dict):
            raise ConfigSchemaError("friendly.windows entries are {days, start, end}")
        _refuse_unknown(w, ("days", "start", "end"), " in a friendly window")
        start = minute(w.get("start", 0), "friendly window start")
        end = minute(w.get("end", 1440), "friendly window end")
        if start >= 1440 or end == 0:
            raise ConfigSchemaError("friendly window start must be < 24:00 and end > 00:00")
        windows.append((day_mask(w.get("days", []), "friendly window days"), start, end))
    holiday_until = minute(friendly.get("holiday_until", 0), "friendly.holiday_until")
    return {"windows": windows, "holiday_until": holiday_until}


def known_only(source):
    """`source` without the keys this schema does not know (top level and groups): only for a
    config the meter already holds from older firmware, which took unknown keys silently;
    dropping them keeps its meaning. Never for a config about to be signed or applied."""
    out = {}
    groups = dict(_GROUPS)
    for key, value in source.items():
        if key in groups and isinstance(value, dict):
            names = [k for k, _, _, _ in groups[key]]
            value = dict((k, v) for k, v in value.items() if k in names)
        if key in KEYS:
            out[key] = value
    return out


def check_config(source, unit="currency", pulses_per_kwh=1000, default_tariff=None):
    """The normalised configuration, or ConfigSchemaError naming the key that is wrong.

    A kWh meter takes no tariff and no standing charge (tariffs apply at vending); a currency
    meter without a tariff key keeps `default_tariff` (the one it was provisioned with).
    """
    source = _dict(source, "config")
    _refuse_unknown(source, KEYS, "")
    out = _ints(source, _INTS, "")
    for group, spec in _GROUPS:
        d = _dict(source.get(group, {}), group)
        _refuse_unknown(d, [k for k, _, _, _ in spec], " in " + group)
        # emergency.offer_below defaults to low_credit.
        out[group] = _ints(d, spec, group + ".", out["low_credit"])
    for key in BOOLS:
        value = source.get(key, False)
        if value is not True and value is not False:
            raise ConfigSchemaError("%s must be true or false, got %r" % (key, value))
        out[key] = value
    holidays = _list(source.get("holidays", []), "holidays", MAX_HOLIDAYS)
    out["holidays"] = [check_date(text) for text in holidays]
    out["friendly"] = _friendly(source.get("friendly", {}))
    if unit == "kwh":
        if "tariff" in source:
            raise ConfigSchemaError("tariff: a kWh meter takes no tariff (applied at vending)")
        if out["standing_charge"]:
            raise ConfigSchemaError(
                "standing_charge: a kWh meter has no standing charge (applied at vending)"
            )
        out["tariff"] = None
    else:
        tariff = source.get("tariff", default_tariff)
        out["tariff"] = check_tariff(tariff if tariff is not None else {}, pulses_per_kwh)
    return out
