"""Arrears controls: caps, supervisor approval, and corrections as new balancing entries.

Arrears are raised by `mgmt.add_arrears` (an "arrears" txn: Dr arrears_receivable, Cr
arrears_raised, both naming the arrears by its txn id) and recovered by sales (`debt_recovery`
entries naming it). Nothing is ever edited: a mistake is corrected by a new txn in the hash
chain, approved by a registered supervisor with a reason:

    adjust     the amount raised becomes NEW (Dr/Cr arrears_receivable against arrears_raised)
    write-off  what is still owed is written off (Cr arrears_receivable, Dr arrears_written_off)
    reverse    the arrears never existed: the raise is undone (Dr arrears_raised) and what sales
               already recovered is the customer's money, credited to the meter's carry_forward
               (delivered at the next sale, like a rounding remainder)

A written-off or reversed arrears is closed (`arrears_closed`, once): sales no longer recover it
and reversing a sale that recovered from it does not make it owed again (vend._reversal_lines).
"""

from sqlalchemy import func, select

from host_tools.vending import StationError, db, ledger, registry
from host_tools.vending.money import fmt, parse_amount

HOW = {"write-off": "written off", "reverse": "reversed"}


def require_supervisor(conn, supervisor, why):
    """The registered supervisor's id, or a one-line error saying what needed one."""
    supervisor = (supervisor or "").strip()
    if not supervisor:
        raise StationError(
            f"{why} needs a supervisor's approval: a supervisor logs in "
            "(PREPAY_SUPERVISOR and PREPAY_SUPERVISOR_PASSWORD)"
        )
    boss = registry.get_cashier(conn, supervisor)
    if boss is None or not boss.supervisor:
        raise StationError(f"{supervisor!r} is not a registered supervisor")
    return supervisor


def check_reason(reason):
    reason = (reason or "").strip()
    if not reason or not reason.isprintable() or len(reason) > 200:
        raise StationError("--reason must be 1..200 printable characters")
    return reason


def check_new_arrears(conn, limits, meter, amount, supervisor):
    """Caps and approval for `amount` more arrears on `meter` (a new one or an adjustment up).

    Above limits.arrears_approval a supervisor must approve; what the meter owes in all may
    never exceed limits.arrears_max (refused even with approval: a typo, not a debt)."""
    owed = sum(part for _, part, _ in registry.arrears_outstanding(conn, meter))
    if owed + amount > limits.arrears_max:
        raise StationError(
            f"arrears of {fmt(amount)} would make meter {meter} owe {fmt(owed + amount)}, above "
            f"the maximum {fmt(limits.arrears_max)}"
        )
    if amount > limits.arrears_approval:
        return require_supervisor(
            conn, supervisor, f"arrears of {fmt(amount)} (above {fmt(limits.arrears_approval)})"
        )
    if supervisor:
        return require_supervisor(conn, supervisor, "")
    return ""


def arrears_state(conn, arrear_id):
    """(raised, recovered, outstanding, closed how|None) of one arrears, from its entries."""
    e = db.entries
    sums = dict(
        conn.execute(
            select(e.c.account, func.sum(e.c.amount))
            .where(e.c.arrear_id == arrear_id)
            .group_by(e.c.account)
        ).all()
    )
    raised = -int(sums.get("arrears_raised") or 0)
    recovered = -int(sums.get("debt_recovery") or 0)
    outstanding = int(sums.get("arrears_receivable") or 0) - recovered
    closed = conn.execute(
        select(db.arrears_closed.c.how).where(db.arrears_closed.c.arrear_id == arrear_id)
    ).scalar()
    return raised, recovered, outstanding, closed


def closed_arrears(conn, arrear_ids):
    """{arrear_id: how} for those of `arrear_ids` that are closed."""
    if not arrear_ids:
        return {}
    c = db.arrears_closed
    rows = conn.execute(select(c.c.arrear_id, c.c.how).where(c.c.arrear_id.in_(arrear_ids)))
    return dict(rows.all())


