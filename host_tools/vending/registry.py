"""Meters, tariffs and cashiers: the station's master data (no secrets: only key revisions)."""

import json
import re

from sqlalchemy import bindparam, func, select

from host_tools.vending import StationError, db, direct, limits
from host_tools.vending.money import fmt, fmt_price, is_whole
from token_spec.units import MAX_SCALE

UNITS = ("currency", "kwh")
TARIFF_KINDS = ("flat", "block", "tou", "tou-block")
DAY_TYPES = ("weekday", "weekend", "holiday")
NAME_MAX = 64


def check_meter(number):
    """11 digits with a valid Luhn check digit (token_spec's rule), or a clear error."""
    from token_spec import MeterNumberError, check_meter_number

    try:
        return check_meter_number(str(number).strip())
    except (MeterNumberError, ValueError) as exc:
        raise StationError(f"meter number {number!r}: {exc}") from None


def check_name(text, what):
    text = (text or "").strip()
    if not text or len(text) > NAME_MAX or not text.isprintable():
        raise StationError(f"{what} must be 1..{NAME_MAX} printable characters")
    return text


def _refuse_existing(conn, key_column, value, message):
    """Master data is added once: a second add with the same key is refused (no overwrite)."""
    if conn.execute(select(key_column).where(key_column == value)).first() is not None:
        raise StationError(message)


# ---- tariffs ---------------------------------------------------------------------------------


def tariff_blocks(kind, price, blocks):
    """Validated [(upper_kwh|None, price)] from --price (flat) or "100:1.50,300:2.10,*:2.80"."""
    from host_tools.vending.money import parse_price

    if kind == "flat":
        if price is None or blocks:
            raise StationError("a flat tariff takes --price and no --blocks")
        return [(None, parse_price(price))]
    if kind == "tou":
        if price is not None or blocks:
            raise StationError("a time-of-use tariff takes --tou (and --tou-weekend/-holiday)")
        return [(None, 0)]  # no block surcharge
    if kind not in TARIFF_KINDS:
        raise StationError(f"tariff kind must be one of {', '.join(TARIFF_KINDS)}")
    if not blocks or price is not None:
        raise StationError('a block tariff takes --blocks "100:1.50,300:2.10,*:2.80", no --price')
    out, last = [], 0
    parts = [p.strip() for p in blocks.split(",")]
    for i, part in enumerate(parts):
        upper, _, block_price = part.partition(":")
        if upper.strip() == "*":
            if i != len(parts) - 1:
                raise StationError("only the last block may be open-ended (*)")
            bound = None
        elif is_whole(upper) and int(upper) > last:
            bound = last = int(upper)
        else:
            raise StationError(f"block {part!r}: upper bounds are whole kWh and must increase")
        out.append((bound, parse_price(block_price, f"block {part!r} price")))
    if out[-1][0] is not None:
        raise StationError('the last block must be open-ended, e.g. "*:2.80"')
    return out


def tou_table(kind, weekday, weekend=None, holiday=None):
    """{"weekday", "weekend", "holiday": [[minute, price], ...]} from "00:00:1.20,17:00:2.50"
    (weekend defaults to weekday, holiday to weekend), or None for a tariff without TOU."""
    from host_tools.vending.money import parse_price

    if kind not in ("tou", "tou-block"):
        if weekday or weekend or holiday:
            raise StationError("--tou is for --kind tou or tou-block")
        return None
    if not weekday:
        raise StationError('a time-of-use tariff takes --tou "00:00:1.20,17:00:2.50,22:00:1.20"')
    table, previous = {}, None
    for day_type, text in zip(DAY_TYPES, (weekday, weekend, holiday), strict=True):
        if not text:
            table[day_type] = previous
            continue
        points = []
        for part in [p.strip() for p in text.split(",")]:
            when, _, price = part.rpartition(":")
            hh, _, mm = when.partition(":")
            if not (is_whole(hh) and is_whole(mm) and int(hh) < 24 and int(mm) < 60):
                raise StationError(f"time-of-use point {part!r}: expected HH:MM:price")
            minute = int(hh) * 60 + int(mm)
            if (not points and minute) or (points and minute <= points[-1][0]):
                raise StationError(
                    f"--tou {day_type}: times must start at 00:00 and increase ({part!r})"
                )
            points.append([minute, parse_price(price, f"time-of-use point {part!r} price")])
        table[day_type] = previous = points
    return table


