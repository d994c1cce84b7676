"""Zones and the relay decision: pure functions of the meter's registers, config and time.

`relay_reason(meter, now)` is the one relay decision; the relay is closed exactly when the
reason is below OPEN. `zone(meter)` classifies the credit state for alarms and display.
"""

from firmware.core.calendar import DAY, weekday
from token_spec.compat import const

# Zones (stable numbers: stored in snapshots and events).
NORMAL = const(0)
LOW = const(1)
ZERO = const(2)
EMERGENCY = const(3)
DISCONNECTED = const(4)
ZONE_NAMES = ("normal", "low", "zero", "emergency", "disconnected")

# Relay reasons: closed below OPEN, open from OPEN up.
CREDIT = const(0)  # closed: credit available
EMERGENCY_CREDIT = const(1)  # closed: running on emergency credit
FRIENDLY = const(2)  # closed: out of credit, friendly period
_NEVER_DISCONNECT = const(3)  # closed: out of credit, never-disconnect meter
OPEN = const(16)
NO_CREDIT = const(16)  # open: credit (and emergency credit) exhausted
_FLOOR = const(17)  # open: friendly period, but the friendly-credit floor is reached
POWER = const(18)  # open: maximum power trip, waiting for the retry time
TAMPER = const(19)  # open: tamper latched, waiting for a clear-tamper token
TEST = const(20)  # open: meter-specific relay test token
REASON_NAMES = {
    CREDIT: "credit",
    EMERGENCY_CREDIT: "emergency_credit",
    FRIENDLY: "friendly",
    _NEVER_DISCONNECT: "never_disconnect",
    NO_CREDIT: "no_credit",
    _FLOOR: "friendly_floor",
    POWER: "power_limit",
    TAMPER: "tamper",
    TEST: "test",
}


def in_friendly(cfg, now):
    """True during a friendly period: a weekly window, a holiday, or a holiday's next morning."""
    local = now + cfg.utc_offset
    day = local // DAY
    minute = (local % DAY) // 60
    holidays = cfg.holidays
    if day in holidays or (minute < cfg.holiday_until and (day - 1) in holidays):
        return True
    today = 1 << weekday(day)
    yesterday = 1 << weekday(day - 1)
    for mask, start, end in cfg.friendly_windows:
        if start < end:
            if mask & today and start <= minute < end:
                return True
        elif (mask & today and minute >= start) or (mask & yesterday and minute < end):
            return True  # a window running past midnight, e.g. 18:00-08:00
    return False


def ec_offered(m):
    """Emergency credit can be activated now: configured, not in use, credit at/below offer."""
    cfg = m.config
    return cfg.ec_limit > 0 and m.ec_granted == 0 and m.credit <= cfg.ec_offer_below


def is_low(m):
    """Low-credit alarm: credit at or below the money threshold, or few days remaining."""
    cfg = m.config
    if cfg.low_credit and m.credit <= cfg.low_credit:
        return True
    days = m.days_remaining()
    return cfg.low_days > 0 and days is not None and days <= cfg.low_days


def zone(m):
    """The credit zone (NORMAL, LOW, ZERO, EMERGENCY, DISCONNECTED) of the registers."""
    if m.ec_granted > 0:
        return EMERGENCY if m.credit > -m.ec_granted else DISCONNECTED
    if m.credit <= 0:
        return ZERO if ec_offered(m) else DISCONNECTED
    return LOW if is_low(m) else NORMAL


def relay_reason(m, now):
    """Why the relay is closed (< OPEN) or open (>= OPEN) at `now`. Pure: reads only."""
    cfg = m.config
    if now < m.test_until:
        return TEST
    if m.tamper_latched and cfg.tamper_disconnect:
        return TAMPER
    if now < m.power_retry_at:
        return POWER
    allowed = m.ec_granted
    if m.credit > -allowed:
        return EMERGENCY_CREDIT if allowed else CREDIT
    if cfg.never_disconnect:
        return _NEVER_DISCONNECT
    if in_friendly(cfg, now):
        return FRIENDLY if m.credit > -(allowed + cfg.friendly_floor) else _FLOOR
    return NO_CREDIT