def _open_arrears(conn, receipt_text):
    """The arrears txn named by its receipt number, locked through its meter; not closed."""
    from host_tools.vending.vend import parse_receipt, receipt_number

    seq = parse_receipt(receipt_text)
    row = ledger.load(conn, seq=seq)
    if row is None or row["kind"] != "arrears" or row["body"].get("request") != "arrears":
        raise StationError(f"receipt {receipt_number(seq)} is not an arrears entry")
    registry.get_meter(conn, row["meter"], lock=True)
    raised, recovered, outstanding, closed = arrears_state(conn, row["id"])
    if closed:
        raise StationError(f"arrears {receipt_number(seq)} was already {HOW[closed]}")
    return row, receipt_number(seq), raised, recovered, outstanding


def correct(station, how, receipt_text, reason, supervisor, new_text=None, now=None):
    """`prepay meter arrears-adjust|arrears-write-off|arrears-reverse`: one balancing txn."""
    from host_tools.vending.vend import receipt_from

    reason = check_reason(reason)
    new = None if new_text is None else parse_amount(new_text, "new amount")
    stamp = station.stamp(now)

    def work(conn):
        boss = require_supervisor(conn, supervisor, f"arrears {how}")
        row, number, raised, recovered, outstanding = _open_arrears(conn, receipt_text)
        meter, aid = row["meter"], row["id"]
        body = {"request": "arrears-" + how, "arrears": number, "reason": reason}
        body.update(supervisor=boss, raised=raised, recovered=recovered)
        closing = None
        if how == "adjust":
            if new < recovered:
                raise StationError(
                    f"arrears {number}: {fmt(recovered)} was already recovered, so it cannot "
                    f"become {fmt(new)}: reverse it and raise the right amount"
                )
            change = new - raised
            if change == 0:
                raise StationError(f"arrears {number} is already {fmt(raised)}")
            if change > 0:
                check_new_arrears(conn, station.limits, meter, change, boss)
            lines = [("arrears_receivable", change, aid), ("arrears_raised", -change, aid)]
            body.update(amount=new, adjustment=change, outstanding=new - recovered)
        elif how == "write-off":
            if outstanding <= 0:
                raise StationError(f"arrears {number} has nothing outstanding to write off")
            lines = [("arrears_receivable", -outstanding, aid)]
            lines.append(("arrears_written_off", outstanding, aid))
            body.update(written_off=outstanding, outstanding=0)
            closing = "write-off"
        else:
            lines = [("arrears_raised", raised, aid), ("arrears_receivable", -outstanding, aid)]
            lines.append(("carry_forward", -recovered, None))  # the customer's money back
            body.update(to_carry=recovered, outstanding=0)
            closing = "reverse"

        def side_rows(txn_id):
            if closing is None:
                return []
            return [(db.arrears_closed, [{"arrear_id": aid, "txn_id": txn_id, "how": closing}])]

        appended = ledger.append(conn, "arrears", meter, stamp, boss, body, lines, side_rows)
        return receipt_from(appended)

    return station.write(work)


def history(conn, meter):
    """Every arrears raised on `meter`: receipt, raised, recovered, outstanding, status."""
    from host_tools.vending.vend import receipt_number

    t = db.txns
    rows = conn.execute(
        select(t.c.id, t.c.seq).where(t.c.meter == meter, t.c.kind == "arrears").order_by(t.c.seq)
    ).all()
    out = []
    for txn_id, seq in rows:
        raised, recovered, outstanding, closed = arrears_state(conn, txn_id)
        if raised == 0 and recovered == 0 and closed is None:
            continue  # a correction txn, not an arrears of its own
        out.append(
            {
                "receipt": receipt_number(seq),
                "raised": raised,
                "recovered": recovered,
                "outstanding": outstanding,
                "status": HOW.get(closed, "open"),
            }
        )
    return out
