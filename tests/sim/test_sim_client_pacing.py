"""The serial client paces long lines to a board (small stdin ring) and not to the simulator."""

from host_tools.device.client import PACE_CHUNK, DeviceClient
from tests.sim.sim_scenario_helpers import KEY, METER, provision
from token_spec.config_blob import sign_config


class _WriteSizes:
    """Wraps the real pyserial write (it still writes) and keeps the size of every call."""

    def __init__(self, serial_port):
        self.sizes = []
        self._write = serial_port.write

    def __call__(self, data):
        self.sizes.append(len(data))
        return self._write(data)


def test_a_pty_is_not_paced_and_a_serial_device_is(sim):
    assert DeviceClient(sim.port).pace is False
    assert DeviceClient("/dev/ttyUSB0").pace is True


def test_a_paced_client_sends_long_lines_in_chunks_the_meter_reassembles(sim):
    with DeviceClient(sim.port, pace=True) as meter:
        provision(meter)
        spy = _WriteSizes(meter.serial)
        meter.serial.write = spy
        config = {"tariff": {"type": "flat", "price": 120}, "low_credit": 300}
        blob = sign_config(KEY, METER, 1, config)
        assert len(blob) > 3 * PACE_CHUNK  # one config.set line, several chunks
        assert meter.set_config(blob) == {"applied": True, "counter": 1}
        assert '"price": 120' in meter.request("config.get")["text"]
        assert len(spy.sizes) > 3 and max(spy.sizes) <= PACE_CHUNK
