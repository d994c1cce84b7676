"""STS meters at the station (issue 16; docs/sts.md "Station"): registration, the tokens a sale
or a management verb issues, key changes (`meter rekey`) and the TID rollover campaign.

An STS meter is a `meters` row (tariff, unit, customer: everything v1 has) plus a `sts_meters`
row (PAN, EA, manufacturer code) and key generations in `sts_keys` (db.py). Its decoder key is
derived when a token is made, from the station's STS vending key (sts_keys.py) by DKGA02 or
DKGA04 (host_tools/sts/keys.py), and is never stored.

TIDs. The `tokens` table holds, for an STS token, the minutes since 1993-01-01 00:00 station
local time ("tid_seq"), whatever the key's base date; the token itself carries that minus its
base date's offset ("tid"). So one meter's TIDs stay unique and increasing across a rollover
(base 1993 -> 2014), and the same allocator as v1 applies: max(this minute, last + 1), in the
sale's own transaction.

Key changes. `meter rekey` and `sts rollover` add a generation; the meter's current key is the
newest generation a (non-reversed) sale has carried KCTs for (generation 0, as registered,
needs none). While a newer generation is pending, every sale carries the KCTs (under the
current key) first and then its credit token under the new key; the sale that carries them
makes the new key current. A later sale is the proof that the meter took them (a customer who
buys again has entered the tokens); until then `report rollover` lists the meter as "issued".
"""

from datetime import UTC, datetime

from sqlalchemy import func, select

from host_tools.sts import keys as sts_keygen
from host_tools.vending import StationError, db, sts_keys, tariffs
from token_spec.sts import amount as sts_amount
from token_spec.sts import token as sts_token
from token_spec.sts.tid import BASE_YEARS, TID_MAX

FORMATS = ("v1", "sts")
_EPOCH = datetime(1993, 1, 1)
BASE_OFFSETS = {
    year: int((datetime(year, 1, 1) - _EPOCH).total_seconds()) // 60 for year in BASE_YEARS
}
# The token's base unit per register unit of the sale: 0.1 kWh (class 0 subclass 0) or 10**-5
# currency units (subclass 4); the station prices STS sales in these units whatever the meter's
# own register scale is (the meter converts, docs/sts.md).
TOKEN_SCALE = {"kwh": 10, "currency": 100000}
SUBCLASS = {"kwh": 0, "currency": 4}
ROLLOVER_BASE, ROLLOVER_DKGA = 2014, 4

_m, _k, _ks = db.sts_meters, db.sts_keys, db.sts_kct_sales


def _fail(message):
    raise StationError(message)


def _int_option(name, text, low, high):
    try:
        value = int(str(text).strip(), 10)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        _fail(f"--{name} must be a whole number {low}..{high}, not {text!r}")
    return value


def check_key_params(sgc, ti, krn, kt, ken, dkga, base, ea):
    """Validated key parameters (ints; SGC as its 6-digit text) or a one-line StationError."""
    try:
        sgc_text = "%06d" % sts_keygen.check_sgc(str(sgc).strip())
    except ValueError as exc:
        _fail(f"--sgc: {exc}")
    out = {
        "sgc": sgc_text,
        "ti": _int_option("ti", ti, 0, 99),
        "krn": _int_option("krn", krn, 1, 9),
        "kt": _int_option("kt", kt, 0, 3),
        "ken": _int_option("ken", ken, 0, 255),
        "dkga": _int_option("dkga", dkga, 2, 4),
        "base": _int_option("base", base, 1993, 2035),
    }
    ea = _int_option("ea", ea, 7, 11)
    if out["dkga"] not in sts_keys.SIZES:
        _fail("--dkga must be 02 or 04 (DKGA01 is not public, DKGA03 is deprecated)")
    if out["base"] not in BASE_YEARS:
        _fail("--base must be one of 1993, 2014, 2035")
    if ea not in (sts_token.EA07, sts_token.EA11):
        _fail("--ea must be 07 or 11 (EA09 is not supported)")
    if out["dkga"] == 2 and ea != sts_token.EA07:
        _fail("DKGA02 gives a 64-bit key: an EA11 (MISTY1) meter needs --dkga 04")
    return out, ea


