"""The outbox: what to tell a customer, written in the SAME transaction as the thing it
announces, so a message exists exactly when that thing was committed (no message lost when a
process dies after the commit, none invented when it dies before).

A row holds the kind, the meter, the figures and a `dedupe_key` (unique): announcing the same
thing again — a retried head-end transaction, an event received twice — writes nothing. The
text is made later by the dispatcher (messages.py), so the sale's write stays one small row.
"""

import json

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from host_tools.vending import db

KINDS = (
    "topup",  # a sale: {"txn_id"} (the receipt is read at fan-out)
    "credit_low",  # {"credit", "used_14d"} register units
    "supply_cut",  # {"credit"}
    "supply_restored",  # {"credit"}
    "emergency_credit",  # {"credit", "granted"}
    "debt_reminder",  # {"owed"} minor units
    "statement",  # {"month", ...} see events.statement_data
)


def row(kind, meter, dedupe_key, data, created_at):
    """The outbox row as a dict (for callers that write rows themselves, like the sale)."""
    if kind not in KINDS:
        raise ValueError(f"unknown message kind {kind!r}")  # a bug, never user input
    return {
        "dedupe_key": dedupe_key,
        "kind": kind,
        "meter": meter,
        "created_at": created_at,
        "data": json.dumps(data, sort_keys=True, separators=(",", ":")),
    }


def sale_row(txn_id, meter, stamp):
    """(table, [row]) for ledger.append's side rows: the top-up confirmation of a sale, written
    by the sale's own statement (on PostgreSQL one more JSON parameter, no round trip)."""
    return db.notify_outbox, [row("topup", meter, f"topup:{txn_id}", {"txn_id": txn_id},
                                  stamp.utc_iso)]  # fmt: skip


def enqueue(conn, kind, meter, dedupe_key, data, created_at):
    """Write one outbox row in the caller's transaction `conn`; True if written, False if the
    dedupe key was already there (the same thing announced twice)."""
    values = row(kind, meter, dedupe_key, data, created_at)
    insert = pg_insert if db.is_postgres(conn.engine) else sqlite_insert
    statement = insert(db.notify_outbox).values(**values)
    statement = statement.on_conflict_do_nothing(index_elements=["dedupe_key"])
    return conn.execute(statement.returning(db.notify_outbox.c.id)).first() is not None


def pending_count(conn):
    """Outbox rows not yet fanned out into deliveries."""
    o = db.notify_outbox
    return len(conn.execute(select(o.c.id).where(o.c.fanned_at.is_(None))).all())
