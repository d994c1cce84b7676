"""Pages in process: the day report's chart and CSV, the cash-up's bad input, the shift page."""

import csv
import io
from datetime import datetime, timedelta

from host_tools.vending import vend
from tests.vending.vending_setup import CURRENCY_METER, KWH_METER
from tests.web.conftest import csrf_of, login


def test_the_day_report_has_a_server_drawn_chart_and_a_csv(client):
    vend.sell(client.station, KWH_METER, "20", "P-1", "cash", "clerk")
    vend.sell(client.station, CURRENCY_METER, "7.50", "P-2", "mobile", "=cmd|boss")
    login(client, "boss")
    page = client.get("/day")
    assert page.status_code == 200
    svg = page.text.split('<svg class="chart"', 1)[1].split("</svg>", 1)[0]
    assert svg.count('class="chart-bar"') == 2 and ">20.00<" in svg and ">7.50<" in svg
    date = client.station.stamp().local_date
    exported = client.get("/day.csv", params={"date": date})
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0] == ["table", "name", "sales", "sold", "reversals", "reversed", "net"]
    assert ["channel", "cash", "1", "20.00", "0", "0.00", "20.00"] in rows
    assert ["cashier", "'=cmd|boss", "1", "7.50", "0", "0.00", "7.50"] in rows  # no formula


def test_a_cashier_gets_no_day_csv(client):
    login(client, "clerk")
    assert client.get("/day.csv").status_code == 403


def test_a_bad_cash_count_is_refused_and_records_nothing(client):
    login(client, "clerk")
    page = client.get("/shift")
    for counted in ("abc", "-5", "1.234"):
        refused = client.post("/shift/cashup", data={"csrf": csrf_of(page.text),
                                                     "counted": counted})  # fmt: skip
        assert refused.status_code == 400 and "cash counted" in refused.text
    assert 'id="cashups"' not in client.get("/shift").text
    done = client.post("/shift/cashup", data={"csrf": csrf_of(page.text), "counted": "0"})
    assert done.status_code == 200 and "0.00" in done.text and 'id="cashups"' in done.text


def test_the_receipt_prints_the_station_header_and_local_time(sqlite_station):
    """As the CLI's receipts (settings.for_print): utility, address, tax id; the station's
    local time, not the ledger's UTC, on the original, a reprint and every paper."""
    from host_tools.vending import settings
    from host_tools.vending.station import Station
    from host_tools.web.app import create_app
    from tests.web.conftest import TestClient

    station, _keys = sqlite_station
    settings.update(
        station.home,
        {
            "utility_name": "Kisumu <Power> Co",
            "address": "12 Oginga Odinga St, Kisumu",
            "tax_id": "P051234567X",
            "timezone": "Africa/Nairobi",
        },
    )
    opened = Station(station.home)  # `prepay serve` reads station.json when it starts
    try:
        with TestClient(create_app(opened), base_url="http://station.test") as client:
            login(client, "clerk")
            page = client.get(f"/meters/{KWH_METER}").text
            sold = client.post(
                f"/meters/{KWH_METER}/sell",
                data={"csrf": csrf_of(page), "amount": "20", "channel": "cash",
                      "cash_ref": "CASH-LOCAL1"},
            )  # fmt: skip
            sale = vend.find_receipt(opened, None, "CASH-LOCAL1")
            utc = datetime.fromisoformat(sale["created_at"])
            local = (utc + timedelta(hours=3)).strftime("%Y-%m-%d %H:%M EAT")  # UTC+3 all year
            for response in [sold] + [
                client.get(f"/receipts/{sale['receipt']}", params={"paper": p})
                for p in ("80", "58", "a4")
            ]:
                assert response.status_code == 200
                head = response.text.split('id="station-header">', 1)[1].split("</header>", 1)[0]
                assert "Kisumu &lt;Power&gt; Co" in head  # escaped like every name
                assert "12 Oginga Odinga St, Kisumu" in head and "Tax ID P051234567X" in head
                when = response.text.split('id="receipt-time">', 1)[1].split("<", 1)[0]
                assert when == local
    finally:
        opened.close()


def test_a_web_reprint_is_logged_in_the_audit_chain_with_the_user(client):
    """As `prepay reprint`: the copy is a `reprint` txn naming the logged-in user (not the
    sale's cashier), the chain still verifies, and a receipt that is not there logs nothing."""
    from sqlalchemy import select

    from host_tools.vending import audit, db

    sale = vend.sell(client.station, KWH_METER, "20", "R-1", "cash", "clerk")

    def reprint_rows():
        t = db.txns
        query = select(t.c.seq, t.c.cashier, t.c.meter).where(t.c.kind == "reprint")
        return client.station.read(lambda conn: [tuple(r) for r in conn.execute(query)])

    login(client, "boss")
    assert client.get("/receipts/99999").status_code == 404
    assert reprint_rows() == []
    page = client.get(f"/receipts/{sale['receipt']}")
    assert page.status_code == 200 and 'id="copy-mark"' in page.text
    assert sale["token_grouped"].split()[0] in page.text
    ((seq, cashier, meter),) = reprint_rows()
    assert (cashier, meter) == ("boss", KWH_METER)
    logged = vend.find_receipt(client.station, str(seq))
    assert logged["kind"] == "reprint"
    assert f'<dd id="copy-logged">{vend.receipt_number(seq)}</dd>' in page.text
    client.get(f"/receipts/{sale['receipt']}", params={"paper": "58"})
    assert len(reprint_rows()) == 2  # every copy shown is a copy
    checked = audit.verify(client.station)
    assert checked["ok"] and checked["txns"] == 3, checked
