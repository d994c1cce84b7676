"""Closing the day (日清): the day report frozen when a supervisor closes it; and a cashier's
cash-up (cash counted against the cash the ledger expects, the difference recorded).

Once closed, the stored totals are the day's totals and never change. Every txn is dated when
it is sealed, so a correction made after the close (a reversal) is dated the day it is made; a
day closed before it ended (today) can still get txns dated that day: they are counted and shown
beside the frozen totals (`after_close`) and belong to the next close. A day is closed once,
and never in the future.
"""

import json
import re
import secrets
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


# ---- cash-up -----------------------------------------------------------------------------------


def expected_cash(station, cashier, local_date):
    """Net cash a cashier booked on a day (cash sales less the cash refunds they paid out)."""
    e, t = db.entries, db.txns

    def work(conn):
        return conn.execute(
            select(func.coalesce(func.sum(e.c.amount), 0))
            .join(t, t.c.id == e.c.txn_id)
            .where(
                t.c.cashier == cashier, t.c.local_date == local_date, e.c.account == "cash:cash"
            )
        ).scalar_one()

    return int(station.read(work))


def cash_up(station, cashier, counted_text, note="", now=None):
    """Record the cash counted against the cash expected; returns the cash-up as a dict."""
    from host_tools.vending.money import parse_amount

    text = str(counted_text or "").strip()
    empty_drawer = re.fullmatch(r"0+(\.0{1,2})?", text)  # parse_amount takes positives only
    counted = 0 if empty_drawer else parse_amount(text, "cash counted")
    note = (note or "").strip()
    if len(note) > 200 or not note.isprintable():
        raise StationError("the note must be at most 200 printable characters")
    stamp = station.stamp(now)
    expected = expected_cash(station, cashier, stamp.local_date)
    row = {
        "id": secrets.token_hex(8),
        "cashier": cashier,
        "local_date": stamp.local_date,
        "made_at": stamp.utc_iso,
        "expected": expected,
        "counted": counted,
        "difference": counted - expected,
        "note": note,
    }
    station.write(lambda conn: conn.execute(db.cashups.insert().values(**row)))
    return row


def cash_ups(station, cashier, local_date):
    c = db.cashups

    def work(conn):
        rows = conn.execute(
            select(c)
            .where(c.c.cashier == cashier, c.c.local_date == local_date)
            .order_by(c.c.made_at.desc())
        )
        return [dict(r._mapping) for r in rows]

    return station.read(work)
