"""Fixtures for the simulator tests: a real `prepay sim` process and a serial client on its pty."""

import pytest

from host_tools.device.client import DeviceClient
from host_tools.sim import SimMeter


@pytest.fixture
def sim(tmp_path):
    with SimMeter(tmp_path / "state", speed=0) as meter:
        yield meter


@pytest.fixture
def meter(sim):
    with DeviceClient(sim.port, timeout=10) as client:
        yield client
