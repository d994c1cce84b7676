"""The bench adapter: what the HIL tests need from "the world" around the meter.

The tests talk to the meter only through the serial protocol (`bench.meter`, a DeviceClient),
exactly as on a board. What only a simulator can do directly — move time, draw a load, cut the
power, open the cover — goes through `Bench`, with one implementation per kind of meter:

- `advance(s)`: sim `sim.advance` (virtual clock); board waits `s` real seconds.
- `pulses(n)`: `bench.pulses` on both; the sim injects them, the board emits S0 pulses on the
  bench pin (jumpered to the counter input) and this waits until they are all counted.
- `load(w, s)`: sim `sim.load` + `sim.advance`; board sends bench pulses at the rate of `w`
  watts for `s` real seconds.
- `reset()`: sim `sim.power_cut` (the firmware restarts on the same state); board RTS -> EN.
- `power_cut()`: sim `sim.power_cut`; board `--power-cycle-cmd` if given, else skipped.
- `set_tamper(b)`: sim `sim.tamper`; board skipped (the cover switch is operated by hand).

The meter under test is provisioned once per session with the bench identity below (a test
key, never a station's). A board already provisioned with it is reused; a board provisioned
as another meter stops the suite (re-flash and deploy it first; see BENCH.md).
"""

import subprocess
import time

import pytest

from host_tools.device.client import DeviceClient, DeviceError, DeviceTimeout
from token_spec import derive_decoder_key, encode_token
from token_spec.config_blob import sign_config
from token_spec.epoch import meter_time
from token_spec.types import TYPE_CLEAR_CREDIT, TYPE_CREDIT

METER = "12345678903"
# A fixed vending key for the bench only: tokens for the bench meter are reproducible.
BENCH_VENDING_KEY = bytes(range(32))
KEY_REVISION = 1
KEY = derive_decoder_key(BENCH_VENDING_KEY, METER, KEY_REVISION)
PULSES_PER_KWH = 1000
PRICE = 100  # register units (cents) per kWh: one pulse costs 0.1 cent, carried exactly
SETTINGS = {
    "meter_number": METER,
    "decoder_key": KEY.hex(),
    "key_revision": KEY_REVISION,
    "unit": "currency",
    "scale": 100,
    "pulses_per_kwh": PULSES_PER_KWH,
    "tariff": {"type": "flat", "price": PRICE},
}
BASE_CONFIG = {"tariff": {"type": "flat", "price": PRICE}}
# Sim: a fixed start, Monday 2026-05-04 12:00 UTC, so calendar-dependent runs repeat exactly.
SIM_START = 200059200
BOOT_TIMEOUT = 20.0


class Bench:
    """Shared behaviour; subclasses provide the physical side."""

    kind = "?"

    def __init__(self, port):
        self.port = port
        self.meter = None
        self._tid = 0
        self.provisioned_here = False
        self.blank_token_error = None

    # ---- connection ------------------------------------------------------------------------
    def connect(self):
        self.meter = DeviceClient(self.port, timeout=10.0, handshake_timeout=BOOT_TIMEOUT)
        self.meter.open()
        return self.meter

    def close(self):
        if self.meter is not None:
            self.meter.close()

    def request(self, cmd, **args):
        return self.meter.request(cmd, **args)

    def status(self):
        return self.request("status")

    def restarting(self):
        """Call right before a reset or power cut: forget events pushed so far."""
        self.meter.events_pending()

    def wait_boot(self):
        """After a reset or power cut: the new firmware run's boot event (same connection).
        Its seq follows the last *saved* event: events that changed nothing may be lost."""
        return self.meter.wait_event("boot", timeout=BOOT_TIMEOUT)

    # ---- identity, tokens, config ------------------------------------------------------------
    def ensure_provisioned(self):
        """Provision with the bench identity if the meter is blank; refuse a foreign meter."""
        hello = self.request("hello")
        if not hello["provisioned"]:
            # What a blank meter does with a token, for test_identity to check.
            try:
                self.request("token", token=encode_token(KEY, METER, TYPE_CREDIT, 100, 1))
            except DeviceError as exc:
                self.blank_token_error = exc.code
            self.request("provision", config=BASE_CONFIG, time=self.start_time(), **SETTINGS)
            self.provisioned_here = True
        elif hello["meter_number"] != METER:
            pytest.exit(
                f"the meter on {self.port} is provisioned as {hello['meter_number']}, not the "
                f"bench meter {METER}: flash and deploy it again (hardware_tests/BENCH.md)",
                returncode=3,
            )

    def start_time(self):
        """Meter time to provision with (it sets the meter's clock): the host's clock."""
        return meter_time()

    def next_tid(self):
        """A TID newer than everything the meter has seen (its high-water mark moves on)."""
        self._tid = max(self._tid, self.status()["tid_high_water"]) + 1
        return self._tid

    def token(self, amount, token_type=TYPE_CREDIT, tid=None, key=KEY):
        return encode_token(
            key, METER, token_type, amount, self.next_tid() if tid is None else tid
        )

    def enter(self, token):
        return self.request("token", token=token)["result"]

    def configure(self, **config):
        """Replace the meter's configuration with BASE_CONFIG + `config` (a signed blob)."""
        counter = self.status()["config_counter"] + 1
        blob = sign_config(KEY, METER, counter, dict(BASE_CONFIG, **config))
        self.meter.set_config(blob)
        self.advance(1)  # one loop turn at least: the relay follows the new config

    def start_from_zero(self, **config):
        """A known state: the given config, credit 0 (clear-credit), no lockout pending."""
        self.wait_out_lockout()
        self.configure(**config)
        assert self.enter(self.token(0, TYPE_CLEAR_CREDIT)) == "accepted"
        self.advance(1)
        return self.status()

    def wait_out_lockout(self):
        left = self.status()["lockout"]["seconds_left"]
        if left:
            self.advance(left + 1)

    # ---- the world around the meter (per kind) -----------------------------------------------
    def require(self, capability):
        """Skip the calling test (with the reason) if this bench cannot do `capability`
        ("power_cut", "tamper"). Called first, so nothing is changed before a skip."""

    def advance(self, seconds):
        raise NotImplementedError

    def pulses(self, count):
        raise NotImplementedError

    def load(self, watts, seconds):
        raise NotImplementedError

    def reset(self):
        raise NotImplementedError

    def power_cut(self):
        raise NotImplementedError

    def set_tamper(self, is_open):
        raise NotImplementedError