def check_pan(pan):
    try:
        return sts_keygen.check_pan(str(pan).strip())
    except ValueError as exc:
        _fail(f"--pan: {exc}")


def manufacturer(pan):
    """The manufacturer code: the IAIN's first 2 digits (IIN 600727) or 4 digits (IIN 0000)."""
    return int(pan[6:8]) if pan.startswith("600727") else int(pan[4:8])


def add(conn, number, pan, params, ea, stamp):
    """Register meter `number` (already in `meters`, same transaction) as an STS meter."""
    pan = check_pan(pan)
    if conn.execute(select(_m.c.number).where(_m.c.pan == pan)).first() is not None:
        _fail(f"PAN {pan} is already registered to another meter")
    conn.execute(
        _m.insert().values(
            number=number, pan=pan, ea=ea, mfr=manufacturer(pan), created_at=stamp.utc_iso
        )
    )
    _add_generation(conn, number, 0, params, 0, "", stamp)


def _add_generation(conn, number, generation, params, ro, campaign, stamp):
    conn.execute(
        _k.insert().values(
            meter=number,
            generation=generation,
            ro=ro,
            campaign=campaign,
            created_at=stamp.utc_iso,
            **params,
        )
    )


# ---- the meter's key state -------------------------------------------------------------------

_KEY_FIELDS = ("sgc", "ti", "kt", "krn", "ken", "dkga", "base")


def _key_dict(row):
    out = {name: getattr(row, name) for name in _KEY_FIELDS}
    out.update(id=row.id, generation=row.generation, ro=row.ro, campaign=row.campaign)
    return out


def _carrier(conn, key_id):
    """(seq, txn id) of the non-reversed sale that carried this generation's KCTs, or None."""
    t, r = db.txns, db.reversals
    row = conn.execute(
        select(t.c.seq, t.c.id)
        .join(_ks, _ks.c.txn_id == t.c.id)
        .where(_ks.c.key_id == key_id)
        .where(~select(r.c.original_id).where(r.c.original_id == t.c.id).exists())
        .order_by(t.c.seq)
    ).first()
    return None if row is None else (row.seq, row.id)


def state(conn, number):
    """The STS meter: PAN, EA, its current key, the pending one (or None), and where the
    current key stands: "registered" (generation 0), "issued" (KCTs on a sale, no later sale
    yet) or "done" (a later sale proves the meter took them). None for a v1 meter."""
    meter = conn.execute(_m.select().where(_m.c.number == number)).first()
    if meter is None:
        return None
    generations = [
        _key_dict(row)
        for row in conn.execute(
            _k.select().where(_k.c.meter == number).order_by(_k.c.generation.desc())
        )
    ]
    current, carried_by = generations[-1], None
    for key in generations[:-1]:
        carrier = _carrier(conn, key["id"])
        if carrier is not None:
            current, carried_by = key, carrier
            break
    pending = generations[0] if generations[0]["generation"] > current["generation"] else None
    status = "registered"
    if carried_by is not None:
        t = db.txns
        later = conn.execute(
            select(func.count())
            .select_from(t)
            .where(t.c.meter == number, t.c.kind == "sale", t.c.seq > carried_by[0])
            .where(
                ~select(db.reversals.c.original_id)
                .where(db.reversals.c.original_id == t.c.id)
                .exists()
            )
        ).scalar_one()
        status = "done" if later else "issued"
    return {
        "number": number,
        "pan": meter.pan,
        "ea": meter.ea,
        "mfr": meter.mfr,
        "current": current,
        "pending": pending,
        "status": status,
        "carried_by": None if carried_by is None else carried_by[0],
    }


