"""ESP32 hardware abstraction: the HAL contract of docs/interfaces.md on real pins.

Board-only: this module imports `machine` and `esp32` and cannot run on CPython or the unix
port. Everything in it that is not a pin or peripheral call lives in the pure `esp32_*`
modules (pulse plausibility, keypad decoding, clock conversion, board checks, the SSD1306
driver), which are tested on both interpreters. This file is type-checked by pyright against
the MicroPython ESP32 stubs and compiled by mpy-cross. See docs/hal_esp32.md.

Nothing here prints: stdout is the serial protocol channel.
"""

import time

import esp32
import machine
from machine import Pin

from firmware.hal import esp32_ota
from firmware.hal.esp32_board import check_board, journal_plan
from firmware.hal.esp32_clock import MIN_YEAR, rtc_to_seconds, seconds_to_rtc
from firmware.hal.esp32_display import TextPanel
from firmware.hal.esp32_indicate import zone_signal
from firmware.hal.esp32_keypad import KeypadDebouncer, scan_bitmap
from firmware.hal.esp32_pulse import (
    S0_MIN_OFF_MS,
    S0_MIN_ON_MS,
    PulsePlausibility,
    PulseTrain,
    min_pulse_period_us,
)

BEEP_MS = 100
WIFI_BACKOFF_MIN_MS = 1000
WIFI_BACKOFF_MAX_MS = 60000


class StorageError(OSError):
    """The journal's flash region is missing or unusable (the message says which and why)."""


def _running_partition():
    # Partition(RUNNING) is MicroPython's documented form; the stubs only know Partition(label).
    return esp32.Partition(esp32.Partition.RUNNING)  # pyright: ignore[reportArgumentType]


def create(board_config):
    """The HAL for a board config dict (a parsed `firmware/boards/<board>.json`).

    Raises ValueError naming every bad pin before touching any hardware.
    """
    return Esp32Hal(check_board(board_config))


