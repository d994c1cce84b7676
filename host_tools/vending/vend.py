"""Selling credit: validation, debt recovery, tariff, TID allocation, token, ledger — one atomic
write; plus receipts, reprints and reversals.

Idempotency: the payment reference is unique in `sales`. A retry with the same reference returns
the stored receipt and token (never a second token); the same reference with another meter or
amount is refused. One meter's sales are serialised, so its TIDs are allocated as
max(this minute, last TID + 1): on SQLite by BEGIN IMMEDIATE; on PostgreSQL a sale first reads
the meter's state without a lock and writes everything in one statement that also moves the
meter's version on only if it is still the one read (no BEGIN/COMMIT round trips: two round
trips per sale). If another write to the meter committed meanwhile the sale writes nothing and
runs again as a transaction holding the meter's lock (db.run_write's `optimistic`).

Statements on the sale path are built once with Core and run through `direct` (compiled once,
sent on the DBAPI cursor): SQLAlchemy's per-execution work cost more CPU than the database's.
"""

from sqlalchemy import bindparam, func, select

from host_tools.notify import outbox
from host_tools.vending import (
    StationError,
    arrears,
    db,
    direct,
    ledger,
    limits,
    meter_config,
    registry,
    sts_meters,
    tariffs,
    voids,
)
from host_tools.vending.deliveries import delivery_rows
from host_tools.vending.faults import crash_points
from host_tools.vending.money import fmt, is_whole, parse_amount
from token_spec import TYPE_CREDIT, encode_token, format_token
from token_spec.units import units_text

CHANNELS = ("cash", "card", "transfer", "mobile")
REF_MAX = 64
MONEY_FIELDS = (
    "amount",
    "debt_recovered",
    "standing_charge",
    "carry_in",
    "carry_out",
    "energy",
    "prepayment",
    "raised",
    "recovered",
    "outstanding",
    "adjustment",
    "written_off",
    "to_carry",
)

_s, _t, _e, _r = db.sales, db.tokens, db.entries, db.reversals
_SALE_BY_ID = select(_s).where(_s.c.txn_id == bindparam("txn_id"))
_LAST_TID = select(func.max(_t.c.tid)).where(_t.c.meter == bindparam("meter"))


def _not_reversed(id_column):
    return ~select(_r.c.original_id).where(_r.c.original_id == id_column).exists()


# This month's units and standing charge summed from the meter's sales: only for a sale dated
# before the month of the meter's running totals (a clock set back); see _month_so_far.
_MONTH = direct.Statement(
    select(
        func.coalesce(func.sum(_s.c.units), 0).label("month_units"),
        func.coalesce(func.sum(_s.c.standing), 0).label("month_standing"),
    ).where(
        _s.c.meter == bindparam("meter"),
        _s.c.month == bindparam("month"),
        _not_reversed(_s.c.txn_id),
    )
)

# One statement (one snapshot) for everything the sale depends on: the meter's row with its
# version and running totals (this month's units and standing charge, the value carried: see
# db.meters; never a sum over the meter's history, so a sale costs the same on an old meter),
# whether the reference was used, the cashier's limit, the newest TID (an index's last entry).
_METER_STATE = direct.Statement(
    select(
        db.meters,
        select(_s.c.txn_id).where(_s.c.ref == bindparam("ref")).scalar_subquery().label("done"),
        select(db.cashiers.c.vend_limit)
        .where(db.cashiers.c.id == bindparam("cashier"))
        .scalar_subquery()
        .label("cashier_limit"),
        _LAST_TID.scalar_subquery().label("last_tid"),
        # Not NULL for an STS meter (issue 16): its tokens come from sts_meters.
        select(db.sts_meters.c.ea)
        .where(db.sts_meters.c.number == bindparam("meter"))
        .scalar_subquery()
        .label("sts_ea"),
    ).where(db.meters.c.number == bindparam("meter"))
)


