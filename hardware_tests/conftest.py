"""The hardware-in-the-loop suite: `--port sim` (default) or a board's serial port.

    pytest hardware_tests --port sim
    pytest hardware_tests --port /dev/ttyUSB0 [--power-cycle-cmd 'uhubctl -a cycle -p 2']
    prepay hil --port /dev/ttyUSB0

One meter per session (a board cannot be re-created per test), so every test starts from a
state it sets itself (config, clear-credit) and tolerates what earlier tests left behind.
With `--port sim` the suite runs twice, once per interpreter of tests/sim/interpreters.py: PyPI's
64-bit `micropython` and the 32-bit one with the meter frozen in (built by `make firmware`).
"""

import pytest

from hardware_tests.bench import open_bench


def pytest_addoption(parser):
    group = parser.getgroup("prepay HIL")
    group.addoption(
        "--port",
        default="sim",
        help="meter under test: a serial port, or 'sim' to start a simulated meter (default)",
    )
    group.addoption(
        "--power-cycle-cmd",
        default=None,
        help="shell command that cuts and restores the board's supply (power-cut test)",
    )


def pytest_generate_tests(metafunc):
    if "bench" in metafunc.fixturenames and metafunc.config.getoption("--port") == "sim":
        from tests.sim.interpreters import INTERPRETERS

        metafunc.parametrize("sim_interpreter", INTERPRETERS, indirect=True, scope="session")


@pytest.fixture(scope="session")
def sim_interpreter(request):
    """`--port sim`: the interpreter the simulated meter runs on; None for a board."""
    return getattr(request, "param", None)


@pytest.fixture(scope="session")
def bench(request, sim_interpreter, tmp_path_factory):
    """The meter under test, provisioned with the bench identity, and its world."""
    port = request.config.getoption("--port")
    power_cmd = request.config.getoption("--power-cycle-cmd")
    state = tmp_path_factory.mktemp("sim-meter")
    with pytest.MonkeyPatch.context() as env:
        if sim_interpreter:
            from tests.sim.interpreters import interpreter_path

            # The simulator started here (and its restarts after power cuts) runs on it.
            env.setenv("PREPAY_MICROPYTHON", interpreter_path(sim_interpreter))
        bench = open_bench(port, state, power_cmd)
    yield bench
    bench.close()


@pytest.fixture
def meter(bench):
    """Per test: the bench, with pushed events of earlier tests dropped."""
    bench.meter.events_pending()
    return bench
