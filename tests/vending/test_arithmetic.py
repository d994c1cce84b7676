"""Money parsing and tariff arithmetic against independent exact (Fraction) computations."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from host_tools.vending import StationError, tariffs
from host_tools.vending.money import fmt, parse_amount, parse_price
from token_spec import is_representable, nearest_representable


@given(st.integers(min_value=1, max_value=10**13 - 1))
def test_amount_round_trip(minor):
    assert parse_amount(fmt(minor)) == minor


@pytest.mark.parametrize(
    "text, minor", [("50", 5000), ("12.5", 1250), ("12.50", 1250), ("0.01", 1), (" 7 ", 700)]
)
def test_amounts(text, minor):
    assert parse_amount(text) == minor


@pytest.mark.parametrize(
    "text", ["", "-1", "+1", "0", "0.00", "1.234", "1e2", "1,5", ".5", "NaN", "inf", "1.", "１２"]
)
def test_bad_amounts(text):
    with pytest.raises(StationError):
        parse_amount(text)


def test_prices():
    assert parse_price("1.8573") == 18573 and parse_price("2") == 20000
    with pytest.raises(StationError):
        parse_price("1.23456")


def _exact_units(budget_minor, blocks, scale, used):
    """Units bought, walking the blocks with Fractions of a currency unit."""
    money, units, position = Fraction(budget_minor, 100), 0, used
    for upper, price in blocks:
        unit_price = Fraction(price, 10_000 * scale)
        room = None if upper is None else max(0, upper * scale - position)
        if room == 0:
            continue
        take = int(money // unit_price)
        if room is not None:
            take = min(take, room)
        money -= take * unit_price
        units += take
        position += take
        if room is None or take < room:
            break
    return units


def _exact_cost(units, blocks, scale, used):
    cost, position, left = Fraction(0), used, units
    for upper, price in blocks:
        room = left if upper is None else max(0, min(left, upper * scale - position))
        cost += room * Fraction(price, 10_000 * scale)
        position += room
        left -= room
    return cost


BLOCKS = st.lists(st.integers(1, 40_000), min_size=1, max_size=4).flatmap(
    lambda prices: st.lists(
        st.integers(1, 300), min_size=len(prices) - 1, max_size=len(prices) - 1, unique=True
    ).map(
        lambda uppers: (
            [(u, p) for u, p in zip(sorted(uppers), prices, strict=False)] + [(None, prices[-1])]
        )
    )
)


@given(
    budget=st.integers(1, 2_000_000),
    blocks=BLOCKS,
    scale=st.sampled_from([1, 10, 100, 1000]),
    used=st.integers(0, 400_000),
)
def test_energy_never_costs_the_customer(budget, blocks, scale, used):
    try:
        units, energy, carry = tariffs.energy_for(budget, blocks, scale, used)
    except StationError:
        assert _exact_units(budget, blocks, scale, used) > 16_383_000
        return
    assert is_representable(units)
    assert units <= _exact_units(budget, blocks, scale, used)
    exact = _exact_cost(units, blocks, scale, used)
    # The customer pays the exact cost rounded down to a minor unit; the rest is carried.
    assert energy == int(exact * 100) and energy + carry == budget and carry >= 0


def test_debt_split_order_percent_cap():
    arrears = [(1, 500), (2, 3000)]
    assert tariffs.debt_split(2000, arrears, 25, None) == [(1, 500)]
    assert tariffs.debt_split(10000, arrears, 25, 1000) == [(1, 500), (2, 500)]
    assert tariffs.debt_split(100000, arrears, 90, None) == [(1, 500), (2, 3000)]
    assert tariffs.debt_split(100, [], 25, None) == []


@given(st.integers(1, 200_000_000), st.sampled_from([1, 10, 100, 1000, 250]))
def test_currency_credit_plus_carry_is_the_budget(budget, scale):
    """Any payment: the token's credit (exactly representable) plus the carry is the budget,
    the carry is less than one token step's worth, and rounding never costs the customer."""
    try:
        units, credited = tariffs.currency_credit(budget, scale)
    except StationError:
        assert budget * scale // 100 > 16_383_000
        return
    assert is_representable(units) and units <= budget * scale // 100
    assert credited == units * 100 // scale and 0 <= budget - credited
    assert credited * scale <= units * 100  # the credit booked is never above what is sent
    below, above = nearest_representable(budget * scale // 100)
    assert units == below  # the largest credit a token carries