def _month_so_far(conn, state, month):
    """(units, standing charge) of the meter's unreversed sales in `month` before this one."""
    if state.totals_month == month:
        return int(state.month_units), int(state.month_standing)
    if state.totals_month is None or state.totals_month < month:
        return 0, 0  # a new month: block tariffs and the standing charge start again
    got = direct.first(_MONTH, direct.send(conn, _MONTH, {"meter": state.number, "month": month}))
    return int(got.month_units), int(got.month_standing)


def check_ref(ref):
    ref = (ref or "").strip()
    if not ref or len(ref) > REF_MAX or not ref.isprintable():
        raise StationError(f"--ref must be 1..{REF_MAX} printable characters")
    return ref


def check_channel(channel):
    if channel not in CHANNELS:
        raise StationError(f"--channel must be one of {', '.join(CHANNELS)}")
    return channel


def next_tid(conn, meter, stamp, last=False):
    """This minute's TID, or two past the meter's newest if that is already taken: the TID
    after every token stays free for its void token (voids.py, SPEC.md §5.8)."""
    if last is False:
        last = conn.execute(_LAST_TID, {"meter": meter}).scalar_one()
    return stamp.tid if last is None else max(stamp.tid, last + 2)


def sell(station, meter, amount_text, ref, channel, cashier="", now=None):
    """Sell credit: returns the receipt dict (the stored one when `ref` was already used)."""
    amount = parse_amount(amount_text)
    ref, channel = check_ref(ref), check_channel(channel)
    meter = registry.check_meter(meter)
    cashier = (cashier or "").strip()
    stamp = station.stamp(now)
    vending_key = station.key
    crash = crash_points()

    def work(conn, lock_first):
        if lock_first:
            # A retry on PostgreSQL: take the meter's lock first, so the state read next (a new
            # snapshot) sees every write committed before ours and nobody can change it.
            registry.get_meter(conn, meter, lock=True)
        params = {"meter": meter, "ref": ref, "cashier": cashier}
        state = direct.first(_METER_STATE, direct.send(conn, _METER_STATE, params))
        if state is None:
            raise registry.unregistered(meter)
        meter_row = state  # its first columns are the meter's row
        crash(1)
        if state.done is not None:
            return _replay(conn, state.done, meter, amount)
        limit = state.cashier_limit or station.config["default_cashier_limit"]
        if amount > limit:
            raise StationError(
                f"{fmt(amount)} is above the vend limit {fmt(limit)} of cashier {cashier or '-'}"
            )
        so_far = _month_so_far(conn, state, stamp.month)
        kcts = []
        if state.sts_ea is not None:
            # STS meter: priced in the token's units, tokens (KCTs first) from sts_meters. TIDs
            # one apart: an STS sale has no void token (docs/sts.md, Reversals).
            sts = sts_meters.state(conn, meter)
            token = sts_meters.TOKEN_AMOUNTS[meter_row.unit]
            pricing = sts_meters.pricing_row(meter_row)
            sale = _price(conn, station, pricing, amount, state.carried, so_far, token)
            minute = sts_meters.minute_now(station, now)
            tid_seq = sts_meters.next_tid_seq(conn, meter, minute, last=state.last_tid)
            issued, fields, kcts = sts_meters.sale_tokens(station, conn, sts, sale, tid_seq)
            sale.update(fields)
        else:
            sale = _price(conn, station, meter_row, amount, state.carried, so_far)
            waiting = meter_config.pending(conn, meter)
            if waiting is not None:  # e.g. a new tariff: the receipt carries it (issue 13)
                sale.update(config_counter=waiting["counter"], config_blob=waiting["blob"])
            sale["tid"] = next_tid(conn, meter, stamp, last=state.last_tid)
            key = station.decoder_key(meter, meter_row.key_revision, vending_key)
            sale["token"] = encode_token(key, meter, TYPE_CREDIT, sale["units"], sale["tid"])
            issued = [(sale["tid"], "credit", sale["units"], sale["token"])]
        crash(2)
        sale.update(ref=ref, channel=channel, amount=amount, cashier=cashier)

        def side_rows(txn_id):
            sale_row = {
                "txn_id": txn_id,
                "ref": ref,
                "meter": meter,
                "amount": amount,
                "channel": channel,
                "month": stamp.month,
                "units": sale["units"],
                "standing": sale["standing_charge"],
            }
            # The top-up confirmation and the remote delivery, both in the sale's own write
            # (host_tools/notify/outbox.py, host_tools/vending/deliveries.py).
            topup = outbox.sale_row(txn_id, meter, stamp)
            queued = delivery_rows(txn_id, meter, issued)
            rows = [(_s, [sale_row]), token_rows(txn_id, meter, issued), topup, queued]
            return rows + ([sts_meters.kct_rows(kcts, txn_id)] if kcts else [])

        crash(3)
        lines = _sale_lines(sale)
        row = ledger.append(
            conn,
            "sale",
            meter,
            stamp,
            cashier,
            sale,
            lines,
            side_rows,
            guard=state.version,  # nothing is written if the meter changed since the read
            month=(stamp.month, sale["units"], sale["standing_charge"]),
            before_seal=lambda: crash(4),  # rows written, txn not sealed
            before_commit=lambda: crash(5),  # sealed, not committed
        )
        return receipt_from(row)

    result = station.write(work, optimistic=True)
    crash(6)  # committed, receipt not shown
    return result


