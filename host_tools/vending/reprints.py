"""Reprints: a copy of a stored receipt, marked COPY and logged in the audit chain.

A reprint carries the same token as the original (the meter accepts it once, whoever holds
it), so who printed a copy, when, is recorded as a `reprint` txn with no money entries: it is
hashed into the chain like every txn and `prepay audit` verifies it. A customer who lost the
receipt is found by meter number: the meter's last sale, or its recent sales to choose from.
"""

from sqlalchemy import select

from host_tools.vending import StationError, db, ledger, registry, vend

RECENT = 10  # sales listed for `prepay reprint --meter N --list`


def reprint(station, receipt_text=None, ref=None, meter=None, cashier="", now=None):
    """The receipt again, with `copy` set and the receipt number of the reprint's log txn."""
    given = [x for x in (receipt_text, ref, meter) if x is not None]
    if len(given) != 1:
        raise StationError("give one of RECEIPT, --ref or --meter")
    stamp = station.stamp(now)

    def work(conn):
        if meter is not None:
            found = _sales(conn, meter, 1)
            if not found:
                raise StationError(f"meter {meter} has no sales to reprint")
            original = vend.receipt(conn, seq=found[0]["seq"])
        elif ref is not None:
            original = vend.find_receipt_in(conn, None, ref)
        else:
            original = vend.find_receipt_in(conn, receipt_text, None)
        registry.get_meter(conn, original["meter"], lock=True)
        body = {"reprints": original["receipt"], "kind": original["kind"]}
        row = ledger.append(conn, "reprint", original["meter"], stamp, cashier, body, [])
        out = dict(original)
        out.update(copy=True, copy_logged=vend.receipt_number(row["seq"]))
        return out

    return station.write(work)


def recent_sales(station, meter):
    """The meter's newest sales, newest first: [{receipt, created_at, amount, reversed}]."""
    return station.read(lambda conn: _listed(conn, meter))


def _listed(conn, meter):
    registry.get_meter(conn, meter)
    rows = []
    for sale in _sales(conn, meter, RECENT):
        r = vend.receipt(conn, seq=sale["seq"])
        rows.append(
            {
                "receipt": r["receipt"],
                "created_at": r["created_at"],
                "amount": r["amount"],
                "reversed_by": r["reversed_by"] or "",
            }
        )
    return rows


def _sales(conn, meter, limit):
    number = registry.check_meter(meter)
    t = db.txns
    query = (
        select(t.c.seq)
        .where(t.c.meter == number, t.c.kind == "sale")
        .order_by(t.c.seq.desc())
        .limit(limit)
    )
    return [{"seq": seq} for seq in conn.execute(query).scalars()]
