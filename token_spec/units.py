"""Money and register units: one conversion each way, used by the station and the meter.

A currency meter's register counts `scale` units per currency unit, a kWh meter's `scale`
units per kWh (docs/core.md). The station keeps money in minor units (1/100 of the currency
unit) and tariff prices in 1/10**PRICE_DECIMALS currency units per kWh. Integers only.

Register units as text (receipts, SMS, the meter's display, the CLI), the one form everywhere:
- a scale that is a power of ten shows exact decimals: 1234 at 100 -> "12.34", 7 at 1 -> "7";
- any other scale shows the whole units and the exact remainder: 13 at 8 -> "1+5/8"
  ("2" when there is none), because a decimal would round;
- a negative value (debt, overdrawn credit) is the positive one with "-": -5 at 100 -> "-0.05".
"""

from token_spec.compat import const

MINOR_PER_UNIT = const(100)  # money: minor units (cents) per currency unit
PRICE_DECIMALS = const(4)  # tariff prices: 1/10,000 currency units per kWh
PRICE_PER_UNIT = const(10000)  # 10**PRICE_DECIMALS
# A meter's scale: register units per currency unit or kWh (the registry and the meter check it).
MAX_SCALE = const(1000000)


def register_units(amount, scale, per_unit=MINOR_PER_UNIT):
    """`amount` (in 1/per_unit currency units) as register units at `scale`, or None when it is
    not a whole number of them: the station refuses rather than rounding a customer's money.

    Money: register_units(minor, scale); a price per kWh: register_units(price, scale,
    PRICE_PER_UNIT)."""
    units, rest = divmod(amount * scale, per_unit)
    return None if rest else units


def units_text(units, scale):
    """Register units at `scale` per currency unit or kWh as text (the forms above)."""
    sign = "-" if units < 0 else ""
    if units < 0:
        units = -units
    whole, frac = divmod(units, scale)
    digits = 0
    power = 1
    while power < scale:
        power *= 10
        digits += 1
    if power != scale:
        return "%s%d+%d/%d" % (sign, whole, frac, scale) if frac else sign + str(whole)
    if digits == 0:
        return sign + str(whole)
    return "%s%d.%s" % (sign, whole, ("%0" + str(digits) + "d") % frac)
