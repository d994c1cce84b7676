"""Management tokens, key change, signed config and arrears — recorded in the ledger like sales.

Each is a txn (no money moves, so no entries, except arrears) whose body holds what was issued;
tokens take TIDs from the same allocator as credit tokens (vend.next_tid). An optional --ref
makes an issue idempotent exactly like a sale's payment reference.
"""

import hashlib
import json

from sqlalchemy import func, select

from host_tools.vending import (
    StationError,
    arrears,
    db,
    ledger,
    meter_config,
    registry,
    sts_meters,
    vend,
)
from host_tools.vending.money import fmt, is_whole, parse_amount, parse_price
from token_spec import (
    TYPE_ADD_DEBT,
    TYPE_CLEAR_CREDIT,
    TYPE_CLEAR_TAMPER,
    TYPE_DEBT_RECOVERY,
    TYPE_KEY_CHANGE_1,
    TYPE_LOW_CREDIT,
    TYPE_NAMES,
    TYPE_POWER_LIMIT,
    TYPE_SET_PRICE,
    encode_token,
    is_representable,
    key_change_tokens,
    nearest_representable,
)
from token_spec.config_blob import sign_config
from token_spec.units import MINOR_PER_UNIT, PRICE_PER_UNIT, register_units

# verb -> (token type, what the value means)
MANAGEMENT = {
    "power-limit": (TYPE_POWER_LIMIT, "watts"),
    "clear-tamper": (TYPE_CLEAR_TAMPER, None),
    "clear-credit": (TYPE_CLEAR_CREDIT, None),
    "set-price": (TYPE_SET_PRICE, "price"),
    "low-credit": (TYPE_LOW_CREDIT, "money"),
    "add-debt": (TYPE_ADD_DEBT, "money"),
    "debt-recovery": (TYPE_DEBT_RECOVERY, "percent"),
}


def _register_value(meter_row, minor_or_price, what, per_kwh=False):
    """Money (minor units) or a price (1/10,000 per kWh) in the currency meter's register units."""
    if meter_row.unit != "currency":
        raise StationError(f"{what} tokens are for currency meters; {meter_row.number} counts kWh")
    per_unit = PRICE_PER_UNIT if per_kwh else MINOR_PER_UNIT
    value = register_units(minor_or_price, meter_row.scale, per_unit)
    if value is None:
        raise StationError(
            f"{what}: the meter's register (scale {meter_row.scale}) cannot hold it"
        )
    if not is_representable(value):
        below, above = nearest_representable(value)
        raise StationError(
            f"{what}: {value} register units is not exactly representable in a token "
            f"(nearest {below} or {above})"
        )
    return value


def token_value(meter_row, verb, text):
    """The token value for a management verb's argument (validated, integers only)."""
    _type, meaning = MANAGEMENT[verb]
    if meaning is None:
        return 0
    if text is None:
        raise StationError(f"`token {verb}` needs a value")
    if meaning == "watts" or meaning == "percent":
        top = 65535 if meaning == "watts" else 100
        if not is_whole(text) or int(text) > top:
            raise StationError(f"{verb}: {text!r} is not a whole number 0..{top}")
        return int(text)
    if meaning == "price":
        return _register_value(meter_row, parse_price(text), verb, per_kwh=True)
    return _register_value(meter_row, parse_amount(text), verb)


def _claim_ref(conn, ref, meter, what):
    """The earlier txn for this --ref (same request) or None; a different request is an error."""
    if ref is None:
        return None
    txn_id = conn.execute(
        select(db.token_refs.c.txn_id).where(db.token_refs.c.ref == ref)
    ).scalar()
    if txn_id is None:
        return None
    row = ledger.load(conn, txn_id=txn_id)
    if row["meter"] != meter or row["body"].get("request") != what:
        raise StationError(f"reference {ref!r} was already used for another request")
    return txn_id


def _ref_rows(ref, txn_id):
    """(token_refs table, rows): the management token's --ref, if it has one."""
    return db.token_refs, ([] if ref is None else [{"ref": ref, "txn_id": txn_id}])