def decoder_key(station, st, key):
    """The meter's decoder key for one generation (derived now, never stored or logged)."""
    vk = sts_keys.vending_key(station, key["dkga"])
    try:
        return sts_keygen.decoder_key(
            vk,
            key["dkga"],
            st["pan"],
            key["sgc"],
            key["ti"],
            key["kt"],
            key["krn"],
            key["base"],
            st["ea"],
        )
    except ValueError as exc:  # messages name the bad parameter, never a key
        raise StationError(f"meter {st['number']}: {exc}") from None


# ---- TIDs ------------------------------------------------------------------------------------


def minute_now(station, now=None):
    """This minute as minutes since 1993-01-01 00:00 station local time (the TID clock)."""
    now = now or datetime.now(UTC)
    local = now.astimezone(station.tz).replace(tzinfo=None)
    return int((local - _EPOCH).total_seconds()) // 60


def next_tid_seq(conn, number, minute, last=False):
    """This minute, or one past the meter's newest token if that is already taken."""
    if last is False:
        last = conn.execute(
            select(func.max(db.tokens.c.tid)).where(db.tokens.c.meter == number)
        ).scalar()
    return minute if last is None else max(minute, last + 1)


def token_tid(st, key, tid_seq):
    """The TID a token under `key` carries for the station's minute count, checked."""
    tid = tid_seq - BASE_OFFSETS[key["base"]]
    if not 0 <= tid <= TID_MAX:
        _fail(
            f"meter {st['number']}: this time is outside base date {key['base']}'s 24-bit TID "
            "range: move the meter to a later base date (`prepay sts rollover` / `meter rekey`)"
        )
    if tid >> 16 > key["ken"]:
        _fail(
            f"meter {st['number']}: its key has expired (TID past KEN {key['ken']}): "
            "give it a new key with `prepay meter rekey`"
        )
    return tid


# ---- pricing in the token's units ------------------------------------------------------------


def floor_units(units):
    """The largest 0.1-unit amount <= units a token carries exactly (never rounds up)."""
    if units >= sts_amount.UNITS_MAX:
        return sts_amount.UNITS_MAX
    e, m = sts_amount._encode(units, 3, False)
    return sts_amount.decode_units((e << 14) | m)


def floor_currency(value):
    """The largest currency amount (10**-5 units) <= value a currency token carries exactly."""
    if value >= sts_amount.CURRENCY_MAX:
        return sts_amount.CURRENCY_MAX
    e, m = sts_amount._encode(value, 31, False)
    return sts_amount.decode_currency(((e & 3) << 14) | m, e >> 2)


# What one STS credit token carries, for tariffs.energy_for / currency_credit: the same pricing
# as v1 (rounded down to what the token carries exactly, the rest carried to the next sale),
# only the amount encoding differs.
TOKEN_AMOUNTS = {
    "kwh": tariffs.TokenAmounts("one STS token", sts_amount.UNITS_MAX, floor_units),
    "currency": tariffs.TokenAmounts("one STS token", sts_amount.CURRENCY_MAX, floor_currency),
}


def pricing_row(meter_row):
    """The meter row as vend._price sees it for an STS sale: scale = the token's unit."""
    return meter_row._replace(scale=TOKEN_SCALE[meter_row.unit])


# ---- tokens for a sale -----------------------------------------------------------------------


def sale_tokens(station, conn, st, sale, tid_seq):
    """The tokens of one sale: the KCTs to the pending key first (if any), then the credit token
    under the key the meter will have. Returns (issued rows, body fields, extra side rows)."""
    current, pending = st["current"], st["pending"]
    target = pending or current
    tid = token_tid(st, target, tid_seq)
    subclass = SUBCLASS[sale["unit"]]
    new_dk = decoder_key(station, st, target)
    rnd = tid_seq & 15
    credit = sts_token.encode(new_dk, st["ea"], 0, subclass, tid, sale["units"], rnd)
    body = {
        "format": "sts",
        "ea": st["ea"],
        "token_class": 0,
        "token_subclass": subclass,
        "tid": tid,
        "tid_seq": tid_seq,
        "base": target["base"],
        "token": credit,
    }
    issued = []
    extra = []
    if pending is not None:
        kcts = _kcts(station, st, current, pending)
        body["kcts"] = kcts
        body["tokens"] = kcts + [credit]
        body["key_change"] = _change_text(current, pending)
        issued += [(None, f"sts-kct-{i + 1}", 0, d) for i, d in enumerate(kcts)]
        extra.append((_ks, pending["id"]))
    issued.append((tid_seq, "sts-credit", sale["units"], credit))
    return issued, body, extra


