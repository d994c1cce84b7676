"""Station home: where the key file, station.json and the default SQLite database live."""

import json
import os
from pathlib import Path

from host_tools.vending import StationError, limits

CONFIG_NAME = "station.json"
KEY_NAME = "vending.key"
DB_NAME = "station.db"

# Defaults written by `station init`; every one can be edited in station.json afterwards.
DEFAULTS = {
    "timezone": "UTC",
    "default_cashier_limit": 500000,  # minor units (5,000.00) for cashiers without their own limit
    "debt_order": "oldest",  # oldest | newest | largest: which arrears a vend recovers first
    "limits": limits.DEFAULTS,  # sanity bounds of tariffs, sales and arrears (limits.py)
}
DEBT_ORDERS = ("oldest", "newest", "largest")


def resolve_home(home=None):
    """`--home`, else $PREPAY_HOME, else the per-user data directory."""
    if home:
        return Path(home).expanduser()
    if os.environ.get("PREPAY_HOME"):
        return Path(os.environ["PREPAY_HOME"]).expanduser()
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "prepay"


def default_db_url(home):
    """The SQLite database inside the home directory."""
    return "sqlite:///" + str(Path(home).resolve() / DB_NAME)


def write_config(home, config):
    """Write station.json atomically (it may hold a database password: owner-only)."""
    path = Path(home) / CONFIG_NAME
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(config, out, indent=2, sort_keys=True)
        out.write("\n")
    os.replace(tmp, path)


def read_config(home):
    """station.json merged over the defaults; a clear error if the station was never set up."""
    path = Path(home) / CONFIG_NAME
    if not path.exists():
        raise StationError(f"no station in {home}: run `prepay station init` first")
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StationError(f"cannot read {path}: {exc}") from None
    merged = dict(DEFAULTS)
    merged.update(config)
    if merged["debt_order"] not in DEBT_ORDERS:
        raise StationError(
            f"{path}: debt_order must be one of {', '.join(DEBT_ORDERS)}, "
            f"not {merged['debt_order']!r}"
        )
    return merged
