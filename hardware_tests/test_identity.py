"""Handshake, version and provisioning: the meter answers as the bench meter."""

import pytest

from hardware_tests.bench import KEY, METER, SETTINGS
from host_tools.device.client import DeviceError


def test_handshake_and_version(meter):
    hello = meter.request("hello")
    assert hello["protocol"] == 1
    assert hello["hal"] in ("sim", "esp32")
    assert meter.kind != "sim" or hello["hal"] == "sim"
    assert isinstance(hello["firmware"], str) and hello["firmware"]
    # The handshake the client did at connect time saw the same meter.
    assert meter.meter.hello["firmware"] == hello["firmware"]


def test_provisioned_as_the_bench_meter(meter):
    if meter.provisioned_here:  # this session provisioned a blank meter
        assert meter.blank_token_error == "not_provisioned"
    hello = meter.request("hello")
    assert hello["provisioned"] is True and hello["meter_number"] == METER
    st = meter.status()
    assert st["meter_number"] == METER and st["unit"] == "currency" and st["scale"] == 100
    # The decoder key never comes back out of the meter.
    config = meter.request("config.get")
    assert KEY.hex() not in str(config) and KEY.hex() not in str(st)


def test_provisioning_twice_is_refused_and_changes_nothing(meter):
    before = meter.status()
    other = dict(SETTINGS, meter_number="01234567897", decoder_key="00" * 16)
    with pytest.raises(DeviceError) as err:
        meter.request("provision", **other)
    assert err.value.code == "already_provisioned"
    after = meter.status()
    assert after["meter_number"] == METER and after["credit"] == before["credit"]
