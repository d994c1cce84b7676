"""Append-only double-entry journal in integer minor units, chained by SHA-256.

A transaction (txn) is a row in `txns` plus its `entries` (debit > 0, credit < 0; they sum to
zero). Its hash covers its own columns, its entries in line order and the previous txn's hash,
so editing or deleting any row breaks the chain; `chain_head` holds the newest hash.

Accounts:
    cash:<channel>        money received (cash, card, transfer, mobile)
    customer_prepayment   credit sold to currency meters (the meter applies the tariff)
    energy_sales          energy sold to kWh meters
    standing_charge       monthly standing charge collected at vend (kWh meters)
    debt_recovery         arrears recovered (entries carry the arrears' txn id)
    arrears_receivable / arrears_raised   arrears put on a meter (both name the arrears)
    arrears_written_off   arrears a supervisor wrote off (arrears.py)
    carry_forward         value paid but not yet delivered as units or credit (what a token
                          cannot carry exactly; recovery from reversed arrears), per meter
    reversals             carry a reversed sale left that a later sale already spent (a loss)
A reversal is a new txn whose entries negate the original's (see vend._reversal_lines for the
one exception, carry already spent); the original is listed in `reversals`, never changed.
"""

import hashlib
import json
import secrets

from sqlalchemy import LargeBinary, Text, bindparam, case, cast, func, literal_column, select
from sqlalchemy.dialects import postgresql

from host_tools.vending import db, direct

GENESIS = "0" * 64
SELF = "self"  # as an entry's arrear_id: "the txn being appended" (arrears are named by it)

_HEAD = direct.Statement(
    select(db.chain_head.c.seq, db.chain_head.c.hash).where(db.chain_head.c.id == 1)
)
_MOVE_HEAD = direct.Statement(
    db.chain_head.update()
    .where(db.chain_head.c.id == 1)
    .values(seq=bindparam("seq"), hash=bindparam("hash"))
)
_m = db.meters
# A write that read the meter's version without locking it: moves the version on only if it is
# still the one read (see append's `guard`), and moves the meter's running totals on in the
# same statement: the carry by the txn's carry_forward entries, this month's units and standing
# charge by the sale's (`g_month`; a sale in a later month than the totals starts them again —
# block tariffs start again on the 1st; one in an earlier month, a clock set back, leaves them).
_new_month = (_m.c.totals_month.is_(None)) | (_m.c.totals_month < bindparam("g_month"))
_same_month = _m.c.totals_month == bindparam("g_month")


def _month_total(column, delta):
    return case(
        (_same_month, column + bindparam(delta)), (_new_month, bindparam(delta)), else_=column
    )


_GUARD = direct.Statement(
    _m.update()
    .where(_m.c.number == bindparam("g_meter"))
    .where(_m.c.version == bindparam("g_version"))
    .values(
        version=_m.c.version + 1,
        carried=_m.c.carried + bindparam("g_carried"),
        month_units=_month_total(_m.c.month_units, "g_units"),
        month_standing=_month_total(_m.c.month_standing, "g_standing"),
        totals_month=case((_new_month, bindparam("g_month")), else_=_m.c.totals_month),
    )
    .returning(_m.c.version)
)
# A txn written under the meter's lock (reversals, arrears): the carry moves by its
# carry_forward entries; a reversal takes its sale's units and standing charge off the month's
# totals if they are still that month's.
_TOTALS = direct.Statement(
    _m.update()
    .where(_m.c.number == bindparam("g_meter"))
    .values(
        carried=_m.c.carried + bindparam("g_carried"),
        month_units=case(
            (_same_month, _m.c.month_units + bindparam("g_units")), else_=_m.c.month_units
        ),
        month_standing=case(
            (_same_month, _m.c.month_standing + bindparam("g_standing")),
            else_=_m.c.month_standing,
        ),
    )
)
_SEAL_TAIL = db.SEAL_TAIL  # what follows the previous hash in the hashed JSON (_hash_prefix)
# Cached statements: PostgreSQL appends, one per set of side tables (see _append_pg), and
# SQLite inserts, one per table and set of columns.
_PG_APPENDS = {}
_INSERTS = {}


# Encoders built once: json.dumps with options builds a new encoder on every call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def canonical(obj):
    """The one JSON spelling that is hashed (sorted keys, no spaces, UTF-8)."""
    return _CANONICAL(obj)


def _hash_prefix(row, entry_rows):
    """The hashed JSON up to the previous hash, as UTF-8.

    The keys are sorted, so "prev_hash" and "seq" come last: the whole text is this prefix,
    the previous hash, _SEAL_TAIL, the seq and "}". PostgreSQL appends the tail itself (see
    _append_pg), so the hash can be computed while the chain is locked without a round trip.
    """
    content = {
        "id": row["id"],
        "kind": row["kind"],
        "meter": row["meter"],
        "created_at": row["created_at"],
        "local_date": row["local_date"],
        "cashier": row["cashier"],
        "body": row["body"],
        "entries": [
            [e["line"], e["account"], e["meter"], e["arrear_id"], e["amount"]] for e in entry_rows
        ],
    }
    return (canonical(content)[:-1] + ',"prev_hash":"').encode("utf-8")


