"""Money <-> register units (token_spec.units), on both interpreters."""

from token_spec.units import PRICE_PER_UNIT, register_units, units_text


def test_units_text_power_of_ten_scales_show_exact_decimals():
    assert units_text(1234, 100) == "12.34"
    assert units_text(-5, 100) == "-0.05"
    assert units_text(7, 1) == "7"
    assert units_text(1500, 1000) == "1.500"
    assert units_text(-1200, 1) == "-1200"
    assert units_text(20000, 1000) == "20.000"


def test_units_text_other_scales_show_whole_units_and_the_remainder():
    assert units_text(13, 8) == "1+5/8"
    assert units_text(16, 8) == "2"
    assert units_text(-13, 8) == "-1+5/8"
    assert units_text(5, 8) == "0+5/8"
    assert units_text(2**40 + 1, 999999) == "1099512+727289/999999"


def test_register_units_is_exact_or_none():
    assert register_units(1250, 100) == 1250  # 12.50 at 100 units per currency unit
    assert register_units(1250, 1000) == 12500
    assert register_units(1250, 8) == 100  # 12.50 is 100 eighths
    assert register_units(1, 8) is None  # 0.01 is not a whole number of eighths
    assert register_units(1, 1) is None
    assert register_units(-300, 1) == -3


def test_register_units_of_a_price_per_kwh():
    assert register_units(18573, 10000, PRICE_PER_UNIT) == 18573
    assert register_units(15000, 100, PRICE_PER_UNIT) == 150
    assert register_units(18573, 100, PRICE_PER_UNIT) is None
