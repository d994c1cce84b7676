"""Append-only double-entry journal in integer minor units, chained by SHA-256.

A transaction (txn) is a row in `txns` plus its `entries` (debit > 0, credit < 0; they sum to
zero). Its hash covers its own columns, its entries in line order and the previous txn's hash,
so editing or deleting any row breaks the chain; `chain_head` holds the newest hash.

Accounts:
    cash:<channel>        money received (cash, card, transfer, mobile)
    customer_prepayment   credit sold to currency meters (the meter applies the tariff)
    energy_sales          energy sold to kWh meters
    standing_charge       monthly standing charge collected at vend (kWh meters)
    debt_recovery         arrears recovered (entries carry the arrears' txn id)
    arrears_receivable / arrears_raised   arrears put on a meter
    carry_forward         value paid but not yet delivered as units (kWh rounding), per meter
    reversals             carry a reversed sale left that a later sale already spent (a loss)
A reversal is a new txn whose entries negate the original's (see vend._reversal_lines for the
one exception, carry already spent); the original is listed in `reversals`, never changed.
"""

import hashlib
import json
import secrets

from sqlalchemy import Text, bindparam, func, select

from host_tools.vending import db

GENESIS = "0" * 64
SELF = "self"  # as an entry's arrear_id: "the txn being appended" (arrears are named by it)

_HEAD = select(db.chain_head.c.seq, db.chain_head.c.hash).where(db.chain_head.c.id == 1)
# PostgreSQL: queue on an advisory lock first — its waiters are woken one at a time, where the
# waiters of a row lock all wake at each commit and stampede the CPUs — then lock the head row.
# FOR UPDATE returns the newest head even though the statement's snapshot predates the wait.
_HEAD_PG = _HEAD.where(
    func.pg_advisory_xact_lock(0x70726570).cast(Text).is_not(None)  # lock "prep", then true
).with_for_update()
_MOVE_HEAD = (
    db.chain_head.update()
    .where(db.chain_head.c.id == 1)
    .values(seq=bindparam("seq"), hash=bindparam("hash"))
)
_TXN_COLUMNS = [c.name for c in db.txns.columns]
# PostgreSQL: the txn row and the head move in one round trip (the lock is held for two round
# trips and the commit); the join condition re-checks that the head was the one we chained to.
_SEALED = (
    db.txns.insert()
    .values({name: bindparam("t_" + name) for name in _TXN_COLUMNS})
    .returning(db.txns.c.seq, db.txns.c.hash)
    .cte("sealed")
)
_SEAL_PG = (
    db.chain_head.update()
    .where(db.chain_head.c.id == 1, db.chain_head.c.seq == _SEALED.c.seq - 1)
    .values(seq=_SEALED.c.seq, hash=_SEALED.c.hash)
)


def canonical(obj):
    """The one JSON spelling that is hashed (sorted keys, no spaces, UTF-8)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def txn_hash(row, entry_rows):
    """SHA-256 over a txn's columns, its entries and the previous hash (hex)."""
    content = {
        "seq": row["seq"],
        "id": row["id"],
        "kind": row["kind"],
        "meter": row["meter"],
        "created_at": row["created_at"],
        "local_date": row["local_date"],
        "cashier": row["cashier"],
        "body": row["body"],
        "prev_hash": row["prev_hash"],
        "entries": [
            [e["line"], e["account"], e["meter"], e["arrear_id"], e["amount"]] for e in entry_rows
        ],
    }
    return hashlib.sha256(canonical(content).encode("utf-8")).hexdigest()


def lock_chain(conn):
    """Take the append lock and return (last_seq, last_hash)."""
    # SQLite: BEGIN IMMEDIATE already holds the database's single write lock.
    row = conn.execute(_HEAD_PG if db.is_postgres(conn.engine) else _HEAD).one()
    return row.seq, row.hash


def append(conn, kind, meter, stamp, cashier, body, lines, side_rows=None):
    """Append one balanced txn; `lines` = [(account, amount, arrear_id|None|SELF), ...].

    Writes the entries, then `side_rows(txn_id)` (sales, tokens, ... rows of this txn), then
    seals: under the chain lock, the txn row with its seq and hash, and the new chain head.
    The caller holds the meter lock. Returns the txn row as a dict (seq = receipt number).
    """
    if sum(amount for _, amount, _ in lines) != 0:
        raise AssertionError(f"unbalanced {kind} txn: {lines!r}")  # a bug, never user input
    txn_id = secrets.randbits(62) + 1
    entry_rows = [
        {
            "txn_id": txn_id,
            "line": i,
            "account": account,
            "meter": meter,
            "arrear_id": txn_id if arrear == SELF else arrear,
            "amount": amount,
        }
        for i, (account, amount, arrear) in enumerate(lines)
        if amount != 0
    ]
    if entry_rows:
        conn.execute(db.entries.insert(), entry_rows)
    if side_rows is not None:
        side_rows(txn_id)
    row = {
        "id": txn_id,
        "kind": kind,
        "meter": meter,
        "created_at": stamp.utc_iso,
        "local_date": stamp.local_date,
        "cashier": cashier or "",
        "body": canonical(body),
    }
    last_seq, last_hash = lock_chain(conn)  # the serialised part starts here
    row.update(seq=last_seq + 1, prev_hash=last_hash)
    row["hash"] = txn_hash(row, entry_rows)
    if db.is_postgres(conn.engine):
        params = {"t_" + name: value for name, value in row.items()}
        if conn.execute(_SEAL_PG, params).rowcount != 1:
            raise AssertionError("chain head moved while locked")  # cannot happen: a bug
    else:
        conn.execute(db.txns.insert(), row)
        conn.execute(_MOVE_HEAD, {"seq": row["seq"], "hash": row["hash"]})
    return row


def txn_lines(conn, txn_id):
    """The entries of one txn as [(account, amount, arrear_id)] in line order."""
    rows = conn.execute(
        select(db.entries.c.account, db.entries.c.amount, db.entries.c.arrear_id)
        .where(db.entries.c.txn_id == txn_id)
        .order_by(db.entries.c.line)
    )
    return [(r.account, r.amount, r.arrear_id) for r in rows]


def load(conn, seq=None, txn_id=None):
    """A txn row by seq or id (a mapping with "body" decoded), or None."""
    column, value = (db.txns.c.seq, seq) if seq is not None else (db.txns.c.id, txn_id)
    row = conn.execute(db.txns.select().where(column == value)).mappings().first()
    if row is None:
        return None
    out = dict(row)
    out["body"] = json.loads(out["body"])
    return out