def issue(station, meter, verb, text=None, ref=None, cashier="", now=None):
    """Issue one management token (not key change); returns its receipt."""
    meter = registry.check_meter(meter)
    ref = None if ref is None else vend.check_ref(ref)
    stamp = station.stamp(now)
    vending_key = station.key
    token_type = MANAGEMENT[verb][0]

    def work(conn):
        meter_row = registry.get_meter(conn, meter, lock=True)
        sts = sts_meters.state(conn, meter)
        if sts is not None:
            return _issue_sts(conn, sts, meter_row, verb, text)
        value = token_value(meter_row, verb, text)
        request = f"{verb} {value}"
        earlier = _claim_ref(conn, ref, meter, request)
        if earlier is not None:
            return vend.receipt(conn, txn_id=earlier)
        tid = vend.next_tid(conn, meter, stamp)
        key = station.decoder_key(meter, meter_row.key_revision, vending_key)
        digits = encode_token(key, meter, token_type, value, tid)
        body = {
            "request": request,
            "token_type": TYPE_NAMES[token_type],
            "value": value,
            "value_text": _value_text(meter_row, verb, value),
            "customer": meter_row.customer,
            "tid": tid,
            "token": digits,
        }

        def side_rows(txn_id):
            issued = [(tid, TYPE_NAMES[token_type], value, digits)]
            return [vend.token_rows(txn_id, meter, issued), _ref_rows(ref, txn_id)]

        return vend.receipt_from(
            ledger.append(conn, "token", meter, stamp, cashier, body, [], side_rows)
        )

    def _issue_sts(conn, sts, meter_row, verb, text):
        """The same verb for an STS meter: a class 2 token under its current key."""
        value = sts_meters.management_value(verb, text)
        request = f"{verb} {value}"
        earlier = _claim_ref(conn, ref, meter, request)
        if earlier is not None:
            return vend.receipt(conn, txn_id=earlier)
        minute = sts_meters.minute_now(station, now)
        issued, body = sts_meters.management_token(station, conn, sts, verb, value, minute)
        body.update(request=request, customer=meter_row.customer)

        def side_rows(txn_id):
            return [vend.token_rows(txn_id, meter, issued), _ref_rows(ref, txn_id)]

        return vend.receipt_from(
            ledger.append(conn, "token", meter, stamp, cashier, body, [], side_rows)
        )

    return station.write(work)


def _value_text(meter_row, verb, value):
    meaning = MANAGEMENT[verb][1]
    if meaning == "watts":
        return f"{value} W"
    if meaning == "percent":
        return f"{value} %"
    if meaning in ("money", "price"):
        return f"{value} register units (scale {meter_row.scale})"
    return ""


def key_change(station, meter, new_revision=None, ref=None, cashier="", now=None):
    """The four key-change tokens to the next key revision; the registry's revision moves in
    the same transaction, so later tokens are made under the new key."""
    meter = registry.check_meter(meter)
    ref = None if ref is None else vend.check_ref(ref)
    stamp = station.stamp(now)
    vending_key = station.key

    def work(conn):
        meter_row = registry.get_meter(conn, meter, lock=True)
        if sts_meters.state(conn, meter) is not None:
            raise StationError(
                f"meter {meter} is an STS meter: change its key with `prepay meter rekey`"
            )
        old = meter_row.key_revision
        new = old + 1 if new_revision is None else int(new_revision)
        earlier = _claim_ref(conn, ref, meter, "key-change")
        if earlier is not None:
            return vend.receipt(conn, txn_id=earlier)
        if not old < new <= 255:
            raise StationError(f"new key revision must be {old + 1}..255 (the meter is at {old})")
        current = station.decoder_key(meter, old, vending_key)
        parts = key_change_tokens(
            current, meter, station.decoder_key(meter, new, vending_key), new
        )
        body = {
            "request": "key-change",
            "token_type": "key-change",
            "old_revision": old,
            "new_revision": new,
            "customer": meter_row.customer,
            "tokens": parts,
        }
        issued = [(None, TYPE_NAMES[TYPE_KEY_CHANGE_1 + k], 0, d) for k, d in enumerate(parts)]

        def side_rows(txn_id):
            return [vend.token_rows(txn_id, meter, issued), _ref_rows(ref, txn_id)]

        row = ledger.append(conn, "token", meter, stamp, cashier, body, [], side_rows)
        conn.execute(
            db.meters.update().where(db.meters.c.number == meter).values(key_revision=new)
        )
        return vend.receipt_from(row)

    return station.write(work)


