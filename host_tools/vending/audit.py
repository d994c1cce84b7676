"""`prepay audit verify`: recompute the hash chain and cross-check the side tables.

Catches an edited txn or entry (hash mismatch), a deleted or inserted txn (seq gap / broken
link / head mismatch) and edits to sales, tokens and reversals that contradict the hashed txns.
"""

import json

from sqlalchemy import select

from host_tools.vending import db, ledger

MAX_PROBLEMS = 20


def verify(station):
    """{"ok", "txns", "problems"}; problems are short lines naming the first bad rows."""

    def work(conn):
        problems = []
        entries = _entries_by_txn(conn)
        prev_hash, expected, bodies = ledger.GENESIS, 1, {}
        for row in conn.execute(db.txns.select().order_by(db.txns.c.seq)).mappings():
            seq = row["seq"]
            if seq != expected:
                problems.append(f"txn {expected}..{seq - 1} missing (deleted?)")
            if row["prev_hash"] != prev_hash:
                problems.append(f"txn {seq}: does not link to the previous txn")
            if ledger.txn_hash(row, entries.pop(seq, [])) != row["hash"]:
                problems.append(f"txn {seq}: content does not match its hash (edited?)")
            bodies[seq] = (row["kind"], row["meter"], json.loads(row["body"]))
            prev_hash, expected = row["hash"], seq + 1
        head = conn.execute(db.chain_head.select()).one()
        if head.seq != expected - 1 or head.hash != prev_hash:
            problems.append("chain head does not match the last txn (txns deleted at the end?)")
        for seq in sorted(entries):
            problems.append(f"entries for missing txn {seq}")
        problems += _cross_check(conn, bodies)
        return {"ok": not problems, "txns": len(bodies), "problems": problems[:MAX_PROBLEMS]}

    return station.read(work)


def _entries_by_txn(conn):
    grouped = {}
    query = select(db.entries).order_by(db.entries.c.txn_seq, db.entries.c.line)
    for e in conn.execute(query).mappings():
        grouped.setdefault(e["txn_seq"], []).append(e)
    return grouped


def _cross_check(conn, bodies):
    problems = []
    for s in conn.execute(db.sales.select()):
        kind, meter, body = bodies.get(s.txn_seq, (None, None, {}))
        facts = (kind, meter, body.get("ref"), body.get("amount"), body.get("units"))
        if facts != ("sale", s.meter, s.ref, s.amount, s.units):
            problems.append(f"sale {s.txn_seq}: row differs from its ledger txn")
    for t in conn.execute(db.tokens.select()):
        kind, meter, body = bodies.get(t.txn_seq, (None, None, {}))
        issued = body.get("tokens") or [body.get("token")]
        if (
            meter != t.meter
            or t.digits not in issued
            or (t.tid is not None and body.get("tid") != t.tid)
        ):
            problems.append(f"token row {t.id}: differs from its ledger txn {t.txn_seq}")
    for r in conn.execute(db.reversals.select()):
        kind, _meter, body = bodies.get(r.reversal_seq, (None, None, {}))
        if kind != "reversal" or body.get("reverses") != f"{r.original_seq:08d}":
            problems.append(f"reversal of {r.original_seq}: row differs from its ledger txn")
    return problems
