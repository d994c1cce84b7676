"""Cashier and supervisor pages: server-rendered, usable without JavaScript.

Cashier: find a meter (number, customer, phone), see it (customer, tariff, debt, last
purchases), sell, receipt (print styles for 58/80 mm thermal and A4), reprint (marked COPY and
logged in the audit chain with the user, as `prepay reprint` logs it), own shift and cash-up.
Supervisor: reverse a sale (reason required, never one's own), the day report and closing the
day.
"""

import secrets

from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse

from host_tools.vending import (
    StationError,
    closing,
    lookup,
    mgmt,
    registry,
    reports,
    reprints,
    settings,
    vend,
)
from host_tools.vending import render as render_text
from host_tools.vending.money import fmt, parse_amount
from host_tools.web import charts, csv_export
from host_tools.web.auth import SUPERVISORS, Forbidden, action, page

PAPERS = ("80", "58", "a4")
PAPER_COOKIE = "prepay_paper"


def render(request, name, status=200, **context):
    context.setdefault("user", getattr(request.state, "user", None))
    context.setdefault("csrf", getattr(request.state, "csrf", ""))
    context.setdefault("error", None)
    templates = request.app.state.templates
    return templates.TemplateResponse(request, name, context, status_code=status)


def _station(request):
    return request.app.state.station


async def _call(func, *args, **kwargs):
    return await run_in_threadpool(func, *args, **kwargs)


@page()
async def home(request, user):
    return RedirectResponse("/meters", status_code=303)


@page()
async def find(request, user):
    query = request.query_params.get("q", "")
    found = await _call(lookup.search_meters, _station(request), query) if query else []
    return render(request, "find.html", query=query, found=found)


async def _meter_page(request, number, error=None, status=200, form=None):
    station = _station(request)
    try:
        meter = await _call(mgmt.meter_summary, station, number)
    except StationError as exc:
        return render(request, "error.html", 404, message=str(exc))
    tariff = await _call(station.read, lambda conn: registry.get_tariff(conn, meter["tariff"]))
    sales = await _call(lookup.recent_sales, station, meter["number"])
    return render(
        request,
        "meter.html",
        status,
        meter=meter,
        tariff=tariff,
        sales=sales,
        channels=vend.CHANNELS,
        cash_ref="CASH-" + secrets.token_hex(6).upper(),  # one per form: a resubmit replays
        form=form or {},
        error=error,
    )


@page()
async def meter(request, user):
    return await _meter_page(request, request.path_params["number"])


@action()
async def sell(request, user):
    form = request.state.form
    number = request.path_params["number"]
    channel = form.get("channel", "")
    ref = (form.get("ref") or "").strip()
    if channel == "cash" and not ref:
        ref = form.get("cash_ref", "")
    if not ref:
        return await _meter_page(
            request, number, f"a {channel} sale needs its payment reference", 400, form
        )
    try:
        receipt = await _call(
            vend.sell, _station(request), number, form.get("amount", ""), ref, channel, user.name
        )
    except StationError as exc:
        return await _meter_page(request, number, str(exc), 400, form)
    return _receipt_page(request, receipt, copy=bool(receipt.get("replayed")))


def _receipt_page(request, receipt, copy):
    """The receipt on the counter's paper: chosen once (?paper=) and kept in a cookie, so the
    next sale's receipt (the original, not a COPY) prints on it directly. Its header (utility,
    address, tax id) and time in the station's zone come from the CLI's receipt code
    (settings.for_print, render.header_lines / receipt_time)."""
    chosen = request.query_params.get("paper")
    paper = chosen if chosen in PAPERS else request.cookies.get(PAPER_COOKIE)
    station = _station(request)
    receipt = settings.for_print(station.config, station.tz, receipt)
    response = render(
        request,
        "receipt.html",
        receipt=receipt,
        header=render_text.header_lines(receipt),
        when=render_text.receipt_time(receipt),
        copy=copy,
        paper=paper if paper in PAPERS else "80",
        papers=PAPERS,
        groups=(receipt.get("token_grouped") or "").split(),
    )
    if chosen in PAPERS:
        response.set_cookie(
            PAPER_COOKIE, chosen, max_age=400 * 86400, httponly=True, samesite="strict"
        )
    return response


@page()
async def reprint(request, user):
    """A copy of a stored receipt: every copy shown (so printable) is a `reprint` txn in the
    audit chain naming the user, through the function `prepay reprint` uses. A page that
    shows the same token again is a copy whether it goes to paper or not, so choosing another
    paper size (a reload) logs another copy too."""
    try:
        receipt = await _call(
            reprints.reprint, _station(request), request.path_params["seq"], cashier=user.name
        )
    except StationError as exc:
        return render(request, "error.html", 404, message=str(exc))
    return _receipt_page(request, receipt, copy=True)


