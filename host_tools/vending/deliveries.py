"""Remote top-up: the rows that queue a sale's token for the head-end (host_tools/headend).

Written by the sale in its own transaction (`vend.sell`'s side rows), so a token is queued if
and only if it was sold; the head-end pushes pending deliveries to online meters. Keypad-only
meters' deliveries just stay pending (nothing is lost by a queue nobody drains).
"""

from sqlalchemy import select

from host_tools.vending import db

PENDING = "pending"


def delivery_rows(txn_id, meter, issued):
    """(deliveries table, rows) for the credit tokens of one sale: [(tid, kind, value, digits)]."""
    rows = [
        {"txn_id": txn_id, "meter": meter, "digits": digits, "status": PENDING, "attempts": 0}
        for _tid, kind, _value, digits in issued
        if kind == "credit"
    ]
    return db.deliveries, rows


STATUSES = ("pending", "sent", "accepted", "done", "rejected")


def list_deliveries(conn, meter=None, status=None, limit=500):
    """Deliveries, newest sale first, with the sale's receipt number (`prepay headend
    deliveries`). No token digits: for a rejected one the receipt (`prepay reprint RECEIPT`)
    has them, for the customer to type in or for an engineer to check the meter's key."""
    d, t = db.deliveries, db.txns
    query = select(
        t.c.seq.label("receipt"), d.c.meter, d.c.status, d.c.result, d.c.attempts,
        t.c.created_at.label("sold_at"), d.c.sent_at, d.c.closed_at,
    ).join(t, t.c.id == d.c.txn_id)  # fmt: skip
    if meter:
        query = query.where(d.c.meter == meter)
    if status:
        query = query.where(d.c.status == status)
    rows = conn.execute(query.order_by(t.c.seq.desc()).limit(limit)).mappings().all()
    return [dict(row, receipt=f"{row['receipt']:08d}") for row in rows]  # vend.receipt_number
