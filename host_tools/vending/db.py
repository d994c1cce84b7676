"""One schema for SQLite and PostgreSQL (SQLAlchemy Core) and the write-transaction runner.

Every write goes through `run_write`: writes to one meter are serialised (BEGIN IMMEDIATE on
SQLite; on PostgreSQL the meter's row lock, or for a sale's first attempt a check of the
meter's version) and so are appends to the ledger's hash chain (the database write lock /
an advisory lock); the whole unit of work is retried on conflicts, serialisation failures,
deadlocks and unique violations.
"""

import re
import time
import weakref

from sqlalchemy import (
    DDL,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    exc,
    select,
)
from sqlalchemy.engine import make_url

from host_tools.vending import StationError

# 2: txns sealed under a random id (entries and side rows point at it); 3: meters.version,
# entries keyed by (txn_id, line); 4: users, sessions, login_failures, api_keys, day_closes,
# cashups (added tables only: the station as a web app, see host_tools/web); 5: money controls
# (meters.rated_amps and max_sale_kwh, arrears_closed); 6: customer_contacts, notify_outbox,
# notify_deliveries (added tables only: customer messages, host_tools/notify); 7: STS meters
# (sts_meters, sts_keys, sts_kct_sales; added tables only); 8: the head-end's tables
# meter_links, meter_events, readings, deliveries (added tables only: host_tools/headend);
# 9: running totals on the meter row (meters.carried, totals_month, month_units,
# month_standing) and the indexes a sale needs. Each step is an Alembic revision in
# host_tools/vending/migrations/versions/ (`prepay station upgrade`).
SCHEMA_VERSION = 9
metadata = MetaData()

station_meta = Table(
    "station_meta",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

tariffs = Table(
    "tariffs",
    metadata,
    Column("name", Text, primary_key=True),
    Column("kind", Text, nullable=False),  # flat | block | tou | tou-block
    # JSON list of [upper_kwh or null, price]; price in 1/10,000 currency units per kWh. A TOU
    # tariff: {"blocks": that list (surcharges), "tou": {day type: [[minute, price], ...]}}.
    Column("blocks", Text, nullable=False),
    Column("standing_charge", BigInteger, nullable=False, default=0),  # minor units per month
    Column("debt_percent", Integer, nullable=False, default=0),  # of each vend
    Column("debt_cap", BigInteger),  # minor units per vend, NULL = no cap
    Column("created_at", Text, nullable=False),
)

meters = Table(
    "meters",
    metadata,
    Column("number", Text, primary_key=True),
    Column("unit", Text, nullable=False),  # currency | kwh
    Column("scale", Integer, nullable=False),  # register units per currency unit / per kWh
    Column("imp_per_kwh", Integer, nullable=False),
    Column("tariff", Text, ForeignKey("tariffs.name"), nullable=False),
    Column("customer", Text, nullable=False, default=""),
    Column("phone", Text, nullable=False, default=""),
    Column("critical", Boolean, nullable=False, default=False),
    # Only the revision is stored: the decoder key is derived from the vending key on demand.
    Column("key_revision", Integer, nullable=False, default=1),
    Column("created_at", Text, nullable=False),
    # Moved on by every write that depends on the meter's state (sales, reversals, tokens,
    # arrears, tariff and key changes): a sale that read it without a lock checks it is
    # unchanged in the statement that writes the sale (see run_write's `optimistic`).
    Column("version", BigInteger, nullable=False, default=0),
    # The most energy one sale may buy: max_sale_kwh if set, else a month at rated_amps (NULL:
    # the station's default rated current), see limits.max_sale_kwh.
    Column("rated_amps", Integer),
    Column("max_sale_kwh", Integer),
    # Running totals, so a sale reads its meter's state from this row and never sums the
    # meter's history: the value carried forward (minus the sum of the meter's carry_forward
    # entries, kept by ledger.append for every txn), and the units and standing charge of the
    # meter's sales in `totals_month` that are not reversed (the block tariff's position; kept
    # by the sale's guarded write and by reversals). `prepay audit verify` checks them against
    # the entries and sales.
    Column("carried", BigInteger, nullable=False, default=0, server_default="0"),
    Column("totals_month", Text),  # NULL: no sale yet
    Column("month_units", BigInteger, nullable=False, default=0, server_default="0"),
    Column("month_standing", BigInteger, nullable=False, default=0, server_default="0"),
)

cashiers = Table(
    "cashiers",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False, default=""),
    Column("vend_limit", BigInteger, nullable=False),  # minor units per vend
    Column("supervisor", Boolean, nullable=False, default=False),  # may approve reversals
)

