"""Meter settings (from provisioning) and configuration (signed blob or provisioning), checked
and compiled into plain attributes the pulse path can read without allocating.

`check_settings(dict)` and `compile_config(dict, settings)` raise ConfigError (a ValueError)
with one line saying what is wrong; nothing is half-applied because the caller swaps in the new
compiled object only after it was built. The schema is documented in docs/core.md.
"""

from firmware.core import calendar
from token_spec.compat import const
from token_spec.units import MAX_SCALE

# Bounds that keep every value on the pulse path below 2**30 (docs/core.md, "Exactness").
SMALL = const(0x3FFFFFFF)  # 2**30 - 1
_MAX_PULSES_PER_KWH = const(100000)
MAX_PRICE = const(0x100000)  # 2**20 register units per kWh
_MAX_BATCH = const(8192)  # pulses handled in one pro-rata step
MAX_SPAN = const(86400)  # seconds one batch may be spread over (< 2**17, see meter._share)
_MAX_STANDING = const(0x100000)  # register units per day
MAX_AMOUNT = const(0x10000000)  # 2**28: thresholds, limits, floors
_MAX_SWITCH_POINTS = const(24)
_MAX_BLOCKS = const(8)
_MAX_HOLIDAYS = const(64)
_MAX_WINDOWS = const(16)
_UNLIMITED = const(0x3FFFFFFF)  # "no further block" marker for block lengths

DAY_TYPES = ("weekday", "weekend", "holiday")
_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ConfigError(ValueError):
    """Settings or configuration that the meter cannot use; the message says what is wrong."""


def _int(value, what, low, high):
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError("%s must be an integer in %d..%d, got %r" % (what, low, high, value))
    return value


def _get(d, key, default, what, low, high):
    return _int(d.get(key, default), what, low, high)


def _bool(d, key):
    value = d.get(key, False)
    if value is not True and value is not False:
        raise ConfigError("%s must be true or false, got %r" % (key, value))
    return value


def _minute(value, what):
    """Minutes since midnight from "HH:MM" or an int (1440 allowed as end of day)."""
    if isinstance(value, str):
        parts = value.split(":")
        if len(parts) != 2 or not parts[0].isdigit() or not parts[1].isdigit():
            raise ConfigError("%s must be HH:MM, got %r" % (what, value))
        value = int(parts[0]) * 60 + int(parts[1])
    return _int(value, what, 0, 1440)


def _weekday(value, what):
    if isinstance(value, str) and value[:3].lower() in _DAY_NAMES:
        return _DAY_NAMES.index(value[:3].lower())
    return _int(value, what, 0, 6)


def _list(value, what, most):
    if not isinstance(value, (list, tuple)) or len(value) > most:
        raise ConfigError("%s must be a list of at most %d entries" % (what, most))
    return value


def _mask(days, what):
    mask = 0
    for day in _list(days, what, 7):
        mask |= 1 << _weekday(day, what)
    return mask


def check_settings(settings):
    """Validate provisioning settings; returns a normalised copy (decoder_key as bytes)."""
    if not isinstance(settings, dict):
        raise ConfigError("settings must be a dict")
    from token_spec.meter_number import check_meter_number

    out = {}
    try:
        out["meter_number"] = check_meter_number(settings.get("meter_number"))
    except ValueError as exc:
        raise ConfigError("meter_number: " + str(exc)) from None
    key = settings.get("decoder_key")
    if isinstance(key, str):
        try:
            key = bytes.fromhex(key)
        except ValueError:
            raise ConfigError("decoder_key must be 32 hex digits") from None
    if not isinstance(key, (bytes, bytearray)) or len(key) != 16:
        raise ConfigError("decoder_key must be 16 bytes (32 hex digits)")
    out["decoder_key"] = bytes(key)
    out["key_revision"] = _get(settings, "key_revision", 0, "key_revision", 0, 255)
    # Optional: the key that signs this meter's firmware updates (token_spec/update_bundle.py).
    # Kept as hex so the settings record stores it as it is; a meter without one refuses updates.
    maintenance = settings.get("maintenance_key")
    if maintenance is not None:
        try:
            if len(bytes.fromhex(maintenance)) != 16:
                raise ValueError
        except (ValueError, TypeError):
            raise ConfigError("maintenance_key must be 32 hex digits") from None
        out["maintenance_key"] = maintenance.lower()
    unit = settings.get("unit", "currency")
    if unit not in ("currency", "kwh"):
        raise ConfigError("unit must be 'currency' or 'kwh', got %r" % (unit,))
    out["unit"] = unit
    out["scale"] = _get(settings, "scale", 100, "scale", 1, MAX_SCALE)
    out["pulses_per_kwh"] = _get(
        settings, "pulses_per_kwh", 1000, "pulses_per_kwh", 1, _MAX_PULSES_PER_KWH
    )
    if unit == "kwh" and out["scale"] > MAX_PRICE:
        raise ConfigError("scale of a kWh meter must be at most %d" % MAX_PRICE)
    out["tariff"] = settings.get("tariff", {"type": "flat", "price": out["scale"]})
    config = settings.get("config", {})
    if not isinstance(config, dict):
        raise ConfigError("config must be a dict")
    out["config"] = config
    fmt = settings.get("format", "v1")
    if fmt == "sts":  # STS tokens (docs/interfaces.md); the checks load only for STS meters
        from firmware.core.sts_state import check

        out["format"] = fmt
        out["sts"] = check(settings.get("sts"))
    elif fmt != "v1":
        raise ConfigError("format must be 'v1' or 'sts', got %r" % (fmt,))
    return out


