"""A meter's configuration as the station builds, checks and compares it (issue 13 item 1).

The station builds the config from the registry (the meter's tariff, never-disconnect for a
critical customer) and the station's own defaults (station.json "meter_config": friendly hours,
holidays, thresholds, time zone), lays an optional hand-written JSON object over it, and checks
the result against the schema the meter enforces (token_spec/config_schema.py) before signing.
`changes` lists what differs from the config last signed for the meter. See docs/station.md.
"""

import json

from sqlalchemy import func, select

from host_tools.vending import StationError, db, ledger
from host_tools.vending.money import fmt, fmt_price
from token_spec.config_schema import ConfigSchemaError, check_config
from token_spec.units import MINOR_PER_UNIT, PRICE_PER_UNIT, register_units

DAYS_PER_MONTH = 30  # a currency meter charges a tariff's monthly standing charge per day


def meter_tariff(tariff, scale):
    """The station tariff as the meter's tariff dict (register units per kWh)."""

    def register_price(price):
        units = register_units(price, scale, PRICE_PER_UNIT)
        if units is None:
            raise StationError(
                f"tariff {tariff['name']!r}: price {fmt_price(price)} per kWh is not a "
                f"whole number of register units at scale {scale}"
            )
        return units

    out = {}
    tou = tariff.get("tou")
    if tou:
        for day_type, points in tou.items():
            out[day_type] = [[f"{m // 60:02d}:{m % 60:02d}", register_price(p)] for m, p in points]
    blocks = tariff["blocks"]
    if len(blocks) == 1:
        if tou:
            return dict(out, type="tou")
        return {"type": "flat", "price": register_price(blocks[0][1])}
    meter_blocks, lower = [], 0
    for upper, price in blocks:
        # The station bounds are cumulative kWh; the meter takes each block's size, 0 = rest.
        meter_blocks.append([0 if upper is None else upper - lower, register_price(price)])
        lower = upper or lower
    return dict(out, type="tou_blocks" if tou else "blocks", blocks=meter_blocks)


def daily_standing(tariff, scale):
    """A currency meter's standing charge per day (register units) for the tariff's monthly
    charge; refused unless it divides exactly into 30 days (never rounded either way)."""
    monthly = tariff["standing_charge"]
    units = register_units(monthly, scale, MINOR_PER_UNIT)
    if units is None or units % DAYS_PER_MONTH:
        per = 100 * DAYS_PER_MONTH // _gcd(100 * DAYS_PER_MONTH, scale)
        raise StationError(
            f"tariff {tariff['name']!r}: a currency meter charges the standing charge per day, "
            f"and {fmt(monthly)} a month is not a whole number of register units per day "
            f"(30 days a month); use a multiple of {fmt(per)}"
        )
    return units // DAYS_PER_MONTH


def _gcd(a, b):
    while b:
        a, b = b, a % b
    return a


def built(station, meter_row, tariff):
    """The config the registry and the station's defaults say this meter should have."""
    config = dict(station.config.get("meter_config") or {})
    if meter_row.critical:
        config["never_disconnect"] = True
    if meter_row.unit == "currency":
        config["tariff"] = meter_tariff(tariff, meter_row.scale)
        standing = daily_standing(tariff, meter_row.scale)
        if standing:
            config["standing_charge"] = standing
    return config


def check(meter_row, config, tariff):
    """The schema's verdict on `config` for this meter (StationError naming the key)."""
    default = meter_tariff(tariff, meter_row.scale) if meter_row.unit == "currency" else None
    try:
        check_config(config, meter_row.unit, meter_row.imp_per_kwh, default)
    except ConfigSchemaError as exc:
        raise StationError(f"config for meter {meter_row.number}: {exc}") from None


def _config_bodies(conn, meter):
    """The bodies of the meter's config txns, newest first."""
    t = db.txns
    rows = conn.execute(
        select(t.c.id).where(t.c.meter == meter, t.c.kind == "config").order_by(t.c.seq.desc())
    ).all()
    for row in rows:
        body = ledger.load(conn, txn_id=row.id)["body"]
        yield json.loads(body) if isinstance(body, str) else body


def last_signed(conn, meter):
    """The config last signed for `meter` (None if none was, or it predates stored configs)."""
    for body in _config_bodies(conn, meter):
        if body.get("request") == "config":
            return body.get("config")
    return None


def signed_counter(conn, meter):
    """The highest config counter signed for `meter` (0: none)."""
    last = conn.execute(
        select(func.max(db.config_counters.c.counter)).where(db.config_counters.c.meter == meter)
    ).scalar()
    return last or 0


def pending(conn, meter):
    """{"counter", "blob"} of the newest signed config the meter is not known to have applied
    (a later `config applied` with a counter at or above it clears it), or None."""
    applied = 0
    for body in _config_bodies(conn, meter):
        if body.get("request") == "config-applied":
            applied = max(applied, body["counter"])
        elif body.get("request") == "config":
            if body["counter"] > applied:
                return {"counter": body["counter"], "blob": body["blob"]}
            return None
    return None


def changes(old, new):
    """["key: old -> new", ...] for every top-level key that differs (sorted)."""
    old = old or {}
    out = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            before = "(unset)" if key not in old else json.dumps(old[key], sort_keys=True)
            after = "(unset)" if key not in new else json.dumps(new[key], sort_keys=True)
            out.append(f"{key}: {before} -> {after}")
    return out


# The words a refusal uses for the confirmation and the reason: the CLI's options by default,
# the web page's fields (host_tools/web/never_disconnect_pages.py) there.
CLI_WORDS = ("--confirm", "--reason")


def guard_never_disconnect(meter_row, old, new, remove, confirm, reason="", words=CLI_WORDS):
    """A critical customer's never-disconnect goes only by an explicit, confirmed action:
    `remove` (--remove-never-disconnect), `confirm` with the meter number typed out again and a
    `reason` (all three, or refused). True when `new` removes it on purpose."""
    had = meter_row.critical or bool((old or {}).get("never_disconnect"))
    if not had or new.get("never_disconnect") is True:
        return False
    if not remove:
        raise StationError(
            f"this config removes never-disconnect from meter {meter_row.number} "
            "(a critical customer): refused; to do it on purpose add --remove-never-disconnect "
            "--confirm <meter number> --reason <why>"
        )
    if (confirm or "").strip() != meter_row.number:
        raise StationError(
            f"{words[0]} must repeat the meter number to remove never-disconnect "
            f"({meter_row.number})"
        )
    if not (reason or "").strip():
        raise StationError(f"{words[1]} is required to remove never-disconnect")
    return True
