"""The meter: registers, the exact pulse path, time-driven policy, tokens, config and events.

Pure logic: time, pulses and storage are passed in (docs/core.md describes every register, the
exactness rule and the relay policy; docs/interfaces.md fixes the API).
"""

from firmware.core import events as ev
from firmware.core import policy, power, registers, tariff
from firmware.core.calendar import DAY, next_month_start
from firmware.core.config import MAX_SPAN, SMALL, check_settings, compile_config
from firmware.core.registers import HISTORY_DAYS, UNKNOWN_TIME
from token_spec.compat import const

MAX_CREDIT = const(0x3FFFFFFF)  # credit and debt registers stay below 2**30


_MAX_COUNT = const(0x1000000)  # pulses per pro-rata step (2**24; see _share)


def _share(n, d, span):
    """floor(n * d / span) for n < 2**25 and 0 <= d <= span <= 2**17, every step below 2**30."""
    hi = n >> 12
    x = hi * d
    q = x // span
    return (q << 12) + ((x - q * span) * 4096 + (n & 4095) * d) // span


class Meter:
    """One meter's accounting state. See docs/core.md for every attribute and rule."""

    def __init__(self, settings, now=0):
        settings = check_settings(settings)
        self.settings = settings
        self.meter_number = settings["meter_number"]
        self.decoder_key = settings["decoder_key"]
        self.key_revision = settings["key_revision"]
        self.config = compile_config(settings["config"], settings)
        self.config_version = 0  # bumped whenever the effective config changes
        self.events = ev.EventRing()
        # How the registers came up, for the BOOT event (not a register: each boot finds out).
        self.boot_status = ev.BOOT_UNKNOWN
        registers.reset(self, now)  # every register: registers.py is their one list
        # Price cache for the pulse path (recomputed at every price boundary / midnight).
        self._price_until = UNKNOWN_TIME
        self._block = 0
        self._block_left = 0
        self._time_price = 0
        self.power_window = power.Window(now)  # power.py's measuring window (not persisted)
        # Journal write policy hooks.
        self.urgent = False
        self.saved_time = now
        self._refresh(now)
        self.zone = policy.zone(self)
        self.relay_reason_code = policy.relay_reason(self, now)
        self.relay = self.relay_reason_code < policy.OPEN

    # ----------------------------------------------------------------- pulse path

    def add_pulses(self, count, now):
        """Charge `count` pulses counted since the previous call (at time `now`).

        The pulses are spread evenly over (previous call, now] (at most MAX_SPAN seconds) so
        that a tariff boundary inside the interval splits the batch exactly. Small ints only,
        no allocation. Call it regularly, also with count 0, so the interval stays short.
        """
        t0 = self.pulse_time
        if t0 > now:
            t0 = now  # clock went back: price the batch at `now`
        elif now - t0 > MAX_SPAN:
            t0 = now - MAX_SPAN
        while count > 0:
            n = count if count <= _MAX_COUNT else _MAX_COUNT
            count -= n
            self._consume(n, t0, now)
        self.pulse_time = now
        if self._price_until <= now:
            self._refresh(now)  # keeps the day / month registers current without pulses

    def _consume(self, n, t0, t1):
        # n <= _MAX_COUNT pulses spread evenly over (t0, t1].
        span = t1 - t0
        if self._price_until <= t0:
            self._refresh(t0)
        done = 0
        while done < n:
            boundary = self._price_until
            upto = n
            if boundary < t1 and span > 0:
                upto = _share(n, boundary - t0, span)  # the share before the boundary
            if upto > done:
                self._charge_segment(upto - done)
                done = upto
            if done < n:
                self._refresh(boundary)

    def _charge_segment(self, n):
        # n pulses at the cached price, in steps small enough for the 2**30 bound and split
        # exactly where an inclining block ends.
        cfg = self.config
        ppk = cfg.pulses_per_kwh
        while n > 0:
            take = n if n < cfg.batch else cfg.batch
            if self._block_left < take:
                take = self._block_left
            self._charge(take, self.price)
            e = self.wh_rem + take * 1000
            wh = e // ppk
            self.wh_rem = e - wh * ppk
            self.energy_wh += wh
            self.power_window.pulses += take
            n -= take
            if cfg.has_blocks:
                self.month_pulses += take
                self._block_left -= take
                if self._block_left == 0:
                    self._set_block()

    def _charge(self, n, price):
        # The exact step: debit floor((remainder + n * price) / ppk), carry the rest.
        ppk = self.config.pulses_per_kwh
        num = self.cost_rem + n * price
        units = num // ppk
        self.cost_rem = num - units * ppk
        self.credit -= units
        self.spent_today += units

    def _refresh(self, t):
        # Recompute the price cache for meter time t (and roll day / month registers).
        cfg = self.config
        local = t + cfg.utc_offset
        day = local // DAY
        if day != self.local_day:
            self._new_day(day)
        self._time_price = tariff.time_price(cfg, local)
        if cfg.has_blocks:
            self._set_block()  # the block's price on top of the time price (0 if no TOU)
        else:
            self.price = self._time_price
            self._block_left = SMALL
        self._price_until = tariff.price_until(cfg, local) - cfg.utc_offset

    def _set_block(self):
        cfg = self.config
        i = tariff.block_index(cfg, self.month_pulses)
        self._block = i
        self.price = self._time_price + cfg.block_prices[i]
        self._block_left = cfg.block_ends[i] - self.month_pulses

    def _new_day(self, day):
        # Close the day's spend into the 7-day history; reset block energy on the 1st.
        if self.local_day != UNKNOWN_TIME and day > self.local_day:
            gap = day - self.local_day
            if gap > HISTORY_DAYS:
                gap = HISTORY_DAYS
            spent = self.spent_today
            while gap > 0:
                self.spend_hist[self.spend_hist_i] = spent
                self.spend_hist_i = (self.spend_hist_i + 1) % HISTORY_DAYS
                if self.spend_hist_days < HISTORY_DAYS:
                    self.spend_hist_days += 1
                spent = 0
                gap -= 1
            self.spent_today = 0
        if day >= self.month_next or self.local_day == UNKNOWN_TIME:
            if self.local_day != UNKNOWN_TIME:
                self.month_pulses = 0
            self.month_next = next_month_start(day)
        self.local_day = day

    def days_remaining(self):
        """Days the credit lasts at the average spend of the last (up to 7) full days, or None
        if there is no history or nothing was spent."""
        spent = 0
        for amount in self.spend_hist:
            spent += amount
        if self.spend_hist_days == 0 or spent <= 0:
            return None
        credit = self.credit if self.credit > 0 else 0
        return credit * self.spend_hist_days // spent

    # ----------------------------------------------------------------- time-driven policy

    def tick(self, now):
        """Time-driven work: standing charge, power limit, zone and relay (events on change)."""
        self._accrue_standing(now)
        power.step(self, now)
        self._evaluate(now)

    def _accrue_standing(self, now):
        # Exact like the pulse path: remainder of (charge per day * seconds) mod 86400 carried.
        sc = self.config.standing_charge
        dt = now - self.sc_time
        if sc and dt > 0:
            step = (SMALL - DAY) // sc
            while dt > 0:
                s = dt if dt < step else step
                num = self.sc_rem + sc * s
                units = num // DAY
                self.sc_rem = num - units * DAY
                self.credit -= units
                self.spent_today += units
                dt -= s
        self.sc_time = now

    def _evaluate(self, now):
        # Record zone and relay changes (the decision itself is policy.relay_reason).
        zone = policy.zone(self)
        if zone != self.zone:
            self.events.record(now, ev.ZONE, self.zone, zone)
            self.zone = zone
            self.urgent = True
        reason = policy.relay_reason(self, now)
        closed = reason < policy.OPEN
        if closed != self.relay:
            self.events.record(now, ev.RELAY, 1 if closed else 0, reason)
            self.relay = closed
            self.urgent = True
        self.relay_reason_code = reason

    def relay_closed(self, now):
        """The relay decision at `now` (pure: a function of registers, config and time)."""
        return policy.relay_reason(self, now) < policy.OPEN

    # ----------------------------------------------------------------- customer / inputs

    def activate_emergency_credit(self, now):
        """Customer request (keypad key / protocol): True if emergency credit was granted."""
        if not policy.ec_offered(self):
            self.events.record(now, ev.EMERGENCY, -1, 0)
            return False
        self.ec_granted = self.config.ec_limit
        self.events.record(now, ev.EMERGENCY, 1, self.ec_granted)
        self.urgent = True
        self._evaluate(now)
        return True

    def set_tamper(self, is_open, now):
        """Tamper input state; opening latches a disconnect if the config asks for it."""
        is_open = bool(is_open)
        if is_open == self.tamper_open:
            return
        self.tamper_open = is_open
        if is_open and self.config.tamper_disconnect:
            self.tamper_latched = True
        self.events.record(now, ev.TAMPER, 1 if is_open else 0, 1 if self.tamper_latched else 0)
        self.urgent = True
        self._evaluate(now)

    def top_up(self, amount, now):
        """Add credit (a credit token's amount): repay negative credit first, then recover debt
        as a percentage of the rest (optional cap). Returns False (nothing changed) on overflow.
        """
        if self.credit + amount > MAX_CREDIT:
            return False
        rest = amount
        if self.credit < 0:
            repay = -self.credit if -self.credit < rest else rest
            self.credit += repay
            rest -= repay
        cfg = self.config
        if rest > 0 and self.debt > 0 and cfg.debt_percent:
            take = rest * cfg.debt_percent // 100
            if cfg.debt_cap and take > cfg.debt_cap:
                take = cfg.debt_cap
            if take > self.debt:
                take = self.debt
            self.debt -= take
            rest -= take
            self.events.record(now, ev.DEBT, 0, take)
        self.credit += rest
        if self.ec_granted and self.credit >= 0:
            self.events.record(now, ev.EMERGENCY, 0, self.ec_granted)
            self.ec_granted = 0  # repaid in full: can be offered again
        self.urgent = True
        return True

    # ----------------------------------------------------------------- tokens and config

    def enter_token(self, digits, now):
        """Apply a 20-digit token; returns a token_spec result code (docs/core.md, Tokens)."""
        from firmware.core.tokens import enter_token

        result = enter_token(self, digits, now)
        self._evaluate(now)
        return result

    def apply_config(self, blob, now):
        """Verify and apply a signed config blob atomically; returns its counter.

        Raises ConfigError (a ValueError, one-line message) and changes nothing but an event
        if the blob is forged, truncated, for another meter, replayed or not a usable config.
        """
        from firmware.core.config import ConfigError
        from token_spec.config_blob import ConfigBlobError, verify_config

        try:
            counter, source = verify_config(
                self.decoder_key, self.meter_number, blob, self.config.counter
            )
            source = dict(source)
            source["counter"] = counter
            config = compile_config(source, self.settings)
        except (ConfigBlobError, ConfigError) as exc:
            self.events.record(now, ev.CONFIG, 0, self.config.counter)
            raise ConfigError(str(exc)) from None
        self._set_config(config)
        self.events.record(now, ev.CONFIG, 1, counter)
        self._evaluate(now)
        return counter

    def _set_config(self, config):
        self.config = config
        self.config_version += 1
        self.urgent = True
        self._refresh(self.pulse_time)

    def override(self, section, key, value):
        """Change one config value (a management token's effect); keeps the config counter."""
        source = dict(self.config.source)
        if section:
            inner = dict(source.get(section, {}))
            inner[key] = value
            source[section] = inner
        else:
            source[key] = value
        self._set_config(compile_config(source, self.settings))

    def snapshot_config(self):
        """The effective config as JSON bytes (store next to the snapshot when it changes)."""
        import json

        return json.dumps(self.config.source).encode()

    # ----------------------------------------------------------------- persistence

    def snapshot(self):
        """Every register as a fixed-layout blob (docs/core.md, Snapshot layout)."""
        return registers.pack(self)

    @classmethod
    def restore(cls, settings, blob, config=None):
        """A meter from provisioning settings, a snapshot and optional snapshot_config() bytes.

        ValueError if the snapshot is damaged or of an unknown format version."""
        import json

        meter = cls(settings)
        if config is not None:
            source = json.loads(bytes(config))
            try:
                meter.config = compile_config(source, meter.settings)
            except ValueError:
                # Stored by older firmware, which ignored unknown keys: drop them rather than
                # lose the meter's registers (a config being applied is never treated so).
                from token_spec.config_schema import known_only

                meter.config = compile_config(known_only(source), meter.settings)
        registers.unpack(meter, blob)
        meter._price_until = UNKNOWN_TIME
        meter._refresh(meter.pulse_time)
        meter.urgent = False
        meter.boot_status = ev.BOOT_RESTORED
        return meter

    def boot(self, now, status=None):
        """Record a BOOT event and evaluate zone and relay (call after creation / restore).

        `status` says how the registers came up: the journal's boot status (journal.RESTORED,
        BLANK, CORRUPT) or an events.BOOT_* code; it goes into the event's `b`. Without it the
        meter uses `boot_status`: BOOT_RESTORED after `restore`,
        else BOOT_UNKNOWN. ValueError (nothing recorded) for an unknown status."""
        code = self.boot_status if status is None else ev.boot_status_code(status)
        self.boot_status = code
        version = registers.VERSION if self.sts is None else registers.STS_VERSION
        self.events.record(now, ev.BOOT, version, code)
        self._evaluate(now)

    def saved(self, now):
        """The journal made the registers durable: clear `urgent`, note time and energy."""
        self.urgent = False
        self.saved_time = now
        self.saved_wh = self.energy_wh

    # ----------------------------------------------------------------- reporting

    def lifetime_pulses(self):
        """Every pulse counted, recovered exactly from the Wh register and its remainder."""
        return (self.energy_wh * self.config.pulses_per_kwh + self.wh_rem) // 1000

    def status(self, now):
        """What the `status` protocol command returns (plain JSON-able dict, no secrets)."""
        from firmware.core.report import status

        return status(self, now)
