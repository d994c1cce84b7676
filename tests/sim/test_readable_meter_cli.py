"""Issue 13 item 8, meter side, through the CLI over the simulator's port: events in words,
power shown with no limit set, an open tamper switch shown."""

from click.testing import CliRunner

from firmware.core import events, policy
from host_tools.cli import main
from host_tools.device import event_words
from tests.sim.sim_scenario_helpers import provision, token


def _run(*args):
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_events_print_in_words(sim, meter):
    provision(meter)
    meter.request("token", token=token(500, 1))
    meter.request("token", token="1" * 20)  # a wrong 20-digit entry
    out = _run("device", "events", "--port", sim.port)
    assert "credit token accepted (value 500)" in out
    assert "token rejected (wrong entry 1)" in out
    assert "a=" not in out and "b=" not in out
    frame = _run("device", "monitor", "--port", sim.port, "--once")
    assert "token rejected (wrong entry 1)" in frame and "a=-15" not in frame


def test_status_shows_power_without_a_limit_and_an_open_cover(sim, meter):
    provision(meter)
    meter.request("token", token=token(5000, 1))
    meter.request("sim.load", watts=3000)
    meter.request("sim.advance", seconds=180)
    assert meter.request("status")["power_w"] == 3000
    assert "power        3000 W" in _run("device", "status", "--port", sim.port)
    meter.request("sim.tamper", open=True)
    out = _run("device", "status", "--port", sim.port)
    assert "tamper       cover OPEN" in out
    assert "OPEN" in _run("device", "monitor", "--port", sim.port, "--once")


def test_the_host_names_match_the_firmware():
    assert event_words.RELAY_REASONS == policy.REASON_NAMES
    assert event_words.ZONES == policy.ZONE_NAMES
    assert event_words.BOOT_STATES == events.BOOT_STATUS_NAMES
    assert set(event_words._WORDS) == set(events.KIND_NAMES.values())