def add_tariff(
    conn, name, kind, blocks, standing, debt_percent, debt_cap, stamp, bounds=None, tou=None
):
    """Add a tariff within the station's `bounds` (limits.Limits; None: the defaults).

    A time-of-use tariff (`tou`, see tou_table) is priced by the meter, so it is for currency
    meters only; with blocks ("tou-block") each block's price is added to the time price."""
    name = check_name(name, "tariff name")
    if not 0 <= debt_percent <= 100:
        raise StationError("debt recovery percentage must be 0..100")
    if tou is None:
        limits.check_tariff(bounds, blocks, standing, debt_cap)
    else:
        prices = [(None, p) for points in tou.values() for _, p in points]
        limits.check_tariff(bounds, prices, standing, debt_cap)
        limits.check_surcharges(bounds, blocks)
    _refuse_existing(conn, db.tariffs.c.name, name, f"tariff {name!r} already exists")
    conn.execute(
        db.tariffs.insert().values(
            name=name,
            kind=kind,
            # A TOU tariff keeps its table beside the blocks (no schema change for it).
            blocks=json.dumps(blocks if tou is None else {"blocks": blocks, "tou": tou}),
            standing_charge=standing,
            debt_percent=debt_percent,
            debt_cap=debt_cap,
            created_at=stamp.utc_iso,
        )
    )


def get_tariff(conn, name):
    row = conn.execute(db.tariffs.select().where(db.tariffs.c.name == name)).first()
    if row is None:
        raise StationError(f"no tariff named {name!r}")
    return tariff_dict(row)


def tariff_dict(row):
    stored = json.loads(row.blocks)
    tou = stored.get("tou") if isinstance(stored, dict) else None
    blocks = [(u, p) for u, p in (stored["blocks"] if isinstance(stored, dict) else stored)]
    return {
        "name": row.name,
        "kind": row.kind,
        "blocks": blocks,
        "tou": tou,
        "blocks_text": _blocks_text(blocks) if tou is None else _tou_text(tou, blocks),
        "standing_charge": row.standing_charge,
        "standing_charge_text": fmt(row.standing_charge),
        "debt_percent": row.debt_percent,
        "debt_cap": row.debt_cap,
        "debt_cap_text": None if row.debt_cap is None else fmt(row.debt_cap),
    }


def _blocks_text(blocks):
    if len(blocks) == 1:
        return f"{fmt_price(blocks[0][1])}/kWh"
    return ", ".join(
        f"{'above' if u is None else 'to ' + str(u) + ' kWh'}: {fmt_price(p)}/kWh"
        for u, p in blocks
    )


def _tou_text(tou, blocks):
    text = "; ".join(
        f"{day_type} "
        + ", ".join(f"{m // 60:02d}:{m % 60:02d} {fmt_price(p)}" for m, p in tou[day_type])
        for day_type in DAY_TYPES
    )
    if len(blocks) > 1:
        text += " + blocks " + ", ".join(
            f"{'above' if u is None else 'to ' + str(u) + ' kWh'}: +{fmt_price(p)}"
            for u, p in blocks
        )
    return text + " /kWh"


def check_tariff_for(unit, tariff):
    """A kWh meter's energy is priced when it is sold, not when it is used: a time-of-use
    tariff needs a meter that prices by the clock (a currency meter)."""
    if unit == "kwh" and tariff.get("tou"):
        raise StationError(
            f"tariff {tariff['name']!r} is time-of-use: a kWh meter's energy is priced when "
            "sold, not when used, so time-of-use needs a currency meter"
        )


def list_tariffs(conn):
    return [tariff_dict(r) for r in conn.execute(db.tariffs.select().order_by(db.tariffs.c.name))]


# ---- meters ----------------------------------------------------------------------------------


