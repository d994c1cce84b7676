"""Selling credit: validation, debt recovery, tariff, TID allocation, token, ledger — one DB
transaction; plus reprints and reversals.

Idempotency: the payment reference is unique in `sales`. A retry with the same reference returns
the stored receipt and token (never a second token); the same reference with another meter or
amount is refused. The meter's row lock (PostgreSQL) or BEGIN IMMEDIATE (SQLite) serialises one
meter's sales, so its TIDs are allocated as max(this minute, last TID + 1).
"""

from sqlalchemy import func, select

from host_tools.vending import StationError, db, ledger, registry, tariffs
from host_tools.vending.faults import crash_point
from host_tools.vending.money import fmt, fmt_units, is_whole, parse_amount
from token_spec import TYPE_CREDIT, encode_token, format_token

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
)


def check_ref(ref):
    ref = (ref or "").strip()
    if not ref or len(ref) > REF_MAX or not ref.isprintable():
        raise StationError(f"--ref must be 1..{REF_MAX} printable characters")
    return ref


def check_channel(channel):
    if channel not in CHANNELS:
        raise StationError(f"--channel must be one of {', '.join(CHANNELS)}")
    return channel


def next_tid(conn, meter, stamp):
    """This minute's TID, or one past the meter's newest if that is already taken."""
    last = conn.execute(
        select(func.max(db.tokens.c.tid)).where(db.tokens.c.meter == meter)
    ).scalar_one()
    return stamp.tid if last is None else max(stamp.tid, last + 1)


def cashier_limit(conn, station, cashier):
    row = registry.get_cashier(conn, cashier) if cashier else None
    return row.vend_limit if row is not None else station.config["default_cashier_limit"]


def sell(station, meter, amount_text, ref, channel, cashier="", now=None):
    """Sell credit: returns the receipt dict (the stored one when `ref` was already used)."""
    amount = parse_amount(amount_text)
    ref, channel = check_ref(ref), check_channel(channel)
    meter = registry.check_meter(meter)
    cashier = (cashier or "").strip()
    stamp = station.stamp(now)
    vending_key = station.key

    def work(conn):
        crash_point(1)
        meter_row = registry.get_meter(conn, meter, lock=True)
        done = conn.execute(db.sales.select().where(db.sales.c.ref == ref)).first()
        if done is not None:
            return _replay(conn, done, meter, amount)
        limit = cashier_limit(conn, station, cashier)
        if amount > limit:
            raise StationError(
                f"{fmt(amount)} is above the vend limit {fmt(limit)} of cashier {cashier or '-'}"
            )
        sale = _price(conn, station, meter_row, amount, stamp)
        sale["tid"] = next_tid(conn, meter, stamp)
        key = station.decoder_key(meter, meter_row.key_revision, vending_key)
        sale["token"] = encode_token(key, meter, TYPE_CREDIT, sale["units"], sale["tid"])
        crash_point(2)
        sale.update(ref=ref, channel=channel, amount=amount, cashier=cashier)
        seq = ledger.append(conn, "sale", meter, stamp, cashier, sale, _sale_lines(sale))
        crash_point(3)
        conn.execute(
            db.sales.insert().values(
                txn_seq=seq,
                ref=ref,
                meter=meter,
                amount=amount,
                channel=channel,
                month=stamp.month,
                units=sale["units"],
                standing=sale["standing_charge"],
            )
        )
        crash_point(4)
        _insert_token(conn, seq, meter, sale["tid"], "credit", sale["units"], sale["token"])
        crash_point(5)
        return receipt(conn, seq)

    result = station.write(work)
    crash_point(6)
    return result


def _replay(conn, done, meter, amount):
    if done.meter != meter or done.amount != amount:
        raise StationError(
            f"payment reference {done.ref!r} was already used for {fmt(done.amount)} "
            f"on meter {done.meter}: use a new reference"
        )
    out = receipt(conn, done.txn_seq)
    out["replayed"] = True
    return out


