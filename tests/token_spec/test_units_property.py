"""The station's and the meter's unit conversions agree, for every scale the registry accepts.

Station: money (minor units) -> register units as vending puts them in a token
(tariffs.currency_value) and as the receipt writes them (vend's units_text). Meter: the same
register units on its display (firmware/app/display.lines). Both must read back as exactly
the money paid; nothing is rounded on either side.
"""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware.app import display
from firmware.core.config import ConfigError, check_settings
from host_tools.vending import tariffs
from token_spec.units import MAX_SCALE, MINOR_PER_UNIT, PRICE_PER_UNIT, register_units, units_text

SCALES = st.integers(1, MAX_SCALE)  # registry.add_meter and the meter's config both check this


def read_back(text):
    """The exact value a units_text string stands for."""
    sign = -1 if text.startswith("-") else 1
    text = text.lstrip("-")
    if "+" in text:
        whole, frac = text.split("+")
        num, den = frac.split("/")
        assert 0 < int(num) < int(den)  # a proper remainder, never "+0/8"
        return sign * (int(whole) + Fraction(int(num), int(den)))
    if "." in text:
        whole, decimals = text.split(".")
        return sign * (int(whole) + Fraction(int(decimals), 10 ** len(decimals)))
    return sign * int(text)


def meter_shows(units, scale):
    status = {"unit": "currency", "credit": units, "scale": scale, "relay": "closed"}
    status["zone"] = "normal"
    return display.lines(status)[0].removeprefix("CR ")


@given(st.integers(-(10**12), 10**12), SCALES)
def test_money_in_register_units_reads_back_exactly_on_both_sides(minor, scale):
    units = tariffs.currency_value(minor, scale)
    exact = Fraction(minor, MINOR_PER_UNIT) * scale
    if exact.denominator != 1:
        assert units is None  # refused, never rounded
        return
    assert units == exact
    station = units_text(units, scale)
    assert station == meter_shows(units, scale)
    assert read_back(station) == Fraction(minor, MINOR_PER_UNIT)


@given(st.integers(-(2**40), 2**40), SCALES)
def test_every_register_value_has_one_exact_text(units, scale):
    assert read_back(units_text(units, scale)) == Fraction(units, scale)


@given(st.integers(0, 10**9), SCALES)
def test_price_per_kwh_converts_exactly_or_not_at_all(price, scale):
    units = register_units(price, scale, PRICE_PER_UNIT)
    exact = Fraction(price * scale, PRICE_PER_UNIT)
    assert units == (exact if exact.denominator == 1 else None)


def test_the_meter_accepts_exactly_the_scales_the_registry_does():
    base = {"meter_number": "12345678903", "decoder_key": bytes(16)}
    assert check_settings(dict(base, scale=MAX_SCALE))["scale"] == MAX_SCALE
    for bad in (0, MAX_SCALE + 1):
        with pytest.raises(ConfigError, match="scale"):
            check_settings(dict(base, scale=bad))
