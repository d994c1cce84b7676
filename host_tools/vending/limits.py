"""The station's sanity bounds: what a tariff, a sale and an arrears entry may be (issue 13).

A utility sets these once, in station.json under "limits" (amounts as text, like the CLI
takes them); the defaults below are what a station gets without them. Every refusal names the
figure and the bound in one line. See docs/station.md, "Controls".
"""

from host_tools.vending import StationError
from host_tools.vending.money import fmt, fmt_price, parse_amount, parse_price

# Defaults (text as a clerk would type it). Prices are per kWh, standing charges per month.
DEFAULTS = {
    "price_min": "0.01",  # a zero or near-zero price gives the largest token away
    "price_max": "1000",  # a price typed with the decimal point lost (1800 for 1.80)
    "standing_charge_max": "10000",  # per month
    "block_kwh_max": 100_000,  # the highest block bound, kWh per month
    "blocks_max": 8,  # blocks in one tariff
    "rated_amps": 60,  # a meter's rated current when the registry has none
    "volts": 230,  # nominal supply voltage
    "arrears_approval": "5000",  # arrears (or an adjustment) above this need a supervisor
    "arrears_max": "100000",  # most arrears one meter may owe in all: refused above, always
}
HOURS_PER_MONTH = 24 * 31  # the longest month


class Limits:
    """The parsed limits: integers (minor units, prices in 1/10,000 per kWh, kWh, A, V)."""

    def __init__(self, overrides=None):
        if overrides is not None and not isinstance(overrides, dict):
            raise StationError("station.json: limits must be an object")
        raw = dict(DEFAULTS)
        unknown = sorted(set(overrides or {}) - set(DEFAULTS))
        if unknown:
            raise StationError(f"station.json limits: unknown key {unknown[0]!r}")
        raw.update(overrides or {})
        self.price_min = parse_price(raw["price_min"], "limits.price_min")
        self.price_max = parse_price(raw["price_max"], "limits.price_max")
        self.standing_charge_max = parse_amount(
            raw["standing_charge_max"], "limits.standing_charge_max"
        )
        self.arrears_approval = parse_amount(raw["arrears_approval"], "limits.arrears_approval")
        self.arrears_max = parse_amount(raw["arrears_max"], "limits.arrears_max")
        for name in ("block_kwh_max", "blocks_max", "rated_amps", "volts"):
            value = raw[name]
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise StationError(f"station.json limits: {name} must be a positive whole number")
            setattr(self, name, value)
        if not 0 < self.price_min <= self.price_max:
            raise StationError("station.json limits: price_min must be above 0 and <= price_max")


def check_tariff(limits, blocks, standing, debt_cap):
    """Refuse a tariff whose prices, standing charge, block bounds or debt cap are not sane."""
    limits = limits or Limits()
    if len(blocks) > limits.blocks_max:
        raise StationError(f"{len(blocks)} blocks: a tariff has at most {limits.blocks_max}")
    for upper, price in blocks:
        if price < limits.price_min:
            raise StationError(
                f"price {fmt_price(price)} per kWh is below the minimum "
                f"{fmt_price(limits.price_min)} (a free tariff gives energy away)"
            )
        if price > limits.price_max:
            raise StationError(
                f"price {fmt_price(price)} per kWh is above the maximum "
                f"{fmt_price(limits.price_max)} (a decimal point lost?)"
            )
        if upper is not None and upper > limits.block_kwh_max:
            raise StationError(
                f"block bound {upper} kWh is above the maximum {limits.block_kwh_max} kWh a month"
            )
    if standing > limits.standing_charge_max:
        raise StationError(
            f"standing charge {fmt(standing)} a month is above the maximum "
            f"{fmt(limits.standing_charge_max)}"
        )
    if debt_cap is not None and debt_cap > limits.arrears_max:
        raise StationError(
            f"debt cap {fmt(debt_cap)} per vend is above the arrears maximum "
            f"{fmt(limits.arrears_max)}"
        )


def check_surcharges(limits, blocks):
    """A TOU-with-blocks tariff's block prices are added to the time price: 0 is allowed (the
    first block usually adds nothing), above the price maximum is not."""
    limits = limits or Limits()
    if len(blocks) > limits.blocks_max:
        raise StationError(f"{len(blocks)} blocks: a tariff has at most {limits.blocks_max}")
    for upper, price in blocks:
        if price > limits.price_max:
            raise StationError(
                f"block surcharge {fmt_price(price)} per kWh is above the maximum "
                f"{fmt_price(limits.price_max)} (a decimal point lost?)"
            )
        if upper is not None and upper > limits.block_kwh_max:
            raise StationError(
                f"block bound {upper} kWh is above the maximum {limits.block_kwh_max} kWh a month"
            )


def cheapest_price(tariff):
    """The lowest price per kWh a tariff can charge (a TOU tariff: the lowest time price plus
    the lowest block surcharge)."""
    blocks = min(p for _, p in tariff["blocks"])
    if not tariff.get("tou"):
        return blocks
    return min(p for points in tariff["tou"].values() for _, p in points) + blocks


def check_meter_limits(rated_amps, max_sale_kwh):
    """Per-meter overrides: whole amps 1..1000 and whole kWh 1..1,000,000 (None = default)."""
    if rated_amps is not None and not 1 <= rated_amps <= 1000:
        raise StationError(f"--rated-amps {rated_amps} must be 1..1000")
    if max_sale_kwh is not None and not 1 <= max_sale_kwh <= 1_000_000:
        raise StationError(f"--max-sale-kwh {max_sale_kwh} must be 1..1000000")


def max_sale_kwh(limits, meter_row):
    """(kWh, why): the most energy one sale may buy for this meter."""
    if meter_row.max_sale_kwh is not None:
        return meter_row.max_sale_kwh, "set for this meter"
    amps = meter_row.rated_amps or limits.rated_amps
    kwh = amps * limits.volts * HOURS_PER_MONTH // 1000
    return kwh, f"a month at {amps} A, {limits.volts} V"


def check_sale_energy(limits, meter_row, amount, units, tariff):
    """Refuse a sale that buys more than the meter's maximum per sale (figure and bound).

    kWh meters: `units` register units at `scale` per kWh. Currency meters: `units` is money
    in register units; the energy it buys is counted at the tariff's lowest price (the most
    energy it can buy)."""
    top, why = max_sale_kwh(limits, meter_row)
    scale = meter_row.scale
    if meter_row.unit == "kwh":
        over = units > top * scale
        bought = f"{units // scale} kWh"
    else:
        cheapest = cheapest_price(tariff)
        # money = units / scale currency; kWh = money / (cheapest / 10,000)
        over = units * 10_000 > top * cheapest * scale
        bought = f"up to {units * 10_000 // (cheapest * scale)} kWh"
    if over:
        raise StationError(
            f"{fmt(amount)} buys {bought} on meter {meter_row.number}, above its maximum of "
            f"{top} kWh per sale ({why}): check the tariff and the amount"
        )
