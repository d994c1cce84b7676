"""Network settings on the meter: checked before anything is stored, never shown with secrets."""

import pytest
from click.testing import CliRunner

from firmware.net import settings as ns
from host_tools.cli import main
from host_tools.device.client import DeviceClient, DeviceError
from host_tools.sim import SimMeter
from tests.sim.sim_scenario_helpers import SETTINGS, START


def test_broker_urls():
    assert ns.parse_broker("mqtt://10.0.0.5") == ("10.0.0.5", 1883, False)
    assert ns.parse_broker("mqtts://broker.example:8884/") == ("broker.example", 8884, True)
    for bad in ("http://x", "mqtt://", "mqtt://h:0", "mqtt://h:99999", "mqtt://h:x", None):
        with pytest.raises(ValueError):
            ns.parse_broker(bad)


def test_check_and_public_view():
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    from tests.support.mosquitto import make_test_pki

    pem = make_test_pki()[0]
    full = {"broker": "mqtt://h", "password": "p", "wifi_password": "w", "ca": pem.decode()}
    full["ssid"] = "s"
    assert ns.check(full) == full
    der = x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
    assert ns.ca_der(full["ca"]) == der
    with pytest.raises(ValueError, match="PEM certificate"):
        ns.check({"broker": "mqtts://h", "ca": "not a certificate"})
    assert ns.public(full) == {"broker": "mqtt://h", "ssid": "s"}
    with pytest.raises(ValueError, match="unknown network setting"):
        ns.check({"broker": "mqtt://h", "pasword": "typo"})
    with pytest.raises(ValueError, match="must be text"):
        ns.check({"broker": "mqtt://h", "password": 5})


def test_bad_network_settings_change_nothing_on_the_meter(tmp_path):
    with SimMeter(tmp_path, speed=0) as sim, DeviceClient(sim.port) as m:
        m.request("sim.time", time=START)
        with pytest.raises(DeviceError, match="broker"):
            m.request("provision", network={"broker": "http://x"}, **SETTINGS)
        assert m.request("hello")["provisioned"] is False  # refused whole
        assert not (tmp_path / "net.json").exists()
        bad = dict(SETTINGS, scale=0)  # refused by the core, after the network was checked
        with pytest.raises(DeviceError, match="scale"):  # a refused provision ...
            m.request("provision", network={"broker": "mqtt://h"}, **bad)
        assert not (tmp_path / "net.json").exists()  # ... leaves no network settings behind
        m.request(
            "provision", network={"broker": "mqtt://127.0.0.1:1", "password": "s3"}, **SETTINGS
        )
        st = m.request("status")
        assert st["network"]["broker"] == "127.0.0.1:1" and "s3" not in str(st)
        assert m.request("net.set", network=None) == {"network": None}
        assert "network" not in m.request("status")


def test_headend_verb_wants_its_password_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("PREPAY_HEADEND_PASSWORD", raising=False)
    run = CliRunner().invoke
    r = run(main, ["headend", "--home", str(tmp_path / "none"), "--broker", "mqtt://h"])
    assert r.exit_code != 0 and "no station" in r.output
    r = run(main, ["headend", "--home", str(tmp_path)])
    assert r.exit_code != 0 and "--broker" in r.output
