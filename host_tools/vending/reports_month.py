"""Back-office reports (read only): the month report (月结), series for charts (net sales per
day, kWh and revenue per month) and arrears with their recovery percentage and age.

Amounts are integer minor units; energy is integer Wh (register units of kWh meters converted
per scale: `units * 1000 // scale` over each scale's total, so at most 1 Wh per scale is
dropped). Currency meters apply the tariff themselves: their energy is not known at the station
and is not in the kWh figures. Reversals count in the day (and month) they are made, like the
day report.
"""

import re
from datetime import date, timedelta

from sqlalchemy import func, select

from host_tools.vending import StationError, db, reports
from host_tools.vending.money import fmt
from token_spec.units import units_text

AGE_BUCKETS = ((30, "0-30 days"), (60, "31-60 days"), (90, "61-90 days"), (None, "over 90 days"))


def check_month(text):
    text = str(text or "").strip()
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        raise StationError(f"{text!r} is not a month YYYY-MM")
    return text


def kwh_text(wh):
    return units_text(wh, 1000)


def percent_text(part, whole):
    """part/whole as a percentage with two decimals, integer arithmetic ("-" when whole is 0)."""
    if whole <= 0:
        return "-"
    basis = part * 10000 // whole
    return f"{basis // 100}.{basis % 100:02d}%"


def _month_of(local_date_column):
    return func.substr(local_date_column, 1, 7)


def _energy(conn, group_column, where):
    """{group: Wh} of kWh meters' sales less reversals made, grouped by `group_column`."""
    t, s, m = db.txns, db.sales, db.meters
    original = s.alias("original")
    sold = conn.execute(
        select(group_column, m.c.scale, func.sum(s.c.units))
        .select_from(t.join(s, s.c.txn_id == t.c.id).join(m, m.c.number == s.c.meter))
        .where(m.c.unit == "kwh", *where)
        .group_by(group_column, m.c.scale)
    ).all()
    reversed_rows = conn.execute(
        select(group_column, m.c.scale, func.sum(original.c.units))
        .select_from(
            t.join(db.reversals, db.reversals.c.reversal_id == t.c.id)
            .join(original, original.c.txn_id == db.reversals.c.original_id)
            .join(m, m.c.number == original.c.meter)
        )
        .where(m.c.unit == "kwh", *where)
        .group_by(group_column, m.c.scale)
    ).all()
    units = {}
    for rows, sign in ((sold, 1), (reversed_rows, -1)):
        for group, scale, total in rows:
            units[(group, scale)] = units.get((group, scale), 0) + sign * int(total)
    out = {}
    for (group, scale), total in units.items():
        out[group] = out.get(group, 0) + total * 1000 // scale
    return out


def _net(conn, group_column, where):
    """{group: net minor units} (sales less reversals made), grouped by `group_column`."""
    t, s = db.txns, db.sales
    original = s.alias("original")
    sold = conn.execute(
        select(group_column, func.sum(s.c.amount))
        .join(s, s.c.txn_id == t.c.id)
        .where(*where)
        .group_by(group_column)
    ).all()
    reversed_rows = conn.execute(
        select(group_column, func.sum(original.c.amount))
        .select_from(
            t.join(db.reversals, db.reversals.c.reversal_id == t.c.id).join(
                original, original.c.txn_id == db.reversals.c.original_id
            )
        )
        .where(*where)
        .group_by(group_column)
    ).all()
    out = {}
    for rows, sign in ((sold, 1), (reversed_rows, -1)):
        for group, total in rows:
            out[group] = out.get(group, 0) + sign * int(total)
    return out


def month(station, month_text):
    """The month report: per channel and cashier (as the day report), kWh sold, net per day."""
    month_text = check_month(month_text)
    first = month_text + "-01"
    last = month_text + "-31"  # text comparison: every day of the month is <= "-31"
    totals = reports.period(station, first, last)
    t = db.txns

    def work(conn):
        where = [t.c.local_date.between(first, last)]
        return _net(conn, t.c.local_date, where), _energy(conn, t.c.local_date, where)

    per_day, energy = station.read(work)
    year, mon = int(month_text[:4]), int(month_text[5:])
    days, day = [], date(year, mon, 1)
    while day.month == mon:
        text = day.isoformat()
        days.append({"date": text, "net": per_day.get(text, 0), "wh": energy.get(text, 0)})
        day += timedelta(days=1)
    wh = sum(energy.values())
    return {"month": month_text, **totals, "wh": wh, "kwh": kwh_text(wh), "days": days}