def _replay(conn, txn_id, meter, amount):
    done = conn.execute(_SALE_BY_ID, {"txn_id": txn_id}).one()
    if done.meter != meter or done.amount != amount:
        raise StationError(
            f"payment reference {done.ref!r} was already used for {fmt(done.amount)} "
            f"on meter {done.meter}: use a new reference"
        )
    out = receipt(conn, txn_id=done.txn_id)
    out["replayed"] = True
    return out


def _price(conn, station, meter_row, amount, carried, so_far, token=tariffs.V1):
    """Debt recovery, standing charge and the credit/energy split for one sale, given the value
    carried on the meter and (units, standing charge) of its sales this month so far.

    `token` (tariffs.TokenAmounts) is what one credit token carries: v1's, or an STS meter's
    (sts_meters.TOKEN_AMOUNTS, with meter_row's scale the token's unit); units are rounded
    down to it and the rest is carried forward, the same for both."""
    tariff = station.tariff(conn, meter_row.tariff)
    arrears = []
    if tariff["debt_percent"]:
        order = station.config["debt_order"]
        owed = registry.arrears_outstanding(conn, meter_row.number, order)
        arrears = [(arrear_id, amount) for arrear_id, amount, _seq in owed]

    debt = tariffs.debt_split(amount, arrears, tariff["debt_percent"], tariff["debt_cap"])
    debt_total = sum(part for _, part in debt)
    sale = {
        "meter": meter_row.number,
        "customer": meter_row.customer,
        "unit": meter_row.unit,
        "scale": meter_row.scale,
        "tariff": tariff["name"],
        "debt": [[arrear_id, part] for arrear_id, part in debt],
        "debt_recovered": debt_total,
        "standing_charge": 0,
        "carry_in": int(carried),  # value paid earlier and not yet delivered
        "carry_out": 0,
        "energy": 0,
        "prepayment": 0,
    }
    if meter_row.unit == "currency":
        # The meter applies the tariff itself; the token carries money in register units. What
        # a token cannot carry exactly is carried forward, as for kWh meters (never refused).
        budget = amount - debt_total + sale["carry_in"]
        units, credited = tariffs.currency_credit(budget, meter_row.scale, token)
        if units <= 0:
            raise StationError(f"{fmt(amount)} buys no credit after debt recovery: take more")
        sale.update(units=units, prepayment=credited, carry_out=budget - credited)
        limits.check_sale_energy(station.limits, meter_row, amount, units, tariff)
        return sale
    registry.check_tariff_for("kwh", tariff)  # a TOU tariff is priced by a currency meter
    used, standing_paid = so_far
    owed_standing = max(0, tariff["standing_charge"] - standing_paid)
    sale["standing_charge"] = min(owed_standing, amount - debt_total)
    budget = amount - debt_total - sale["standing_charge"] + sale["carry_in"]
    units, energy, carry = tariffs.energy_for(
        budget, tariff["blocks"], meter_row.scale, used, token
    )
    if units <= 0:
        raise StationError(
            f"{fmt(amount)} buys no energy after debt recovery and standing charge: "
            "take a larger amount"
        )
    limits.check_sale_energy(station.limits, meter_row, amount, units, tariff)
    sale.update(units=units, energy=energy, carry_out=carry, month_units_before=used)
    return sale