def _hash_tail(row):
    return f"{row['prev_hash']}{_SEAL_TAIL}{row['seq']}}}".encode("ascii")


def txn_hash(row, entry_rows):
    """SHA-256 over a txn's columns, its entries and the previous hash (hex)."""
    return hashlib.sha256(_hash_prefix(row, entry_rows) + _hash_tail(row)).hexdigest()


def append(
    conn,
    kind,
    meter,
    stamp,
    cashier,
    body,
    lines,
    side_rows=None,
    guard=None,
    month=None,
    before_seal=None,
    before_commit=None,
):
    """Append one balanced txn; `lines` = [(account, amount, arrear_id|None|SELF), ...].

    `side_rows(txn_id)` gives the other rows of this txn as [(table, [row dict, ...])] (sales,
    tokens, ...). Writes the entries and those rows, then seals: under the chain lock, the txn
    row with its seq and hash, and the new chain head. Returns the txn row as a dict (seq =
    receipt number).

    The caller either holds the meter lock (`registry.get_meter(lock=True)`) or passes
    `guard=version`, the meter version it read: the append then also moves the meter's version
    on and writes nothing, raising `db.Conflict`, if the version is no longer that (another
    write to the meter committed since it was read). On PostgreSQL everything is one statement,
    so the sale can run it outside a transaction block (it commits by itself).

    `before_seal()` / `before_commit()` are the kill test's crash points: rows written but not
    sealed / sealed but not committed. On PostgreSQL both are the moment before the statement.

    The meter's running totals (db.meters) move with the txn: its carry by the carry_forward
    lines, and with `month=(month, units, standing)` (a sale: positive; a reversal: negative)
    that month's totals. A guarded append does it in the guard's statement, others after the
    rows (the caller holds the meter's lock).
    """
    if sum(amount for _, amount, _ in lines) != 0:
        raise AssertionError(f"unbalanced {kind} txn: {lines!r}")  # a bug, never user input
    txn_id = secrets.randbits(62) + 1
    entry_rows = [
        {
            "txn_id": txn_id,
            "line": i,
            "account": account,
            "meter": meter,
            "arrear_id": txn_id if arrear == SELF else arrear,
            "amount": amount,
        }
        for i, (account, amount, arrear) in enumerate(lines)
        if amount != 0
    ]
    writes = [(db.entries, entry_rows)] + (side_rows(txn_id) if side_rows else [])
    writes = [(table, rows) for table, rows in writes if rows]
    row = {
        "id": txn_id,
        "kind": kind,
        "meter": meter,
        "created_at": stamp.utc_iso,
        "local_date": stamp.local_date,
        "cashier": cashier or "",
        "body": canonical(body),
    }
    prefix = _hash_prefix(row, entry_rows)
    month_of, units, standing = month or (None, 0, 0)
    totals = {
        "g_meter": meter,
        "g_carried": -sum(e["amount"] for e in entry_rows if e["account"] == "carry_forward"),
        "g_month": month_of,
        "g_units": units,
        "g_standing": standing,
    }
    if guard is None and meter and (totals["g_carried"] or month_of is not None):
        direct.send(conn, _TOTALS, totals)
    if db.is_postgres(conn.engine):
        for hook in (before_seal, before_commit):
            if hook is not None:
                hook()
        row["seq"], row["prev_hash"], row["hash"] = _append_pg(
            conn, row, prefix, writes, guard, totals
        )
        return row
    if guard is not None:
        _bump_sqlite(conn, guard, totals)
    for table, rows in writes:
        direct.send_many(conn, _insert(table, tuple(rows[0])), rows)
    if before_seal is not None:
        before_seal()
    # SQLite: BEGIN IMMEDIATE already holds the database's single write lock.
    head = direct.first(_HEAD, direct.send(conn, _HEAD))
    row.update(seq=head.seq + 1, prev_hash=head.hash)
    row["hash"] = hashlib.sha256(prefix + _hash_tail(row)).hexdigest()
    direct.send(conn, _insert(db.txns, tuple(row)), row)
    direct.send(conn, _MOVE_HEAD, {"seq": row["seq"], "hash": row["hash"]})
    if before_commit is not None:
        before_commit()
    return row


def _bump_sqlite(conn, version, totals):
    # Under BEGIN IMMEDIATE nobody else can have written: a mismatch is checked all the same.
    sent = direct.send(conn, _GUARD, {**totals, "g_version": version})
    if direct.first(_GUARD, sent) is None:
        raise db.Conflict(f"meter {totals['g_meter']} changed since it was read")