def kct_rows(extra, txn_id):
    return _ks, [{"key_id": key_id, "txn_id": txn_id} for _table, key_id in extra]


def _kcts(station, st, old, new):
    old_dk, new_dk = decoder_key(station, st, old), decoder_key(station, st, new)
    try:
        return sts_token.encode_kct(
            old_dk,
            st["ea"],
            new_dk,
            new["ken"],
            new["krn"],
            new["ro"],
            new["kt"],
            new["ti"],
            int(new["sgc"]),
        )
    except ValueError as exc:
        raise StationError(f"meter {st['number']}: key change: {exc}") from None


def _change_text(old, new):
    parts = [f"KRN {old['krn']}->{new['krn']}"]
    for name in ("ti", "base", "dkga"):
        if old[name] != new[name]:
            parts.append(f"{name.upper()} {old[name]}->{new[name]}")
    if new["ro"]:
        parts.append("RO 1 (TID rollover)")
    return ", ".join(parts)


# ---- management tokens -----------------------------------------------------------------------

# verb -> (class 2 subclass, value for the token from the verb's value)
MANAGEMENT = {
    "power-limit": sts_token.SET_POWER_LIMIT,
    "clear-credit": sts_token.CLEAR_CREDIT,
    "clear-tamper": sts_token.CLEAR_TAMPER,
}
CLEAR_ALL_REGISTERS = 0xFFFF


def management_value(verb, text):
    if verb not in MANAGEMENT:
        _fail(
            f"`token {verb}` has no STS token: STS meters take power-limit, clear-credit and "
            "clear-tamper"
        )
    if verb == "power-limit":
        if text is None or not str(text).strip().isdigit():
            _fail(f"power-limit: {text!r} is not a whole number of watts")
        watts = int(str(text).strip())
        if watts > sts_amount.UNITS_MAX:
            _fail(f"power-limit: {watts} W is above the {sts_amount.UNITS_MAX} W a token carries")
        if sts_amount.carried(watts) != watts:
            _fail(f"power-limit: {watts} W is not exactly representable in an STS token")
        return watts
    return CLEAR_ALL_REGISTERS if verb == "clear-credit" else 0


def management_token(station, conn, st, verb, value, minute):
    """(issued rows, body) of one management token under the meter's current key."""
    key = st["current"]
    tid_seq = next_tid_seq(conn, st["number"], minute)
    tid = token_tid(st, key, tid_seq)
    subclass = MANAGEMENT[verb]
    digits = sts_token.encode(
        decoder_key(station, st, key), st["ea"], 2, subclass, tid, value, tid_seq & 15
    )
    body = {
        "format": "sts",
        "token_type": f"sts-{verb}",
        "token_class": 2,
        "token_subclass": subclass,
        "value": value,
        "value_text": f"{value} W" if verb == "power-limit" else "",
        "tid": tid,
        "tid_seq": tid_seq,
        "base": key["base"],
        "token": digits,
    }
    return [(tid_seq, f"sts-{verb}", value, digits)], body


# ---- key changes -----------------------------------------------------------------------------


def _record_change(conn, st, changes, ro, campaign, stamp):
    """Add the generation that the meter's next sale moves it to (insert-only)."""
    base_key = st["pending"] or st["current"]
    new = {name: base_key[name] for name in _KEY_FIELDS}
    new.update(changes)
    if new["base"] != st["current"]["base"] and not ro:
        _fail(
            f"a new base date ({new['base']}) needs --ro: the meter must clear its TID memory, "
            "or every token on the new base would look OLD"
        )
    if new["dkga"] == 2 and st["ea"] != sts_token.EA07:
        _fail("DKGA02 gives a 64-bit key: an EA11 (MISTY1) meter needs DKGA04")
    same = all(new[n] == st["current"][n] for n in _KEY_FIELDS)
    if same:
        _fail(f"meter {st['number']}: the new key parameters are those of its current key")
    top = conn.execute(
        select(func.max(_k.c.generation)).where(_k.c.meter == st["number"])
    ).scalar_one()
    _add_generation(conn, st["number"], top + 1, new, 1 if ro else 0, campaign, stamp)
    return new


