"""Meter settings (from provisioning) and configuration (signed blob or provisioning), checked
and compiled into plain attributes the pulse path can read without allocating.

`check_settings(dict)` and `compile_config(dict, settings)` raise ConfigError (a ValueError)
with one line saying what is wrong; nothing is half-applied because the caller swaps in the new
compiled object only after it was built. The schema is documented in docs/core.md.
"""

import token_spec.config_schema as schema
from firmware.core import calendar
from token_spec.compat import const
from token_spec.config_schema import MAX_PRICE, SMALL
from token_spec.units import MAX_SCALE

# Bounds that keep every value on the pulse path below 2**30 (docs/core.md, "Exactness");
# the configuration's keys and bounds are the shared schema's (token_spec/config_schema.py).
_MAX_BATCH = const(8192)  # pulses handled in one pro-rata step
MAX_SPAN = const(86400)  # seconds one batch may be spread over (< 2**17, see meter._share)
_UNLIMITED = const(0x3FFFFFFF)  # "no further block" marker for block lengths


class ConfigError(ValueError):
    """Settings or configuration that the meter cannot use; the message says what is wrong."""


def _int(value, what, low, high):
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError("%s must be an integer in %d..%d, got %r" % (what, low, high, value))
    return value


def _get(d, key, default, what, low, high):
    return _int(d.get(key, default), what, low, high)


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
        settings, "pulses_per_kwh", 1000, "pulses_per_kwh", 1, schema.MAX_PULSES_PER_KWH
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
        c = schema.check_config(
            source, settings["unit"], settings["pulses_per_kwh"], settings["tariff"]
        )
        self.counter = c["counter"]
        self.utc_offset = 60 * c["utc_offset_min"]
        self.pulses_per_kwh = settings["pulses_per_kwh"]
        self.kwh_meter = settings["unit"] == "kwh"
        self._tariff(c["tariff"], settings)
        self.standing_charge = c["standing_charge"]
        self.holidays = tuple(sorted(calendar.days_from_civil(*d) for d in c["holidays"]))
        self.friendly_windows = tuple(c["friendly"]["windows"])
        self.holiday_until = c["friendly"]["holiday_until"]
        self.low_credit = c["low_credit"]
        self.low_days = c["low_days"]
        self.ec_limit = c["emergency"]["limit"]
        self.ec_offer_below = c["emergency"]["offer_below"]
        self.friendly_floor = c["friendly_floor"]
        self.never_disconnect = c["never_disconnect"]
        self.tamper_disconnect = c["tamper_disconnect"]
        self.sts_relay_test = c["sts_relay_test"]
        power = c["power"]
        self.power_limit = power["limit_w"]
        self.power_window = power["window_s"]
        self.power_trip_time = power["trip_s"]
        self.power_retry = power["retry_s"]
        self.power_backoff = power["backoff_max"]
        self.power_reset = power["reset_s"]
        self.debt_percent = c["debt"]["percent"]
        self.debt_cap = c["debt"]["cap"]
        # Pulses handled per pro-rata step so that remainder + n * price < 2**30.
        batch = (SMALL - schema.MAX_PULSES_PER_KWH) // self.max_price
        self.batch = _MAX_BATCH if batch > _MAX_BATCH else batch

    def _tariff(self, tariff, settings):
        # A "tou_blocks" tariff charges the time price plus the block's price (docs/core.md).
        self.tariff_kind = "flat"
        self.has_tou = self.has_blocks = False
        self.flat_price = 0
        self.tou_minutes = ((0,), (0,), (0,))
        self.tou_prices = ((0,), (0,), (0,))
        self.block_ends = (_UNLIMITED,)
        self.block_prices = (0,)
        self.weekend_mask = (1 << 5) | (1 << 6)
        if tariff is None:
            # A kWh meter: one kWh costs one kWh, the tariff was applied at vending.
            self.flat_price = self.max_price = settings["scale"]
            return
        kind = self.tariff_kind = tariff["type"]
        top = 0
        if kind == "flat":
            self.flat_price = top = tariff["price"]
        if "tables" in tariff:
            self.has_tou = True
            self.tou_minutes = tuple(m for m, _ in tariff["tables"])
            self.tou_prices = tuple(p for _, p in tariff["tables"])
            self.weekend_mask = tariff["weekend_mask"]
            top = max(max(p) for p in self.tou_prices)
        if "blocks" in tariff:
            self.has_blocks = True
            self.block_ends = tuple(_UNLIMITED if e is None else e for e, _ in tariff["blocks"])
            self.block_prices = tuple(p for _, p in tariff["blocks"])
            top += max(self.block_prices)
        self.max_price = top if top > 0 else 1


def compile_config(source, settings):
    """A Config from a config dict and checked settings; ConfigError names the bad field."""
    if not isinstance(source, dict):
        raise ConfigError("config must be a dict")
    try:
        return Config(source, settings)
    except ConfigError:
        raise
    except schema.ConfigSchemaError as exc:
        raise ConfigError(str(exc)) from None
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise ConfigError("config: " + str(exc)) from None
