"""Issue 13, item 9: the simulator owns its state folder, and bad options or a missing board
cost one line each (not a traceback, a crash loop or a page of test errors)."""

import subprocess
import sys
import time

from click.testing import CliRunner

from host_tools.cli import main
from host_tools.device.client import DeviceClient
from host_tools.sim import SimMeter
from tests.helpers import ROOT
from tests.sim.sim_scenario_helpers import provision, token


def _prepay(*args, timeout=30):
    cmd = [sys.executable, "-m", "host_tools.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=timeout)


def _one_error_line(result):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and "Traceback" not in result.stderr
    return lines[0]


def test_a_second_simulator_on_the_same_state_is_refused(tmp_path):
    state = tmp_path / "state"
    with SimMeter(state, speed=0) as first, DeviceClient(first.port) as meter:
        provision(meter)
        second = _prepay("sim", "--state", str(state), "--speed", "0", "--json")
        line = _one_error_line(second)
        assert "in use by another simulator" in line and str(first.info["pid"]) in line
        assert second.stdout == ""  # no port was announced: nobody can enter a token there
        # The first one is untouched and still takes its tokens exactly once.
        assert meter.request("token", token=token(100, 1))["result"] == "accepted"
        assert meter.request("token", token=token(100, 1))["result"] != "accepted"
    # The lock goes with its holder: the folder is free again once the first has stopped.
    with SimMeter(state, speed=0) as again, DeviceClient(again.port) as meter:
        assert meter.request("status")["credit"] > 0


def test_an_unusable_state_folder_is_one_line():
    result = _prepay("sim", "--state", "/proc/nope")
    assert "/proc/nope" in _one_error_line(result)


def test_a_bad_heap_is_one_line_at_once(tmp_path):
    started = time.monotonic()
    result = _prepay("sim", "--state", str(tmp_path), "--heap", "abc")
    assert "--heap 'abc'" in _one_error_line(result)
    assert time.monotonic() - started < 20  # refused up front, not after a crash loop
    assert not (tmp_path / "journal.bin").exists()


def test_hil_with_no_board_says_so_in_one_line(tmp_path):
    port = str(tmp_path / "ttyUSB0")
    result = CliRunner().invoke(main, ["hil", "--port", port, "-k", "handshake"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        result.output.strip()
    ] and result.output.startswith("Error: no board answered on %s" % port)
