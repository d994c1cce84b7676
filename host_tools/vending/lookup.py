"""Finding meters and a meter's recent sales, for the cashier's screen (read only)."""

from sqlalchemy import or_, select

from host_tools.vending import db, registry, vend
from host_tools.vending.money import fmt

SEARCH_LIMIT = 50
QUERY_MAX = 64


def _like(text):
    """A LIKE pattern matching `text` literally anywhere (%, _ and \\ are escaped)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_meters(station, query):
    """Meters whose number, customer name or phone contains `query` (case-insensitive)."""
    query = (query or "").strip()[:QUERY_MAX]
    if not query:
        return []
    m = db.meters
    pattern = _like(query.lower())
    digits = "".join(ch for ch in query if ch.isdigit())
    matches = [
        m.c.customer.ilike(pattern, escape="\\"),
        m.c.phone.ilike(pattern, escape="\\"),
        m.c.number.like(_like(digits) if digits else pattern, escape="\\"),
    ]

    def work(conn):
        rows = conn.execute(
            select(m).where(or_(*matches)).order_by(m.c.number).limit(SEARCH_LIMIT)
        )
        return [registry.meter_dict(r) for r in rows]

    return station.read(work)


def recent_sales(station, meter, limit=10):
    """The meter's newest sales as receipts (newest first), reversed ones marked."""
    meter = registry.check_meter(meter)
    t, s = db.txns, db.sales

    def work(conn):
        ids = conn.execute(
            select(t.c.id)
            .join(s, s.c.txn_id == t.c.id)
            .where(t.c.meter == meter)
            .order_by(t.c.seq.desc())
            .limit(limit)
        ).scalars()
        return [vend.receipt(conn, txn_id=txn_id) for txn_id in ids.all()]

    return station.read(work)


def sales_by(station, local_date, cashier=None, limit=200):
    """One day's sales (newest first), optionally one cashier's, as receipts."""
    t, s = db.txns, db.sales
    where = [t.c.local_date == local_date]
    if cashier is not None:
        where.append(t.c.cashier == cashier)

    def work(conn):
        ids = conn.execute(
            select(t.c.id)
            .join(s, s.c.txn_id == t.c.id)
            .where(*where)
            .order_by(t.c.seq.desc())
            .limit(limit)
        ).scalars()
        return [vend.receipt(conn, txn_id=txn_id) for txn_id in ids.all()]

    return station.read(work)


def sale_by_ref(station, ref):
    """(meter, amount minor, channel, receipt) of the sale with ledger reference `ref`, or None."""
    s = db.sales

    def work(conn):
        row = conn.execute(select(s).where(s.c.ref == ref)).first()
        if row is None:
            return None
        return row.meter, row.amount, row.channel, vend.receipt(conn, txn_id=row.txn_id)

    return station.read(work)


def amount_text(minor):
    return fmt(minor)
