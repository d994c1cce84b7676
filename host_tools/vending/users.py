"""The station's users: one model for the CLI's cashier ids and the web app's logins.

A user's name is its cashier id: adding a user also registers (or adopts) the cashier row the
vend and reversal code read (per-vend limit; supervisors and admins may approve reversals), so
every ledger entry written for a logged-in user names that user. Passwords are hashed with
argon2id (argon2-cffi's defaults); only the hash is stored.

Also here: login throttling (failures counted per account and per address; too many lock both
for a while) and server-side sessions (the cookie's token is stored only as its SHA-256).
"""

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update

from host_tools.vending import StationError, db, registry

ROLES = ("cashier", "supervisor", "admin")
PASSWORD_MIN = 8
PASSWORD_MAX = 256
# Throttling: this many failures within WINDOW lock the account / the address for LOCK.
MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
LOCK = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=12)  # one shift and a bit

hasher = PasswordHasher()  # argon2id; tests swap in cheaper parameters


class LoginRefused(StationError):
    """Wrong name or password, or a lock: the message is safe to show at the login form."""


def _now(now=None):
    return (now or datetime.now(UTC)).astimezone(UTC)


def _iso(moment):
    return moment.isoformat(timespec="seconds")


def check_role(role):
    if role not in ROLES:
        raise StationError(f"--role must be one of {', '.join(ROLES)}")
    return role


def check_password(password):
    if not password or not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise StationError(f"a password must be {PASSWORD_MIN}..{PASSWORD_MAX} characters")
    return password


def add_user(conn, name, role, password, stamp, vend_limit):
    """Add a user (and its cashier row, unless a cashier of that id exists: then adopt it)."""
    name = registry.check_name(name, "user name")
    role, password = check_role(role), check_password(password)
    if conn.execute(select(db.users.c.name).where(db.users.c.name == name)).first():
        raise StationError(f"user {name!r} already exists")
    conn.execute(
        db.users.insert().values(
            name=name,
            role=role,
            password_hash=hasher.hash(password),
            created_at=stamp.utc_iso,
            disabled=False,
        )
    )
    approves = role in ("supervisor", "admin")
    if registry.get_cashier(conn, name) is None:
        registry.add_cashier(conn, name, name, vend_limit, approves)
    else:
        conn.execute(
            update(db.cashiers).where(db.cashiers.c.id == name).values(supervisor=approves)
        )
    return name


def set_role(conn, name, role):
    """Change a user's role (and the cashier row's right to approve reversals); the station
    always keeps at least one admin."""
    role = check_role(role)
    row = get_user(conn, name)
    if row is None:
        raise StationError(f"no user named {name!r}")
    if row.role == "admin" and role != "admin":
        admins = conn.execute(select(db.users.c.name).where(db.users.c.role == "admin")).all()
        if len(admins) <= 1:
            raise StationError(f"{name} is the station's only admin: make another admin first")
    conn.execute(update(db.users).where(db.users.c.name == name).values(role=role))
    approves = role in ("supervisor", "admin")
    conn.execute(update(db.cashiers).where(db.cashiers.c.id == name).values(supervisor=approves))
    return name


def set_vend_limit(conn, name, limit):
    """A user's largest single vend (minor units), kept in its cashier row."""
    if get_user(conn, name) is None:
        raise StationError(f"no user named {name!r}")
    if limit <= 0:
        raise StationError("--limit must be above 0")
    conn.execute(update(db.cashiers).where(db.cashiers.c.id == name).values(vend_limit=limit))
    return name


def list_users(conn):
    u, c = db.users, db.cashiers
    rows = conn.execute(
        select(u.c.name, u.c.role, u.c.created_at, u.c.disabled, c.c.vend_limit)
        .join(c, c.c.id == u.c.name, isouter=True)
        .order_by(u.c.name)
    )
    from host_tools.vending.money import fmt

    return [
        {
            "name": r.name,
            "role": r.role,
            "vend_limit": None if r.vend_limit is None else fmt(r.vend_limit),
            "created_at": r.created_at,
            "disabled": bool(r.disabled),
        }
        for r in rows
    ]


def get_user(conn, name):
    """The user's row (name, role, ...) or None."""
    return conn.execute(select(db.users).where(db.users.c.name == name)).first()


