"""Pages in process: the day report's chart and CSV, the cash-up's bad input, the shift page."""

import csv
import io

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