def load_config_file(path):
    try:
        with open(path) as src:
            config = json.load(src)
    except OSError as exc:
        raise StationError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise StationError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise StationError(f"{path} must hold a JSON object")
    return config


def sign(
    station,
    meter,
    overlay=None,
    cashier="",
    now=None,
    remove_never_disconnect=False,
    confirm=None,
    reason="",
    dry_run=False,
):
    """A signed config blob with the meter's next config counter (strictly increasing).

    The config is built from the registry (meter_config.built) with `overlay` (a hand-written
    JSON object) laid over it key by key, checked against the meter's schema, and compared
    with the config last signed for the meter (`changes` on the receipt). Removing a critical
    customer's never-disconnect needs `remove_never_disconnect` and `confirm` (the meter
    number typed out); both and the reason go into the txn body (the audit chain).
    `dry_run` returns what would be signed without signing or recording anything.
    """
    meter = registry.check_meter(meter)
    stamp = station.stamp(now)
    vending_key = station.key

    def work(conn):
        meter_row = registry.get_meter(conn, meter, lock=True)
        tariff = registry.get_tariff(conn, meter_row.tariff)
        config = meter_config.built(station, meter_row, tariff)
        config.update(overlay or {})
        meter_config.check(meter_row, config, tariff)
        old = meter_config.last_signed(conn, meter)
        removed = meter_config.guard_never_disconnect(
            meter_row, old, config, remove_never_disconnect, confirm, reason
        )
        changed = meter_config.changes(old, config)
        if dry_run:
            return {"meter": meter, "config": config, "changes": changed, "dry_run": True}
        return record_config(
            conn,
            station,
            meter_row,
            config,
            changed,
            stamp,
            cashier,
            extra=(
                {"never_disconnect_removed": {"confirmed": meter, "reason": reason.strip()}}
                if removed
                else {}
            ),
            vending_key=vending_key,
        )

    return station.read(work) if dry_run else station.write(work)


def rebuilt_config(conn, station, meter_row, tariff, drop=()):
    """(last signed config, the config to sign now): the last signed one with the registry's
    part (meter_config.built) laid over it afresh, checked against the meter's schema. The
    rest of the last config (e.g. a hand-signed `low_credit`) is kept; `drop` names keys the
    registry may no longer set (so they go unless built sets them again)."""
    old = meter_config.last_signed(conn, meter_row.number)
    config = dict(old or {})
    for key in drop:
        config.pop(key, None)
    config.update(meter_config.built(station, meter_row, tariff))
    meter_config.check(meter_row, config, tariff)
    return old, config


def record_config(conn, station, meter_row, config, changed, stamp, cashier, extra, vending_key):
    """Sign `config` under the meter's next counter and append it to the ledger."""
    meter = meter_row.number
    counter = meter_config.signed_counter(conn, meter) + 1
    key = station.decoder_key(meter, meter_row.key_revision, vending_key)
    blob = sign_config(key, meter, counter, config)
    digest = hashlib.sha256(ledger.canonical(config).encode()).hexdigest()
    body = {"request": "config", "counter": counter, "config_sha256": digest, "blob": blob}
    body.update(config=config, changes=changed, customer=meter_row.customer, **extra)

    def side_rows(txn_id):
        return [(db.config_counters, [{"meter": meter, "counter": counter, "txn_id": txn_id}])]

    return vend.receipt_from(
        ledger.append(conn, "config", meter, stamp, cashier, body, [], side_rows)
    )