def _sale_lines(sale):
    lines = [("cash:" + sale["channel"], sale["amount"], None)]
    lines += [("debt_recovery", -part, arrear_id) for arrear_id, part in sale["debt"]]
    lines.append(("standing_charge", -sale["standing_charge"], None))
    lines.append(("carry_forward", sale["carry_in"], None))
    lines.append(("energy_sales", -sale["energy"], None))
    lines.append(("carry_forward", -sale["carry_out"], None))
    lines.append(("customer_prepayment", -sale["prepayment"], None))
    return lines


def token_rows(txn_id, meter, issued):
    """(tokens table, rows) for [(tid, type name, value, digits)] of one txn (ledger.append)."""
    rows = [
        {
            "txn_id": txn_id,
            "meter": meter,
            "tid": tid,
            "token_type": kind,
            "value": value,
            "digits": digits,
        }
        for tid, kind, value, digits in issued
    ]
    return _t, rows


# ---- receipts --------------------------------------------------------------------------------


def receipt_number(seq):
    return f"{seq:08d}"


def parse_receipt(text):
    text = str(text).strip().lstrip("#")
    if not is_whole(text) or int(text) <= 0:
        raise StationError(f"receipt number {text!r} is not a receipt number (digits)")
    return int(text)


def receipt_from(row, reversed_by=None):
    """Every printable field of a txn row (a sale, reversal, management token, config...)."""
    body = row["body"] if isinstance(row["body"], dict) else ledger.json.loads(row["body"])
    out = dict(body)
    out.update(
        receipt=receipt_number(row["seq"]),
        kind=row["kind"],
        created_at=row["created_at"],
        meter=row["meter"],
        cashier=row["cashier"],
    )
    for field in MONEY_FIELDS:
        if field in out:
            out[field + "_minor"] = out[field]
            out[field] = fmt(out[field])
    if row["kind"] == "sale":
        what = " kWh" if body["unit"] == "kwh" else " credit"
        out["units_text"] = units_text(body["units"], body["scale"]) + what
    if "token" in out:
        out["token_grouped"] = format_token(out["token"])
    out["reversed_by"] = reversed_by
    out.pop("debt", None)
    return out


def receipt(conn, seq=None, txn_id=None):
    """The receipt of a stored txn, by receipt number (seq) or txn id."""
    row = ledger.load(conn, seq=seq, txn_id=txn_id)
    if row is None:
        raise StationError(f"no receipt {receipt_number(seq or 0)}")
    reversal = conn.execute(
        select(db.txns.c.seq)
        .join(_r, _r.c.reversal_id == db.txns.c.id)
        .where(_r.c.original_id == row["id"])
    ).scalar()
    return receipt_from(row, None if reversal is None else receipt_number(reversal))


def find_receipt(station, receipt_text=None, ref=None):
    """A stored receipt by receipt number or by payment/token reference."""
    return station.read(lambda conn: find_receipt_in(conn, receipt_text, ref))


def find_receipt_in(conn, receipt_text=None, ref=None):
    """find_receipt inside a transaction (`prepay reprint` logs the copy in the same one)."""
    if ref is not None:
        txn_id = conn.execute(select(_s.c.txn_id).where(_s.c.ref == ref)).scalar()
        if txn_id is None:
            txn_id = conn.execute(
                select(db.token_refs.c.txn_id).where(db.token_refs.c.ref == ref)
            ).scalar()
        if txn_id is None:
            raise StationError(f"no sale or token with reference {ref!r}")
        return receipt(conn, txn_id=txn_id)
    return receipt(conn, seq=parse_receipt(receipt_text))


