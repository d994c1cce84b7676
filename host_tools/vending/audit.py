"""`prepay audit verify`: recompute the hash chain and cross-check the side tables.

Catches an edited txn or entry (hash mismatch), a deleted or inserted txn (seq gap / broken
link / head mismatch), rows whose txn is gone, and edits to sales, tokens and reversals that
contradict the hashed txns.
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
        prev_hash, expected, txns = ledger.GENESIS, 1, {}
        for row in conn.execute(db.txns.select().order_by(db.txns.c.seq)).mappings():
            seq = row["seq"]
            if seq != expected:
                problems.append(f"txn {expected}..{seq - 1} missing (deleted?)")
            if row["prev_hash"] != prev_hash:
                problems.append(f"txn {seq}: does not link to the previous txn")
            if ledger.txn_hash(row, entries.pop(row["id"], [])) != row["hash"]:
                problems.append(f"txn {seq}: content does not match its hash (edited?)")
            txns[row["id"]] = (seq, row["kind"], row["meter"], json.loads(row["body"]))
            prev_hash, expected = row["hash"], seq + 1
        head = conn.execute(db.chain_head.select()).one()
        if head.seq != expected - 1 or head.hash != prev_hash:
            problems.append("chain head does not match the last txn (txns deleted at the end?)")
        if entries:
            problems.append(f"{len(entries)} txn(s) of entries have no ledger txn (deleted?)")
        problems += _cross_check(conn, txns)
        return {"ok": not problems, "txns": len(txns), "problems": problems[:MAX_PROBLEMS]}

    return station.read(work)


def _entries_by_txn(conn):
    grouped = {}
    query = select(db.entries).order_by(db.entries.c.txn_id, db.entries.c.line)
    for e in conn.execute(query).mappings():
        grouped.setdefault(e["txn_id"], []).append(e)
    return grouped


def _cross_check(conn, txns):
    problems = []
    missing = (None, None, None, {})
    for s in conn.execute(db.sales.select()):
        seq, kind, meter, body = txns.get(s.txn_id, missing)
        facts = (kind, meter, body.get("ref"), body.get("amount"), body.get("units"))
        if facts != ("sale", s.meter, s.ref, s.amount, s.units):
            problems.append(f"sale {s.ref!r} (txn {seq}): row differs from its ledger txn")
    for t in conn.execute(db.tokens.select()):
        seq, kind, meter, body = txns.get(t.txn_id, missing)
        issued = body.get("tokens") or [body.get("token")]
        same_tid = t.tid is None or body.get("tid") == t.tid
        if meter != t.meter or t.digits not in issued or not same_tid:
            problems.append(f"token row {t.id} (txn {seq}): differs from its ledger txn")
    for r in conn.execute(db.reversals.select()):
        seq, kind, _meter, body = txns.get(r.reversal_id, missing)
        original = txns.get(r.original_id, missing)[0]
        if kind != "reversal" or original is None or body.get("reverses") != f"{original:08d}":
            problems.append(f"reversal txn {seq}: row differs from its ledger txn")
    return problems