class Config:
    """A compiled configuration: plain attributes, tuples of small ints."""

    def __init__(self, source, settings):
        self.source = source  # the dict it was compiled from (kept for snapshot_config)
        self.counter = _get(source, "counter", 0, "counter", 0, 0xFFFFFFFF)
        self.utc_offset = 60 * _get(source, "utc_offset_min", 0, "utc_offset_min", -720, 840)
        self.pulses_per_kwh = settings["pulses_per_kwh"]
        self.kwh_meter = settings["unit"] == "kwh"
        self._tariff(source.get("tariff", settings["tariff"]), settings)
        self.standing_charge = _get(
            source, "standing_charge", 0, "standing_charge", 0, _MAX_STANDING
        )
        if self.kwh_meter and self.standing_charge:
            raise ConfigError("a kWh meter has no standing charge (tariffs apply at vending)")
        self._calendar(source)
        self.low_credit = _get(source, "low_credit", 0, "low_credit", 0, MAX_AMOUNT)
        self.low_days = _get(source, "low_days", 0, "low_days", 0, 365)
        emergency = source.get("emergency", {})
        self.ec_limit = _get(emergency, "limit", 0, "emergency.limit", 0, MAX_AMOUNT)
        self.ec_offer_below = _get(
            emergency, "offer_below", self.low_credit, "emergency.offer_below", 0, MAX_AMOUNT
        )
        self.friendly_floor = _get(source, "friendly_floor", 0, "friendly_floor", 0, MAX_AMOUNT)
        self.never_disconnect = _bool(source, "never_disconnect")
        self.tamper_disconnect = _bool(source, "tamper_disconnect")
        # STS class 1 vouchers are public: opening the relay needs the signed config's consent.
        self.sts_relay_test = _bool(source, "sts_relay_test")
        power = source.get("power", {})
        self.power_limit = _get(power, "limit_w", 0, "power.limit_w", 0, 10000000)
        self.power_window = _get(power, "window_s", 60, "power.window_s", 1, 3600)
        self.power_trip_time = _get(power, "trip_s", 60, "power.trip_s", 0, 86400)
        self.power_retry = _get(power, "retry_s", 300, "power.retry_s", 1, 86400)
        self.power_backoff = _get(power, "backoff_max", 3, "power.backoff_max", 0, 8)
        self.power_reset = _get(power, "reset_s", 3600, "power.reset_s", 1, 7 * 86400)
        debt = source.get("debt", {})
        self.debt_percent = _get(debt, "percent", 0, "debt.percent", 0, 100)
        self.debt_cap = _get(debt, "cap", 0, "debt.cap", 0, MAX_AMOUNT)
        # Pulses handled per pro-rata step so that remainder + n * price < 2**30.
        batch = (SMALL - _MAX_PULSES_PER_KWH) // self.max_price
        self.batch = _MAX_BATCH if batch > _MAX_BATCH else batch

    def _tariff(self, tariff, settings):
        self.tariff_kind = "flat"
        self.flat_price = 0
        self.tou_minutes = ((0,), (0,), (0,))
        self.tou_prices = ((0,), (0,), (0,))
        self.block_ends = (_UNLIMITED,)
        self.block_prices = (0,)
        self.weekend_mask = (1 << 5) | (1 << 6)
        if self.kwh_meter:
            # One kWh costs one kWh: the tariff was applied at vending.
            self.flat_price = self.max_price = settings["scale"]
            return
        if not isinstance(tariff, dict):
            raise ConfigError("tariff must be a dict")
        kind = tariff.get("type", "flat")
        self.tariff_kind = kind
        if kind == "flat":
            self.flat_price = _get(tariff, "price", None, "tariff.price", 0, MAX_PRICE)
            self.max_price = self.flat_price
        elif kind == "tou":
            self._tou(tariff)
        elif kind == "blocks":
            self._blocks(tariff, settings["pulses_per_kwh"])
        else:
            raise ConfigError("tariff.type must be flat, tou or blocks, got %r" % (kind,))
        if self.max_price < 1:
            self.max_price = 1

    def _tou(self, tariff):
        minutes, prices = [], []
        top = 0
        previous = None
        for name in DAY_TYPES:
            # weekend defaults to the weekday table, holiday to the weekend table.
            points = tariff.get(name, previous)
            previous = points
            what = "tariff." + name
            points = _list(points, what, _MAX_SWITCH_POINTS)
            if not points:
                raise ConfigError(what + " needs at least one switch point")
            mins, pris = [], []
            for point in points:
                if not isinstance(point, (list, tuple)) or len(point) != 2:
                    raise ConfigError(what + " switch points are [HH:MM, price]")
                m = _minute(point[0], what + " time")
                if m >= 1440 or (mins and m <= mins[-1]) or (not mins and m != 0):
                    raise ConfigError(what + " times must start at 00:00 and increase")
                mins.append(m)
                pris.append(_int(point[1], what + " price", 0, MAX_PRICE))
            top = max(top, max(pris))
            minutes.append(tuple(mins))
            prices.append(tuple(pris))
        self.tou_minutes = tuple(minutes)
        self.tou_prices = tuple(prices)
        self.weekend_mask = _mask(tariff.get("weekend_days", [5, 6]), "tariff.weekend_days")
        self.max_price = top

    def _blocks(self, tariff, ppk):
        blocks = _list(tariff.get("blocks"), "tariff.blocks", _MAX_BLOCKS)
        if not blocks:
            raise ConfigError("tariff.blocks needs at least one block")
        ends, prices = [], []
        end_kwh = 0
        for i, block in enumerate(blocks):
            if not isinstance(block, (list, tuple)) or len(block) != 2:
                raise ConfigError("tariff.blocks entries are [kWh in block, price]")
            size, price = block
            last = i == len(blocks) - 1
            if last and size in (None, 0):
                ends.append(_UNLIMITED)
            else:
                end_kwh += _int(size, "tariff.blocks size (kWh)", 1, SMALL)
                if end_kwh * ppk >= _UNLIMITED:
                    raise ConfigError("tariff.blocks reach too far for pulses_per_kwh")
                ends.append(end_kwh * ppk)
            prices.append(_int(price, "tariff.blocks price", 0, MAX_PRICE))
        if ends[-1] != _UNLIMITED:
            ends[-1] = _UNLIMITED  # the last block has no end
        self.block_ends = tuple(ends)
        self.block_prices = tuple(prices)
        self.max_price = max(prices)

    def _calendar(self, source):
        holidays = []
        for text in _list(source.get("holidays", []), "holidays", _MAX_HOLIDAYS):
            try:
                holidays.append(calendar.parse_date(text))
            except ValueError as exc:
                raise ConfigError("holidays: " + str(exc)) from None
        self.holidays = tuple(sorted(holidays))
        friendly = source.get("friendly", {})
        windows = []
        for w in _list(friendly.get("windows", []), "friendly.windows", _MAX_WINDOWS):
            if not isinstance(w, dict):
                raise ConfigError("friendly.windows entries are {days, start, end}")
            start = _minute(w.get("start", 0), "friendly window start")
            end = _minute(w.get("end", 1440), "friendly window end")
            if start >= 1440 or end == 0:
                raise ConfigError("friendly window start must be < 24:00 and end > 00:00")
            windows.append((_mask(w.get("days", []), "friendly window days"), start, end))
        self.friendly_windows = tuple(windows)
        self.holiday_until = _minute(friendly.get("holiday_until", 0), "friendly.holiday_until")


def compile_config(source, settings):
    """A Config from a config dict and checked settings; ConfigError names the bad field."""
    if not isinstance(source, dict):
        raise ConfigError("config must be a dict")
    try:
        return Config(source, settings)
    except ConfigError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise ConfigError("config: " + str(exc)) from None
