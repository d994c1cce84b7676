"""Issue 13's station controls through the `prepay` CLI, each reproducing the failure first
reported: a free tariff, permanent arrears mistakes, currency payments refused (item 10, the
passphrase, is in test_cli). Run on SQLite and PostgreSQL."""

import json

import pytest
from click.testing import CliRunner

from host_tools.cli import main
from tests.support.cli_login import approved_by, as_user, run
from tests.vending.vending_setup import CURRENCY_METER, KWH_METER

pytestmark = pytest.mark.usefixtures("fast_kdf", "station_env")


def js(home, *args, env=None):
    return json.loads(run(home, *args, "--json", env=env))


BOSS = as_user("boss")  # sells (a high vend limit); the admin, who sold nothing, reverses
ANN = as_user("ann")  # a cashier: arrears above the limit need a supervisor's approval


def vend(home, meter, amount, ref, code=0):
    args = ("vend", meter, amount, "--ref", ref, "--channel", "cash")
    return run(home, *args, code=code, env=BOSS) if code else js(home, *args, env=BOSS)


@pytest.fixture
def home(tmp_path, db_url):
    home = str(tmp_path / "home")
    CliRunner().invoke(
        main, ["station", "init", "--home", home] + (["--db", db_url] if db_url else [])
    )
    run(home, "user", "add", "boss", "--role", "supervisor", "--limit", "100000")
    run(home, "user", "add", "ann", "--role", "cashier", "--limit", "1000")
    run(home, "tariff", "add", "flat", "--price", "2.00", "--debt-percent", "50")
    for meter, unit in ((KWH_METER, "kwh"), (CURRENCY_METER, "currency")):
        scale = "1000" if unit == "kwh" else "100"
        run(home, "meter", "add", meter, "--unit", unit, "--scale", scale, "--imp-per-kwh",
            "1000", "--tariff", "flat")  # fmt: skip
    return home


def _snapshot(home):
    """What the books say (every verb is checked to change nothing when it refuses)."""
    return js(home, "report", "day"), js(home, "meter", "show", KWH_METER)


def test_free_and_absurd_tariffs_are_refused(home):
    """Item 2: `tariff add --price 0` was accepted and a 10.00 sale issued 16,383 kWh."""
    before = js(home, "tariff", "list")
    for args, words in (
        (["--price", "0"], "price 0.0000 per kWh is below the minimum 0.0100"),
        (["--price", "0.0099"], "below the minimum 0.0100"),
        (["--price", "1800"], "price 1800.0000 per kWh is above the maximum 1000.0000"),
        (["--price", "1", "--standing-charge", "25000"], "25000.00 a month is above the maximum"),
        (["--kind", "block", "--blocks", "50:1,200000:2,*:3"], "200000 kWh is above the maximum"),
        (["--kind", "block", "--blocks", "50:0,*:3"], "below the minimum"),
        (["--price", "1", "--debt-cap", "200000"], "debt cap 200000.00 per vend is above"),
    ):
        assert words in run(home, "tariff", "add", "bad", *args, code=1), args
    assert js(home, "tariff", "list") == before


def test_a_sale_above_the_meters_maximum_is_refused_with_the_figure(home):
    """Item 2: even on the cheapest tariff allowed, a sale is capped per meter: by default a
    month at the meter's rated current (60 A, 230 V: 10,267 kWh)."""
    run(home, "tariff", "add", "cheap", "--price", "0.01")
    run(home, "meter", "set-tariff", KWH_METER, "cheap")
    before = _snapshot(home)
    out = vend(home, KWH_METER, "150", "p1", code=1)
    assert "150.00 buys 15000 kWh" in out and "maximum of 10267 kWh" in out and "60 A" in out
    assert _snapshot(home) == before
    assert vend(home, KWH_METER, "100", "p1")["units"] == 10_000_000  # 10,000 kWh: allowed
    run(home, "meter", "set-limits", KWH_METER, "--max-sale-kwh", "500")
    assert "maximum of 500 kWh per sale (set for this meter)" in vend(
        home, KWH_METER, "6", "p2", 1
    )
    run(home, "meter", "set-limits", KWH_METER, "--default", "--rated-amps", "20")
    assert "a month at 20 A, 230 V" in vend(home, KWH_METER, "40", "p2", code=1)  # 3,422 kWh
    assert "--rated-amps 0 must be 1..1000" in run(
        home, "meter", "set-limits", KWH_METER, "--rated-amps", "0", code=1
    )
    # A currency meter: its credit counts as energy at the tariff's lowest price.
    run(home, "meter", "set-tariff", CURRENCY_METER, "cheap")
    assert "buys up to 15000 kWh" in vend(home, CURRENCY_METER, "150", "p3", code=1)