class Esp32Hal:
    name = "esp32"
    files_dir = ""  # net.json (and a legacy net_cursor): /net.json on the littlefs root
    _wifi = None

    def __init__(self, config):
        self.config = config
        self._external = config["external_pullups"]
        self._boot_ms = time.ticks_ms()
        self._rtc = machine.RTC()
        self._wdt = None  # started by the first feed_watchdog(): boot may take its time
        if esp32_ota.on_trial():  # ... except a new slot's first boot, which must feed in time
            self._start_watchdog()
        self.timer_faults = 0  # exceptions swallowed in the timer callback
        self._confirmed = False  # esp32_ota.confirm() called since boot
        self.storage = None  # where block_device() found the journal
        self._init_pulses()
        self._init_relay()
        self._init_inputs()
        self._init_outputs()
        self._init_display()
        self._timer = machine.Timer(config["timer_id"])
        self._timer.init(
            mode=machine.Timer.PERIODIC,
            period=config["keypad"]["scan_ms"] if self._rows else 10,
            callback=self._tick,
            hard=False,  # scheduled: the callback may allocate and is never mid-bytecode
        )

    # --- setup -------------------------------------------------------------------------

    def _input(self, number):
        # Input-only pins (34-39) have no internal pull-up: the board lists their external
        # resistors in external_pullups and check_board enforces that.
        if number in self._external:
            return Pin(number, Pin.IN)
        return Pin(number, Pin.IN, Pin.PULL_UP)

    def _init_pulses(self):
        pulse = self.config["pulse"]
        edge = machine.Counter.FALLING if pulse["edge"] == "falling" else machine.Counter.RISING
        # PCNT counts in hardware, so no edge is lost however busy the interpreter is (a GPIO
        # IRQ is a soft interrupt on the ESP32 and drops edges under load). Its glitch filter
        # tops out at 1023 APB cycles (12.8 us): that removes spikes, not 30 ms S0 shape;
        # the plausibility filter below rejects what the hardware filter cannot.
        self._counter = machine.Counter(
            pulse["counter_id"], self._input(pulse["pin"]), edge=edge, filter_ns=pulse["filter_ns"]
        )
        self._counter.value(0)
        meter = self.config["meter"]
        self.configure_meter(meter["pulses_per_kwh"], meter["max_power_w"])
        self._last_take = time.ticks_ms()

    def _init_relay(self):
        relay = self.config["relay"]
        self._relay_closed = None  # last commanded state; None until the app first asserts it
        self._relay_pin = None
        if relay["type"] == "latching":
            idle = 1 - relay["active_level"]
            # Both coils idle from the first instant: value= sets the level before the pin
            # becomes an output, so boot never pulses a coil.
            self._set_coil = Pin(relay["set_pin"], Pin.OUT, value=idle)
            self._reset_coil = Pin(relay["reset_pin"], Pin.OUT, value=idle)
        # A monostable relay's pin stays untouched (input, driver's pull resistor holds the
        # coil off) until set_relay() creates it at the commanded level: no boot glitch.

    def _init_inputs(self):
        tamper = self.config.get("tamper")
        self._tamper = self._input(tamper["pin"]) if tamper else None
        keypad = self.config.get("keypad")
        self._rows = ()
        if keypad:
            # Rows are open-drain: an idle row floats instead of driving high, so two keys
            # pressed in one column cannot short a high row to a low one.
            self._rows = tuple(Pin(n, Pin.OPEN_DRAIN, value=1) for n in keypad["rows"])
            self._cols = tuple(self._input(n) for n in keypad["cols"])
            self._levels = bytearray(4)
            self._keys = KeypadDebouncer(keypad["keymap"], keypad["stable_scans"])

    def _init_outputs(self):
        self._led = self._output("led")
        self._buzzer = self._output("buzzer")
        self._bench = self._output("bench")
        self._beeper = PulseTrain(BEEP_MS, BEEP_MS)
        self._bench_train = PulseTrain(S0_MIN_ON_MS, S0_MIN_OFF_MS)
        self._zone = None

    def _output(self, section):
        cfg = self.config.get(section)
        if not cfg:
            return None
        return Pin(cfg["pin"], Pin.OUT, value=1 - cfg["active_level"])

    def _init_display(self):
        display = self.config.get("display")
        self._panel = None
        if display:
            i2c = machine.I2C(
                0, scl=Pin(display["scl"]), sda=Pin(display["sda"]), freq=display["freq"]
            )
            self._panel = TextPanel(i2c, display["address"], display["width"], display["height"])

    # --- timer: keypad scan, bench pulses, beeps -------------------------------------

    def _tick(self, _timer):
        # A soft (scheduled) callback. Any exception is counted, never printed: a traceback
        # on stdout would land in the middle of the serial protocol.
        try:
            now = time.ticks_ms()
            if self._rows:
                self._keys.feed(self._scan())
            if self._bench is not None and self._bench_train.busy():
                self._drive(self._bench, "bench", self._bench_train.step(now))
            if self._buzzer is not None and self._beeper.busy():
                self._drive(self._buzzer, "buzzer", self._beeper.step(now))
        except Exception:
            self.timer_faults += 1

    def _scan(self):
        levels = self._levels
        cols = self._cols
        for r, row in enumerate(self._rows):
            row.value(0)
            levels[r] = (
                cols[0].value()
                | cols[1].value() << 1
                | cols[2].value() << 2
                | (cols[3].value() << 3)
            )
            row.value(1)
        return scan_bitmap(levels)

    def _drive(self, pin, section, on):
        active = self.config[section]["active_level"]
        pin.value(active if on else 1 - active)

    # --- HAL contract ------------------------------------------------------------------

    def now(self):
        """Seconds since 2020-01-01 UTC from the RTC; uptime since 2020-01-01 if it is unset."""
        stamp = self._rtc.datetime()
        if stamp[0] < MIN_YEAR:
            return time.ticks_diff(time.ticks_ms(), self._boot_ms) // 1000
        return rtc_to_seconds(stamp)

    def clock_valid(self):
        """False after the RTC lost power (it restarts in 2000) until set_time() is called."""
        return self._rtc.datetime()[0] >= MIN_YEAR

    def set_time(self, seconds):
        """Set the RTC to meter time `seconds` (UTC)."""
        self._rtc.datetime(seconds_to_rtc(seconds))

    def ticks_ms(self):
        return time.ticks_ms()

    def configure_meter(self, pulses_per_kwh, max_power_w=None):
        """Re-derive the plausibility limit and bench pacing after provisioning."""
        meter = self.config["meter"]
        if max_power_w is None:
            max_power_w = meter["max_power_w"]
        self._plausible = PulsePlausibility(max_power_w, pulses_per_kwh, meter["margin_pct"])
        period_ms = (min_pulse_period_us(max_power_w, pulses_per_kwh) + 999) // 1000
        self._bench_off_ms = max(S0_MIN_OFF_MS, period_ms - S0_MIN_ON_MS)

    def take_pulses(self):
        """(billed, rejected) pulses since the last call."""
        now = time.ticks_ms()
        count = self._counter.value(0)  # read and zero in one step: no edge falls between
        elapsed = time.ticks_diff(now, self._last_take)
        self._last_take = now
        plausible = self._plausible
        billed = plausible.accept(count, elapsed)
        return billed, plausible.rejected

    def set_relay(self, closed):
        relay = self.config["relay"]
        closed = bool(closed)
        if relay["type"] == "monostable":
            level = relay["closed_level"] if closed else 1 - relay["closed_level"]
            if self._relay_pin is None:
                self._relay_pin = Pin(relay["pin"], Pin.OUT, value=level)
            else:
                self._relay_pin.value(level)
        elif closed != self._relay_closed:
            # A latching relay holds its position unpowered; pulse a coil only when the
            # command changes (always on the first call after boot, to re-assert it).
            self._pulse_coil(self._set_coil if closed else self._reset_coil, relay)
        self._relay_closed = closed

    def _pulse_coil(self, coil, relay):
        active = relay["active_level"]
        self._set_coil.value(1 - active)  # never both coils at once
        self._reset_coil.value(1 - active)
        coil.value(active)
        time.sleep_ms(relay["pulse_ms"])  # blocking, 50 ms, only when the state changes
        coil.value(1 - active)

    def relay_commanded(self):
        """The last state given to set_relay (None before the first call)."""
        return self._relay_closed

    def tamper_open(self):
        if self._tamper is None:
            return False
        return self._tamper.value() == self.config["tamper"]["open_level"]

    def read_keys(self):
        return self._keys.take() if self._rows else ""

    def show(self, lines):
        if self._panel is not None:
            self._panel.show(lines, time.ticks_ms())

    def display_present(self):
        return self._panel is not None and self._panel.panel is not None

    def block_device(self):
        """The journal's storage: its data partition, else a fixed-size littlefs file.

        Raises StorageError (one line: what is missing and what to do) rather than hang;
        `self.storage` then says which one was chosen ("partition journal", "file /...").
        """
        journal = self.config["journal"]
        label = journal.get("partition")
        found = esp32.Partition.find(esp32.Partition.TYPE_DATA, label=label) if label else []
        try:
            plan = journal_plan(journal, bool(found))
        except ValueError as exc:
            raise StorageError(str(exc)) from None
        if plan[0] == "partition":
            self.storage = "partition " + plan[1]
            return found[0]
        from firmware.core.blockdev import FileBlockDevice

        try:
            dev = FileBlockDevice(plan[1], plan[2], plan[3])
        except OSError as exc:
            raise StorageError("journal file %s unusable: %s" % (plan[1], exc)) from None
        self.storage = "file " + plan[1]
        return dev

    def _start_watchdog(self):
        self._wdt = machine.WDT(timeout=self.config["watchdog_ms"])
        return self._wdt

    def feed_watchdog(self):
        wdt = self._wdt or self._start_watchdog()
        if not self._confirmed:  # the first healthy loop: this app image is good
            try:
                esp32.Partition.mark_app_valid_cancel_rollback()
            except OSError:
                pass  # a build without rollback support: nothing to cancel
            esp32_ota.end_trial()
            self._confirmed = True
        wdt.feed()

    # --- app slots for field updates (pure part: firmware/hal/esp32_ota.py) -------------

    def running_slot(self):
        return _running_partition().info()[4]

    def update_slot(self, kind, size):
        """The spare OTA slot for a bundle (ValueError: wrong kind, too big, no OTA layout)."""
        esp32_ota.check_kind(kind)
        try:
            spare = _running_partition().get_next_update()
        except OSError:
            raise ValueError(
                "no second app slot: flash the OTA image with `prepay device flash`"
            ) from None
        return esp32_ota.OtaSlot(spare, size)

    def set_boot(self, slot):
        """Validate the written image and boot it next (OSError if it is not a valid app)."""
        slot.part.set_boot()
        esp32_ota.start_trial(slot.name)

    def reset(self):
        machine.reset()

    def indicate(self, zone):
        if zone == self._zone:
            return
        self._zone = zone
        led_on, beeps = zone_signal(zone)
        if self._led is not None:
            self._drive(self._led, "led", led_on)
        if beeps:
            self._beeper.start(beeps, time.ticks_ms())

    def bench_pulses(self, count):
        """Queue `count` S0 pulses on the bench output; returns at once (see bench_busy).

        30 ms on, and off long enough that the rate stays within the meter's plausible
        maximum, so the pulses jumpered back into the counter are all billed.
        """
        if self._bench is None:
            raise ValueError("this board has no bench pulse output")
        self._bench_train.off_ms = self._bench_off_ms
        self._bench_train.start(count, time.ticks_ms())

    def bench_busy(self):
        return self._bench_train.busy()

    # --- network (only on a meter with network settings) ----------------------------------
    def net_start(self, ssid, password):
        """Wi-Fi station mode on `ssid`; joining happens in the background (net_ready polls)."""
        import network  # only a networked meter loads it

        self._wifi = network.WLAN(network.STA_IF)
        self._wifi.active(True)
        self._wifi_login = (ssid, password)
        self._wifi_backoff = WIFI_BACKOFF_MIN_MS
        self._wifi_next = time.ticks_ms()

    def net_ready(self):
        """True when the station has an address; otherwise (re)join when the backoff (1 s
        doubling to 60 s) says. Never waits: `connect()` returns at once and joins meanwhile."""
        wifi = self._wifi
        if wifi is None:
            return False
        if wifi.isconnected():
            self._wifi_backoff = WIFI_BACKOFF_MIN_MS
            return True
        now = time.ticks_ms()
        if time.ticks_diff(now, self._wifi_next) >= 0:
            try:
                wifi.disconnect()
                wifi.connect(*self._wifi_login)
            except OSError:
                pass
            self._wifi_next = time.ticks_add(now, self._wifi_backoff)
            self._wifi_backoff = min(self._wifi_backoff * 2, WIFI_BACKOFF_MAX_MS)
        return False

    def power_cut(self):
        raise NotImplementedError(
            "esp32 cannot cut its own power: machine.reset() keeps the RTC and a latching "
            "relay, so it is not a power cut; use a bench power switch"
        )