def add_meter(
    conn,
    number,
    unit,
    scale,
    imp_per_kwh,
    tariff,
    customer,
    phone,
    critical,
    stamp,
    key_revision=1,
    rated_amps=None,
    max_sale_kwh=None,
):
    number = check_meter(number)
    limits.check_meter_limits(rated_amps, max_sale_kwh)
    if unit not in UNITS:
        raise StationError(f"--unit must be one of {', '.join(UNITS)}")
    if not 1 <= scale <= MAX_SCALE:
        raise StationError(
            f"--scale must be 1..{MAX_SCALE} register units per currency unit or kWh"
        )
    if not 1 <= imp_per_kwh <= 1_000_000:
        raise StationError("--imp-per-kwh must be 1..1000000")
    if not 0 <= key_revision <= 255:
        raise StationError("--key-revision must be 0..255")
    check_tariff_for(unit, get_tariff(conn, tariff))
    _refuse_existing(conn, db.meters.c.number, number, f"meter {number} is already registered")
    conn.execute(
        db.meters.insert().values(
            number=number,
            unit=unit,
            scale=scale,
            imp_per_kwh=imp_per_kwh,
            tariff=tariff,
            customer=customer or "",
            phone=phone or "",
            critical=bool(critical),
            key_revision=key_revision,
            created_at=stamp.utc_iso,
            rated_amps=rated_amps,
            max_sale_kwh=max_sale_kwh,
        )
    )
    return number


def set_meter_limits(conn, number, rated_amps=None, max_sale_kwh=None, clear=False):
    """`prepay meter set-limits`: the meter's rated current and/or its maximum kWh per sale
    (`clear`: back to the station's default, a month at the rated current)."""
    limits.check_meter_limits(rated_amps, max_sale_kwh)
    if rated_amps is None and max_sale_kwh is None and not clear:
        raise StationError("give --rated-amps, --max-sale-kwh or --default")
    row = get_meter(conn, number, lock=True)
    values = {"max_sale_kwh": max_sale_kwh} if max_sale_kwh is not None or clear else {}
    if rated_amps is not None:
        values["rated_amps"] = rated_amps
    conn.execute(db.meters.update().where(db.meters.c.number == row.number).values(**values))
    return row.number


_METER = direct.Statement(db.meters.select().where(db.meters.c.number == bindparam("number")))
# Locking a meter moves its version on: a sale that read the meter without a lock then sees
# the change when it writes (see db.run_write's `optimistic`). The UPDATE holds the row lock
# to the end of the transaction on PostgreSQL; on SQLite BEGIN IMMEDIATE already serialises.
_METER_LOCKED = direct.Statement(
    db.meters.update()
    .where(db.meters.c.number == bindparam("number"))
    .values(version=db.meters.c.version + 1)
    .returning(*db.meters.columns)
)
_CASHIER = db.cashiers.select().where(db.cashiers.c.id == bindparam("cashier"))


def get_meter(conn, number, lock=False):
    """The meter's row; with lock=True the row lock that serialises writes to one meter."""
    number = check_meter(number)
    statement = _METER_LOCKED if lock else _METER
    row = direct.first(statement, direct.send(conn, statement, {"number": number}))
    if row is None:
        raise unregistered(number)
    return row


def unregistered(number):
    return StationError(f"meter {number} is not registered (see `prepay meter add`)")


def set_tariff(conn, number, tariff):
    """Move a meter to another tariff (from its next sale on; sold tokens keep their price)."""
    row = get_meter(conn, number, lock=True)
    check_tariff_for(row.unit, get_tariff(conn, tariff))
    conn.execute(db.meters.update().where(db.meters.c.number == row.number).values(tariff=tariff))
    return row.number


def meter_dict(row):
    return {
        "number": row.number,
        "unit": row.unit,
        "scale": row.scale,
        "imp_per_kwh": row.imp_per_kwh,
        "tariff": row.tariff,
        "customer": row.customer,
        "phone": row.phone,
        "critical": bool(row.critical),
        "key_revision": row.key_revision,
        "rated_amps": row.rated_amps,
        "max_sale_kwh": row.max_sale_kwh,
    }


def list_meters(conn):
    return [meter_dict(r) for r in conn.execute(db.meters.select().order_by(db.meters.c.number))]


