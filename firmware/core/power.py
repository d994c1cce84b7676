"""Maximum power limit: power from the pulse rate over a window, trips, retry and back-off.

Called from Meter.tick. The measuring window is this module's own state (`Window`, not
persisted: a reboot starts a new window); the limiter's registers (`power_trips`,
`power_retry_at`, `power_last_trip`, `power_w`) are the meter's, listed in registers.py.
"""

from firmware.core import events as ev
from token_spec.compat import const

_NONE = const(-1)


class Window:
    """The pulses counted since `start`, and since when power has been over the limit."""

    def __init__(self, now):
        self.start = now
        self.pulses = 0  # the meter's pulse path adds to it
        self.over_since = _NONE
        self.limited = False  # the last step had a limit to enforce

    def restart(self, now):
        self.start, self.pulses = now, 0


def step(m, now):
    """Measure power over the configured window; trip, back off and retry (docs/core.md)."""
    cfg = m.config
    win = m.power_window
    if cfg.power_limit == 0:
        # No limit to enforce, but the power is still measured: status and the display show
        # what flows whether or not it is limited.
        m.power_retry_at = 0
        win.over_since = _NONE
        win.limited = False
        _measure(m, cfg, win, now)
        return
    if not win.limited:
        # A limit just appeared: judge it on a window of its own, not on one begun under no
        # limit (perhaps with another window length) that would average in time before it.
        win.limited = True
        win.restart(now)
        return
    if m.power_retry_at:
        if now < m.power_retry_at:
            win.restart(now)
            return
        m.power_retry_at = 0
        m.events.record(now, ev.POWER_RESTORE, m.power_trips, 0)
    elapsed = now - win.start
    watts = _measure(m, cfg, win, now)
    if watts == _NONE:
        return
    if watts <= cfg.power_limit:
        win.over_since = _NONE
        if m.power_trips and now - m.power_last_trip >= cfg.power_reset:
            m.power_trips = 0
        return
    if win.over_since == _NONE:
        win.over_since = now - elapsed
    if now - win.over_since >= cfg.power_trip_time:
        trips = m.power_trips + 1 if m.power_trips < 255 else 255
        backoff = trips - 1 if trips - 1 < cfg.power_backoff else cfg.power_backoff
        m.power_trips = trips
        m.power_retry_at = now + (cfg.power_retry << backoff)
        m.power_last_trip = now
        win.over_since = _NONE
        m.events.record(now, ev.POWER_TRIP, trips, watts)
        m.urgent = True


def _measure(m, cfg, win, now):
    # Watts over a completed window (stored in m.power_w, window restarted), else _NONE.
    elapsed = now - win.start
    if elapsed < cfg.power_window:
        if elapsed < 0:
            win.restart(now)
        return _NONE
    watts = win.pulses * 3600000 // (cfg.pulses_per_kwh * elapsed)
    m.power_w = watts
    win.restart(now)
    return watts
