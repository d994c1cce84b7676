"""The back office in Debian's Chromium against a real `prepay serve`: the supervisor's month
report, twelve months and arrears (server-drawn charts), the admin's tariffs, meters, customer
list import (refused with its bad lines, then imported), users and API keys; no console errors
on any page, and a screenshot of each."""

from datetime import UTC, datetime, timedelta

import pytest

from host_tools.vending import mgmt, registry, vend
from tests.vending.vending_setup import CURRENCY_METER, DEBT_METER, FLAT_METER, KWH_METER
from tests.web.conftest import PASSWORD
from tests.web.test_browser import log_in, log_out
from token_spec import make_meter_number

pytestmark = pytest.mark.slow


def _seed(station):
    """Sales on several days of this month and in earlier months; arrears of several ages."""
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    plan = [(0, KWH_METER, "20", "cash", "clerk"), (0, CURRENCY_METER, "7.50", "mobile", "boss"),
            (1, FLAT_METER, "12", "card", "clerk"), (3, KWH_METER, "35", "cash", "clerk"),
            (40, FLAT_METER, "50", "transfer", "boss"), (75, KWH_METER, "80", "cash", "clerk"),
            (150, CURRENCY_METER, "25", "mobile", "clerk")]  # fmt: skip
    for i, (days_ago, meter, amount, channel, cashier) in enumerate(plan):
        when = now - timedelta(days=days_ago)
        vend.sell(station, meter, amount, f"B-{i}", channel, cashier, now=when)
    mgmt.add_arrears(station, DEBT_METER, "120", "old bill", "boss", now=now - timedelta(100))
    mgmt.add_arrears(station, DEBT_METER, "30", "meter tamper", "boss", now=now - timedelta(45))
    vend.sell(station, DEBT_METER, "40", "B-debt", "cash", "clerk", now=now - timedelta(2))


def test_a_supervisor_reads_the_month_trends_and_arrears(browser, live_sqlite_server):
    station = live_sqlite_server.station
    _seed(station)
    log_in(browser, "boss")
    browser.click("nav a[href='/month']")
    assert browser.find_all("#chart-days svg rect.chart-bar")
    assert browser.find_all("#chart-channels svg rect.chart-bar")
    assert browser.text("#books") == "balance"
    browser.shot("month")
    browser.click("nav a[href='/trends']")
    assert len(browser.find_all("#chart-revenue rect.chart-bar")) == 12
    assert len(browser.find_all("#months tbody tr")) == 12
    browser.shot("trends")
    browser.click("nav a[href='/arrears']")
    assert browser.text("#raised") == "150.00" and browser.text("#recovery") == "6.66%"
    assert "D. Debt" in browser.text("#arrears")
    browser.shot("arrears")
    assert not browser.find_all("nav a[href='/admin']")  # a supervisor is no admin
    browser.check_console()


