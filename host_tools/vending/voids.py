"""Void tokens for reversed sales (token_spec/SPEC.md §5.8; docs/station.md, Reversals).

A reversal refunds the customer, so the sale's token must stop giving energy: the reversal
issues a void token with TID = the sale token's TID + 1 (the allocator leaves that TID free,
vend.next_tid) for the token's value. On the meter it makes the sale's token `used` if it was
not entered, else puts its value on the debt register. The void is a row of `tokens`
(token_type "void") of the reversal txn; it stays open until the meter confirms it
(`confirm`: a `confirm_void` txn in the audit chain names it).
"""

from sqlalchemy import select

from host_tools.vending import StationError, db, ledger, registry
from token_spec import TYPE_VOID, encode_token, format_token, void_tid

VOID = "void"
CONFIRM_KIND = "confirm_void"
_t = db.tokens

ENTER_TEXT = (
    "The customer must enter the VOID TOKEN on the meter. If the sale's token was not entered, "
    "it is now refused as used. If it was already entered, the meter adds its value to the "
    "customer's debt, recovered from later purchases."
)

# STS has no void token (docs/sts.md, "Reversing an STS sale"): the sale's token stays valid on
# the meter, so the receipt says so and names the remedies.
STS_TEXT = (
    "STS tokens cannot be voided: this sale's token still adds its credit if entered. Keep the "
    "customer's copy; if it was entered, recover its value with `prepay meter arrears` (or a "
    "clear-credit token, which empties the meter's whole credit register)."
)


def plan(conn, station, meter_row, sale_body):
    """(tokens row values, receipt fields) for the void of a sale, or (None, fields saying why
    no void was issued)."""
    meter = meter_row.number
    if sale_body.get("format") == "sts":
        return None, {"void_note": STS_TEXT}
    units = sale_body.get("units") or 0
    if units <= 0:
        return None, {"void_note": "the sale's token carried no credit: nothing to void"}
    tid = void_tid(sale_body["tid"])
    taken = conn.execute(select(_t.c.id).where(_t.c.meter == meter, _t.c.tid == tid)).first()
    if taken is not None:
        return None, {
            "void_note": "no void possible (the sale predates void tokens and TID %d is taken): "
            "if its token was entered, follow with a clear-credit token" % tid
        }
    key = station.decoder_key(meter, meter_row.key_revision)
    digits = encode_token(key, meter, TYPE_VOID, units, tid)
    fields = {
        "void_token": digits,
        "void_grouped": format_token(digits),
        "void_tid": tid,
        "void_value": units,
        "void_note": ENTER_TEXT,
    }
    return (tid, VOID, units, digits), fields


def pending(station, meter=None):
    """Void tokens the meter has not confirmed: [{meter, tid, value, token, reversal}]."""

    def work(conn):
        confirmed = _confirmed(conn)
        query = select(_t.c.meter, _t.c.tid, _t.c.value, _t.c.digits, db.txns.c.seq).join(
            db.txns, db.txns.c.id == _t.c.txn_id
        )
        query = query.where(_t.c.token_type == VOID)
        if meter is not None:
            query = query.where(_t.c.meter == registry.check_meter(meter))
        return [
            {
                "meter": r.meter,
                "tid": r.tid,
                "value": r.value,
                "token": r.digits,
                "reversal": "%08d" % r.seq,
            }
            for r in conn.execute(query.order_by(_t.c.tid))
            if (r.meter, r.tid) not in confirmed
        ]

    return station.read(work)


def _confirmed(conn):
    query = select(db.txns.c.meter, db.txns.c.body).where(db.txns.c.kind == CONFIRM_KIND)
    out = set()
    for meter, body in conn.execute(query):
        body = body if isinstance(body, dict) else ledger.json.loads(body)
        out.add((meter, body["void_tid"]))
    return out


def confirm(station, meter, tid, how, now=None, cashier=""):
    """Record that the meter has the void with `tid` (`how`: what showed it; `cashier`: the
    logged-in user who confirmed it, recorded on the ledger entry)."""
    stamp = station.stamp(now)

    def work(conn):
        registry.get_meter(conn, meter, lock=True)
        if (meter, tid) in _confirmed(conn):
            return None
        body = {"void_tid": tid, "how": how}
        return ledger.append(conn, CONFIRM_KIND, meter, stamp, cashier, body, [])

    if not any(p["tid"] == tid for p in pending(station, meter)):
        raise StationError(f"no open void token with TID {tid} for meter {meter}")
    return station.write(work)