def change_tariff(station, meter, tariff_name, cashier="", now=None):
    """`meter set-tariff`: move a meter to another tariff. A kWh meter needs nothing (the
    station prices its next sale); a currency meter applies the tariff itself, so in the same
    transaction its config is re-signed with the new tariff and standing charge (the rest of
    the last signed config kept). That config rides on every sale's receipt until the meter is
    known to have it (`config applied`). A tariff the meter cannot apply is refused, with the
    reason, and nothing changes. Returns {"meter", "tariff", "config": receipt or None}."""
    meter = registry.check_meter(meter)
    stamp = station.stamp(now)
    vending_key = station.key

    def work(conn):
        registry.set_tariff(conn, meter, tariff_name)
        meter_row = registry.get_meter(conn, meter)
        out = {"meter": meter, "tariff": tariff_name, "config": None}
        if meter_row.unit != "currency":
            return out
        tariff = registry.get_tariff(conn, tariff_name)
        # the new tariff's own standing charge, or none
        old, config = rebuilt_config(conn, station, meter_row, tariff, drop=("standing_charge",))
        meter_config.guard_never_disconnect(meter_row, old, config, False, None)
        changed = meter_config.changes(old, config)
        extra = {"tariff_change": tariff_name}
        out["config"] = record_config(
            conn, station, meter_row, config, changed, stamp, cashier, extra, vending_key
        )
        return out

    return station.write(work)


def config_applied(station, meter, counter, cashier="", now=None):
    """Record that the meter has applied config `counter` (read back with `device config`);
    sales stop carrying it. Refused for a counter never signed."""
    meter = registry.check_meter(meter)
    stamp = station.stamp(now)

    def work(conn):
        registry.get_meter(conn, meter, lock=True)
        signed = meter_config.signed_counter(conn, meter)
        if not 1 <= counter <= signed:
            raise StationError(f"meter {meter} has no signed config {counter} (last: {signed})")
        body = {"request": "config-applied", "counter": counter}
        return vend.receipt_from(ledger.append(conn, "config", meter, stamp, cashier, body, []))

    return station.write(work)


def add_arrears(station, meter, amount_text, note, cashier="", now=None, supervisor=""):
    """Put arrears on a meter; vends recover them (tariff's percentage and cap). Capped, and
    above the approval limit only with a supervisor (arrears.check_new_arrears)."""
    amount = parse_amount(amount_text)
    meter = registry.check_meter(meter)
    note = (note or "").strip()[:200]
    stamp = station.stamp(now)

    def work(conn):
        registry.get_meter(conn, meter, lock=True)
        approved = arrears.check_new_arrears(conn, station.limits, meter, amount, supervisor)
        body = {"request": "arrears", "amount": amount, "note": note}
        if approved:
            body["supervisor"] = approved
        lines = [
            ("arrears_receivable", amount, ledger.SELF),
            ("arrears_raised", -amount, ledger.SELF),
        ]
        return vend.receipt_from(
            ledger.append(conn, "arrears", meter, stamp, cashier, body, lines)
        )

    return station.write(work)


def meter_summary(station, meter):
    """`prepay meter show`: registry fields, arrears outstanding, carried value, last TID."""
    meter = registry.check_meter(meter)

    def work(conn):
        row = registry.get_meter(conn, meter)
        out = registry.meter_dict(row)
        items = registry.arrears_outstanding(conn, meter, station.config["debt_order"])
        out["arrears"] = {vend.receipt_number(seq): fmt(owed) for _, owed, seq in items}
        out["arrears_total"] = fmt(sum(owed for _, owed, _ in items))
        out["carried_forward"] = fmt(row.carried)  # running total (db.meters)
        out["arrears_history"] = [
            {k: (fmt(v) if isinstance(v, int) else v) for k, v in item.items()}
            for item in arrears.history(conn, meter)
        ]
        out.update(sts_meters.summary(conn, meter))
        out["last_tid"] = conn.execute(
            select(func.max(db.tokens.c.tid)).where(db.tokens.c.meter == meter)
        ).scalar()
        out["tokens_issued"] = conn.execute(
            select(func.count()).select_from(db.tokens).where(db.tokens.c.meter == meter)
        ).scalar_one()
        return out

    return station.read(work)