# The ledger. Rows are only ever inserted. A txn's rows (entries, sale, tokens...) are written
# first under a random `id`; then, holding the chain lock, the txn row itself is inserted with
# its gapless `seq` (the receipt number) and its hash, and chain_head moves on. Keeping only
# that last step under the global lock keeps the serialised part short. The foreign keys to
# txns are checked at commit (deferred), when the txn row exists.
chain_head = Table(
    "chain_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", Text, nullable=False),
)

# What follows the previous hash in a txn's hashed JSON (see ledger._hash_prefix) and the
# PostgreSQL advisory lock that queues appends (the chain lock).
SEAL_TAIL = '","seq":'
CHAIN_LOCK = 0x70726570  # "prep"

# PostgreSQL: the serialised part of an append (ledger._append_pg) as a function, because in
# READ COMMITTED each statement of a VOLATILE function takes a new snapshot: after queueing on
# the chain lock it reads the newest head directly. Done inside the append statement itself,
# whose snapshot predates the wait, every row lock on the head would re-run the statement's
# plan set-up (EvalPlanQual) while the whole station waits for the lock.
SEAL_FUNCTION = DDL(
    f"""
CREATE OR REPLACE FUNCTION prepay_seal(
    p_id bigint, p_kind text, p_meter text, p_created_at text, p_local_date text,
    p_cashier text, p_body text, p_prefix bytea, p_after bigint,
    OUT o_seq bigint, OUT o_prev_hash text, OUT o_hash text)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    -- p_after is not used: the caller passes what it must have written before the lock.
    PERFORM pg_advisory_xact_lock({CHAIN_LOCK});
    SELECT h.seq + 1, h.hash INTO o_seq, o_prev_hash FROM chain_head h WHERE h.id = 1
        FOR UPDATE;
    o_hash := encode(sha256(
        p_prefix || convert_to(o_prev_hash || '{SEAL_TAIL}' || o_seq || '}}', 'UTF8')), 'hex');
    INSERT INTO txns (seq, id, kind, meter, created_at, local_date, cashier, body, prev_hash,
                      hash)
        VALUES (o_seq, p_id, p_kind, p_meter, p_created_at, p_local_date, p_cashier, p_body,
                o_prev_hash, o_hash);
    UPDATE chain_head SET seq = o_seq, hash = o_hash WHERE id = 1;
END
$$"""
)

txns = Table(
    "txns",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),  # gapless, = receipt no.
    Column("id", BigInteger, nullable=False, unique=True),  # random, known before the seal
    Column("kind", Text, nullable=False),  # sale | reversal | arrears | token | config
    Column("meter", Text, ForeignKey("meters.number"), nullable=False),
    Column("created_at", Text, nullable=False),  # ISO 8601 UTC
    Column("local_date", Text, nullable=False),  # YYYY-MM-DD in the station's time zone
    Column("cashier", Text, nullable=False, default=""),
    Column("body", Text, nullable=False),  # canonical JSON: every receipt field
    Column("prev_hash", Text, nullable=False),
    Column("hash", Text, nullable=False),
)
Index("ix_txns_local_date", txns.c.local_date)
# A meter's txns of one kind, newest first (its signed configs, read by every sale):
# without it that read scans the whole ledger.
Index("ix_txns_meter_kind_seq", txns.c.meter, txns.c.kind, txns.c.seq)
event.listen(metadata, "after_create", SEAL_FUNCTION.execute_if(dialect="postgresql"))


def _txn_ref(name, **kwargs):
    fk = ForeignKey("txns.id", deferrable=True, initially="DEFERRED")
    return Column(name, BigInteger, fk, **kwargs)


entries = Table(
    "entries",
    metadata,
    # (txn, line) is the key: no surrogate id, one index and one sequence step less per entry.
    _txn_ref("txn_id", primary_key=True),
    Column("line", Integer, primary_key=True),
    Column("account", Text, nullable=False),
    Column("meter", Text, nullable=False),
    Column("arrear_id", BigInteger),  # the arrears txn a debt entry belongs to
    Column("amount", BigInteger, nullable=False),  # minor units: debit > 0, credit < 0
)
Index("ix_entries_meter_account", entries.c.meter, entries.c.account)

