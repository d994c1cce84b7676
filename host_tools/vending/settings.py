"""Station settings a customer reads on every receipt: utility name, address, tax id, time zone.

Kept in station.json (home.py), set with `prepay station settings`, never by editing JSON:
each value is checked here and a refused value changes nothing. `for_print` adds them to a
receipt, with the txn's time in the station's local time (the ledger keeps UTC).
"""

from datetime import datetime

from host_tools.vending import StationError, home
from host_tools.vending.clock import zone

# station.json key -> (option name, longest length) for the printed header fields.
FIELDS = {
    "utility_name": ("--utility", 60),
    "address": ("--address", 160),
    "tax_id": ("--tax-id", 40),
}
_TAX_ID_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-/. ")


def _check_text(key, value):
    option, longest = FIELDS[key]
    text = " ".join(str(value).split())  # one line on paper: no newlines, single spaces
    if not text or len(text) > longest or not text.isprintable():
        raise StationError(f"{option} must be 1..{longest} printable characters")
    if key == "tax_id" and not set(text.upper()) <= _TAX_ID_CHARS:
        raise StationError(f"{option} may hold letters, digits, spaces and - / . only")
    return text


def check(changes):
    """The validated values of `changes` ({station.json key: text}); StationError on the first
    bad one, named by its option."""
    out = {}
    for key, value in changes.items():
        if value is None:
            continue
        if key == "timezone":
            try:
                zone(value)
            except StationError:
                raise StationError(
                    f"--tz {value!r} is not a time zone (e.g. Africa/Nairobi)"
                ) from None
            out[key] = value
        else:
            out[key] = _check_text(key, value)
    return out


def update(home_dir, changes):
    """Validate everything, then write station.json once; returns the settings now in force."""
    root = home.resolve_home(home_dir)
    config = home.read_config(root)
    values = check(changes)
    if values:
        stored = _stored(root)
        stored.update(values)
        home.write_config(root, stored)
        config.update(values)
    return shown(config)


def _stored(root):
    import json

    return json.loads((root / home.CONFIG_NAME).read_text())


def shown(config):
    """The receipt settings of a station.json (merged with the defaults)."""
    keys = ("utility_name", "address", "tax_id", "timezone")
    return {key: config.get(key, "") for key in keys}


def local_time(utc_iso, tz):
    """`2026-03-01 14:05 EAT` from a ledger time (UTC ISO text)."""
    when = datetime.fromisoformat(utc_iso).astimezone(tz)
    return when.strftime("%Y-%m-%d %H:%M ") + (when.tzname() or "")


def for_print(config, tz, receipt):
    """The receipt with the station's header fields and its local time added."""
    out = dict(receipt)
    out.update({k: v for k, v in shown(config).items() if k != "timezone"})
    if receipt.get("created_at"):
        out["local_time"] = local_time(receipt["created_at"], tz)
    return out
