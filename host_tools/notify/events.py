"""What is announced, and when: the head-end's meter events, the monthly statement and the debt
reminder. Each writes outbox rows in the caller's transaction (outbox.enqueue)."""

import calendar
from datetime import UTC

from sqlalchemy import func, select

from host_tools.headend.consumption import used_in_month
from host_tools.notify import outbox
from host_tools.vending import StationError, db, registry

# Meter events that become messages (the head-end maps the journal's events to these names:
# RELAY opened for credit -> supply_cut, RELAY closed -> supply_restored, ZONE into low ->
# credit_low, EMERGENCY activated -> emergency_credit). Other events announce nothing.
EVENT_KINDS = ("credit_low", "supply_cut", "supply_restored", "emergency_credit")
USED_WINDOW_S = 14 * 86400  # what `used_14d` covers unless `used_seconds` says less


def on_meter_event(conn, meter, event):
    """Called by the head-end in the transaction that stores a meter's event.

    `event`: {"seq": the meter's event sequence number, "kind": one of EVENT_KINDS,
    "credit": register units left, "used_14d": register units used over the last 14 days
    (credit_low; None when unknown), "used_seconds": how long that was measured over (fewer
    than 14 days for a newer meter; default 14 days), "granted": emergency credit in register
    units,
    "at": ISO 8601 UTC}. Idempotent by (meter, seq): an event stored twice is announced once.
    Returns True if a message was queued. A critical customer (never disconnected) gets the
    warnings but no supply-cut message: the station keeps that supply on."""
    kind = event.get("kind")
    if kind not in EVENT_KINDS:
        return False
    row = registry.get_meter(conn, meter)
    if kind == "supply_cut" and row.critical:
        return False
    data = {"credit": int(event.get("credit", 0))}
    if kind == "credit_low" and event.get("used_14d") is not None:
        data["used_14d"] = int(event["used_14d"])
        data["used_seconds"] = int(event.get("used_seconds") or USED_WINDOW_S)
    if kind == "emergency_credit":
        data["granted"] = int(event.get("granted", 0))
    key = f"event:{row.number}:{int(event['seq'])}"
    return outbox.enqueue(conn, kind, row.number, key, data, event["at"])


def statement_data(conn, meter, month, tz=UTC):
    """A meter's month (YYYY-MM, station time zone `tz`) from its sales: purchases, money,
    energy (register units bought; not reversed), days in the month; and from the head-end's
    readings `used` (register units used; None without readings: a keypad-only meter)."""
    s, r = db.sales, db.reversals
    not_reversed = ~select(r.c.original_id).where(r.c.original_id == s.c.txn_id).exists()
    count, paid, units = conn.execute(
        select(func.count(), func.coalesce(func.sum(s.c.amount), 0),
               func.coalesce(func.sum(s.c.units), 0))
        .where(s.c.meter == meter, s.c.month == month, not_reversed)
    ).one()  # fmt: skip
    year, mon = int(month[:4]), int(month[5:7])
    row = registry.get_meter(conn, meter)
    used = used_in_month(conn, meter, row.unit, row.scale, year, mon, tz)
    return {
        "used": used,
        "month": month,
        "purchases": int(count),
        "purchased": int(paid),
        "energy": int(units),
        "days": calendar.monthrange(year, mon)[1],
    }


def check_month(text):
    text = (text or "").strip()
    if len(text) != 7 or text[4] != "-" or not (text[:4] + text[5:]).isdigit():
        raise StationError("--month must be YYYY-MM")
    if not 1 <= int(text[5:]) <= 12:
        raise StationError("--month must be YYYY-MM")
    return text


def queue_month(conn, month, now_iso, debt_order="oldest", tz=UTC):
    """The monthly statement, and a debt reminder where arrears are owed, for every meter whose
    customer opted in to a channel. Idempotent per meter and month. Returns the count queued."""
    month = check_month(month)
    c = db.customer_contacts
    meters = conn.execute(
        select(c.c.meter).where(c.c.email_opt_in | c.c.sms_opt_in).order_by(c.c.meter)
    ).scalars()
    queued = 0
    for meter in list(meters):
        data = statement_data(conn, meter, month, tz)
        queued += outbox.enqueue(conn, "statement", meter, f"statement:{meter}:{month}", data,
                                 now_iso)  # fmt: skip
        owed = sum(part for _, part, _ in registry.arrears_outstanding(conn, meter, debt_order))
        if owed > 0:
            queued += outbox.enqueue(conn, "debt_reminder", meter, f"debt:{meter}:{month}",
                                     {"owed": owed}, now_iso)  # fmt: skip
    return queued