sales = Table(
    "sales",
    metadata,
    _txn_ref("txn_id", primary_key=True),
    Column("ref", Text, nullable=False, unique=True),
    Column("meter", Text, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("channel", Text, nullable=False),
    Column("month", Text, nullable=False),  # YYYY-MM, station time zone: block tariff reset
    Column("units", BigInteger, nullable=False),  # register units on the token
    Column("standing", BigInteger, nullable=False),
)
Index("ix_sales_meter_month", sales.c.meter, sales.c.month)

tokens = Table(
    "tokens",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    _txn_ref("txn_id", nullable=False),
    Column("meter", Text, nullable=False),
    Column("tid", BigInteger),  # NULL for key-change parts, which carry no TID
    Column("token_type", Text, nullable=False),
    Column("value", BigInteger, nullable=False),
    Column("digits", Text, nullable=False),
    UniqueConstraint("meter", "tid", name="uq_tokens_meter_tid"),
)
# Every column referencing txns.id is indexed: SQLite checks a deferred foreign key by looking
# up the rows that reference the txn row being inserted, a scan of the table without one.
Index("ix_tokens_txn_id", tokens.c.txn_id)

# Idempotency for management tokens with a --ref.
token_refs = Table(
    "token_refs",
    metadata,
    Column("ref", Text, primary_key=True),
    _txn_ref("txn_id", nullable=False),
)
Index("ix_token_refs_txn_id", token_refs.c.txn_id)

reversals = Table(
    "reversals",
    metadata,
    _txn_ref("original_id", primary_key=True),
    _txn_ref("reversal_id", nullable=False, unique=True),
)

# Arrears closed by a write-off or a reversal (once each): later sales no longer recover
# them, and a reversed sale's recovery from them is not owed again (vend._reversal_lines).
arrears_closed = Table(
    "arrears_closed",
    metadata,
    _txn_ref("arrear_id", primary_key=True),
    _txn_ref("txn_id", nullable=False, unique=True),
    Column("how", Text, nullable=False),  # write-off | reverse
)

config_counters = Table(
    "config_counters",
    metadata,
    Column("meter", Text, nullable=False),
    Column("counter", BigInteger, nullable=False),
    _txn_ref("txn_id", nullable=False),
    UniqueConstraint("meter", "counter"),
)
Index("ix_config_counters_txn_id", config_counters.c.txn_id)

# ---- 4: the station's users (host_tools/vending/users.py), API keys (apikeys.py), day closes
# (closing.py). A user's name is also its cashier id: the ledger's `cashier` column names users.
users = Table(
    "users",
    metadata,
    Column("name", Text, primary_key=True),
    Column("role", Text, nullable=False),  # cashier | supervisor | admin
    Column("password_hash", Text, nullable=False),  # argon2id (PHC string)
    Column("created_at", Text, nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
)

# Server-side sessions: the cookie holds a random token, the table its SHA-256, so logging out
# (deleting the row) makes an old cookie worthless and a copy of the table opens no session.
sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", Text, primary_key=True),
    Column("user_name", Text, ForeignKey("users.name"), nullable=False),
    Column("csrf", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("expires_at", Text, nullable=False),  # ISO 8601 UTC
)

# Login throttling, one row per account ("user:NAME") and per address ("addr:IP").
login_failures = Table(
    "login_failures",
    metadata,
    Column("key", Text, primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("first_at", Text, nullable=False),
    Column("locked_until", Text),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Text, primary_key=True),  # public part of the key, shown in listings
    Column("name", Text, nullable=False),  # the payment operator; ledger cashier "api:NAME"
    Column("channel", Text, nullable=False),  # the only channel this key sells as
    Column("role", Text, nullable=False, default="seller"),  # seller | supervisor (reverses)
    Column("secret_hash", Text, nullable=False),  # SHA-256 of the secret part
    Column("created_at", Text, nullable=False),
    Column("revoked_at", Text),
)

day_closes = Table(
    "day_closes",
    metadata,
    Column("local_date", Text, primary_key=True),
    Column("closed_by", Text, nullable=False),
    Column("closed_at", Text, nullable=False),
    Column("last_seq", BigInteger, nullable=False),  # newest receipt when the day was closed
    Column("totals", Text, nullable=False),  # the day report frozen at close (JSON)
)

# A cashier's cash-up: cash counted in the drawer against the cash the ledger expects.
cashups = Table(
    "cashups",
    metadata,
    Column("id", Text, primary_key=True),  # random
    Column("cashier", Text, nullable=False),
    Column("local_date", Text, nullable=False),
    Column("made_at", Text, nullable=False),
    Column("expected", BigInteger, nullable=False),  # minor units: net cash booked that day
    Column("counted", BigInteger, nullable=False),
    Column("difference", BigInteger, nullable=False),  # counted - expected (short < 0)
    Column("note", Text, nullable=False, default=""),
)

# ---- 5: customer messages (host_tools/notify, docs/notify.md) ----------------------------------
# How to reach a meter's customer: language and per-channel opt-in. One row per meter at most;
# a meter without one gets no message (the SMS number defaults to meters.phone).
customer_contacts = Table(
    "customer_contacts",
    metadata,
    Column("meter", Text, ForeignKey("meters.number"), primary_key=True),
    Column("email", Text, nullable=False, default=""),
    Column("phone", Text, nullable=False, default=""),  # "" = the meter's registry phone
    Column("language", Text, nullable=False, default="en"),  # en | zh
    Column("email_opt_in", Boolean, nullable=False, default=False),
    Column("sms_opt_in", Boolean, nullable=False, default=False),
)

# The outbox: one row per thing to announce, written in the transaction of that thing (a sale,
# an event the head-end stored). `dedupe_key` is unique: announcing the same thing twice
# writes one row. The dispatcher fans a row out into deliveries (one per channel) once.
notify_outbox = Table(
    "notify_outbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("dedupe_key", Text, nullable=False, unique=True),
    Column("kind", Text, nullable=False),  # topup | credit_low | supply_cut | ... (notify.kinds)
    Column("meter", Text, nullable=False),
    Column("created_at", Text, nullable=False),  # ISO 8601 UTC
    Column("data", Text, nullable=False),  # JSON: the figures the message needs
    Column("fanned_at", Text),  # NULL until its deliveries exist
)
Index("ix_notify_outbox_unfanned", notify_outbox.c.fanned_at, notify_outbox.c.id)

# One message on one channel. state: pending -> sending (claimed, committed before the send)
# -> sent | pending again (a definite failure, with backoff) | parked (for a person: repeated
# failure, or uncertain whether it went out). Never sent again from `sending` (at most once).
notify_deliveries = Table(
    "notify_deliveries",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("outbox_id", BigInteger, ForeignKey("notify_outbox.id"), nullable=False),
    Column("channel", Text, nullable=False),  # email | sms | file
    Column("recipient", Text, nullable=False),
    Column("subject", Text, nullable=False, default=""),
    Column("body", Text, nullable=False),
    Column("critical", Boolean, nullable=False, default=False),  # may break quiet hours
    Column("state", Text, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_at", Text, nullable=False),  # ISO 8601 UTC: not before
    Column("claimed_by", Text),  # host:pid of the dispatcher sending it
    Column("claimed_at", Text),
    Column("sent_at", Text),
    Column("last_error", Text, nullable=False, default=""),
    UniqueConstraint("outbox_id", "channel", name="uq_notify_deliveries_once"),
)
Index("ix_notify_deliveries_due", notify_deliveries.c.state, notify_deliveries.c.next_at)

# ---- 7: STS meters (issue 16, host_tools/vending/sts_meters.py). A meter registered as STS
# has a row in `sts_meters` beside its `meters` row. Its key parameters are generations in
# `sts_keys` (0 = as registered; each `meter rekey` or rollover adds one), never a key: decoder
# keys are derived at vend time from the station's STS vending key. A key change is carried by
# a sale (its KCTs come first on the receipt): `sts_kct_sales` records which sale carried which
# generation. All three are insert-only, like the ledger.
sts_meters = Table(
    "sts_meters",
    metadata,
    Column("number", Text, ForeignKey("meters.number"), primary_key=True),
    Column("pan", Text, nullable=False, unique=True),
    Column("ea", Integer, nullable=False),  # 7 | 11
    Column("mfr", Integer, nullable=False),  # manufacturer code from the PAN's IAIN
    Column("created_at", Text, nullable=False),
)

sts_keys = Table(
    "sts_keys",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("meter", Text, ForeignKey("sts_meters.number"), nullable=False),
    Column("generation", Integer, nullable=False),
    Column("sgc", Text, nullable=False),  # 6 digits
    Column("ti", Integer, nullable=False),
    Column("kt", Integer, nullable=False),
    Column("krn", Integer, nullable=False),
    Column("ken", Integer, nullable=False),
    Column("dkga", Integer, nullable=False),  # 2 | 4
    Column("base", Integer, nullable=False),  # 1993 | 2014 | 2035
    Column("ro", Integer, nullable=False, default=0),  # the KCTs to this key clear TID memory
    Column("campaign", Text, nullable=False, default=""),  # "rollover" or "" (meter rekey)
    Column("created_at", Text, nullable=False),
    UniqueConstraint("meter", "generation", name="uq_sts_keys_generation"),
)

sts_kct_sales = Table(
    "sts_kct_sales",
    metadata,
    Column("key_id", BigInteger, ForeignKey("sts_keys.id"), primary_key=True),
    _txn_ref("txn_id", primary_key=True),
)

# ---- 8: the head-end (host_tools/headend, docs/online.md) ---------------------------------------
# One row per meter the head-end has heard from: online/offline (the retained state or its
# last will), the last state document (JSON) and the newest event seq stored in order.
meter_links = Table(
    "meter_links",
    metadata,
    Column("meter", Text, primary_key=True),
    Column("online", Boolean, nullable=False),
    Column("changed_at", Text, nullable=False),  # UTC ISO time of the last online/offline
    Column("state", Text),  # the meter's last state document (JSON)
    Column("acked_seq", BigInteger, nullable=False, default=0),  # events stored 1..acked_seq
)

# The meter's journal events, stored once per (meter, seq) whatever the resends.
meter_events = Table(
    "meter_events",
    metadata,
    Column("meter", Text, primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("time", BigInteger, nullable=False),  # meter time (seconds since 2020-01-01)
    Column("kind", Text, nullable=False),
    Column("a", BigInteger, nullable=False),
    Column("b", BigInteger, nullable=False),
    Column("received_at", Text, nullable=False),
)

# Telemetry at 15-minute resolution: the last state seen in each quarter hour of meter time.
readings = Table(
    "readings",
    metadata,
    Column("meter", Text, primary_key=True),
    Column("slot", BigInteger, primary_key=True),  # meter time // 900
    Column("credit", BigInteger, nullable=False),
    Column("energy_wh", BigInteger, nullable=False),
    Column("power_w", BigInteger, nullable=False),
    Column("relay", Text, nullable=False),
    Column("zone", Text, nullable=False),
)

# Remote top-up: every token sold is queued here in the sale's own transaction
# (vending/deliveries.py); the head-end pushes it to the meter when online.
# status: pending -> sent -> accepted | rejected | done ("used": typed in first)
deliveries = Table(
    "deliveries",
    metadata,
    _txn_ref("txn_id", primary_key=True),
    Column("meter", Text, nullable=False),
    Column("digits", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("result", Text),  # the meter's token result code
    Column("sent_at", Text),
    Column("closed_at", Text),
)
Index("ix_deliveries_meter_status", deliveries.c.meter, deliveries.c.status)

_RETRY_SQLSTATES = {"40001", "40P01", "23505"}


class Conflict(Exception):
    """What a write read without a lock changed before it could write: run_write retries."""


def normalise_url(url):
    """postgresql:// -> postgresql+psycopg:// (psycopg 3); sqlite stays; anything else refused."""
    url = (url or "").strip()
    if url.startswith(("postgres://", "postgresql://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    try:
        parsed = make_url(url)
    except exc.ArgumentError:
        raise StationError(f"malformed database URL {redact(url)!r}") from None
    if parsed.drivername not in ("sqlite", "postgresql+psycopg"):
        raise StationError(
            f"unsupported database URL {redact(url)!r}: use sqlite:///PATH or postgresql://..."
        )
    if parsed.drivername == "sqlite" and not parsed.database:
        raise StationError("the SQLite URL needs a file path: sqlite:///PATH")
    return url


def redact(url):
    """The URL with any password replaced by ***, for messages."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url or "")


def make_engine(url):
    """An Engine for `url` (already normalised) with the per-backend settings."""
    if url.startswith("sqlite"):
        # Our own BEGIN (see _sqlite_begin): pysqlite must not open transactions by itself.
        engine = create_engine(url, connect_args={"timeout": 60})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=False, connect_args={"connect_timeout": 10})


_AUTOCOMMIT_ENGINES = weakref.WeakKeyDictionary()


def autocommit_engine(engine):
    """PostgreSQL: a second pool whose connections stay in autocommit mode, for the sale's
    first attempt (switching a pooled connection in and out of it at every checkout cost a
    tenth of the client's CPU per vend). Disposed together with `engine`."""
    other = _AUTOCOMMIT_ENGINES.get(engine)
    if other is None:
        other = create_engine(
            engine.url,
            isolation_level="AUTOCOMMIT",
            pool_reset_on_return=None,  # nothing to roll back: every statement commits
            pool_pre_ping=False,
            connect_args={"connect_timeout": 10},
        )
        event.listen(engine, "engine_disposed", lambda _engine: other.dispose())
        _AUTOCOMMIT_ENGINES[engine] = other
    return other


def _sqlite_connect(dbapi_conn, _record):
    dbapi_conn.isolation_level = None  # SQLAlchemy's documented recipe for our own BEGIN
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # Durable: FULL syncs the WAL on every commit, so an acknowledged sale survives power loss.
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=60000")
    cur.close()


def _sqlite_begin(conn):
    # IMMEDIATE takes the write lock up front: no deadlock-prone read->write upgrade, and the
    # ledger's hash chain is appended by one writer at a time.
    mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    conn.exec_driver_sql("BEGIN " + mode)


def is_postgres(engine):
    return engine.dialect.name == "postgresql"


def _retryable(error):
    orig = getattr(error, "orig", None)
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate in _RETRY_SQLSTATES:
        return True
    # SQLite: a unique violation from a concurrent writer cannot happen under BEGIN IMMEDIATE,
    # but "database is locked" after the busy timeout can: retry it.
    return "database is locked" in str(orig or error)


def run_write(engine, work, attempts=12, optimistic=False):
    """Run `work(conn)` in one write transaction, retrying on conflicts; returns its result.

    `optimistic` (the sale): `work(conn, lock_first)`. On PostgreSQL the first attempt runs
    without a transaction block (each statement commits by itself: no BEGIN and COMMIT round
    trips), so `work` reads without locks and makes its one write a single statement that
    checks what it read is unchanged, else raises Conflict. Later attempts are transactions in
    which `work` locks what it reads first (lock_first=True), so a busy meter cannot starve a
    sale. On SQLite every attempt is a transaction and BEGIN IMMEDIATE already holds the write
    lock (lock_first=False).
    """
    postgres = is_postgres(engine)
    for attempt in range(attempts):
        try:
            if not optimistic:
                with engine.begin() as conn:
                    return work(conn)
            if attempt == 0 and postgres:
                with autocommit_engine(engine).connect() as conn:
                    return work(conn, False)
            with engine.begin() as conn:
                return work(conn, postgres)
        except Conflict:
            if attempt == attempts - 1:
                raise
        except (exc.IntegrityError, exc.OperationalError) as error:
            if attempt == attempts - 1 or not _retryable(error):
                raise
            if attempt > 0 or not optimistic:
                time.sleep(0.002 * (attempt + 1))
    raise AssertionError("unreachable")


def run_read(engine, work):
    """Run `work(conn)` in a read transaction (SQLite: deferred, so readers never block)."""
    with engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
        with conn.begin():
            return work(conn)


def connect_error(url, error):
    """One clear line for an unreachable or broken database (password redacted)."""
    orig = getattr(error, "orig", None) or error
    detail = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    return StationError(f"cannot use database {redact(url)}: {detail}")


def create_schema(engine):
    """Create missing tables and the chain head (idempotent: a second station may share a DB)."""
    metadata.create_all(engine)

    def seed(conn):
        if conn.execute(chain_head.select()).first() is None:
            conn.execute(chain_head.insert().values(id=1, seq=0, hash="0" * 64))
        row = conn.execute(
            station_meta.select().where(station_meta.c.key == "schema_version")
        ).first()
        if row is None:
            conn.execute(
                station_meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION))
            )

    run_write(engine, seed)
    run_read(engine, check_schema)


def check_schema(conn):
    """A clear error when the database was made by another schema version of prepay."""
    found = conn.execute(
        select(station_meta.c.value).where(station_meta.c.key == "schema_version")
    ).scalar()
    if found != str(SCHEMA_VERSION):
        hint = (
            "run `prepay station upgrade`"
            if str(found).isdigit() and int(found) < SCHEMA_VERSION
            else "install the prepay that made it"
        )
        raise StationError(
            f"the database has prepay schema version {found}, this prepay uses "
            f"{SCHEMA_VERSION}: {hint}"
        )
