"""`prepay audit verify`: recompute the hash chain and cross-check the side tables.

Catches an edited txn or entry (hash mismatch), a deleted or inserted txn (seq gap / broken
link / head mismatch), rows whose txn is gone, edits to sales, tokens and reversals that
contradict the hashed txns, and meters' running totals (db.meters: the value carried, this
month's units and standing charge) that differ from their entries and sales. Every pass
streams in seq order, so memory stays flat however long the ledger is.
"""

import json

from sqlalchemy import func, select

from host_tools.vending import db, ledger

MAX_PROBLEMS = 20
_t, _e = db.txns, db.entries


def verify(station):
    """{"ok", "txns", "problems"}; problems are short lines naming the first bad rows."""

    def work(conn):
        problems = []
        count = _chain(conn, problems)
        problems += _orphans(conn)
        problems += _cross_check(conn)
        problems += _running_totals(conn)
        return {"ok": not problems, "txns": count, "problems": problems[:MAX_PROBLEMS]}

    return station.read(work)


def _stream(conn, query):
    return conn.execution_options(stream_results=True, yield_per=2000).execute(query).mappings()


def _chain(conn, problems):
    """Walk txns and their entries (two streams in seq order); returns the number of txns."""
    entries = _stream(
        conn,
        select(_e, _t.c.seq.label("txn_seq"))
        .join(_t, _t.c.id == _e.c.txn_id)
        .order_by(_t.c.seq, _e.c.line),
    )
    pending = next(entries, None)
    prev_hash, expected = ledger.GENESIS, 1
    for row in _stream(conn, select(_t).order_by(_t.c.seq)):
        seq = row["seq"]
        own = []
        while pending is not None and pending["txn_seq"] == seq:
            own.append(pending)
            pending = next(entries, None)
        if seq != expected:
            problems.append(f"txn {expected}..{seq - 1} missing (deleted?)")
        if row["prev_hash"] != prev_hash:
            problems.append(f"txn {seq}: does not link to the previous txn")
        if ledger.txn_hash(row, own) != row["hash"]:
            problems.append(f"txn {seq}: content does not match its hash (edited?)")
        prev_hash, expected = row["hash"], seq + 1
    head = conn.execute(db.chain_head.select()).one()
    if head.seq != expected - 1 or head.hash != prev_hash:
        problems.append("chain head does not match the last txn (txns deleted at the end?)")
    return expected - 1


def _orphans(conn):
    """Rows that point at a txn that is not there (its txn row was deleted)."""
    problems = []
    for table, column in (
        (_e, _e.c.txn_id),
        (db.sales, db.sales.c.txn_id),
        (db.tokens, db.tokens.c.txn_id),
        (db.arrears_closed, db.arrears_closed.c.txn_id),
    ):
        lost = conn.execute(
            select(func.count())
            .select_from(table)
            .where(~select(_t.c.id).where(_t.c.id == column).exists())
        ).scalar_one()
        if lost:
            problems.append(f"{lost} {table.name} row(s) have no ledger txn (deleted?)")
    return problems


