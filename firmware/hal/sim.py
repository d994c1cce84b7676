"""Simulator HAL: the HAL contract of docs/interfaces.md on the MicroPython unix port.

The "hardware" is a state folder plus a virtual clock:

- clock: virtual milliseconds = the clock at the last rebase + real time elapsed x speed.
  `speed_milli` is the speed factor x 1000 (0 = the clock moves only with `advance`/`set_time`).
- pulses: from a load in watts (W x virtual ms x imp/kWh, integer with the remainder carried;
  no current flows while the relay is open) plus explicitly injected counts.
- power cut: `power_cut()` raises SystemExit(POWER_CUT_EXIT); the process ends, the journal
  file and `sim.json` (clock, load, tamper) in the state folder survive, `prepay sim` restarts
  the firmware on the same folder.
- keypad: `inject_keys`; display: `show` keeps the lines, `display_lines()` returns them.
- watchdog: `prepay sim` plays the board's watchdog timer. Feeds are written to `watchdog` in
  the state folder (at most every 200 ms); when it stops changing for the timeout, the
  supervisor kills the firmware (a reset: nothing more is written) and starts it again.
  `stall(seconds)` makes the next loop iteration hang, like a driver stuck on a bus.

Runs unchanged on CPython (the in-process tests) and MicroPython (the simulated meter).
"""

import json
import os
import time

from firmware.core.ticks import ticks_diff
from token_spec.compat import const
from token_spec.epoch import meter_time
from token_spec.meter_link import POWER_CUT_EXIT, WATCHDOG_FILE  # `prepay sim` reads them

# 1 kWh in watt-milliseconds: pulses = W x ms x imp/kWh / 3.6e9.
_WMS_PER_KWH = 3600000000
# Journal flash: 16 sectors of 4 KiB, like a small data partition on the board.
BLOCK_SIZE = const(4096)
_BLOCK_COUNT = const(16)

_STATE_FILE = "/sim.json"
_JOURNAL_FILE = "/journal.bin"
_HEARTBEAT_MS = const(200)  # a feed comes every loop (250 ms): one file write per feed is waste


def _real_ms():
    ticks = getattr(time, "ticks_ms", None)
    if ticks is not None:
        return ticks()
    return int(time.monotonic() * 1000)


def _sleep_ms(ms):
    sleep_ms = getattr(time, "sleep_ms", None)
    if sleep_ms is not None:
        sleep_ms(ms)
    else:
        time.sleep(ms / 1000)


def parse_speed(text):
    """Speed factor text ("1", "60", "0.5") as an integer x 1000; ValueError if malformed."""
    text = str(text).strip()
    whole, _, frac = text.partition(".")
    if not (whole or frac) or not (whole or "0").isdigit() or (frac and not frac.isdigit()):
        raise ValueError("speed must be a non-negative number, got %r" % text)
    frac = (frac + "000")[:3]
    return int(whole or "0") * 1000 + int(frac)


RESET_EXIT = const(76)  # a reset asked for by the firmware (after a field update)
# Present in the state folder: play a board whose partition table has no journal partition
# (the journal file then stands for the littlefs fallback file, and the app says so).
NO_PARTITION_FILE = "/no_journal_partition"