def _locked_state(conn, number):
    from host_tools.vending import registry

    registry.get_meter(conn, number, lock=True)  # serialises with the meter's sales
    st = state(conn, number)
    if st is None:
        _fail(f"meter {number} is not an STS meter (registered with --format v1)")
    return st


def rekey(station, number, new_krn, new_ti=None, new_base=None, new_dkga=None, ro=False):
    """`prepay meter rekey`: record new key parameters; the next sale carries the KCTs."""
    from host_tools.vending import registry

    number = registry.check_meter(number)
    changes = {"krn": _int_option("new-krn", new_krn, 1, 9)}
    if new_ti is not None:
        changes["ti"] = _int_option("new-ti", new_ti, 0, 99)
    if new_base is not None:
        changes["base"] = _int_option("new-base", new_base, 1993, 2035)
        if changes["base"] not in BASE_YEARS:
            _fail("--new-base must be one of 1993, 2014, 2035")
    if new_dkga is not None:
        changes["dkga"] = _int_option("new-dkga", new_dkga, 2, 4)
        if changes["dkga"] not in sts_keys.SIZES:
            _fail("--new-dkga must be 02 or 04")
    stamp = station.stamp()

    def work(conn):
        st = _locked_state(conn, number)
        new = _record_change(conn, st, changes, ro, "", stamp)
        sts_keys.vending_key(station, new["dkga"])  # refuse now if the station lacks the key
        return {"meter": number, "pending": _change_text(st["current"], dict(new, ro=int(ro)))}

    return station.write(work)


def rollover(station, sgc):
    """`prepay sts rollover --sgc`: every meter of the supply group not yet on base 2014 and
    DKGA04 gets a pending key change to base 2014, DKGA04, KRN + 1, RO = 1."""
    try:
        sgc_text = "%06d" % sts_keygen.check_sgc(str(sgc).strip())
    except ValueError as exc:
        _fail(f"--sgc: {exc}")
    sts_keys.vending_key(station, ROLLOVER_DKGA)  # the station must hold the DKGA04 key first
    stamp = station.stamp()
    numbers = station.read(lambda conn: _group(conn, sgc_text))
    if not numbers:
        _fail(f"no STS meter in supply group {sgc_text}")
    out = {"sgc": sgc_text, "moved": [], "already": [], "waiting": []}

    def one(conn, number):
        st = _locked_state(conn, number)
        target = st["pending"] or st["current"]
        if target["base"] >= ROLLOVER_BASE and target["dkga"] == ROLLOVER_DKGA:
            return "already"
        if st["status"] == "issued":
            # KCTs on a receipt the meter may not have taken yet: a second change would be
            # made under a key the meter may not hold. Run the campaign again later.
            return "waiting"
        changes = {
            "base": ROLLOVER_BASE,
            "dkga": ROLLOVER_DKGA,
            "krn": min(st["current"]["krn"] + 1, 9),
        }
        _record_change(conn, st, changes, True, "rollover", stamp)
        return "moved"

    for number in numbers:
        out[station.write(lambda conn, n=number: one(conn, n))].append(number)
    return out


def _group(conn, sgc_text):
    """The meters whose newest key generation is in supply group `sgc_text`."""
    newest = (
        select(_k.c.meter, func.max(_k.c.generation).label("generation"))
        .group_by(_k.c.meter)
        .subquery()
    )
    rows = conn.execute(
        select(_k.c.meter)
        .join(newest, (newest.c.meter == _k.c.meter) & (newest.c.generation == _k.c.generation))
        .where(_k.c.sgc == sgc_text)
        .order_by(_k.c.meter)
    )
    return [row.meter for row in rows]


