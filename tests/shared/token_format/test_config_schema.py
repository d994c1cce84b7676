"""The shared config schema (token_spec/config_schema.py): what the station signs and the meter
applies; unknown keys and out-of-range values are refused with the key named (issue 13 item 1)."""

from token_spec.config_schema import ConfigSchemaError, check_config

FLAT = {"type": "flat", "price": 15}


def error_of(config, unit="currency"):
    try:
        check_config(config, unit, 1000, FLAT)
    except ConfigSchemaError as exc:
        return str(exc)
    raise AssertionError("accepted %r" % (config,))


def test_a_typo_is_refused_with_the_key_named():
    assert "never_disconect" in error_of({"never_disconect": True})
    assert "'foo'" in error_of({"foo": 1})
    assert "limt" in error_of({"power": {"limt": 5}})
    assert "stat" in error_of({"friendly": {"windows": [{"stat": "18:00"}]}})
    assert "prices" in error_of({"tariff": {"type": "flat", "price": 1, "prices": 2}})


def test_out_of_range_values_name_the_key():
    assert "low_days" in error_of({"low_days": 400})
    assert "debt.percent" in error_of({"debt": {"percent": 101}})
    assert "never_disconnect" in error_of({"never_disconnect": 1})
    assert "friendly window start" in error_of({"friendly": {"windows": [{"start": "25:99"}]}})
    assert "no such day" in error_of({"holidays": ["2026-02-29"]})


def test_kwh_meters_take_no_tariff_or_standing_charge():
    assert "tariff" in error_of({"tariff": FLAT}, "kwh")
    assert "standing_charge" in error_of({"standing_charge": 5}, "kwh")
    assert check_config({}, "kwh", 1000)["tariff"] is None


def test_defaults_are_filled_in():
    c = check_config({"low_credit": 7}, "currency", 1000, FLAT)
    assert c["emergency"]["offer_below"] == 7
    assert c["never_disconnect"] is False and c["sts_relay_test"] is False
    assert c["tariff"] == {"type": "flat", "price": 15}


def test_tou_with_blocks_normalises_both_parts():
    tariff = {"type": "tou_blocks", "weekday": [["00:00", 5]], "blocks": [[2, 0], [0, 9]]}
    c = check_config({"tariff": tariff}, "currency", 1000)
    assert c["tariff"]["tables"][2] == ((0,), (5,))
    assert c["tariff"]["blocks"] == [(2000, 0), (None, 9)]
