"""API keys for payment channels (mobile-money operators, banks) calling the HTTP API.

A key is `pp_<id>_<secret>`: the id is public (listings, revocation), the secret is stored
only as its SHA-256 (it is 256 random bits, so a slow hash adds nothing). A key belongs to one
operator name and sells as one channel only; its sales are booked to cashier `api:<name>` and
its payment references live in their own namespace (`<name>:<ref>` in the ledger), so one
operator can neither replay nor read another's sales.

A `supervisor` key may also reverse its operator's sales (POST /api/v1/reversals); the reversal
is approved by cashier `api:<name>/supervisor`, registered as a supervisor that cannot sell
(limit 0) when the key is made, so the approver is never the seller.
"""

import hashlib
import hmac
import secrets

from sqlalchemy import select, update

from host_tools.vending import StationError, db, registry, vend

PREFIX = "pp_"


def _hash(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


ROLES = ("seller", "supervisor")


def add_key(conn, channel, name, stamp, role="seller"):
    """Create a key; returns (key text shown once, row dict)."""
    channel = vend.check_channel(channel)
    name = registry.check_name(name or channel, "key name")
    if ":" in name or "/" in name:
        raise StationError("a key name may not contain ':' or '/'")
    if role not in ROLES:
        raise StationError(f"an API key's role is one of {', '.join(ROLES)}")
    if role == "supervisor" and registry.get_cashier(conn, supervisor_of(name)) is None:
        registry.add_cashier(conn, supervisor_of(name), f"API supervisor {name}", 0, True)
    key_id, secret = secrets.token_hex(4), secrets.token_urlsafe(32)
    conn.execute(
        db.api_keys.insert().values(
            id=key_id,
            name=name,
            channel=channel,
            role=role,
            secret_hash=_hash(secret),
            created_at=stamp.utc_iso,
        )
    )
    row = {"id": key_id, "name": name, "channel": channel, "role": role}
    return f"{PREFIX}{key_id}_{secret}", row


def list_keys(conn):
    k = db.api_keys
    rows = conn.execute(select(k).order_by(k.c.created_at, k.c.id))
    return [
        {
            "id": r.id,
            "name": r.name,
            "channel": r.channel,
            "role": r.role,
            "created_at": r.created_at,
            "revoked_at": r.revoked_at,
        }
        for r in rows
    ]


def revoke(conn, key_id, stamp):
    k = db.api_keys
    live = (k.c.id == key_id) & k.c.revoked_at.is_(None)
    done = conn.execute(update(k).where(live).values(revoked_at=stamp.utc_iso))
    if done.rowcount != 1:
        raise StationError(f"no live API key with id {key_id!r} (see `prepay apikey list`)")


def lookup(conn, key_text):
    """The live key's row for a presented key, or None (wrong, malformed or revoked)."""
    key_text = (key_text or "").strip()
    if not key_text.startswith(PREFIX) or len(key_text) > 200:
        return None
    key_id, _, secret = key_text[len(PREFIX) :].partition("_")
    row = conn.execute(select(db.api_keys).where(db.api_keys.c.id == key_id)).first()
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.secret_hash, _hash(secret)):
        return None
    return row


def ledger_ref(key_row, ref):
    """The reference stored in the ledger for an operator's own reference."""
    ref = vend.check_ref(ref)
    stored = f"{key_row.name}:{ref}"
    if len(stored) > vend.REF_MAX:
        raise StationError(f"ref is too long for operator {key_row.name!r}")
    return stored


def cashier_of(key_row):
    return f"api:{key_row.name}"


def supervisor_of(name):
    """The cashier id that approves an operator's reversals (see the module's docstring)."""
    return f"api:{name}/supervisor"