def months(station, last_month, count=12):
    """[{month, net, wh, kwh, revenue}] for the `count` months up to `last_month`, oldest first."""
    last_month = check_month(last_month)
    year, mon = int(last_month[:4]), int(last_month[5:])
    names = []
    for _ in range(count):
        names.append(f"{year:04d}-{mon:02d}")
        year, mon = (year, mon - 1) if mon > 1 else (year - 1, 12)
    names.reverse()
    t = db.txns
    group = _month_of(t.c.local_date)

    def work(conn):
        where = [t.c.local_date.between(names[0] + "-01", names[-1] + "-31")]
        return _net(conn, group, where), _energy(conn, group, where)

    net, energy = station.read(work)
    return [
        {
            "month": name,
            "net": net.get(name, 0),
            "revenue": fmt(net.get(name, 0)),
            "wh": energy.get(name, 0),
            "kwh": kwh_text(energy.get(name, 0)),
        }
        for name in names
    ]


def _age_bucket(days_old):
    for limit, label in AGE_BUCKETS:
        if limit is None or days_old <= limit:
            return label
    raise AssertionError("unreachable")


def arrears(station, today=None):
    """Arrears per meter (raised, recovered, outstanding, recovery %) and outstanding by age
    (days since the arrears were raised), with the station's overall recovery percentage."""
    today = today or station.stamp().local_date
    e, t, m = db.entries, db.txns, db.meters

    def work(conn):
        rows = conn.execute(
            select(e.c.meter, e.c.arrear_id, t.c.local_date, e.c.account, func.sum(e.c.amount))
            .join(t, t.c.id == e.c.arrear_id)
            .where(e.c.account.in_(("arrears_receivable", "debt_recovery")))
            .group_by(e.c.meter, e.c.arrear_id, t.c.local_date, e.c.account)
        ).all()
        customers = dict(conn.execute(select(m.c.number, m.c.customer)).all())
        return rows, customers

    rows, customers = station.read(work)
    items = {}  # arrear id -> [meter, raised on, raised, recovered]
    for meter, arrear_id, raised_on, account, total in rows:
        item = items.setdefault(arrear_id, [meter, raised_on, 0, 0])
        if account == "arrears_receivable":
            item[2] += int(total)
        else:
            item[3] -= int(total)  # recoveries are credits
    meters, ages = {}, {label: 0 for _, label in AGE_BUCKETS}
    today_date = date.fromisoformat(today)
    for meter, raised_on, raised, recovered in items.values():
        row = meters.setdefault(meter, {"raised": 0, "recovered": 0})
        row["raised"] += raised
        row["recovered"] += recovered
        owed = raised - recovered
        if owed > 0:
            days_old = (today_date - date.fromisoformat(raised_on)).days
            ages[_age_bucket(days_old)] += owed
    table = []
    for meter, row in sorted(meters.items()):
        owed = row["raised"] - row["recovered"]
        table.append(
            {
                "meter": meter,
                "customer": customers.get(meter, ""),
                "raised": fmt(row["raised"]),
                "recovered": fmt(row["recovered"]),
                "outstanding": fmt(owed),
                "owed": owed,
                "recovery": percent_text(row["recovered"], row["raised"]),
            }
        )
    raised = sum(r["raised"] for r in meters.values())
    recovered = sum(r["recovered"] for r in meters.values())
    return {
        "date": today,
        "meters": table,
        "ages": [
            {"age": label, "owed": ages[label], "outstanding": fmt(ages[label])}
            for _, label in AGE_BUCKETS
        ],
        "raised": fmt(raised),
        "recovered": fmt(recovered),
        "outstanding": fmt(raised - recovered),
        "recovery": percent_text(recovered, raised),
    }