def _cross_check(conn):
    """Sales, tokens and reversals must say what their hashed txn bodies say."""
    problems = []
    s, k, r = db.sales, db.tokens, db.reversals
    query = select(s, _t.c.seq, _t.c.kind, _t.c.meter.label("txn_meter"), _t.c.body).join(
        _t, _t.c.id == s.c.txn_id
    )
    for row in _stream(conn, query):
        body = json.loads(row["body"])
        facts = (
            row["kind"],
            row["txn_meter"],
            body.get("ref"),
            body.get("amount"),
            body.get("units"),
        )
        if facts != ("sale", row["meter"], row["ref"], row["amount"], row["units"]):
            problems.append(f"sale {row['ref']!r} (txn {row['seq']}): differs from its txn")
    query = select(k, _t.c.seq, _t.c.meter.label("txn_meter"), _t.c.body).join(
        _t, _t.c.id == k.c.txn_id
    )
    for row in _stream(conn, query):
        body = json.loads(row["body"])
        issued = body.get("tokens") or [body.get("token"), body.get("void_token")]
        # STS tokens store the station's minute count (tid_seq); the token carries `tid`. A
        # reversal's void token (voids.py) has its own TID.
        tids = (body.get("tid_seq", body.get("tid")), body.get("void_tid"))
        same_tid = row["tid"] is None or row["tid"] in tids
        if row["txn_meter"] != row["meter"] or row["digits"] not in issued or not same_tid:
            problems.append(f"token row {row['id']} (txn {row['seq']}): differs from its txn")
    original = _t.alias("original")
    query = (
        select(_t.c.seq, _t.c.kind, _t.c.body, original.c.seq.label("original_seq"))
        .select_from(r)
        .join(_t, _t.c.id == r.c.reversal_id)
        .join(original, original.c.id == r.c.original_id)
    )
    for row in _stream(conn, query):
        body = json.loads(row["body"])
        if row["kind"] != "reversal" or body.get("reverses") != f"{row['original_seq']:08d}":
            problems.append(f"reversal txn {row['seq']}: differs from its txn")
    problems += _closed_arrears(conn)
    lost = conn.execute(select(func.count()).select_from(r)).scalar_one()
    joined = conn.execute(
        select(func.count())
        .select_from(r)
        .join(_t, _t.c.id == r.c.reversal_id)
        .join(original, original.c.id == r.c.original_id)
    ).scalar_one()
    if lost != joined:
        problems.append(f"{lost - joined} reversal row(s) point at missing txns")
    return problems


def _closed_arrears(conn):
    """Each closed arrears must be what the hashed body of its closing txn says."""
    c, arrear = db.arrears_closed, _t.alias("arrear")
    query = (
        select(c.c.how, _t.c.seq, _t.c.kind, _t.c.body, arrear.c.seq.label("arrear_seq"))
        .select_from(c)
        .join(_t, _t.c.id == c.c.txn_id)
        .join(arrear, arrear.c.id == c.c.arrear_id)
    )
    problems = []
    for row in _stream(conn, query):
        body = json.loads(row["body"])
        said = (row["kind"], body.get("request"), body.get("arrears"))
        if said != ("arrears", "arrears-" + row["how"], f"{row['arrear_seq']:08d}"):
            problems.append(f"closed arrears (txn {row['seq']}): differs from its txn")
    return problems


def _running_totals(conn):
    """Each meter's running totals must equal the sums they stand for: the carry its
    carry_forward entries, the month its newest sale's, that month's units and standing charge
    its unreversed sales' in that month."""
    m, s, r = db.meters, db.sales, db.reversals
    carry = (
        select(_e.c.meter, (-func.sum(_e.c.amount)).label("carried"))
        .where(_e.c.account == "carry_forward")
        .group_by(_e.c.meter)
        .subquery()
    )
    newest = select(s.c.meter, func.max(s.c.month).label("month")).group_by(s.c.meter).subquery()
    unreversed = ~select(r.c.original_id).where(r.c.original_id == s.c.txn_id).exists()
    month = (
        select(
            s.c.meter,
            s.c.month,
            func.sum(s.c.units).label("units"),
            func.sum(s.c.standing).label("standing"),
        )
        .where(unreversed)
        .group_by(s.c.meter, s.c.month)
        .subquery()
    )
    query = (
        select(
            m.c.number,
            m.c.carried,
            m.c.totals_month,
            m.c.month_units,
            m.c.month_standing,
            func.coalesce(carry.c.carried, 0).label("want_carried"),
            newest.c.month.label("want_month"),
            func.coalesce(month.c.units, 0).label("want_units"),
            func.coalesce(month.c.standing, 0).label("want_standing"),
        )
        .select_from(m)
        .outerjoin(carry, carry.c.meter == m.c.number)
        .outerjoin(newest, newest.c.meter == m.c.number)
        .outerjoin(month, (month.c.meter == m.c.number) & (month.c.month == m.c.totals_month))
        .order_by(m.c.number)
    )
    problems = []
    for row in _stream(conn, query):
        kept = (row["carried"], row["totals_month"], row["month_units"], row["month_standing"])
        # int(): PostgreSQL sums bigints as numeric
        want = (int(row["want_carried"]), row["want_month"], int(row["want_units"]))
        want += (int(row["want_standing"]),)
        if kept != want:
            problems.append(
                f"meter {row['number']}: running totals (carried, month, units, standing) "
                f"{kept} differ from its entries and sales {want}"
            )
    return problems
