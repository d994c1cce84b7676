"""The meter application: core + HAL + journal, one `step()` per loop iteration.

Boot order (docs/firmware.md): restore the journal, re-assert the relay from the registers,
then record and commit a boot event; only then does the loop start. Every state change is
committed to the journal before it is reported (token results, config) or acted on (relay).
The serial protocol reaches the meter through `firmware.app.commands`.
"""

from firmware.app import display
from firmware.app.keypad import EMERGENCY, ENTER, LAST_RESULT, NEXT_PAGE, Keypad
from firmware.core import events as ev
from firmware.core.meter_store import MeterStore
from token_spec.compat import const
from token_spec.units import units_text

_ADVANCE_STEP_S = const(60)


class MeterApp:
    """Everything the meter does, driven by `step()` and by protocol commands."""

    def __init__(self, hal):
        self.hal = hal
        self.store = MeterStore(hal.block_device())  # the meter's durable state
        self.keypad = Keypad()
        self.meter = None
        self.relay = None  # the position last commanded to the HAL
        self.last_result = None  # last token result, for the display
        self.page = 0
        self.pushed_seq = 0  # newest event already pushed on the serial line
        self.power_cut_pending = False
        self.config_parts = ""  # a signed config blob arriving in several config.set parts
        self.rejected_pulses = 0
        self.steps = 0
        self._tamper = False
        self._lines = None
        self.net = None  # firmware.net.link.Link when the meter has network settings

    # ---- boot ----------------------------------------------------------------------------
    def boot(self):
        """Restore, re-assert the relay, log the boot. Call once before the loop starts."""
        now = self.hal.now()
        store = self.store
        meter = store.boot(now)
        self.meter = meter
        # The relay first: a latching relay kept its position through the reset, a monostable
        # one dropped out; either way it must match the registers before anything else runs.
        self._drive_relay(meter is not None and meter.relay_closed(now), force=True)
        if meter is None:
            self.refresh_display()
            return
        self._configure_hal()
        meter.boot(now, store.status)  # the BOOT event says restored, blank or corrupt
        self.pushed_seq = meter.events.next_seq - 2  # push the boot event itself
        if self.journal_location() == "file":
            meter.events.record(now, ev.JOURNAL_FALLBACK, 0, 0)
        self._tamper = meter.tamper_open
        store.save(meter, now)
        self.refresh_display()
        self.start_network()

    def net_path(self, name):
        """A file beside the firmware: the simulator's state folder, a board's root."""
        return getattr(self.hal, "files_dir", "") + "/" + name

    def start_network(self):
        """Open the MQTT link if the meter is provisioned and has network settings; only then
        is the networking code imported (a keypad-only meter's heap stays as it was)."""
        if self.net is not None:
            self.net.close()
            self.net = None
        if self.meter is None:
            return
        path = self.net_path("net.json")
        try:  # no settings file: import nothing (the settings module and json take heap)
            open(path).close()
        except OSError:
            return
        from firmware.net.settings import load

        settings = load(path)
        if settings is None:
            return
        from firmware.net.link import Link

        self.net = Link(self, settings, self.net_path("net_cursor"))

    def _configure_hal(self):
        configure = getattr(self.hal, "configure_meter", None)
        if configure is not None:
            configure(self.meter.settings["pulses_per_kwh"])

    def provision(self, settings, clock=None):
        """Create the meter from provisioning settings and make it durable (unprovisioned only),
        then set the clock to `clock` (seconds) if given: the meter starts at that time.

        Raises ConfigError (ValueError) when a setting is unusable or the journal is damaged;
        nothing is stored and the clock is left alone then.
        """
        now = self.hal.now() if clock is None else clock
        meter = self.store.provision(settings, now)  # validates, logs a BLANK boot, commits
        if clock is not None:
            self.hal.set_time(clock)  # only now: a refused provision changes nothing
        self.meter = meter
        self._configure_hal()
        self._drive_relay(meter.relay_closed(now))
        self.refresh_display()
        self.start_network()

    # ---- the loop body -------------------------------------------------------------------
    def step(self):
        """One loop iteration: pulses, keys, tamper, time policy, save, relay, display."""
        self.steps += 1
        hal = self.hal
        count, rejected = hal.take_pulses()
        self.rejected_pulses += rejected
        keys = hal.read_keys()
        if keys:
            self.press_keys(keys)
        if self.keypad.expire(hal.ticks_ms()):
            self.refresh_display()
        meter = self.meter
        if meter is None:
            return
        now = hal.now()
        meter.add_pulses(count, now)
        tamper = hal.tamper_open()
        if tamper != self._tamper:
            self._tamper = tamper
            meter.set_tamper(tamper, now)
        meter.tick(now)
        self.save_if_due(now)
        self._drive_relay(meter.relay)
        hal.indicate(meter.zone)
        self.refresh_display()

    def save_if_due(self, now):
        """Commit when the write policy asks (MeterStore.maybe_save): an urgent change (the core
        flags every change a power cut must not undo), N Wh, or T minutes with energy, credit or
        events moved.

        Results that change nothing (`used`, `old`, `locked`, a refused config or emergency
        request) only add an event, which waits for the next save: a flood of them over the
        serial line cannot wear the flash out.
        """
        self.store.maybe_save(self.meter, now)

    def _drive_relay(self, closed, force=False):
        if force or closed != self.relay:
            self.hal.set_relay(closed)
            self.relay = closed

    def advance(self, seconds):
        """Simulator: run the loop through `seconds` of virtual time in steps of <= 60 s, so
        the relay, zones and power limit react as they would in real time."""
        hal = self.hal
        while seconds > 0:
            step = seconds if seconds < _ADVANCE_STEP_S else _ADVANCE_STEP_S
            hal.advance(step)
            self.step()
            # Each step is a loop iteration that completed: fed as the runner would feed it,
            # or a long advance (one request) would starve the simulated watchdog.
            hal.feed_watchdog()
            seconds -= step
        hal.save_state()

    # ---- customer actions (keypad and protocol) ------------------------------------------
    def enter_token(self, digits):
        """Apply a token, commit, then return the result code (never acknowledged unsaved)."""
        now = self.hal.now()
        meter = self.meter
        result = meter.enter_token(digits, now)
        self.save_if_due(now)  # every result that changed a register is durable before shown
        self._drive_relay(meter.relay)
        self.last_result = result
        self.refresh_display()
        return result

    def activate_emergency(self):
        """Customer asks for emergency credit; True if granted."""
        now = self.hal.now()
        granted = self.meter.activate_emergency_credit(now)
        self.save_if_due(now)
        self._drive_relay(self.meter.relay)
        self.refresh_display()
        return granted

    def apply_config(self, blob):
        """Verify and apply a signed config blob; returns its counter (ConfigError if refused)."""
        now = self.hal.now()
        counter = self.meter.apply_config(blob, now)
        self.save_if_due(now)
        self._drive_relay(self.meter.relay)
        self.refresh_display()
        return counter

    def press_keys(self, keys):
        """Feed keys to the keypad; returns the token results produced, in order."""
        results = []
        for key in keys:
            action = self.keypad.press(key, self.hal.ticks_ms())
            if action is None or self.meter is None:
                continue
            if action[0] == ENTER:
                if len(action[1]) == 20:
                    results.append(self.enter_token(action[1]))
                else:
                    self.last_result = "reject"  # a short entry is a typing slip: not counted
                    results.append("incomplete")
            elif action[0] == EMERGENCY:
                self.activate_emergency()
            elif action[0] == NEXT_PAGE:
                self.page = (self.page + 1) % display.PAGES
            elif action[0] == LAST_RESULT:
                self.page = 0
        self.refresh_display()
        return results

    # ---- reporting -----------------------------------------------------------------------
    def storage(self):
        """The journal's state for `hello`/`status`: "damaged" when it holds registers without
        their settings record (no meter runs, provisioning is refused until an engineer wipes
        it), else "ok"."""
        return "damaged" if self.store.damaged else "ok"

    def journal_location(self):
        """Where the HAL found the journal: "partition" (its flash data partition), "file" (the
        littlefs fallback of a board without one) or "unknown" (a HAL that does not say)."""
        return (getattr(self.hal, "storage", None) or "unknown").split(" ")[0]

    def status(self):
        """The `status` protocol result (see docs/firmware.md)."""
        now = self.hal.now()
        if self.meter is None:
            return {
                "provisioned": False,
                "storage": self.storage(),
                "journal": self.journal_location(),
                "time": now,
                "relay": "open",
            }
        s = self.meter.status(now)
        s["journal"] = self.journal_location()
        s["provisioned"] = True
        s["relay"] = "closed" if s["relay"] else "open"
        s["credit_text"] = units_text(s["credit"], s["scale"])
        if self.net is not None:
            s["network"] = self.net.status()
        return s

    def refresh_display(self):
        """Redraw the display if its text changed."""
        if self.meter is None:
            text = display.unprovisioned_lines(self.store.damaged)
        else:
            text = display.lines(self.status(), self.page, self.keypad.digits, self.last_result)
        if text != self._lines:
            self._lines = text
            self.hal.show(text)

    def display_lines(self):
        """The lines on the display now."""
        return list(self._lines or [])

    def new_events(self):
        """Events recorded and committed since the last call, as protocol dicts."""
        meter = self.meter
        if meter is None:
            return []
        upto = self.store.journal.event_seq  # only what is durable is announced
        out = []
        for e in meter.events.since(self.pushed_seq):
            if e[0] > upto:
                break
            out.append(describe_event(e))
            self.pushed_seq = e[0]
        return out


def describe_event(e):
    """An event tuple as the protocol shows it: {"event": kind, "seq", "time", "a", "b"}."""
    d = ev.describe(e)
    d["event"] = d.pop("kind")
    return d