# ---- reversals -------------------------------------------------------------------------------


def _reversal_lines(lines, carried, closed):
    """The entries that undo a sale's `lines`, given the value carried on the meter now and
    the closed arrears among those it recovered ({arrear_id: "write-off" | "reverse"}).

    Every line is negated — cash refunded, arrears owed again, a used carry given back — except:
    - the carry the sale left over: a later sale may already have spent it, so only what is
      still carried is taken back and the rest is the station's loss (`reversals`, under one
      unit's price), never a debt of the customer;
    - recovery from arrears closed since: not owed again. Written off: the station writes that
      part off too. Reversed: the reversal credited it to the customer's carry, which the
      refund now takes back (as far as still carried; the rest is the station's loss).
    """
    out, carry_out, take_back = [], 0, 0
    for account, amount, arrear in lines:
        if account == "carry_forward" and amount < 0:
            carry_out = -amount
            continue
        out.append((account, -amount, arrear))
        how = closed.get(arrear) if account == "debt_recovery" else None
        if how is not None:
            out.append(("arrears_receivable", amount, arrear))  # amount < 0: stays closed
            if how == "write-off":
                out.append(("arrears_written_off", -amount, arrear))
            else:
                take_back += -amount
    restored = sum(amount for account, amount, _ in out if account == "carry_forward")
    want = carry_out + take_back
    taken = min(want, carried - restored)  # restored < 0 is carry given back
    out.append(("carry_forward", taken, None))
    out.append(("reversals", want - taken, None))
    return out


def reverse(station, receipt_text, reason, supervisor, cashier="", now=None, own_sale_ok=True):
    """Book a new txn negating a sale's entries and mark the sale reversed (never edit it).

    Without `own_sale_ok` (the CLI), a supervisor cannot approve reversing their own sale."""
    seq = parse_receipt(receipt_text)
    reason = (reason or "").strip()
    if not reason or not reason.isprintable() or len(reason) > 200:
        raise StationError("--reason must be 1..200 printable characters")
    supervisor = (supervisor or "").strip()
    cashier = (cashier or "").strip() or supervisor  # the batch it belongs to
    stamp = station.stamp(now)

    def work(conn):
        arrears.require_supervisor(conn, supervisor, "a reversal")
        original = ledger.load(conn, seq=seq)
        if original is None or original["kind"] != "sale":
            raise StationError(f"receipt {receipt_number(seq)} is not a sale")
        if not own_sale_ok and original["cashier"] == supervisor:
            raise StationError("nobody reverses their own sale: ask another supervisor")
        meter_row = registry.get_meter(conn, original["meter"], lock=True)
        done = conn.execute(
            select(_r.c.reversal_id).where(_r.c.original_id == original["id"])
        ).scalar()
        if done is not None:
            raise StationError(f"receipt {receipt_number(seq)} was already reversed")
        carried = meter_row.carried  # running total, exact under the meter's lock
        sale_lines = ledger.txn_lines(conn, original["id"])
        closed = arrears.closed_arrears(conn, [a for _, _, a in sale_lines if a is not None])
        lines = _reversal_lines(sale_lines, carried, closed)
        body = original["body"]
        rev_body = {
            "reverses": receipt_number(seq),
            "ref": body["ref"],
            "amount": body["amount"],
            "channel": body["channel"],
            "reason": reason,
            "supervisor": supervisor,
        }
        void, void_fields = voids.plan(conn, station, meter_row, body)
        rev_body.update(void_fields)

        def side_rows(txn_id):
            rows = [(_r, [{"original_id": original["id"], "reversal_id": txn_id}])]
            return rows + ([token_rows(txn_id, original["meter"], [void])] if void else [])

        sold = conn.execute(_SALE_BY_ID, {"txn_id": original["id"]}).one()
        row = ledger.append(
            conn,
            "reversal",
            original["meter"],
            stamp,
            cashier,
            rev_body,
            lines,
            side_rows,
            month=(sold.month, -sold.units, -sold.standing),  # off its month's running totals
        )
        return receipt_from(row)

    return station.write(work)
