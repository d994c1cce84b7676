"""Back-office report pages (supervisors and admins): the month report (月结), twelve months of
kWh and revenue, arrears with their recovery percentage and age. Each has its charts drawn on
the server (host_tools/web/charts.py) and a CSV of every table (`.csv` beside the page)."""

import calendar

from host_tools.vending import StationError, reports_month
from host_tools.vending.money import fmt
from host_tools.web import charts, csv_export
from host_tools.web.auth import SUPERVISORS, page
from host_tools.web.pages import CSV_FIELDS, _call, _minor, _station, render, table_rows


def _wants_csv(request):
    return request.url.path.endswith(".csv")


def _this_month(station):
    return station.stamp().local_date[:7]


@page(SUPERVISORS)
async def month(request, user):
    station = _station(request)
    try:
        name = reports_month.check_month(request.query_params.get("month") or _this_month(station))
        report = await _call(reports_month.month, station, name)
    except StationError as exc:
        return render(request, "error.html", 400, message=str(exc))
    if _wants_csv(request):
        header = ["table", "name", *CSV_FIELDS, "kwh"]
        rows = [row + [""] for row in table_rows(report)]
        rows += [
            ["day", d["date"], "", "", "", "", fmt(d["net"]), reports_month.kwh_text(d["wh"])]
            for d in report["days"]
        ]
        return csv_export.response(f"prepay-month-{name}.csv", header, rows)
    days = [(d["date"][8:], d["net"]) for d in report["days"]]
    net = [(channel, _minor(row["net"])) for channel, row in report["channels"].items()]
    return render(
        request,
        "month.html",
        report=report,
        month=name,
        per_day=charts.columns(f"Net sales per day, {name}", days, every=5),
        per_channel=charts.bars(f"Net sales per channel, {name}", net),
        kwh_text=reports_month.kwh_text,
        fmt=fmt,
    )


def _month_label(name, first):
    """ "Mar" under a column; the year too on the first column and on each January."""
    abbr = calendar.month_abbr[int(name[5:])]
    return f"{abbr} {name[:4]}" if first or name.endswith("-01") else abbr


@page(SUPERVISORS)
async def trends(request, user):
    station = _station(request)
    try:
        last = reports_month.check_month(request.query_params.get("to") or _this_month(station))
        series = await _call(reports_month.months, station, last, 12)
    except StationError as exc:
        return render(request, "error.html", 400, message=str(exc))
    if _wants_csv(request):
        rows = [[m["month"], m["revenue"], m["kwh"]] for m in series]
        return csv_export.response(
            f"prepay-months-to-{last}.csv", ["month", "revenue", "kwh"], rows
        )
    labels = [_month_label(m["month"], i == 0) for i, m in enumerate(series)]
    revenue = [(label, m["net"]) for label, m in zip(labels, series, strict=True)]
    energy = [(label, m["wh"]) for label, m in zip(labels, series, strict=True)]
    return render(
        request,
        "trends.html",
        series=series,
        last=last,
        revenue=charts.columns("Revenue per month (net sales)", revenue),
        energy=charts.columns(
            "kWh sold per month (kWh meters)", energy, text=lambda wh: f"{wh // 1000} kWh"
        ),
    )


@page(SUPERVISORS)
async def arrears(request, user):
    report = await _call(reports_month.arrears, _station(request))
    if _wants_csv(request):
        header = ["table", "meter", "customer", "raised", "recovered", "outstanding", "recovery"]
        rows = [
            [
                "meter",
                r["meter"],
                r["customer"],
                r["raised"],
                r["recovered"],
                r["outstanding"],
                r["recovery"],
            ]
            for r in report["meters"]
        ]
        rows += [["age", a["age"], "", "", "", a["outstanding"], ""] for a in report["ages"]]
        return csv_export.response(f"prepay-arrears-{report['date']}.csv", header, rows)
    ages = [(a["age"], a["owed"]) for a in report["ages"]]
    return render(
        request,
        "arrears.html",
        report=report,
        chart=charts.bars(f"Arrears outstanding by age, {report['date']}", ages, empty="none"),
    )