@page()
async def find_receipt(request, user):
    """Reprint by receipt number or payment reference."""
    text = (request.query_params.get("q") or "").strip()
    station = _station(request)
    try:
        if text.lstrip("#").isdigit():
            receipt = await _call(vend.find_receipt, station, text)
        else:
            receipt = await _call(vend.find_receipt, station, None, text)
    except StationError as exc:
        return render(request, "find.html", 404, query="", found=[], error=str(exc))
    return RedirectResponse(f"/receipts/{receipt['receipt']}", status_code=303)


@page()
async def shift(request, user):
    return await _shift(request, user)


async def _shift(request, user, status=200, **context):
    station = _station(request)
    today = station.stamp().local_date
    report = await _call(reports.day, station, today, user.name)
    sales = await _call(lookup.sales_by, station, today, user.name)
    expected = await _call(closing.expected_cash, station, user.name, today)
    cashups = await _call(closing.cash_ups, station, user.name, today)
    return render(
        request,
        "shift.html",
        report=report,
        sales=sales,
        today=today,
        expected=fmt(expected),
        cashups=[_fmt_cashup(c) for c in cashups],
        status=status,
        **context,
    )


def _fmt_cashup(row):
    out = dict(row)
    for field in ("expected", "counted", "difference"):
        out[field + "_text"] = ("+" if field == "difference" and row[field] > 0 else "") + fmt(
            row[field]
        )
    return out


@action()
async def cash_up(request, user):
    form = request.state.form
    try:
        await _call(
            closing.cash_up, _station(request), user.name, form.get("counted"), form.get("note")
        )
    except StationError as exc:
        return await _shift(request, user, 400, error=str(exc))
    return RedirectResponse("/shift", status_code=303)


# ---- supervisor ------------------------------------------------------------------------------


async def _original(request, seq_text):
    receipt = await _call(vend.find_receipt, _station(request), seq_text)
    if receipt["kind"] != "sale":
        raise StationError(f"receipt {receipt['receipt']} is not a sale")
    return receipt


def _refuse_own(user, receipt):
    if receipt["cashier"] == user.name:
        raise Forbidden("nobody reverses their own sale: ask another supervisor")


@page(SUPERVISORS)
async def reverse_form(request, user):
    try:
        receipt = await _original(request, request.path_params["seq"])
        _refuse_own(user, receipt)
    except StationError as exc:
        return render(request, "error.html", 404, message=str(exc))
    return render(request, "reverse.html", receipt=receipt)


@action(SUPERVISORS)
async def reverse(request, user):
    seq = request.path_params["seq"]
    try:
        receipt = await _original(request, seq)
    except StationError as exc:
        return render(request, "error.html", 404, message=str(exc))
    _refuse_own(user, receipt)
    reason = request.state.form.get("reason", "")
    try:
        done = await _call(vend.reverse, _station(request), seq, reason, user.name, user.name)
    except StationError as exc:
        return render(request, "reverse.html", 400, receipt=receipt, error=str(exc))
    return _receipt_page(request, done, copy=False)


@page(SUPERVISORS)
async def day(request, user):
    station = _station(request)
    date = request.query_params.get("date") or station.stamp().local_date
    try:
        date = closing.check_date(date)
        closed = await _call(closing.closed, station, date)
        report = closed["totals"] if closed else await _call(reports.day, station, date)
    except StationError as exc:
        return render(request, "error.html", 400, message=str(exc))
    if request.url.path.endswith(".csv"):
        return _day_csv(report)
    net = [(name, _minor(row["net"])) for name, row in report["channels"].items()]
    chart = charts.bars(f"Net sales per channel, {date}", net)
    return render(request, "day.html", report=report, closed=closed, date=date, chart=chart)


def _minor(text):
    """A formatted amount ("-12.50") back to minor units, for charts of report rows."""
    sign = -1 if text.startswith("-") else 1
    return sign * parse_amount(text.lstrip("-")) if text.strip("-0.") else 0


CSV_FIELDS = ("sales", "sold", "reversals", "reversed", "net")


def table_rows(report, tables=("channels", "cashiers")):
    """Rows [table, name, sales, sold, reversals, reversed, net] of a report's tables."""
    return [
        [table[:-1], name] + [row[k] for k in CSV_FIELDS]
        for table in tables
        for name, row in report[table].items()
    ]


def _day_csv(report):
    """The day's per-channel and per-cashier tables as one CSV (a `table` column says which)."""
    header = ["table", "name", *CSV_FIELDS]
    return csv_export.response(f"prepay-day-{report['date']}.csv", header, table_rows(report))


@action(SUPERVISORS)
async def close_day(request, user):
    date = request.state.form.get("date", "")
    try:
        await _call(closing.close_day, _station(request), date, user.name)
    except StationError as exc:
        return render(request, "error.html", 400, message=str(exc))
    return RedirectResponse(f"/day?date={date}", status_code=303)