def rollover_report(station, sgc=None):
    """`prepay report rollover`: every STS meter (of one supply group) and where it stands.

    done: on base 2014+ and DKGA04 and a later sale proved the KCTs were taken (or registered
    so); issued: KCTs on a receipt, no later sale yet; pending: change recorded, no sale yet;
    not started: still on base 1993 or DKGA02 with nothing recorded."""

    def work(conn):
        numbers = [r.number for r in conn.execute(select(_m.c.number).order_by(_m.c.number))]
        rows = []
        for number in numbers:
            st = state(conn, number)
            target = st["pending"] or st["current"]
            if sgc is not None and target["sgc"] != "%06d" % int(sgc):
                continue
            rolled = target["base"] >= ROLLOVER_BASE and target["dkga"] == ROLLOVER_DKGA
            if not rolled:
                stage = "not started"
            elif st["pending"] is not None:
                stage = "pending"
            elif st["status"] == "issued":
                stage = "issued"
            else:
                stage = "done"
            rows.append(
                {
                    "meter": number,
                    "pan": st["pan"],
                    "sgc": target["sgc"],
                    "base": target["base"],
                    "dkga": f"{target['dkga']:02d}",
                    "krn": target["krn"],
                    "stage": stage,
                    "kct_receipt": None if st["carried_by"] is None else f"{st['carried_by']:08d}",
                }
            )
        counts = {}
        for row in rows:
            counts[row["stage"]] = counts.get(row["stage"], 0) + 1
        return {"meters": rows, "counts": counts}

    if sgc is not None:
        try:
            sts_keygen.check_sgc(str(sgc).strip())
        except ValueError as exc:
            _fail(f"--sgc: {exc}")
    return station.read(work)


# ---- what the meter is provisioned with ------------------------------------------------------


def provision_settings(station, number):
    """The `"sts"` object of the meter's `provision` settings (docs/interfaces.md), or None
    for a v1 meter. Holds the decoder key: it goes to the meter and nowhere else."""

    def work(conn):
        return state(conn, number)

    st = station.read(work)
    if st is None:
        return None
    key = st["current"]
    return {
        "dk": decoder_key(station, st, key).hex().upper(),
        "ea": st["ea"],
        "kt": key["kt"],
        "krn": key["krn"],
        "ti": key["ti"],
        "ken": key["ken"],
        "sgc": key["sgc"],
        "base": key["base"],
        "mfr": st["mfr"],
        "ddtk": key["kt"] == 1,
    }


def summary(conn, number):
    """`prepay meter show` fields of an STS meter (no key)."""
    st = state(conn, number)
    if st is None:
        return {"format": "v1"}
    key = st["current"]
    out = {
        "format": "sts",
        "pan": st["pan"],
        "ea": f"{st['ea']:02d}",
        "sts_key": f"SGC {key['sgc']} TI {key['ti']:02d} KT {key['kt']} KRN {key['krn']} "
        f"KEN {key['ken']} DKGA{key['dkga']:02d} base {key['base']}",
        "key_change": None if st["pending"] is None else _change_text(key, st["pending"]),
    }
    return out


def check_options(token_format, options):
    """`meter add`'s STS options checked before anything is written: None for a v1 meter."""
    given = {name: value for name, value in options.items() if value is not None}
    if token_format != "sts":
        extra = sorted(set(given) - {"kt", "ken"})
        if extra:
            _fail(f"--{extra[0]} is for STS meters: add --format sts")
        return None
    for name in ("pan", "sgc", "ti", "krn", "ea", "dkga", "base"):
        if name not in given:
            _fail(f"an STS meter needs --{name}")
    params, ea = check_key_params(
        given["sgc"],
        given["ti"],
        given["krn"],
        given["kt"],
        given["ken"],
        given["dkga"],
        given["base"],
        given["ea"],
    )
    return {"pan": check_pan(given["pan"]), "params": params, "ea": ea}