def test_currency_meter_sells_any_amount_and_carries_the_rest(home):
    """Item 6: 1,700.55 could not be sold to a currency meter (a token's amount is a 14-bit
    mantissa times a power of ten). Now 1,700.00 is credited and 0.55 carried exactly."""
    sale = vend(home, CURRENCY_METER, "1700.55", "p1")
    assert (sale["units"], sale["prepayment"], sale["carry_out"]) == (170_000, "1700.00", "0.55")
    printed = run(home, "reprint", sale["receipt"])
    assert "Credited now" in printed and "1700.00" in printed and "Carried forward" in printed
    assert js(home, "meter", "show", CURRENCY_METER)["carried_forward"] == "0.55"
    nxt = vend(home, CURRENCY_METER, "10", "p2")
    assert (nxt["carry_in"], nxt["units"], nxt["carry_out"]) == ("0.55", 1055, "0.00")
    # Reversing the first sale: its 0.55 was spent by the second, so it is the station's loss.
    run(home, "reverse", sale["receipt"], "--reason", "wrong meter")
    day = js(home, "report", "day")
    assert day["books_balance"] and day["accounts"]["reversals"] == "0.55"


def test_arrears_are_capped_approved_and_corrected_by_new_entries(home):
    """Item 5: `meter arrears ... 99999999.99` was accepted and could not be undone."""
    before = _snapshot(home)
    out = run(home, "meter", "arrears", KWH_METER, "99999999.99", code=1, env=ANN)
    assert "owe 99999999.99, above the maximum 100000.00" in out
    out = run(home, "meter", "arrears", KWH_METER, "6000", code=1, env=ANN)
    assert "6000.00 (above 5000.00) needs a supervisor's approval" in out
    out = run(home, "meter", "arrears", KWH_METER, "6000", code=1, env=ANN | approved_by("ann"))
    assert "ann is a cashier: arrears needs a supervisor or admin" in out
    assert _snapshot(home) == before
    big = js(home, "meter", "arrears", KWH_METER, "6000", env=ANN | approved_by("boss"))
    assert (big["cashier"], big["supervisor"]) == ("ann", "boss")
    big = big["receipt"]
    small = js(home, "meter", "arrears", KWH_METER, "80", env=ANN)["receipt"]
    paid = vend(home, KWH_METER, "100", "p1")  # 50 % of 100.00 to the oldest arrears
    assert paid["debt_recovered"] == "50.00"

    # Adjust: the 6,000.00 should have been 600.00.
    bad = ("meter", "arrears-adjust", big, "40", "--reason", "typo")
    assert "50.00 was already recovered" in run(home, *bad, code=1, env=BOSS)
    fix = js(home, "meter", "arrears-adjust", big, "600", "--reason", "typo", env=BOSS)
    assert (fix["adjustment"], fix["outstanding"], fix["arrears"]) == ("-5400.00", "550.00", big)
    nobody = ("meter", "arrears-write-off", small, "--reason", "gone")
    assert "supervisor not logged in: set PREPAY_SUPERVISOR and PREPAY_SUPERVISOR_PASSWORD" in (
        run(home, *nobody, code=1, env=ANN)
    )
    assert "ann is a cashier" in run(home, *nobody, code=1, env=ANN | approved_by("ann"))
    # Write off the small one, reverse the big one (recovered 50.00 goes to the carry).
    off = js(home, *nobody, env=ANN | approved_by("boss"))
    assert off["supervisor"] == "boss"
    rev = js(home, "meter", "arrears-reverse", big, "--reason", "wrong", env=BOSS)
    assert (rev["to_carry"], rev["outstanding"]) == ("50.00", "0.00")
    again = ("meter", "arrears-reverse", big, "--reason", "wrong")
    assert "was already reversed" in run(home, *again, code=1, env=BOSS)
    show = js(home, "meter", "show", KWH_METER)
    assert show["arrears"] == {} and show["carried_forward"] == "50.00"
    assert [a["status"] for a in show["arrears_history"]] == ["reversed", "written off"]
    # Reversing the sale that recovered from the reversed arrears takes the credit back and
    # never makes a closed arrears owed again.
    run(home, "reverse", paid["receipt"], "--reason", "wrong meter")
    show = js(home, "meter", "show", KWH_METER)
    assert show["arrears"] == {} and show["carried_forward"] == "0.00"
    assert js(home, "report", "day")["books_balance"]
    assert js(home, "audit", "verify")["ok"]


def test_a_utility_sets_its_own_limits_in_station_json(home):
    """The defaults suit a kWh costing cents to units; a utility selling in a currency where
    it costs thousands raises the bound in station.json; a misspelt limit is refused."""
    from pathlib import Path

    path = Path(home) / "station.json"
    config = json.loads(path.read_text())
    assert "above the maximum 1000.0000" in run(
        home, "tariff", "add", "idr", "--price", "1444.7", code=1
    )
    config["limits"] = {"price_max": "50000"}
    path.write_text(json.dumps(config))
    run(home, "tariff", "add", "idr", "--price", "1444.7")
    config["limits"] = {"price_maximum": "50000"}
    path.write_text(json.dumps(config))
    assert "unknown key 'price_maximum'" in run(home, "tariff", "list", code=1)
