"""Pure tariff arithmetic: money -> energy units, debt-recovery split. Integers only.

Prices are in 1/10,000 currency units per kWh (money.PRICE_DECIMALS); a meter's register unit
is 1/scale kWh (kWh meters) or 1/scale currency units (currency meters). To stay exact the
energy walk counts money in "fine" units of 1/(10,000 * scale) currency: one register unit at
price P costs exactly P fine units and one minor unit (1/100) is 100 * scale fine units.
"""

from host_tools.vending import StationError
from host_tools.vending.money import fmt
from token_spec import MAX_AMOUNT, nearest_representable
from token_spec.units import register_units, units_text


def _block_walk(blocks, scale, used, budget_fine=None, units=None):
    """Walk the blocks from `used` units this month; buy as many units as `budget_fine` pays for,
    or price exactly `units`. Returns (units, cost_fine)."""
    bought, cost = 0, 0
    position = used
    for upper_kwh, price in blocks:
        room = None if upper_kwh is None else max(0, upper_kwh * scale - position)
        if room == 0:
            continue
        if units is not None:
            take = units - bought if room is None else min(room, units - bought)
        else:
            affordable = (budget_fine - cost) // price if price else MAX_AMOUNT
            take = affordable if room is None else min(room, affordable)
        bought += take
        cost += take * price
        position += take
        if (units is not None and bought == units) or (room is None or take < room):
            break
    return bought, cost


class TokenAmounts:
    """What one credit token can carry: `top` (the largest amount) and `floor(units)` (the
    largest amount <= units it carries exactly). V1 is token format v1's; an STS meter's sale
    uses the STS amount encoding's (sts_meters.TOKEN_AMOUNTS)."""

    def __init__(self, name, top, floor):
        self.name, self.top, self.floor = name, top, floor


V1 = TokenAmounts("one token", MAX_AMOUNT, lambda units: nearest_representable(units)[0] or 0)


def energy_for(budget_minor, blocks, scale, used, token=V1):
    """Units (representable in a token) that `budget_minor` buys after `used` units this month.

    Returns (units, energy_minor, carry_minor): the units are rounded down to what a credit
    token (`token`: TokenAmounts) can carry; the customer pays energy_minor (the exact cost
    rounded *down* to a minor unit, so rounding never costs the customer) and carry_minor is
    kept for the next vend.
    """
    fine_per_minor = 100 * scale
    raw, _ = _block_walk(blocks, scale, used, budget_fine=budget_minor * fine_per_minor)
    if raw > token.top:
        raise StationError(
            f"this amount buys more than {token.name} can carry "
            f"({units_text(token.top, scale)} kWh): split the purchase"
        )
    units = token.floor(raw) if raw > 0 else 0
    _, cost_fine = _block_walk(blocks, scale, used, units=units)
    energy_minor = cost_fine // fine_per_minor
    return units, energy_minor, budget_minor - energy_minor


def debt_split(amount, arrears, percent, cap):
    """How much of `amount` goes to each arrears [(seq, outstanding)] (already in recovery
    order): percent of the amount, at most `cap` (None = no cap), never more than is owed."""
    take = amount * percent // 100
    if cap is not None:
        take = min(take, cap)
    take = min(take, sum(owed for _, owed in arrears))
    split = []
    for seq, owed in arrears:
        if take <= 0:
            break
        part = min(owed, take)
        split.append((seq, part))
        take -= part
    return split


def currency_value(net_minor, scale):
    """Register units for `net_minor` on a currency meter, or None if not a whole number."""
    return register_units(net_minor, scale)


def currency_credit(budget_minor, scale, token=V1):
    """(units, credited_minor) for a currency meter: the largest credit a token carries exactly
    that `budget_minor` pays for; the caller carries `budget_minor - credited_minor` forward.

    A credit token's amount is a 14-bit mantissa times 10**e, so 1,700.55 at scale 100
    (170,055 cents) cannot be sent as it is: 170,050 cents are credited now and 0.05 is carried
    to the next sale (the way kWh meters carry what a unit does not use up). `credited_minor`
    is rounded down, so rounding never costs the customer; a budget above the largest token is
    refused (split the purchase).
    """
    exact_units = budget_minor * scale // 100
    if exact_units > token.top:
        top = token.top * 100 // scale
        raise StationError(
            f"{fmt(budget_minor)} is more credit than {token.name} can carry ({fmt(top)}): "
            "split it"
        )
    units = token.floor(exact_units) if exact_units > 0 else 0
    return units, units * 100 // scale
