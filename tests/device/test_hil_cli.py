"""`prepay hil`: runs the hardware_tests suite in a child pytest and summarises it."""

from click.testing import CliRunner

from host_tools.cli import main


def test_hil_against_the_sim_prints_a_summary():
    result = CliRunner().invoke(main, ["hil", "--port", "sim", "-k", "handshake or version"])
    assert result.exit_code == 0, result.output
    assert "HIL suite on sim" in result.output
    assert "test_handshake_and_version" in result.output
    # `--port sim` runs the suite on both interpreters (hardware_tests/conftest.py).
    assert result.output.splitlines()[-1] == "2 passed"


def test_hil_on_a_missing_port_fails_with_the_reason(tmp_path):
    port = str(tmp_path / "ttyUSB7")
    result = CliRunner().invoke(main, ["hil", "--port", port, "-k", "handshake"])
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1  # issue 13 item 9: one line
    assert "no board answered" in result.output and "cannot open" in result.output


def test_board_adapter_runs_against_a_meter_on_a_plain_port(tmp_path):
    """The board-side bench (real-time waits, paced pulses, capability skips) pointed at a
    simulated meter's port, as it would be at a board's."""
    from host_tools.sim.meter import SimMeter

    selection = "pulse_counting or opens_at_zero or tamper or power_cut"
    with SimMeter(tmp_path / "meter") as sim:
        result = CliRunner().invoke(main, ["hil", "--port", sim.port, "-k", selection])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "2 passed, 2 skipped"
    assert "cover switch" in result.output and "--power-cycle-cmd" in result.output
