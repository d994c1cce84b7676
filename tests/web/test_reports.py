"""Back-office reports (host_tools/vending/reports_month.py) on SQLite and PostgreSQL: the month
report, kWh and revenue per month, arrears with their recovery percentage and age."""

import csv
import io

from host_tools.vending import mgmt, reports_month, vend
from tests.vending.vending_setup import CURRENCY_METER, DEBT_METER, FLAT_METER, KWH_METER, at
from tests.web.conftest import login


def test_the_month_report_counts_sales_kwh_and_reversals_made_that_month(web_station):
    station, _ = web_station
    vend.sell(station, KWH_METER, "20", "M-1", "cash", "clerk", now=at("2026-11-03 10:00"))
    vend.sell(station, FLAT_METER, "10", "M-2", "mobile", "boss", now=at("2026-11-20 10:00"))
    vend.sell(station, CURRENCY_METER, "7.50", "M-3", "card", "clerk", now=at("2026-11-20 11:00"))
    vend.sell(station, KWH_METER, "5", "M-4", "cash", "clerk", now=at("2026-12-01 09:00"))
    # a November sale reversed in December counts against December
    vend.reverse(station, "2", "paid twice", "chief", "chief", now=at("2026-12-02 09:00"))
    november = reports_month.month(station, "2026-11")
    assert november["total_net"] == "37.50"
    assert november["channels"]["mobile"]["net"] == "10.00"
    assert november["cashiers"]["clerk"]["sold"] == "27.50"
    assert november["kwh"] == "25.000"  # 20 kWh block + 5 kWh flat; the currency meter not
    assert len(november["days"]) == 30
    assert november["days"][19] == {"date": "2026-11-20", "net": 1750, "wh": 5000}
    december = reports_month.month(station, "2026-12")
    assert december["total_net"] == "-5.00" and december["wh"] == 0
    series = reports_month.months(station, "2026-12", 3)
    assert [m["month"] for m in series] == ["2026-10", "2026-11", "2026-12"]
    assert [m["net"] for m in series] == [0, 3750, -500]
    assert [m["kwh"] for m in series] == ["0.000", "25.000", "0.000"]


def test_arrears_show_recovery_percentage_and_age(web_station):
    station, _ = web_station
    mgmt.add_arrears(station, DEBT_METER, "100", "old bill", "boss", now=at("2026-08-01 10:00"))
    mgmt.add_arrears(station, DEBT_METER, "20", "new bill", "boss", now=at("2026-11-25 10:00"))
    # 25 % of 40.00, capped at 10.00 per vend: 10.00 recovered from the oldest arrears
    vend.sell(station, DEBT_METER, "40", "A-1", "cash", "clerk", now=at("2026-11-26 10:00"))
    report = reports_month.arrears(station, "2026-12-01")
    (row,) = report["meters"]
    assert row["meter"] == DEBT_METER and row["customer"] == "D. Debt"
    assert (row["raised"], row["recovered"], row["outstanding"]) == ("120.00", "10.00", "110.00")
    assert row["recovery"] == "8.33%" and report["recovery"] == "8.33%"
    ages = {a["age"]: a["owed"] for a in report["ages"]}
    assert ages == {"0-30 days": 2000, "31-60 days": 0, "61-90 days": 0, "over 90 days": 9000}


def test_a_bad_month_is_refused():
    import pytest

    from host_tools.vending import StationError

    for bad in ("2026-13", "2026-1", "november", ""):
        with pytest.raises(StationError, match="not a month"):
            reports_month.check_month(bad)


def test_the_report_pages_draw_charts_and_export_every_table(client):
    station = client.station
    month = station.stamp().local_date[:7]
    mgmt.add_arrears(station, DEBT_METER, "100", "old bill", "boss")
    vend.sell(station, DEBT_METER, "40", "R-1", "cash", "clerk")
    vend.sell(station, CURRENCY_METER, "7.50", "R-2", "mobile", "=cmd|boss")
    login(client, "boss")
    page = client.get("/month")
    assert page.status_code == 200 and f"Month {month}" in page.text
    assert 'id="month-net">47.50<' in page.text
    assert page.text.count('<svg class="chart"') == 2 and "chart-bar" in page.text
    rows = list(csv.reader(io.StringIO(client.get("/month.csv").text)))
    assert rows[0] == ["table", "name", "sales", "sold", "reversals", "reversed", "net", "kwh"]
    assert ["cashier", "'=cmd|boss", "1", "7.50", "0", "0.00", "7.50", ""] in rows
    today = station.stamp().local_date
    assert [r for r in rows if r[:2] == ["day", today]][0][6:] == ["47.50", "15.000"]
    page = client.get("/trends")
    assert page.status_code == 200 and page.text.count('<svg class="chart"') == 2
    rows = list(csv.reader(io.StringIO(client.get("/trends.csv").text)))
    assert rows[0] == ["month", "revenue", "kwh"] and rows[-1] == [month, "47.50", "15.000"]
    page = client.get("/arrears")
    assert 'id="recovery">10.00%<' in page.text and "D. Debt" in page.text
    rows = list(csv.reader(io.StringIO(client.get("/arrears.csv").text)))
    assert ["meter", DEBT_METER, "D. Debt", "100.00", "10.00", "90.00", "10.00%"] in rows
    assert ["age", "0-30 days", "", "", "", "90.00", ""] in rows
    assert client.get("/month", params={"month": "2026-13"}).status_code == 400


def test_a_cashier_sees_no_back_office_report(client):
    login(client, "clerk")
    for path in ("/month", "/month.csv", "/trends", "/trends.csv", "/arrears", "/arrears.csv"):
        assert client.get(path).status_code == 403, path


def test_csv_cells_that_a_spreadsheet_would_run_are_quoted():
    from host_tools.web.csv_export import safe

    assert [safe(c) for c in ("=1+2", "+1", "@SUM(A1)", "-1+2", "-", "plain")] == [
        "'=1+2", "'+1", "'@SUM(A1)", "'-1+2", "'-", "plain"
    ]  # fmt: skip
    assert [safe(c) for c in ("-5.00", "12.50", 7, "0.000")] == ["-5.00", "12.50", 7, "0.000"]