def arrears_outstanding(conn, number, order="oldest"):
    """[(arrears txn id, outstanding minor units, receipt seq)] still owed, in recovery order."""
    e, t = db.entries, db.txns
    owed = func.sum(e.c.amount)
    rows = conn.execute(
        select(e.c.arrear_id, owed, t.c.seq)
        .join(t, t.c.id == e.c.arrear_id)
        .where(e.c.meter == number, e.c.account.in_(("arrears_receivable", "debt_recovery")))
        .group_by(e.c.arrear_id, t.c.seq)
        .having(owed > 0)
    ).all()
    items = [(r[0], int(r[1]), r[2]) for r in rows]
    if order == "newest":
        items.sort(key=lambda item: -item[2])
    elif order == "largest":
        items.sort(key=lambda item: (-item[1], item[2]))
    else:
        items.sort(key=lambda item: item[2])
    return items


# ---- cashiers --------------------------------------------------------------------------------


def add_cashier(conn, cashier_id, name, limit_minor, supervisor):
    cashier_id = check_name(cashier_id, "cashier id")
    _refuse_existing(conn, db.cashiers.c.id, cashier_id, f"cashier {cashier_id!r} already exists")
    conn.execute(
        db.cashiers.insert().values(
            id=cashier_id, name=name or "", vend_limit=limit_minor, supervisor=bool(supervisor)
        )
    )


def get_cashier(conn, cashier_id):
    return conn.execute(_CASHIER, {"cashier": cashier_id}).first()


def list_cashiers(conn):
    return [
        {"id": r.id, "name": r.name, "limit": fmt(r.vend_limit), "supervisor": bool(r.supervisor)}
        for r in conn.execute(db.cashiers.select().order_by(db.cashiers.c.id))
    ]


# ---- customer contact (customer messages, host_tools/notify) ---------------------------------

LANGUAGES = ("en", "zh")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9]{6,15}$")


def set_contact(conn, number, email=None, phone=None, language=None, email_opt=None, sms_opt=None):
    """Create or change the customer's contact of a meter; None leaves a field as it is.

    Opting in to a channel needs its address (email, or a phone here or on the meter)."""
    row = get_meter(conn, number, lock=True)
    old = get_contact(conn, row.number)
    new = dict(old)
    if email is not None:
        email = email.strip()
        if email and not _EMAIL.match(email):
            raise StationError(f"--email {email!r} is not an e-mail address")
        new["email"] = email
    if phone is not None:
        phone = phone.strip().replace(" ", "")
        if phone and not _PHONE.match(phone):
            raise StationError(f"--phone {phone!r}: use digits with an optional leading +")
        new["phone"] = phone
    if language is not None:
        if language not in LANGUAGES:
            raise StationError(f"--language must be one of {', '.join(LANGUAGES)}")
        new["language"] = language
    if email_opt is not None:
        new["email_opt_in"] = email_opt
    if sms_opt is not None:
        new["sms_opt_in"] = sms_opt
    if new["email_opt_in"] and not new["email"]:
        raise StationError("opting in to e-mail needs an --email address")
    if new["sms_opt_in"] and not (new["phone"] or row.phone):
        raise StationError("opting in to SMS needs a --phone number")
    values = {k: new[k] for k in ("email", "phone", "language", "email_opt_in", "sms_opt_in")}
    c = db.customer_contacts
    if old["stored"]:
        conn.execute(c.update().where(c.c.meter == row.number).values(**values))
    else:
        conn.execute(c.insert().values(meter=row.number, **values))
    return get_contact(conn, row.number)


def get_contact(conn, number):
    """The contact of a meter's customer as a dict (defaults, stored=False, if none is set)."""
    c, m = db.customer_contacts, db.meters
    row = conn.execute(
        select(c, m.c.phone.label("meter_phone"), m.c.customer, m.c.critical)
        .select_from(m.outerjoin(c, c.c.meter == m.c.number))
        .where(m.c.number == number)
    ).first()
    if row is None:
        raise unregistered(number)
    stored = row.meter is not None
    return {
        "meter": number,
        "customer": row.customer,
        "critical": bool(row.critical),
        "stored": stored,
        "email": row.email if stored else "",
        "phone": row.phone if stored else "",
        "sms_number": (row.phone if stored and row.phone else "") or row.meter_phone,
        "language": row.language if stored else "en",
        "email_opt_in": bool(row.email_opt_in) if stored else False,
        "sms_opt_in": bool(row.sms_opt_in) if stored else False,
    }
