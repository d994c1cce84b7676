"""`prepay device provision` and `prepay device monitor` against the real simulated meter."""

import pytest
from click.testing import CliRunner

from host_tools import provisioning as pv
from host_tools.cli import main
from host_tools.device.client import DeviceClient
from host_tools.device.monitor import MeterWatch, render, status_rows
from host_tools.sim.meter import SimMeter
from host_tools.vending import registry, vend
from host_tools.vending.station import Station, init_station
from tests.support.cli_login import add_logins, log_in

METER = "12345678903"
PASSPHRASE = "bench passphrase"


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("PREPAY_PASSPHRASE", PASSPHRASE)
    root = tmp_path / "station"
    init_station(root)
    station = Station(root)
    stamp = station.stamp()
    flat = registry.tariff_blocks("flat", "1.50", None)
    blocks = registry.tariff_blocks("block", None, "50:1.20,200:1.80,*:2.50")
    station.write(lambda c: registry.add_tariff(c, "flat", "flat", flat, 0, 0, None, stamp))
    station.write(lambda c: registry.add_tariff(c, "steps", "block", blocks, 0, 0, None, stamp))
    log_in(monkeypatch, PASSPHRASE)  # `meter add` is an admin's
    add_logins(station, PASSPHRASE, admin="admin")
    station.close()
    return root


@pytest.fixture
def sim(tmp_path):
    with SimMeter(tmp_path / "meter") as meter:
        yield meter


def registered(home, number=METER):
    station = Station(home)
    try:
        return station.read(lambda c: [m["number"] for m in registry.list_meters(c)])
    finally:
        station.close()


def test_station_tariffs_become_meter_tariffs():
    flat = {"name": "f", "blocks": [(None, 15000)]}
    assert pv.meter_tariff(flat, 100) == {"type": "flat", "price": 150}
    steps = {"name": "s", "blocks": [(50, 12000), (200, 18000), (None, 25000)]}
    assert pv.meter_tariff(steps, 100) == {
        "type": "blocks",
        "blocks": [[50, 120], [150, 180], [0, 250]],
    }
    odd = {"name": "odd", "blocks": [(None, 18573)]}  # 1.8573 per kWh: not whole cents
    with pytest.raises(pv.ProvisionError, match="not a whole number of register units"):
        pv.meter_tariff(odd, 100)
    assert pv.meter_tariff(odd, 10_000) == {"type": "flat", "price": 18573}


def test_provisioned_meter_accepts_the_stations_tokens(home, sim):
    result = pv.provision_meter(sim.port, METER, home, {"tariff": "steps"})
    assert result["registered"] is True and result["hal"] == "sim"
    assert result["tariff"] == {"type": "blocks", "blocks": [[50, 120], [150, 180], [0, 250]]}
    assert "decoder_key" not in result and registered(home) == [METER]

    station = Station(home)
    try:
        receipt = vend.sell(station, METER, "12.50", "REF-1", "cash")
        key = station.decoder_key(METER, 1)
    finally:
        station.close()
    with DeviceClient(sim.port) as client:
        hello = client.request("hello")
        assert hello["provisioned"] is True and hello["meter_number"] == METER
        answer = client.request("token", token=receipt["token"])
        assert answer["result"] == "accepted" and answer["credit_text"] == "12.50"
        assert key.hex() not in str(client.request("config.get"))


def test_registered_meter_provisions_from_the_registry(home, sim):
    runner = CliRunner()
    added = runner.invoke(
        main,
        ["meter", "add", METER, "--unit", "kwh", "--scale", "1000", "--imp-per-kwh", "800",
         "--tariff", "flat", "--home", str(home)],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    result = runner.invoke(
        main, ["device", "provision", "--port", sim.port, "--meter", METER, "--home", str(home)]
    )
    assert result.exit_code == 0, result.output
    assert f"meter {METER} provisioned on {sim.port}" in result.output
    assert "added to the registry" not in result.output
    with DeviceClient(sim.port) as client:
        status = client.request("status")
    assert status["unit"] == "kwh" and status["scale"] == 1000


def test_refusals_change_nothing(home, sim):
    runner = CliRunner()

    def provision(*extra):
        args = ["device", "provision", "--port", sim.port, "--home", str(home), *extra]
        return runner.invoke(main, args)

    result = provision("--meter", METER)
    assert result.exit_code == 1 and "is not registered: give --tariff" in result.output
    result = provision("--meter", "12345678904", "--tariff", "flat")
    assert result.exit_code == 1 and "12345678904" in result.output
    result = provision("--meter", METER, "--tariff", "nope")
    assert result.exit_code == 1 and "no tariff named 'nope'" in result.output
    assert registered(home) == []
    with DeviceClient(sim.port) as client:
        assert client.request("hello")["provisioned"] is False

    assert provision("--meter", METER, "--tariff", "flat").exit_code == 0
    result = provision("--meter", METER, "--scale", "1000")
    assert result.exit_code == 1 and "--scale 1000 (registered: 100)" in result.output
    result = provision("--meter", METER)
    assert result.exit_code == 1 and f"already provisioned as {METER}" in result.output


def test_wrong_passphrase_is_one_line_and_leaves_the_meter_blank(home, sim, monkeypatch):
    monkeypatch.setenv("PREPAY_PASSPHRASE", "not it")
    result = CliRunner().invoke(
        main,
        ["device", "provision", "--port", sim.port, "--meter", METER, "--tariff", "flat",
         "--home", str(home)],
    )  # fmt: skip
    assert result.exit_code == 1 and "wrong passphrase" in result.output
    assert PASSPHRASE not in result.output
    with DeviceClient(sim.port) as client:
        assert client.request("hello")["provisioned"] is False


def test_monitor_shows_registers_and_new_events(home, sim):
    pv.provision_meter(sim.port, METER, home, {"tariff": "flat"})
    result = CliRunner().invoke(main, ["device", "monitor", "--port", sim.port, "--once"])
    assert result.exit_code == 0, result.output
    assert METER in result.output and "disconnected" in result.output
    assert "boot" in result.output  # the logged events are listed
    live = CliRunner().invoke(main, ["device", "monitor", "--port", sim.port, "--seconds", "0.6"])
    assert live.exit_code == 0 and METER in live.output

    station = Station(home)
    try:
        token = vend.sell(station, METER, "3.00", "REF-M", "cash")["token"]
    finally:
        station.close()
    with DeviceClient(sim.port) as client:
        watch = MeterWatch(client).start()
        seen = {e["seq"] for e in watch.events}
        client.request("token", token=token)
        status = watch.poll()
        new = [e["event"] for e in watch.events if e["seq"] not in seen]
    assert status["credit_text"] == "3.00"
    assert "token" in new and "relay" in new
    rows = dict(status_rows(status))
    assert rows["credit"] == "3.00" and rows["relay"].startswith("closed")
    assert render(sim.port, status, watch.events) is not None


def test_deploy_refuses_a_live_meter_and_explains_the_locked_repl(home, sim):
    runner = CliRunner()
    result = runner.invoke(main, ["device", "deploy", "--port", sim.port])
    assert result.exit_code == 1
    assert "keeps the REPL locked" in result.output and "prepay device flash" in result.output
    pv.provision_meter(sim.port, METER, home, {"tariff": "flat"})
    result = runner.invoke(main, ["device", "deploy", "--port", sim.port])
    assert result.exit_code == 1 and f"{METER} is provisioned" in result.output
    assert "--wipe" in result.output