class SimHal:
    """The simulated meter hardware kept in `state_dir`."""

    name = "sim"
    serial_chunked = True  # `prepay sim` gives stdin its own non-blocking file description

    def __init__(self, state_dir, speed_milli=1000, start=None):
        self.state_dir = state_dir
        self.speed_milli = speed_milli
        self.pulses_per_kwh = (
            1000  # the metering chip's constant; the app sets the provisioned one
        )
        self.load_w = 0
        self.tamper = False
        self.relay = None  # None until the app first drives it
        self.relay_writes = 0
        self.storage = _journal_storage(state_dir)  # where the journal is, as a board says it
        self.watchdog_feeds = 0
        self.zone = None
        self.lines = []
        self._keys = ""
        self._pending = 0
        self._energy = 0  # W x ms x imp/kWh not yet a whole pulse
        self._saved_real = None
        self._fed_real = None
        self._stall_ms = 0
        self.files_dir = state_dir  # net.json (and a legacy net_cursor) live beside the journal
        self.net_up = True  # `sim.net` cuts and restores the simulated network
        virtual_ms = self._load_state()
        if virtual_ms is None:
            now = start if start is not None else meter_time()
            virtual_ms = now * 1000
        self._rebase(virtual_ms)
        self._accrued_ms = virtual_ms
        self.save_state()

    # ---- virtual clock ---------------------------------------------------------------------
    def _rebase(self, virtual_ms):
        self._base_virtual = virtual_ms
        self._base_real = _real_ms()
        self._carry = 0

    def now_ms(self):
        """Virtual milliseconds since the token epoch."""
        elapsed = ticks_diff(_real_ms(), self._base_real)
        return self._base_virtual + elapsed * self.speed_milli // 1000

    def now(self):
        return self.now_ms() // 1000

    def ticks_ms(self):
        return _real_ms()

    def advance(self, seconds):
        """Move the virtual clock forward; the load keeps drawing meanwhile."""
        self._accrue()
        self._rebase(self.now_ms() + seconds * 1000)
        self._accrue()
        self._save_soon()

    def set_time(self, seconds):
        """Set the virtual clock (seconds since the token epoch); no energy is drawn in a jump."""
        self._accrue()
        self._rebase(seconds * 1000)
        self._accrued_ms = seconds * 1000
        self.save_state()

    # ---- pulses --------------------------------------------------------------------------
    def _accrue(self):
        now = self.now_ms()
        span = now - self._accrued_ms
        self._accrued_ms = now
        if span <= 0 or not self.relay or not self.load_w:
            return
        self._energy += self.load_w * span * self.pulses_per_kwh
        self._pending += self._energy // _WMS_PER_KWH
        self._energy %= _WMS_PER_KWH

    def set_load(self, watts):
        """The customer's load from now on (drawn only while the relay is closed)."""
        self._accrue()
        self.load_w = watts
        self.save_state()

    def inject_pulses(self, count):
        """Pulses on the counter input regardless of the relay (an S0 source on the input)."""
        self._pending += count

    def take_pulses(self):
        if self._stall_ms:  # the first hardware access of a loop iteration hangs (see stall)
            ms, self._stall_ms = self._stall_ms, 0
            _sleep_ms(ms)
        self._accrue()
        count = self._pending
        self._pending = 0
        self._save_soon()
        return count, 0

    def bench_pulses(self, count):
        self.inject_pulses(count)

    # ---- relay, tamper, keypad, display --------------------------------------------------
    def set_relay(self, closed):
        self._accrue()  # energy up to now flowed (or not) under the old position
        self.relay = bool(closed)
        self.relay_writes += 1

    def configure_meter(self, pulses_per_kwh, max_power_w=None):
        """The provisioned meter constant (the simulated metering chip follows it)."""
        self._accrue()
        self.pulses_per_kwh = pulses_per_kwh

    def set_tamper(self, is_open):
        self.tamper = bool(is_open)
        self.save_state()

    def tamper_open(self):
        return self.tamper

    def inject_keys(self, keys):
        self._keys += keys

    def read_keys(self):
        keys = self._keys
        self._keys = ""
        return keys

    def show(self, lines):
        self.lines = list(lines)

    def display_lines(self):
        return list(self.lines)

    def indicate(self, zone):
        self.zone = zone

    def feed_watchdog(self):
        if not self.watchdog_feeds and running_slot() != "factory":
            # the first healthy loop of an updated slot: it is good (sim_slots.confirm)
            from firmware.hal import sim_slots

            sim_slots.confirm(self.state_dir)
        self.watchdog_feeds += 1
        real = _real_ms()
        if self._fed_real is None or ticks_diff(real, self._fed_real) >= _HEARTBEAT_MS:
            self._fed_real = real
            with open(self.state_dir + "/" + WATCHDOG_FILE, "w") as f:
                f.write(str(self.watchdog_feeds))

    def stall(self, seconds):
        """Make the next loop iteration hang for `seconds` (real time), as a driver stuck on
        its bus would: the loop stops feeding the watchdog."""
        self._stall_ms = seconds * 1000

    # ---- network -------------------------------------------------------------------------
    def net_ready(self):
        """The unix port's plain sockets are always there; `sim.net` plays an outage."""
        return self.net_up

    def set_net(self, up):
        self.net_up = bool(up)

    # ---- storage and power -----------------------------------------------------------------
    def block_device(self):
        # NOR rules, so a journal that writes over unerased flash fails here, not on a board.
        from firmware.hal.sim_flash import NorFileDevice

        return NorFileDevice(self.state_dir + _JOURNAL_FILE, BLOCK_SIZE, _BLOCK_COUNT)

    # ---- app slots for field updates (firmware/hal/sim_slots.py) ---------------------------
    def running_slot(self):
        return running_slot()

    def update_slot(self, kind, size):
        from firmware.hal import sim_slots

        return sim_slots.update_slot(self.state_dir, kind, size)

    def set_boot(self, slot):
        from firmware.hal import sim_slots

        sim_slots.set_boot(self.state_dir, slot)

    def reset(self):
        """Restart the firmware (machine.reset()): the supervisor boots the selected slot."""
        self._accrue()
        self.save_state()
        raise SystemExit(RESET_EXIT)

    def power_cut(self):
        """Lose power now: nothing else is written; the process ends."""
        self._accrue()
        self.save_state()  # the RTC and the load survive a cut; registers only via the journal
        raise SystemExit(POWER_CUT_EXIT)

    def _load_state(self):
        try:
            with open(self.state_dir + _STATE_FILE) as f:
                state = json.loads(f.read())
        except (OSError, ValueError):
            return None
        self.load_w = state.get("load_w", 0)
        self.tamper = state.get("tamper", False)
        return state.get("now_ms")

    def _save_soon(self):
        # The clock is saved about once a real second, so a killed process restarts close to
        # where it was (a power cut saves it exactly).
        real = _real_ms()
        if self._saved_real is None or ticks_diff(real, self._saved_real) >= 1000:
            self.save_state()

    def save_state(self):
        """Write the clock, load and tamper switch to the state folder."""
        now = self.now_ms()
        self._saved_real = _real_ms()
        state = {"now_ms": now, "load_w": self.load_w, "tamper": self.tamper}
        tmp = self.state_dir + _STATE_FILE + ".tmp"
        with open(tmp, "w") as f:
            f.write(json.dumps(state))
        os.rename(tmp, self.state_dir + _STATE_FILE)


def create(board_config=None):
    """The sim HAL; board_config may hold "state_dir", "speed_milli" and "start"."""
    cfg = board_config or {}
    return SimHal(cfg["state_dir"], cfg.get("speed_milli", 1000), cfg.get("start"))


def _journal_storage(state_dir):
    """The HAL's `storage` (firmware/hal/esp32.py): the journal file stands for the board's
    `journal` partition unless the state folder plays a board without one."""
    try:
        os.stat(state_dir + NO_PARTITION_FILE)
        return "file " + state_dir + _JOURNAL_FILE
    except OSError:
        return "partition journal"


def running_slot():
    """The app slot `prepay sim` started this firmware from (firmware/hal/sim_slots.py)."""
    getenv = getattr(os, "getenv", None)
    return (getenv("PREPAY_SIM_SLOT") if getenv is not None else None) or "factory"
