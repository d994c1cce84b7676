"""`prepay device bundle` and `prepay device update` as an engineer runs them: a station
provisions the simulated meter (with its maintenance key), signs a bundle for it, and the
update goes through the serial protocol; wrong arguments and files give one-line errors."""

import json

import pytest
from click.testing import CliRunner

from host_tools.cli import main
from host_tools.device import update as up
from host_tools.device.client import DeviceClient
from host_tools.sim.meter import SimMeter
from host_tools.vending import registry
from host_tools.vending.station import Station, init_station

METER = "12345678903"
PASSPHRASE = "bench passphrase"


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("PREPAY_PASSPHRASE", PASSPHRASE)
    root = tmp_path / "station"
    init_station(root)
    station = Station(root)
    flat = registry.tariff_blocks("flat", "1.50", None)
    stamp = station.stamp()
    station.write(lambda c: registry.add_tariff(c, "flat", "flat", flat, 0, 0, None, stamp))
    station.close()
    return root


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_station_signs_a_bundle_and_the_meter_takes_it(home, tmp_path):
    bundle = tmp_path / "meter.pu1"
    with SimMeter(tmp_path / "meter", speed=0) as sim:
        result = run("device", "provision", "--port", sim.port, "--meter", METER,
                     "--tariff", "flat", "--home", home)  # fmt: skip
        assert result.exit_code == 0, result.output
        result = run("device", "bundle", "--meter", METER, "--version", "0.2.0",
                     "--out", bundle, "--home", home)  # fmt: skip
        assert result.exit_code == 0, result.output
        assert f"bundle for meter {METER}" in result.output
        result = run("device", "update", "--port", sim.port, "--json", bundle)
        assert result.exit_code == 0, result.output
        done = json.loads(result.output)
        assert (done["from"], done["to"], done["slot"]) == ("0.1.0", "0.2.0", "ota_0")
        # the same bundle again: not newer than what runs now, refused in one line
        result = run("device", "update", "--port", sim.port, bundle)
        assert result.exit_code == 1
        assert result.output.strip().splitlines() == [
            "Error: update.begin: refused: bundle version 0.2.0 is not newer than the running "
            "0.2.0"
        ]
        with DeviceClient(sim.port) as client:
            assert client.request("hello")["firmware"] == "0.2.0"


def test_bundle_refusals(home, tmp_path):
    out = tmp_path / "b.pu1"
    result = run("device", "bundle", "--meter", METER, "--out", out, "--home", home)
    assert result.exit_code == 1 and f"meter {METER} is not registered" in result.output
    result = run("device", "bundle", "--meter", "123", "--out", out, "--home", home)
    assert result.exit_code == 1 and "Error:" in result.output
    assert "Missing option '--meter'" in run("device", "bundle", "--out", out).output
    not_an_image = tmp_path / "x.bin"
    not_an_image.write_bytes(b"MZ" + bytes(30))
    with pytest.raises(up.UpdateError, match="not an ESP32 app image"):
        up.build_bundle(bytes(16), METER, app_image=not_an_image)
    image = tmp_path / "app.bin"
    image.write_bytes(b"\xe9" + bytes(4000))
    with pytest.raises(up.UpdateError, match="carries the version it was built with"):
        up.build_bundle(bytes(16), METER, "9.9.9", app_image=image)
    header, payload = up.build_bundle(bytes(16), METER, app_image=image).split(b"\n", 1)
    assert payload == image.read_bytes() and header.startswith(b"pu1.")
    assert not out.exists()


def test_update_refusals(tmp_path):
    missing = tmp_path / "none.pu1"
    result = run("device", "update", "--port", "/dev/null", missing)
    assert result.exit_code == 1 and "no such bundle file" in result.output
    junk = tmp_path / "junk.pu1"
    junk.write_bytes(b"hello\nworld")
    result = run("device", "update", "--port", "/dev/null", junk)
    assert result.exit_code == 1 and "not a prepay update bundle" in result.output
    assert "Missing option '--port'" in run("device", "update", junk).output