def count_users(conn):
    return len(conn.execute(select(db.users.c.name)).all())


# ---- login throttling ------------------------------------------------------------------------


def _throttle_keys(name, address):
    return [f"user:{name}", f"addr:{address or '-'}"]


def _locked(conn, keys, now):
    rows = conn.execute(select(db.login_failures).where(db.login_failures.c.key.in_(keys))).all()
    until = [r.locked_until for r in rows if r.locked_until and r.locked_until > _iso(now)]
    return max(until) if until else None


def locked_accounts(conn, now=None):
    """{user name: locked until (ISO UTC)} of the accounts locked now."""
    lf, now_iso = db.login_failures, _iso(_now(now))
    rows = conn.execute(
        select(lf.c.key, lf.c.locked_until).where(
            lf.c.key.like("user:%"), lf.c.locked_until > now_iso
        )
    )
    return {key[len("user:") :]: until for key, until in rows}


def _record_failure(conn, keys, now):
    lf = db.login_failures
    for key in keys:
        row = conn.execute(select(lf).where(lf.c.key == key)).first()
        if row is None or row.first_at < _iso(now - WINDOW):
            conn.execute(delete(lf).where(lf.c.key == key))
            conn.execute(lf.insert().values(key=key, failures=1, first_at=_iso(now)))
            continue
        failures = row.failures + 1
        locked = _iso(now + LOCK) if failures >= MAX_FAILURES else row.locked_until
        conn.execute(
            update(lf).where(lf.c.key == key).values(failures=failures, locked_until=locked)
        )


def authenticate(station, name, password, address, now=None):
    """The user's row for a right name and password, else LoginRefused (and the failure is
    counted). A locked account or address is refused before the password is even checked."""
    now = _now(now)
    name = (name or "").strip()
    keys = _throttle_keys(name, address)

    def check(conn):
        until = _locked(conn, keys, now)
        if until is not None:
            return "locked", until
        user = get_user(conn, name)
        if user is None or user.disabled:
            # Hash anyway: the time taken must not tell which names exist.
            hasher.hash(password or "-")
            return "bad", None
        try:
            hasher.verify(user.password_hash, password or "")
        except (VerificationError, InvalidHashError):
            return "bad", None
        return "ok", user

    verdict, detail = station.read(check)
    if verdict == "locked":
        raise LoginRefused(
            f"too many failed logins: locked until {detail[11:16]} UTC; "
            "ask a supervisor if you need in sooner"
        )
    if verdict == "bad":
        station.write(lambda conn: _record_failure(conn, keys, now))
        raise LoginRefused("wrong user name or password")
    station.write(
        lambda conn: conn.execute(
            delete(db.login_failures).where(db.login_failures.c.key == keys[0])
        )
    )
    return detail


def unlock(conn, name):
    conn.execute(delete(db.login_failures).where(db.login_failures.c.key == f"user:{name}"))


# ---- sessions --------------------------------------------------------------------------------


def _token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(station, user_name, now=None):
    """A new session: returns (cookie token, CSRF token)."""
    now = _now(now)
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)

    def work(conn):
        # Sessions that have expired go when a new one opens (no separate sweeper needed).
        conn.execute(delete(db.sessions).where(db.sessions.c.expires_at < _iso(now)))
        conn.execute(
            db.sessions.insert().values(
                token_hash=_token_hash(token),
                user_name=user_name,
                csrf=csrf,
                created_at=_iso(now),
                expires_at=_iso(now + SESSION_LIFETIME),
            )
        )

    station.write(work)
    return token, csrf


def session_user(station, token, now=None):
    """(user row, CSRF token) for a live session token, or None."""
    if not token or len(token) > 100:
        return None
    now = _now(now)
    s, u = db.sessions, db.users

    def work(conn):
        return conn.execute(
            select(u, s.c.csrf)
            .join(s, s.c.user_name == u.c.name)
            .where(s.c.token_hash == _token_hash(token), s.c.expires_at > _iso(now))
        ).first()

    row = station.read(work)
    if row is None or row.disabled:
        return None
    return row, row.csrf


def close_session(station, token):
    station.write(
        lambda conn: conn.execute(
            delete(db.sessions).where(db.sessions.c.token_hash == _token_hash(token or ""))
        )
    )
