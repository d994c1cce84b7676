"""The cashier's and the supervisor's day in Debian's Chromium against a real `prepay serve`:
log in, find a meter, sell, the receipt and its print views, reprint (COPY), a cashier refused
a reversal and a supervisor allowed, a forged form without its CSRF token refused, close the
day; no console errors on any page, and a screenshot of each."""

import re
from datetime import datetime, timedelta

import pytest

from host_tools.vending import closing, lookup, settings
from tests.vending.vending_setup import KWH_METER
from tests.web.browser import Browser
from tests.web.conftest import PASSWORD, LiveServer

pytestmark = pytest.mark.slow


def log_in(browser, name):
    browser.get("/login")
    browser.fill("#name", name)
    browser.fill("#password", PASSWORD)
    browser.submit("#login")
    assert f"{name} (" in browser.text(".who")


def log_out(browser):
    browser.submit(".logout button")
    assert browser.driver.current_url.endswith("/login")


def test_a_cashier_sells_prints_reprints_and_a_supervisor_reverses_and_closes(
    browser, live_sqlite_server
):
    station = live_sqlite_server.station
    browser.get("/meters")
    assert "/login" in browser.driver.current_url  # anonymous: sent to log in
    browser.shot("login")
    log_in(browser, "clerk")

    # find by customer name, open the meter
    browser.fill("#q", "a. block")
    browser.submit("#search")
    browser.shot("find")
    browser.click(f"#results a[href='/meters/{KWH_METER}']")
    assert browser.text("#customer") == "A. Block"
    assert browser.text("#debt") == "0.00"

    # sell 20.00 cash: the reference is made by the station
    browser.fill("#amount", "20.00")
    browser.shot("meter")
    browser.submit("#sell")
    token = browser.text("#token")
    assert re.fullmatch(r"\d{4}( \d{4}){4}", token), token
    assert not browser.find_all("#copy-mark")
    seq = browser.text("#receipt-no")
    assert browser.text("#paid") == "20.00" and "kWh" in browser.text("#units")
    browser.shot("receipt")
    sale = lookup.recent_sales(station, KWH_METER)[0]
    assert sale["receipt"] == seq and sale["cashier"] == "clerk"
    assert sale["token_grouped"] == token and sale["ref"].startswith("CASH-")

    # print views: 80 mm, 58 mm, A4 (no navigation bar on paper)
    for paper in ("80", "58", "a4"):
        browser.get(f"/receipts/{seq}?paper={paper}")
        browser.media("print")
        assert not browser.find(".bar").is_displayed()
        width = browser.find("#receipt").size["width"]
        browser.shot(f"receipt-print-{paper}")
        browser.media("screen")
        if paper == "58":
            assert width < 200, width  # 48 mm printable at 96 dpi is about 181 px
    # reprint: the same token, marked COPY
    browser.get("/meters")
    browser.fill("#receipt-q", seq)
    browser.submit("#find-receipt")
    assert browser.text("#copy-mark") == "COPY" and browser.text("#token") == token
    browser.shot("reprint")

    # a cashier may not reverse
    browser.get(f"/receipts/{seq}/reverse", status=403)
    assert "may not" in browser.text("#message")
    browser.shot("reverse-refused")

    # a forged form (no CSRF token) is refused and sells nothing
    before = len(lookup.recent_sales(station, KWH_METER))
    browser.driver.execute_script(
        """const f = document.createElement('form'); f.method = 'post';
        f.action = '/meters/' + arguments[0] + '/sell';
        for (const [k, v] of [['amount', '5'], ['channel', 'cash'], ['cash_ref', 'FORGED-1']]) {
            const i = document.createElement('input'); i.name = k; i.value = v; f.appendChild(i);
        }
        document.body.appendChild(f); f.submit();""",
        KWH_METER,
    )
    browser.wait_for("#message")
    browser.check_console(403)
    assert "security token" in browser.text("#message")
    assert len(lookup.recent_sales(station, KWH_METER)) == before
    browser.shot("forged-refused")

    # cash-up: 20.00 expected, 19.50 counted -> 0.50 short, recorded
    browser.get("/shift")
    assert browser.text("#expected") == "20.00"
    browser.fill("#counted", "19.50")
    browser.fill("#note", "coins short")
    browser.submit("#cash-up")
    assert "-0.50" in browser.text("#cashups")
    browser.shot("shift-cashup")
    assert closing.cash_ups(station, "clerk", station.stamp().local_date)[0]["difference"] == -50
    log_out(browser)

    # the supervisor reverses the clerk's sale (a reason is required)
    log_in(browser, "boss")
    browser.get(f"/receipts/{seq}")
    browser.click("#reverse-link")
    browser.shot("reverse-form")
    browser.submit("#reverse", navigates=False)  # empty reason: `required` keeps the form
    assert "/reverse" in browser.driver.current_url
    browser.fill("#reason", "customer paid twice")
    browser.submit("#reverse")
    assert "Reversal" in browser.text("h1")
    browser.shot("reversal-receipt")
    browser.get(f"/receipts/{seq}")
    assert "REVERSED" in browser.text("#reversed-note")

    # close the day
    browser.get("/day")
    assert browser.text("#books") == "balance"
    browser.submit("#close-day")
    assert "Closed by boss" in browser.text("#closed")
    browser.shot("day-closed")
    today = station.stamp().local_date
    assert closing.closed(station, today)["closed_by"] == "boss"
    browser.check_console()