class SimBench(Bench):
    """`--port sim`: a simulated meter started for the session (manual virtual clock)."""

    kind = "sim"

    def __init__(self, state_dir):
        from host_tools.sim.meter import SimMeter

        self.sim = SimMeter(state_dir=state_dir, speed=0)
        super().__init__(self.sim.start())

    def close(self):
        super().close()
        self.sim.stop()

    def start_time(self):
        return SIM_START

    def advance(self, seconds):
        self.request("sim.advance", seconds=int(seconds))

    def pulses(self, count):
        self.request("bench.pulses", count=count)  # injected and counted before the answer

    def load(self, watts, seconds):
        self.request("sim.load", watts=watts)
        try:
            self.advance(seconds)
        finally:
            self.request("sim.load", watts=0)

    def _cut(self):
        self.restarting()
        assert self.request("sim.power_cut") == {"power_cut": True}
        self.wait_boot()

    def reset(self):
        self._cut()  # the simulator's only reset is a power cut

    def power_cut(self):
        self._cut()

    def set_tamper(self, is_open):
        self.request("sim.tamper", open=is_open)


class BoardBench(Bench):
    """A real board on a serial port; waits in real time."""

    kind = "board"
    PULSE_PERIOD_S = 0.15  # the HAL paces bench pulses at the plausible maximum (24 kW)

    def __init__(self, port, power_cycle_cmd=None):
        super().__init__(port)
        self.power_cycle_cmd = power_cycle_cmd

    def advance(self, seconds):
        time.sleep(seconds)

    def pulses(self, count):
        before = self.status()["pulses"]
        self.request("bench.pulses", count=count)
        deadline = time.monotonic() + count * self.PULSE_PERIOD_S * 2 + 5
        while time.monotonic() < deadline:
            if self.status()["pulses"] >= before + count:
                return
            time.sleep(0.5)
        raise DeviceTimeout(f"{count} bench pulses were not all counted: is GPIO jumpered?")

    def load(self, watts, seconds):
        # watts x seconds as pulses, sent once a second; the fraction is carried.
        per_second = watts * PULSES_PER_KWH
        owed = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            owed += per_second
            count, owed = divmod(owed, 3_600_000)
            if count:
                self.request("bench.pulses", count=count)
            time.sleep(1.0)

    def reset(self):
        self.restarting()
        serial = self.meter.serial
        # DevKitC auto-reset: RTS low pulls EN low while DTR (IO0) stays high -> normal boot.
        serial.dtr = False
        serial.rts = True
        time.sleep(0.1)
        serial.rts = False
        self.wait_boot()

    def require(self, capability):
        if capability == "tamper":
            pytest.skip("tamper on a board needs the cover switch operated by hand")
        if capability == "power_cut" and not self.power_cycle_cmd:
            pytest.skip(
                "a power cut on a board needs a bench power switch: pass "
                "--power-cycle-cmd 'COMMAND' (e.g. a USB hub or relay that cycles the supply)"
            )

    def power_cut(self):
        self.require("power_cut")
        self.close()
        subprocess.run(self.power_cycle_cmd, shell=True, check=True, timeout=60)
        self.connect()

    def set_tamper(self, is_open):
        self.require("tamper")


def open_bench(port, state_dir, power_cycle_cmd=None):
    """The Bench for `--port`: 'sim' starts a simulator on `state_dir`."""
    bench = SimBench(state_dir) if port == "sim" else BoardBench(port, power_cycle_cmd)
    try:
        bench.connect()
        bench.ensure_provisioned()
    except BaseException:
        bench.close()
        raise
    return bench
