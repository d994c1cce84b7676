"""Pulse-path arithmetic of the ESP32 HAL, pure so it runs (and is tested) on any interpreter.

- `PulsePlausibility` decides whether a pulse delta read from the counter could have come from
  the meter: a delta faster than the meter's maximum pulse rate is noise or tampering, so the
  HAL reports it as `rejected` and it is never billed.
- `PulseTrain` is the state machine behind the bench pulse output (S0-shaped pulses emitted
  from a timer callback without blocking the main loop).

Every value here stays a small int (< 2**30) and `accept` allocates nothing: it runs every
loop tick on the meter.
"""

from firmware.core.ticks import ticks_add, ticks_diff
from token_spec.compat import const

# S0 (IEC 62053-31): a pulse is at least 30 ms long and pulses are at least 30 ms apart, so
# nothing that honours the standard arrives faster than one pulse per 60 ms.
S0_MIN_ON_MS = const(30)
S0_MIN_OFF_MS = const(30)
S0_MIN_PERIOD_US = const(60_000)
# One pulse is 1/ppk kWh = 3.6e6/ppk J; at P watts it lasts 3.6e12 / (P × ppk) µs. The
# numerator is a big int on the board, so it is only used once, when the filter is built.
_US_W_PER_KWH = 3_600_000_000_000


def min_pulse_period_us(max_power_w, pulses_per_kwh, margin_pct=0):
    """Shortest plausible time between two pulses, in microseconds.

    The meter cannot pulse faster than at `max_power_w` (plus `margin_pct` percent of
    headroom for meter tolerance and brief overloads), nor faster than S0 allows.
    """
    if max_power_w <= 0 or pulses_per_kwh <= 0 or margin_pct < 0:
        raise ValueError("max_power_w and pulses_per_kwh must be > 0, margin_pct >= 0")
    scaled = max_power_w * pulses_per_kwh * (100 + margin_pct)
    period = _US_W_PER_KWH * 100 // scaled  # round down: rounding never rejects a pulse
    if period < S0_MIN_PERIOD_US:
        return S0_MIN_PERIOD_US
    return period


class PulsePlausibility:
    """Two limits on the pulse rate; a delta is billed only if it passes both.

    - This window: at most `elapsed / period + slack_pulses` pulses (the slack absorbs a
      pulse landing either side of a read). This catches a noise burst at once.
    - Over time, a token bucket: elapsed time earns budget, each pulse costs one period, and
      the budget is capped at `window_ms` plus the slack, so a rate only slightly too high
      cannot pass window after window on the slack, and idle time cannot be banked.

    A read window up to `window_ms` long is judged exactly, so a loop stalled for up to 10 s
    loses nothing. A delta that fails is rejected as a whole, not just its excess: noise on
    top of real pulses is never billed (the error is in the customer's favour), and the app
    raises a noise/tamper event from the rejected count.
    """

    def __init__(
        self, max_power_w, pulses_per_kwh, margin_pct=25, window_ms=10_000, slack_pulses=2
    ):
        self.period_us = min_pulse_period_us(max_power_w, pulses_per_kwh, margin_pct)
        self.window_ms = window_ms
        self.slack_pulses = slack_pulses
        self.cap_us = window_ms * 1000 + slack_pulses * self.period_us
        if self.cap_us >= 1 << 29:
            raise ValueError("window_ms too long for the pulse budget")
        # Start full: pulses counted between boot and the first read are as plausible as any.
        self.budget_us = self.cap_us
        self.rejected = 0  # the rejected part of the last delta

    def accept(self, count, elapsed_ms):
        """How many of `count` pulses seen over `elapsed_ms` to bill; the rest of the delta
        (all of it or none) is left in `self.rejected`. Allocation-free (no tuple)."""
        if elapsed_ms > self.window_ms:  # the cap applies anyway; keeps the product small
            elapsed_ms = self.window_ms
        elif elapsed_ms < 0:
            elapsed_ms = 0
        budget = self.budget_us + elapsed_ms * 1000
        if budget > self.cap_us:
            budget = self.cap_us
        self.budget_us = budget
        self.rejected = 0
        if count <= 0:
            return 0
        # Compare before multiplying: a noise burst's count × period could leave small ints.
        allowed = elapsed_ms * 1000 // self.period_us + self.slack_pulses
        if count > allowed or count > budget // self.period_us:
            self.rejected = count
            return 0
        self.budget_us = budget - count * self.period_us
        return count


class PulseTrain:
    """Emits `count` pulses: `on_ms` high then at least `off_ms` low, driven by `step(now)`.

    `step` is called from a periodic timer with `time.ticks_ms()`; it compares elapsed times
    (ticks arithmetic, so the 30-bit wrap of ticks_ms is harmless) rather than counting ticks,
    so a late timer callback only ever lengthens a pulse or a gap, never shortens it.
    """

    def __init__(self, on_ms=S0_MIN_ON_MS, off_ms=S0_MIN_OFF_MS):
        self.on_ms = on_ms
        self.off_ms = off_ms
        self.remaining = 0  # pulses still to start
        self.level = 0
        self._since = 0  # ticks_ms of the last edge

    def start(self, count, now_ms):
        """Queue `count` more pulses; the first starts at the next `step` after a full gap."""
        if count < 0:
            raise ValueError("pulse count must be >= 0")
        if self.remaining == 0 and self.level == 0:
            self._since = ticks_add(now_ms, -self.off_ms)
        self.remaining += count

    def busy(self):
        """True while pulses are queued or one is in progress."""
        return self.remaining > 0 or self.level == 1

    def step(self, now_ms):
        """The output level at `now_ms` (0 or 1); advances the train."""
        held = ticks_diff(now_ms, self._since)
        if self.level:
            if held >= self.on_ms:
                self.level = 0
                self._since = now_ms
        elif self.remaining and held >= self.off_ms:
            self.level = 1
            self.remaining -= 1
            self._since = now_ms
        return self.level
