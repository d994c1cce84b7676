"""The station's message settings, kept in the database (`station_meta`, keys "notify.*") so
every station process and the head-end on a shared database use the same ones.
`prepay notify set KEY VALUE` / `prepay notify settings`."""

import re

from sqlalchemy import select

from host_tools.vending import StationError, db

_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


def _port(text):
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise StationError("smtp_port must be 1..65535")
    return text


def _url(text):
    if text and not text.startswith(("http://", "https://")):
        raise StationError("sms_url must be an http:// or https:// URL (or empty: no SMS)")
    return text


def _hhmm(name):
    def check(text):
        if not _HHMM.match(text):
            raise StationError(f"{name} must be HH:MM (24 h, station time zone)")
        return text

    return check


def _count(name, low, high):
    def check(text):
        if not text.isdigit() or not low <= int(text) <= high:
            raise StationError(f"{name} must be a whole number {low}..{high}")
        return text

    return check


def _text(text):
    if not text.isprintable():
        raise StationError("the value must be printable text")
    return text


# name: (default, check, what it is)
SETTINGS = {
    "smtp_host": ("", _text, "SMTP server host (empty: no e-mail)"),
    "smtp_port": ("25", _port, "SMTP server port"),
    "smtp_from": ("prepay@localhost", _text, "From: address of e-mails"),
    "sms_url": ("", _url, "SMS gateway URL: POST JSON {to, text, id} (empty: no SMS)"),
    "file_path": ("", _text, "file channel (demo): every message appended here (empty: off)"),
    "quiet_start": ("21:00", _hhmm("quiet_start"), "no SMS from (station time)"),
    "quiet_end": ("07:00", _hhmm("quiet_end"), "no SMS until (station time)"),
    "max_attempts": ("5", _count("max_attempts", 1, 50), "attempts before a message is parked"),
    "backoff_seconds": ("30", _count("backoff_seconds", 1, 86400), "first retry delay (doubles)"),
    "timeout_seconds": ("10", _count("timeout_seconds", 1, 300), "per send"),
    "stale_after_seconds": (
        "300",
        _count("stale_after_seconds", 0, 86400),
        "a message left `sending` by another host's dispatcher this long is parked",
    ),
}


def load(conn):
    """Every setting as text (defaults for those never set)."""
    meta = db.station_meta
    rows = conn.execute(
        select(meta.c.key, meta.c.value).where(meta.c.key.startswith("notify."))
    ).all()
    stored = {key[len("notify.") :]: value for key, value in rows}
    return {name: stored.get(name, default) for name, (default, _, _) in SETTINGS.items()}


def store(conn, name, value):
    if name not in SETTINGS:
        raise StationError(f"unknown setting {name!r}: one of {', '.join(SETTINGS)}")
    value = SETTINGS[name][1]((value or "").strip())
    meta = db.station_meta
    key = "notify." + name
    if conn.execute(select(meta.c.key).where(meta.c.key == key)).first() is None:
        conn.execute(meta.insert().values(key=key, value=value))
    else:
        conn.execute(meta.update().where(meta.c.key == key).values(value=value))
    return load(conn)
