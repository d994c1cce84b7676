"""Maximum power limit: power from the pulse rate over a window, trips, retry and back-off.

Called from Meter.tick; reads and writes the meter's power registers only.
"""

from firmware.core import events as ev
from token_spec.compat import const

_NONE = const(-1)


def step(m, now):
    """Measure power over the configured window; trip, back off and retry (docs/core.md)."""
    cfg = m.config
    if cfg.power_limit == 0:
        m.power_retry_at = 0
        m._over_since = _NONE
        m._win_start, m._win_pulses = now, 0
        return
    if m.power_retry_at:
        if now < m.power_retry_at:
            m._win_start, m._win_pulses = now, 0
            return
        m.power_retry_at = 0
        m.events.record(now, ev.POWER_RESTORE, m.power_trips, 0)
    elapsed = now - m._win_start
    if elapsed < cfg.power_window:
        if elapsed < 0:
            m._win_start, m._win_pulses = now, 0
        return
    watts = m._win_pulses * 3600000 // (cfg.pulses_per_kwh * elapsed)
    m.power_w = watts
    m._win_start, m._win_pulses = now, 0
    if watts <= cfg.power_limit:
        m._over_since = _NONE
        if m.power_trips and now - m._last_trip >= cfg.power_reset:
            m.power_trips = 0
        return
    if m._over_since == _NONE:
        m._over_since = now - elapsed
    if now - m._over_since >= cfg.power_trip_time:
        trips = m.power_trips + 1 if m.power_trips < 255 else 255
        backoff = trips - 1 if trips - 1 < cfg.power_backoff else cfg.power_backoff
        m.power_trips = trips
        m.power_retry_at = now + (cfg.power_retry << backoff)
        m._last_trip = now
        m._over_since = _NONE
        m.events.record(now, ev.POWER_TRIP, trips, watts)
        m.urgent = True
