"""Closing the day (日清): the day report frozen when a supervisor closes it.

Once closed, the stored totals are the day's totals and never change. Every txn is dated when
it is sealed, so a correction made after the close (a reversal) is dated the day it is made; a
day closed before it ended (today) can still get txns dated that day: they are counted and shown
beside the frozen totals (`after_close`) and belong to the next close. A day is closed once,
and never in the future.
"""

import json
from datetime import date

from sqlalchemy import func, select

from host_tools.vending import StationError, db, reports


def check_date(text):
    try:
        return date.fromisoformat(str(text)).isoformat()
    except ValueError:
        raise StationError(f"{text!r} is not a date YYYY-MM-DD") from None


def closed(station, local_date):
    """The close of `local_date` as a dict (closed_by, closed_at, last_seq, totals) or None."""

    def work(conn):
        return conn.execute(
            select(db.day_closes).where(db.day_closes.c.local_date == local_date)
        ).first()

    def late(conn, row):
        t = db.txns
        return conn.execute(
            select(func.count()).where(t.c.local_date == row.local_date, t.c.seq > row.last_seq)
        ).scalar_one()

    row = station.read(work)
    if row is None:
        return None
    return {
        # txns dated the closed day but sealed after the close: not in the frozen totals
        "after_close": station.read(lambda conn: late(conn, row)),
        "date": row.local_date,
        "closed_by": row.closed_by,
        "closed_at": row.closed_at,
        "last_seq": row.last_seq,
        "totals": json.loads(row.totals),
    }


def close_day(station, local_date, user_name, now=None):
    """Freeze `local_date`'s report; refused for a future or closed day or unbalanced books."""
    stamp = station.stamp(now)
    local_date = check_date(local_date)
    if local_date > stamp.local_date:
        raise StationError(f"{local_date} has not happened yet: only past days or today close")
    totals = reports.day(station, local_date)
    if not totals["books_balance"]:
        raise StationError("the books do not balance: " + "; ".join(totals["problems"]))

    def work(conn):
        if conn.execute(
            select(db.day_closes.c.local_date).where(db.day_closes.c.local_date == local_date)
        ).first():
            raise StationError(f"{local_date} is already closed")
        last_seq = conn.execute(select(func.coalesce(func.max(db.txns.c.seq), 0))).scalar_one()
        conn.execute(
            db.day_closes.insert().values(
                local_date=local_date,
                closed_by=user_name,
                closed_at=stamp.utc_iso,
                last_seq=int(last_seq),
                totals=json.dumps(totals, sort_keys=True),
            )
        )

    station.write(work)
    return closed(station, local_date)
