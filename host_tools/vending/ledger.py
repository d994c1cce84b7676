"""Append-only double-entry journal in integer minor units, chained by SHA-256.

A transaction (txn) is a row in `txns` plus its `entries` (debit > 0, credit < 0; they sum to
zero). Its hash covers its own columns, its entries in line order and the previous txn's hash,
so editing or deleting any row breaks the chain; `chain_head` holds the newest hash.

Accounts:
    cash:<channel>        money received (cash, card, transfer, mobile)
    customer_prepayment   credit sold to currency meters (the meter applies the tariff)
    energy_sales          energy sold to kWh meters
    standing_charge       monthly standing charge collected at vend (kWh meters)
    debt_recovery         arrears recovered (entries carry the arrears' txn seq)
    arrears_receivable / arrears_raised   arrears put on a meter
    carry_forward         value paid but not yet delivered as units (kWh rounding), per meter
A reversal is a new txn whose entries negate the original's, so every balance (cash, arrears,
carry) returns to where it was; the original is listed in `reversals`, never changed.
"""

import hashlib
import json

from sqlalchemy import select

from host_tools.vending import db

GENESIS = "0" * 64
SELF = "self"  # as an entry's arrear_seq: "the txn being appended" (arrears are named by it)


def canonical(obj):
    """The one JSON spelling that is hashed (sorted keys, no spaces, UTF-8)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def txn_hash(row, entry_rows):
    """SHA-256 over a txn's columns, its entries and the previous hash (hex)."""
    content = {
        "seq": row["seq"],
        "kind": row["kind"],
        "meter": row["meter"],
        "created_at": row["created_at"],
        "local_date": row["local_date"],
        "cashier": row["cashier"],
        "body": row["body"],
        "prev_hash": row["prev_hash"],
        "entries": [
            [e["line"], e["account"], e["meter"], e["arrear_seq"], e["amount"]] for e in entry_rows
        ],
    }
    return hashlib.sha256(canonical(content).encode("utf-8")).hexdigest()


def lock_chain(conn):
    """Take the append lock and return (last_seq, last_hash)."""
    query = select(db.chain_head.c.seq, db.chain_head.c.hash).where(db.chain_head.c.id == 1)
    if db.is_postgres(conn.engine):
        query = query.with_for_update()
    row = conn.execute(query).one()  # SQLite: BEGIN IMMEDIATE already holds the lock
    return row.seq, row.hash


def append(conn, kind, meter, stamp, cashier, body, lines):
    """Append one balanced txn; `lines` = [(account, amount, arrear_seq|None), ...].

    The caller holds the meter lock; this takes the chain lock, so appends are one chain even
    with many writers. Returns the txn's seq (also the receipt number).
    """
    if sum(amount for _, amount, _ in lines) != 0:
        raise AssertionError(f"unbalanced {kind} txn: {lines!r}")  # a bug, never user input
    last_seq, last_hash = lock_chain(conn)
    seq = last_seq + 1
    row = {
        "seq": seq,
        "kind": kind,
        "meter": meter,
        "created_at": stamp.utc_iso,
        "local_date": stamp.local_date,
        "cashier": cashier or "",
        "body": canonical(body),
        "prev_hash": last_hash,
    }
    entry_rows = [
        {
            "txn_seq": seq,
            "line": i,
            "account": account,
            "meter": meter,
            "arrear_seq": seq if arrear == SELF else arrear,
            "amount": amount,
        }
        for i, (account, amount, arrear) in enumerate(lines)
        if amount != 0
    ]
    row["hash"] = txn_hash(row, entry_rows)
    conn.execute(db.txns.insert().values(**row))
    if entry_rows:
        conn.execute(db.entries.insert(), entry_rows)
    conn.execute(
        db.chain_head.update().where(db.chain_head.c.id == 1).values(seq=seq, hash=row["hash"])
    )
    return seq


def txn_lines(conn, seq):
    """The entries of one txn as [(account, amount, arrear_seq)] in line order."""
    rows = conn.execute(
        select(db.entries.c.account, db.entries.c.amount, db.entries.c.arrear_seq)
        .where(db.entries.c.txn_seq == seq)
        .order_by(db.entries.c.line)
    )
    return [(r.account, r.amount, r.arrear_seq) for r in rows]


def load_body(conn, seq):
    """A txn's row and decoded body, or None."""
    row = conn.execute(db.txns.select().where(db.txns.c.seq == seq)).first()
    if row is None:
        return None, None
    return row, json.loads(row.body)
