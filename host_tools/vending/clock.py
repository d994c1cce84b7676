"""The one place vending reads the clock: UTC instant, station-local date and month, TID."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from host_tools.vending import StationError
from token_spec.epoch import EPOCH_UNIX, meter_time
from token_spec.tid import tid_from_time

TOKEN_EPOCH = datetime.fromtimestamp(EPOCH_UNIX, UTC)  # token_spec.epoch as a datetime


def zone(name):
    """A ZoneInfo for station.json's "timezone", or a clear error."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise StationError(f"unknown time zone {name!r} in station.json") from None


class Stamp:
    """When a txn happened: `utc_iso`, `local_date` (reports), `month` (block tariff), `tid`."""

    def __init__(self, tz, now=None):
        now = now or datetime.now(UTC)
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        local = now.astimezone(tz)
        self.utc_iso = now.astimezone(UTC).isoformat(timespec="seconds")
        self.local_date = local.date().isoformat()
        self.month = self.local_date[:7]
        self.tid = tid_from_time(meter_time(now))