def _insert(table, names):
    """INSERT INTO table (names) VALUES (...), compiled once per table and set of columns."""
    statement = _INSERTS.get((table.name, names))
    if statement is None:
        statement = direct.Statement(table.insert().inline(), column_keys=list(names))
        _INSERTS[(table.name, names)] = statement
    return statement


def _append_pg(conn, row, prefix, writes, guard, totals):
    """PostgreSQL: the meter guard, every row of the txn, the seal and the head move in ONE
    statement (see _build_append_pg).

    The chain lock is held from the seal to the commit and the hash is computed by the server
    (sha256 of `prefix` + previous hash + tail), so no client round trip and no client CPU
    time falls inside the serialised part. Returns (seq, prev_hash, hash).
    """
    params = {"t_" + name: value for name, value in row.items()}
    params["t_prefix"] = prefix
    if guard is not None:
        params.update(totals, g_version=guard)
    for table, rows in writes:
        params["rows_" + table.name] = _COMPACT(rows)
    shape = (guard is not None,) + tuple((table.name, tuple(rows[0])) for table, rows in writes)
    statement = _PG_APPENDS.get(shape)
    if statement is None:
        built = _build_append_pg(writes, guard is not None)
        statement = _PG_APPENDS[shape] = direct.Statement(built)
    got = direct.first(statement, direct.send(conn, statement, params))
    if got is None:
        # Only the guard can stop the statement (the seal runs once per guard row and always
        # returns one): nothing was written.
        raise db.Conflict(f"meter {row['meter']} changed since it was read")
    return got.seq, got.prev_hash, got.hash


def _rows_insert(table, names, after):
    """INSERT INTO table (names) SELECT ... FROM json_populate_recordset(NULL::table, :rows):
    any number of rows in one text parameter, typed by the table's own row type; only if
    `after` (a CTE) has a row."""
    rows = cast(bindparam("rows_" + table.name, type_=Text), postgresql.JSON)
    source = func.json_populate_recordset(literal_column(f"NULL::{table.name}"), rows)
    source = source.table_valued(*names)
    chosen = select(*[source.c[n] for n in names])
    if after is not None:
        chosen = chosen.where(select(*after.c).exists())
    return table.insert().from_select(list(names), chosen).returning(table.c[names[0]])


def _build_append_pg(writes, guarded):
    """The append statement: the guard (sales: move the meter's version on if it is still the
    one read; no row, and so nothing else, if not — every writer locks the meter before the
    chain, so the two locks cannot deadlock), the txn's rows, then db.SEAL_FUNCTION (chain
    lock, txn row, head), which takes the count of the rows so that they are written first,
    outside the serialised part."""
    guard = _GUARD.statement.cte("guard") if guarded else None
    inserts = [
        _rows_insert(table, tuple(rows[0]), guard).cte(f"w_{table.name}") for table, rows in writes
    ]
    # The seal's last argument is computed from the guard and the rows' counts: PostgreSQL
    # must run those before it calls the function, and never calls it without a guard row.
    before = [select(func.count()).select_from(w).scalar_subquery() for w in inserts]
    if guard is not None:
        before.append(guard.c.version)
    args = [bindparam("t_" + c.name) for c in db.txns.columns if c.name not in _SERVER_SIDE]
    # A txn with no rows at all (a logged reprint) passes 0: nothing has to be written first.
    counted = sum(before[1:], before[0]) if before else literal_column("0")
    args += [bindparam("t_prefix", type_=LargeBinary), counted]
    seal = func.prepay_seal(*args).table_valued("o_seq", "o_prev_hash", "o_hash")
    if guard is not None:
        seal = seal.lateral()
    query = select(
        seal.c.o_seq.label("seq"),
        seal.c.o_prev_hash.label("prev_hash"),
        seal.c.o_hash.label("hash"),
    )
    if guard is not None:
        query = query.select_from(guard).join(seal, literal_column("true"))
    return query.add_cte(*inserts)


_SERVER_SIDE = ("seq", "prev_hash", "hash")


def txn_lines(conn, txn_id):
    """The entries of one txn as [(account, amount, arrear_id)] in line order."""
    rows = conn.execute(
        select(db.entries.c.account, db.entries.c.amount, db.entries.c.arrear_id)
        .where(db.entries.c.txn_id == txn_id)
        .order_by(db.entries.c.line)
    )
    return [(r.account, r.amount, r.arrear_id) for r in rows]


def load(conn, seq=None, txn_id=None):
    """A txn row by seq or id (a mapping with "body" decoded), or None."""
    column, value = (db.txns.c.seq, seq) if seq is not None else (db.txns.c.id, txn_id)
    row = conn.execute(db.txns.select().where(column == value)).mappings().first()
    if row is None:
        return None
    out = dict(row)
    out["body"] = json.loads(out["body"])
    return out
