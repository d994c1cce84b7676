"""The simulated watchdog: a healthy loop keeps feeding it; a stalled one is reset and resumes
from the journal with the exact registers (over the pty, against `prepay sim`)."""

import json
import time
from pathlib import Path

from firmware.core.events import BOOT_RESTORED
from firmware.hal.esp32_board import DEFAULTS
from host_tools.device.client import DeviceClient, DeviceError
from host_tools.sim import SimMeter
from tests.sim.sim_scenario_helpers import provision, token
from token_spec.meter_link import WATCHDOG_FILE, WATCHDOG_MS

STALL_S = 30  # far beyond the watchdog and the waits below: only a reset ends it early
BOARDS = Path(__file__).resolve().parents[2] / "firmware" / "boards"


def test_the_sim_watchdog_default_is_the_boards_default():
    """`prepay sim` takes its default from token_spec.meter_link; the boards must agree."""
    timeouts = {p.name: json.loads(p.read_text())["watchdog_ms"] for p in BOARDS.glob("*.json")}
    assert timeouts and set(timeouts.values()) == {WATCHDOG_MS}, timeouts
    assert DEFAULTS["watchdog_ms"] == WATCHDOG_MS


def test_a_healthy_loop_is_never_reset(tmp_path):
    with SimMeter(tmp_path, speed=0, watchdog=1) as sim, DeviceClient(sim.port) as meter:
        provision(meter)
        deadline = time.monotonic() + 3  # three watchdog periods of an idle, healthy meter
        while time.monotonic() < deadline:
            meter.request("status")
            time.sleep(0.2)
        boots = [e for e in meter.all_events() if e["event"] == "boot"]
        assert len(boots) == 1  # provisioning's, and no reset since
    assert int((tmp_path / WATCHDOG_FILE).read_text()) > 0  # it was fed, so the timer was running


def test_a_stalled_loop_is_reset_and_resumes_the_committed_registers(tmp_path):
    with SimMeter(tmp_path, speed=0, watchdog=1) as sim, DeviceClient(sim.port) as meter:
        provision(meter, low_credit=100)
        assert meter.request("token", token=token(700))["result"] == "accepted"
        meter.request("sim.load", watts=1000)
        meter.request("sim.advance", seconds=3600)  # 1 kWh at 1.00: credit 7.00 -> 6.00
        before = meter.request("status")
        assert before["credit"] == 600 and before["relay"] == "closed"
        meter.events_pending()
        assert meter.request("sim.stall", seconds=STALL_S) == {"stall_s": STALL_S}
        # The stall outlasts this wait, so a boot event can only come from a reset.
        boot = meter.wait_event("boot", timeout=15)
        assert boot["b"] == BOOT_RESTORED  # b: how the journal came up
        after = meter.request("status")
        # power_w is a measurement, not a register: a reset starts a new window (0 W until
        # it completes), now that power is measured with no limit set (issue 13 item 8).
        for field in ("credit", "energy_wh", "relay"):
            assert after[field] == before[field], field
        # The meter still takes tokens after the reset, and the used one stays used.
        assert meter.request("token", token=token(700))["result"] == "used"
        assert meter.request("token", token=token(100, 1))["result"] == "accepted"


def test_stall_takes_whole_seconds_up_to_a_minute(sim):
    with DeviceClient(sim.port) as meter:
        for bad in (0, 61, "5", 1.5):
            try:
                meter.request("sim.stall", seconds=bad)
            except DeviceError as exc:
                assert exc.code == "bad_argument" and "seconds" in str(exc)
            else:
                raise AssertionError("sim.stall accepted %r" % (bad,))