def test_a_supervisor_cannot_reverse_their_own_sale(browser, live_sqlite_server):
    log_in(browser, "boss")
    browser.get(f"/meters/{KWH_METER}")
    browser.fill("#amount", "10")
    browser.submit("#sell")
    seq = browser.text("#receipt-no")
    assert not browser.find_all("#reverse-link")
    browser.get(f"/receipts/{seq}/reverse", status=403)
    assert "own sale" in browser.text("#message")


def test_the_chosen_paper_is_kept_for_the_next_original_receipt(browser, live_sqlite_server):
    log_in(browser, "clerk")
    browser.get(f"/meters/{KWH_METER}")
    browser.fill("#amount", "10")
    browser.submit("#sell")
    browser.click("#paper-58")  # the receipt again (a COPY) on 58 mm
    assert browser.text("#copy-mark") == "COPY"
    browser.get(f"/meters/{KWH_METER}")
    browser.fill("#amount", "11")
    browser.submit("#sell")
    assert "paper-58" in browser.find("body").get_attribute("class")
    assert not browser.find_all("#copy-mark")


@pytest.fixture
def nairobi_browser(tmp_path, sqlite_station):
    """Chromium on a station with its receipt settings (`prepay station settings`) set before
    `prepay serve` starts: a utility in Kisumu, three hours ahead of UTC all year."""
    station, _keys = sqlite_station
    settings.update(
        station.home,
        {
            "utility_name": "Kisumu Power Co",
            "address": "12 Oginga Odinga St, Kisumu",
            "tax_id": "P051234567X",
            "timezone": "Africa/Nairobi",
        },
    )
    server = LiveServer(station.home, tmp_path / "serve.log").start()
    opened = Browser(server.url, tmp_path / "shots")
    yield opened, station
    opened.quit()
    server.stop()


def test_the_printed_receipt_carries_the_station_header_and_local_time(nairobi_browser):
    browser, station = nairobi_browser
    log_in(browser, "clerk")
    browser.get(f"/meters/{KWH_METER}")
    browser.fill("#amount", "20.00")
    browser.submit("#sell")
    seq = browser.text("#receipt-no")
    sale = lookup.recent_sales(station, KWH_METER)[0]
    utc = datetime.fromisoformat(sale["created_at"])
    local = (utc + timedelta(hours=3)).strftime("%Y-%m-%d %H:%M EAT")
    for paper in ("80", "58", "a4"):
        browser.get(f"/receipts/{seq}?paper={paper}")
        browser.media("print")
        header = browser.text("#station-header").splitlines()
        assert header == ["Kisumu Power Co", "12 Oginga Odinga St, Kisumu", "Tax ID P051234567X"]
        assert browser.text("#receipt-time") == local
        # the header wraps inside the printable width, never past it
        width = browser.find("#receipt").size["width"]
        assert browser.find("#station-header").size["width"] <= width
        browser.shot(f"receipt-header-print-{paper}")
        browser.media("screen")