def _price(conn, station, meter_row, amount, stamp):
    """Debt recovery, standing charge and the credit/energy split for one sale."""
    tariff = registry.get_tariff(conn, meter_row.tariff)
    arrears = registry.arrears_outstanding(conn, meter_row.number, station.config["debt_order"])

    def recover(paid):
        return tariffs.debt_split(paid, arrears, tariff["debt_percent"], tariff["debt_cap"])

    debt = recover(amount)
    debt_total = sum(part for _, part in debt)
    sale = {
        "meter": meter_row.number,
        "customer": meter_row.customer,
        "unit": meter_row.unit,
        "scale": meter_row.scale,
        "tariff": tariff["name"],
        "debt": [[seq, part] for seq, part in debt],
        "debt_recovered": debt_total,
        "standing_charge": 0,
        "carry_in": 0,
        "carry_out": 0,
        "energy": 0,
        "prepayment": 0,
    }
    if meter_row.unit == "currency":
        # The meter applies the tariff itself; the token carries money in register units.
        def net_of(paid):
            return paid - sum(part for _, part in recover(paid))

        sale["units"] = tariffs.currency_credit(amount, meter_row.scale, net_of)
        sale["prepayment"] = amount - debt_total
        return sale
    sale["standing_charge"] = _standing_due(
        conn, meter_row.number, tariff, stamp, amount - debt_total
    )
    sale["carry_in"] = registry.carry_balance(conn, meter_row.number)
    budget = amount - debt_total - sale["standing_charge"] + sale["carry_in"]
    used = _month_units(conn, meter_row.number, stamp.month)
    units, energy, carry = tariffs.energy_for(budget, tariff["blocks"], meter_row.scale, used)
    if units <= 0:
        raise StationError(
            f"{fmt(amount)} buys no energy after debt recovery and standing charge: "
            "take a larger amount"
        )
    sale.update(units=units, energy=energy, carry_out=carry, month_units_before=used)
    return sale


def _not_reversed(seq_column):
    return (
        ~select(db.reversals.c.original_seq)
        .where(db.reversals.c.original_seq == seq_column)
        .exists()
    )


def _month_units(conn, meter, month):
    """Units sold to the meter this month (not reversed): they fix the block of the next unit."""
    s = db.sales
    return int(
        conn.execute(
            select(func.coalesce(func.sum(s.c.units), 0)).where(
                s.c.meter == meter, s.c.month == month, _not_reversed(s.c.txn_seq)
            )
        ).scalar_one()
    )


def _standing_due(conn, meter, tariff, stamp, available):
    """The month's standing charge still uncollected, at most what is left of the payment."""
    if not tariff["standing_charge"]:
        return 0
    s = db.sales
    paid = conn.execute(
        select(func.coalesce(func.sum(s.c.standing), 0)).where(
            s.c.meter == meter, s.c.month == stamp.month, _not_reversed(s.c.txn_seq)
        )
    ).scalar_one()
    return max(0, min(tariff["standing_charge"] - int(paid), available))


def _sale_lines(sale):
    lines = [("cash:" + sale["channel"], sale["amount"], None)]
    lines += [("debt_recovery", -part, seq) for seq, part in sale["debt"]]
    lines.append(("standing_charge", -sale["standing_charge"], None))
    lines.append(("carry_forward", sale["carry_in"], None))
    lines.append(("energy_sales", -sale["energy"], None))
    lines.append(("carry_forward", -sale["carry_out"], None))
    lines.append(("customer_prepayment", -sale["prepayment"], None))
    return lines


def _insert_token(conn, seq, meter, tid, kind, value, digits):
    conn.execute(
        db.tokens.insert().values(
            txn_seq=seq, meter=meter, tid=tid, token_type=kind, value=value, digits=digits
        )
    )


# ---- receipts --------------------------------------------------------------------------------


def receipt_number(seq):
    return f"{seq:08d}"