def test_an_admin_keeps_the_master_data(browser, live_sqlite_server, tmp_path):
    station = live_sqlite_server.station
    log_in(browser, "root")
    browser.click("nav a[href='/admin']")
    browser.shot("admin-meters")

    # a customer list with a bad row: refused with its line, nothing imported
    new = make_meter_number("0000000201")
    bad = tmp_path / "customers-bad.csv"
    bad.write_text(f"meter,customer,phone,tariff,unit,scale,imp_per_kwh\n"
                   f"{KWH_METER},A. Block-Renamed,0700 111,,,,\n"
                   f"{new},E. New,,flat,kwh,1000,1000\n"
                   f"12345678901,Bad Number,,,,,\n")  # fmt: skip
    browser.find("#import-file").send_keys(str(bad))
    browser.submit("#import", status=400)
    assert "line 4: meter number" in browser.text("#import-errors")
    browser.shot("admin-import-refused")
    assert new not in {m["number"] for m in station.read(registry.list_meters)}
    good = tmp_path / "customers.csv"
    good.write_text(bad.read_text().rsplit("12345678901", 1)[0])
    browser.find("#import-file").send_keys(str(good))
    browser.submit("#import")
    assert "1 meter(s) added, 1 updated" in browser.text("#imported")
    browser.shot("admin-import-done")

    # edit a customer and move the meter to another tariff
    browser.get(f"/admin/meters/{new}")
    browser.fill("#edit-phone", "+255 711 000 201")
    browser.submit("#save-meter")
    assert browser.text("#saved") == "Saved."
    assert station.read(lambda conn: registry.get_meter(conn, new)).phone == "+255 711 000 201"
    browser.shot("admin-meter")

    browser.click("a[href='/admin/tariffs']")
    browser.fill("#tariff-name", "night")
    browser.fill("#tariff-price", "0.95")
    browser.submit("#add-tariff")
    assert "night" in browser.text("#tariffs")
    browser.shot("admin-tariffs")

    browser.click("a[href='/admin/users']")
    browser.fill("#new-user", "ann")
    browser.fill("#new-password", PASSWORD)
    browser.fill("#new-password2", PASSWORD)
    browser.submit("#add-user")
    assert "ann" in browser.text("#users")
    browser.shot("admin-users")

    browser.click("a[href='/admin/keys']")
    browser.fill("#key-name", "tigo")
    browser.submit("#add-key")
    key = browser.text("#key-text")
    assert key.startswith("pp_")
    browser.shot("admin-key-once")
    browser.click(f"#revoke-{key[3:11]}")
    assert key not in browser.text("body") and "tigo" in browser.text("#keys")
    log_out(browser)

    log_in(browser, "ann")  # the new cashier logs in
    browser.check_console()


def test_a_supervisor_flags_a_critical_customer_never_disconnect(browser, live_sqlite_server):
    """Issue 14: the never-disconnect page. Set the flag (the signed config and how it reaches
    the meter are shown), a removal with a wrong number is refused and changes nothing, the
    removal with the number again and a reason is signed and booked to the user."""
    station = live_sqlite_server.station
    log_in(browser, "boss")
    browser.click("nav a[href='/never-disconnect']")
    assert CURRENCY_METER in browser.text("#flagged")  # registered --critical, none signed
    browser.shot("never-disconnect")

    browser.fill("#set-meter", KWH_METER)
    browser.submit("#set-flag")
    assert "never_disconnect: (unset) -> true" in browser.text("#changes")
    assert browser.text("#blob").startswith("pc1.")
    assert f"prepay config applied {KWH_METER} 1" in browser.text("#signed")
    assert "config 1 waiting to be loaded" in browser.text(f"#row-{KWH_METER}")
    browser.shot("never-disconnect-signed")
    assert station.read(lambda conn: registry.get_meter(conn, KWH_METER)).critical

    # the printable slip for the engineer: the blob fits the paper
    browser.click("#print-config")
    browser.media("print")
    assert browser.text("h1") == "Meter config"
    assert browser.text("#config-blob").startswith("pc1.")
    assert browser.find("#config-blob").size["width"] <= browser.find("#receipt").size["width"]
    browser.shot("never-disconnect-config-print")
    browser.media("screen")

    # a removal with the wrong number typed is refused and changes nothing
    browser.get("/never-disconnect")
    browser.fill(f"#confirm-{KWH_METER}", CURRENCY_METER)
    browser.fill(f"#reason-{KWH_METER}", "clinic closed")
    browser.submit(f"#remove-{KWH_METER}", status=400)
    assert "the confirmation must repeat the meter number" in browser.text(".error")
    browser.shot("never-disconnect-refused")
    assert station.read(lambda conn: registry.get_meter(conn, KWH_METER)).critical

    browser.fill(f"#confirm-{KWH_METER}", KWH_METER)
    assert browser.find(f"#reason-{KWH_METER}").get_attribute("value") == "clinic closed"
    browser.submit(f"#remove-{KWH_METER}")
    assert "never_disconnect: true -> (unset)" in browser.text("#changes")
    assert "clinic closed" in browser.text("#signed") and "by boss" in browser.text("#signed")
    assert KWH_METER not in browser.text("#flagged")
    browser.shot("never-disconnect-removed")
    assert not station.read(lambda conn: registry.get_meter(conn, KWH_METER)).critical
    browser.check_console()
