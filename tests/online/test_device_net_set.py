"""`prepay device net-set`: network settings over the serial port, passwords from the
environment, the link shown by `prepay device status`; wrong arguments change nothing."""

import json

from click.testing import CliRunner

from host_tools.cli import main
from host_tools.headend.broker import make_throwaway_pki
from host_tools.sim import SimMeter
from tests.sim.sim_scenario_helpers import SETTINGS, START


def test_net_set_stores_shows_and_clears_the_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("PREPAY_MQTT_PASSWORD", "broker-secret")
    monkeypatch.setenv("PREPAY_WIFI_PASSWORD", "wifi-secret")
    ca = tmp_path / "ca.pem"
    ca.write_bytes(make_throwaway_pki()[0])
    run = CliRunner().invoke
    with SimMeter(tmp_path / "state", speed=0) as sim:
        from host_tools.device.client import DeviceClient

        with DeviceClient(sim.port) as m:
            m.request("sim.time", time=START)
            m.request("provision", **SETTINGS)
        port = ["--port", sim.port]

        r = run(main, ["device", "net-set", *port])  # no broker: refused, nothing sent
        assert r.exit_code == 2 and "--broker is required" in r.output
        r = run(main, ["device", "net-set", *port, "--clear", "--broker", "mqtt://h"])
        assert r.exit_code == 2 and "--clear takes no other" in r.output
        r = run(main, ["device", "net-set", *port, "--broker", "http://h"])
        assert r.exit_code == 1 and "mqtt://" in r.output
        r = run(main, ["device", "status", *port, "--json"])
        assert "network" not in json.loads(r.output)  # none of the above stored anything

        args = ["--broker", "mqtts://127.0.0.1:1", "--ssid", "site-wifi", "--ca", str(ca)]
        r = run(main, ["device", "net-set", *port, *args])
        assert r.exit_code == 0, r.output
        assert "broker mqtts://127.0.0.1:1" in r.output and "ssid site-wifi" in r.output
        stored = json.loads((tmp_path / "state" / "net.json").read_text())
        assert stored["password"] == "broker-secret" and stored["wifi_password"] == "wifi-secret"
        assert stored["ca"] == ca.read_text() and "user" not in stored  # user: the meter number
        r = run(main, ["device", "status", *port])
        assert "network      mqtts 127.0.0.1:1, NOT connected" in r.output
        assert "secret" not in r.output

        r = run(main, ["device", "net-set", *port, "--clear"])
        assert r.exit_code == 0 and "keypad-only" in r.output
        assert not (tmp_path / "state" / "net.json").exists()
        assert "network" not in run(main, ["device", "status", *port]).output