def parse_receipt(text):
    text = str(text).strip().lstrip("#")
    if not is_whole(text) or int(text) <= 0:
        raise StationError(f"receipt number {text!r} is not a receipt number (digits)")
    return int(text)


def receipt(conn, seq):
    """Every printable field of txn `seq` (a sale, reversal, management token or config)."""
    row, body = ledger.load_body(conn, seq)
    if row is None:
        raise StationError(f"no receipt {receipt_number(seq)}")
    out = dict(body)
    out.update(
        receipt=receipt_number(seq),
        kind=row.kind,
        created_at=row.created_at,
        meter=row.meter,
        cashier=row.cashier,
    )
    for field in MONEY_FIELDS:
        if field in out:
            out[field + "_minor"] = out[field]
            out[field] = fmt(out[field])
    if row.kind == "sale":
        scale = body["scale"]
        if body["unit"] == "kwh":
            out["units_text"] = fmt_units(body["units"], scale) + " kWh"
        else:
            out["units_text"] = fmt_units(body["units"], scale) + " credit"
    if "token" in out:
        out["token_grouped"] = format_token(out["token"])
    reversal = conn.execute(
        select(db.reversals.c.reversal_seq).where(db.reversals.c.original_seq == seq)
    ).scalar()
    out["reversed_by"] = None if reversal is None else receipt_number(reversal)
    out.pop("debt", None)
    return out


def find_receipt(station, receipt_text=None, ref=None):
    """`prepay reprint`: by receipt number or by payment/token reference."""

    def work(conn):
        if ref is not None:
            seq = (
                conn.execute(select(db.sales.c.txn_seq).where(db.sales.c.ref == ref)).scalar()
                or conn.execute(
                    select(db.token_refs.c.txn_seq).where(db.token_refs.c.ref == ref)
                ).scalar()
            )
            if seq is None:
                raise StationError(f"no sale or token with reference {ref!r}")
            return receipt(conn, seq)
        return receipt(conn, parse_receipt(receipt_text))

    return station.read(work)


# ---- reversals -------------------------------------------------------------------------------


def reverse(station, receipt_text, reason, supervisor, cashier="", now=None):
    """Book a new txn negating a sale's entries and mark the sale reversed (never edit it)."""
    seq = parse_receipt(receipt_text)
    reason = (reason or "").strip()
    if not reason or not reason.isprintable() or len(reason) > 200:
        raise StationError("--reason must be 1..200 printable characters")
    supervisor = (supervisor or "").strip()
    cashier = (cashier or "").strip() or supervisor  # the batch it belongs to
    stamp = station.stamp(now)

    def work(conn):
        boss = registry.get_cashier(conn, supervisor)
        if boss is None or not boss.supervisor:
            raise StationError(f"{supervisor!r} is not a registered supervisor")
        row, body = ledger.load_body(conn, seq)
        if row is None or row.kind != "sale":
            raise StationError(f"receipt {receipt_number(seq)} is not a sale")
        registry.get_meter(conn, row.meter, lock=True)
        done = conn.execute(
            select(db.reversals.c.reversal_seq).where(db.reversals.c.original_seq == seq)
        ).scalar()
        if done is not None:
            raise StationError(
                f"receipt {receipt_number(seq)} was already reversed by {receipt_number(done)}"
            )
        lines = [(acct, -amount, arrear) for acct, amount, arrear in ledger.txn_lines(conn, seq)]
        rev_body = {
            "reverses": receipt_number(seq),
            "ref": body["ref"],
            "amount": body["amount"],
            "channel": body["channel"],
            "reason": reason,
            "supervisor": supervisor,
        }
        new_seq = ledger.append(conn, "reversal", row.meter, stamp, cashier, rev_body, lines)
        conn.execute(db.reversals.insert().values(original_seq=seq, reversal_seq=new_seq))
        return receipt(conn, new_seq)

    return station.write(work)
